"""Carry a file's metadata over to a new rendering of it (a web copy), as it was.

JPEG to JPEG and PNG to PNG move the metadata segments and chunks themselves, byte for byte
(except those that describe the old image data: Adobe's colour transform, a Multi-Picture
index, the JFIF header). Between formats exiv2 copies EXIF, IPTC-IIM and XMP over.
"""

from __future__ import annotations

import logging
import struct
import zlib

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
    carried = b"".join(
        segment
        for marker, segment in _segments(original)
        if (0xE0 <= marker <= 0xEF or marker == 0xFE) and not segment[4:].startswith(_NOT_CARRIED)
    )
    kept = b"".join(
        segment
        for marker, segment in _segments(copy)
        if not (0xE1 <= marker <= 0xEF or marker == 0xFE)
    )
    rest = copy[2 + sum(len(s) for _, s in _segments(copy)) :]
    # Pillow's own header (JFIF, quantisation and Huffman tables, frame) then the original's
    # metadata segments in their order: readers find EXIF and XMP by signature, not place.
    head, tables = kept[: _app0_length(kept)], kept[_app0_length(kept) :]
    return b"\xff\xd8" + head + carried + tables + rest


def _segments(data: bytes) -> list[tuple[int, bytes]]:
    out = []
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF and data[pos + 1] not in (0xDA, 0xD9):
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        out.append((data[pos + 1], data[pos : pos + 2 + length]))
        pos += 2 + length
    return out


def _app0_length(segments: bytes) -> int:
    if segments[:2] == b"\xff\xe0":
        return 2 + int(struct.unpack(">H", segments[2:4])[0])
    return 0


def _png(original: bytes, copy: bytes) -> bytes:
    carried = [c for c in _chunks(original) if c[0] in _PNG_CARRIED]
    out = bytearray(copy[:8])
    placed = False
    for kind, body in _chunks(copy):
        if kind in _PNG_CARRIED:
            continue
        if not placed and kind in (b"PLTE", b"IDAT"):
            for c_kind, c_body in carried:
                out += _chunk(c_kind, c_body)
            placed = True
        out += _chunk(kind, body)
    return bytes(out)


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    out = []
    pos = 8
    while pos + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        out.append((kind, data[pos + 8 : pos + 8 + length]))
        pos += 12 + length
    return out


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


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
