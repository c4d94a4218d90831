"""Carry a file's metadata over to a new rendering of it (a web copy), as it was.

JPEG to JPEG and PNG to PNG move the metadata segments and chunks themselves, byte for byte
(except those that describe the old image data: Adobe's colour transform, a Multi-Picture
index, the JFIF header). Between formats exiv2 copies EXIF, IPTC-IIM and XMP over.
"""

from __future__ import annotations

import logging

from photoarchive.metadata.embed import jpeg_segments, png_chunk, png_chunks

# APPn segments that describe the old encoding or its other images, not the picture.
_NOT_CARRIED = (b"JFIF\x00", b"JFXX\x00", b"Adobe", b"MPF\x00")
_PNG_CARRIED = (b"iTXt", b"tEXt", b"zTXt", b"eXIf", b"iCCP")


def carry_metadata(original: bytes, original_fmt: str, copy: bytes, copy_fmt: str) -> bytes:
    """Return `copy` (a new rendering of `original`) with the original's metadata."""
    if original_fmt == copy_fmt == "JPEG":
        return _jpeg(original, copy)
    if original_fmt == copy_fmt == "PNG":
        return _png(original, copy)
    return _exiv2(original, copy, original_fmt)


def _jpeg(original: bytes, copy: bytes) -> bytes:
    segments, _ = jpeg_segments(original)
    carried = [
        s
        for s in segments
        if (0xE0 <= s.marker <= 0xEF or s.marker == 0xFE) and not s.payload.startswith(_NOT_CARRIED)
    ]
    own, rest = jpeg_segments(copy)
    kept = [s for s in own if not (0xE1 <= s.marker <= 0xEF or s.marker == 0xFE)]
    # Pillow's own header (JFIF, quantisation and Huffman tables, frame) then the original's
    # metadata segments in their order: readers find EXIF and XMP by signature, not place.
    head = kept[:1] if kept and kept[0].marker == 0xE0 else []
    ordered = [*head, *carried, *kept[len(head) :]]
    return b"\xff\xd8" + b"".join(s.encode() for s in ordered) + rest


def _png(original: bytes, copy: bytes) -> bytes:
    carried = [c for c in png_chunks(original) if c[0] in _PNG_CARRIED]
    out = bytearray(copy[:8])
    placed = False
    for kind, body in png_chunks(copy):
        if kind in _PNG_CARRIED:
            continue
        if not placed and kind in (b"PLTE", b"IDAT"):
            for c_kind, c_body in carried:
                out += png_chunk(c_kind, c_body)
            placed = True
        out += png_chunk(kind, body)
    return bytes(out)


def _exiv2(original: bytes, copy: bytes, original_fmt: str) -> bytes:
    import exiv2  # type: ignore[import-untyped]

    logger = logging.getLogger("exiv2")
    before = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        source = exiv2.ImageFactory.open(original)
        source.readMetadata()
        target = exiv2.ImageFactory.open(copy)
        target.readMetadata()
        target.setMetadata(source)
        exif = target.exifData()
        if original_fmt == "HEIF":
            # The decoder has already turned the picture as HEIF's own transform says.
            found = exif.findKey(exiv2.ExifKey("Exif.Image.Orientation"))
            if found != exif.end():
                exif["Exif.Image.Orientation"] = 1
        target.writeMetadata()
        with target.io().mmap() as view:
            return bytes(view)
    except exiv2.Exiv2Error:
        return copy
    finally:
        logger.setLevel(before)
