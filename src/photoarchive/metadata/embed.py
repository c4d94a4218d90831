"""Write the desk's changes into a file's own metadata, leaving everything else as it was.

Only the fields the desk changed are written, in every family where the file carries them,
as the Metadata Working Group asks: XMP always; IPTC-IIM where the file has it, and in JPEG
and TIFF always (their readers expect it); EXIF's description, artist and copyright where the
file has those tags. Every other tag, maker notes, thumbnails, the ICC profile, other
languages of a caption, IIM datasets and XMP properties the record does not model keep their
bytes; the image data is not touched.

JPEG and PNG are rewritten segment by segment (chunk by chunk) here; TIFF and WebP, whose
directories and chunk headers must be laid out again, by exiv2. exiv2 is not used for JPEG:
it writes every family anew, which lost 77 maker-note tags of a real Canon photo, invented
zones for IIM times and dropped empty XMP values in tests on the shared corpus.
"""

from __future__ import annotations

import hashlib
import io
import logging
import struct
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from photoarchive.errors import PhotoArchiveError
from photoarchive.metadata import exif_edit, iim_edit
from photoarchive.metadata.xmp import itxt_text
from photoarchive.metadata.xmp_edit import UnreadablePacket, edit_packet, split_packet

#: Formats whose own metadata is changed; others (HEIC, which exiv2 only reads) get an
#: XMP sidecar named as Adobe tools look for it.
IN_FILE_FORMATS = ("JPEG", "PNG", "TIFF", "WEBP")
#: Formats that get IPTC-IIM even when the file has none yet.
IIM_FORMATS = ("JPEG", "TIFF")

_XMP_SIGNATURE = b"http://ns.adobe.com/xap/1.0/\x00"
_XMP_VARIANT = b"XMP\x00"
_EXTENDED = b"http://ns.adobe.com/xmp/extension/\x00"
# Extended XMP in pieces of this size, as Adobe's XMP toolkit writes them (XMP part 3).
_EXTENDED_CHUNK = 65400
_PHOTOSHOP = b"Photoshop 3.0\x00"
_EXIF = b"Exif\x00\x00"
# What one JPEG segment holds after its marker and length.
_SEGMENT = 0xFFFF - 2
_PNG_XMP = b"XML:com.adobe.xmp\x00"


@dataclass
class Embedded:
    """The file with the changes written, and what a reader of it should know."""

    data: bytes
    notes: list[str] = field(default_factory=list)


def embed_changes(data: bytes, fmt: str, changes: dict[str, Any]) -> Embedded:
    """Return `data` (a file of format `fmt`) with `changes` ({field: value, None to remove})
    written into its metadata. PhotoArchiveError when the file cannot take them."""
    if fmt == "JPEG":
        return _jpeg(data, changes)
    if fmt == "PNG":
        return _png(data, changes)
    if fmt in ("TIFF", "WEBP"):
        return _with_exiv2(data, fmt, changes)
    raise PhotoArchiveError(f"{fmt} files get an XMP sidecar, not metadata in the file")


def sidecar_packet(existing: bytes | None, changes: dict[str, Any]) -> bytes:
    """Return an XMP sidecar: the file's own packet (if any) with `changes` applied."""
    try:
        return edit_packet(existing, changes)
    except UnreadablePacket:
        return edit_packet(None, changes)


# -- JPEG ---------------------------------------------------------------------------------


@dataclass
class Segment:
    """One JPEG segment before the image data: its marker and payload."""

    marker: int
    payload: bytes

    def encode(self) -> bytes:
        return bytes((0xFF, self.marker)) + struct.pack(">H", len(self.payload) + 2) + self.payload


def _jpeg(data: bytes, changes: dict[str, Any]) -> Embedded:
    segments, rest = jpeg_segments(data)
    originals = list(segments)
    notes: list[str] = []
    _jpeg_xmp(segments, changes, notes)
    iim_changes = {k: v for k, v in changes.items() if k in iim_edit.FIELDS}
    if iim_changes:
        _jpeg_iim(segments, iim_changes, notes)
    exif_changes = _exif_strings(changes)
    if exif_changes:
        _jpeg_exif(segments, exif_changes, notes)
    _keep_mpf_offsets(originals, segments)
    return Embedded(b"\xff\xd8" + b"".join(s.encode() for s in segments) + rest, notes)


def _keep_mpf_offsets(originals: list[Segment], segments: list[Segment]) -> None:
    """Move the offsets of a Multi-Picture file's other images (a preview, a gain map) by
    what the segments after its MPF header grew or shrank: they count from that header."""
    mpf = next((s for s in segments if s.marker == 0xE2 and s.payload.startswith(b"MPF\x00")), None)
    if mpf is None or mpf not in originals:
        return
    old_after = sum(len(s.payload) + 4 for s in originals[originals.index(mpf) + 1 :])
    new_after = sum(len(s.payload) + 4 for s in segments[segments.index(mpf) + 1 :])
    delta = new_after - old_after
    if delta:
        segments[segments.index(mpf)] = Segment(0xE2, _moved_mp_entries(mpf.payload, delta))


def jpeg_segments(data: bytes) -> tuple[list[Segment], bytes]:
    """Return the segments before the image data, and the rest of the file from there."""
    if not data.startswith(b"\xff\xd8"):
        raise PhotoArchiveError("not a JPEG file")
    segments = []
    pos = 2
    while pos + 4 <= len(data) and data[pos] == 0xFF and data[pos + 1] not in (0xDA, 0xD9):
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if length < 2 or pos + 2 + length > len(data):
            break
        segments.append(Segment(data[pos + 1], data[pos + 4 : pos + 2 + length]))
        pos += 2 + length
    return segments, data[pos:]


def _jpeg_xmp(segments: list[Segment], changes: dict[str, Any], notes: list[str]) -> None:
    standard = next(
        (s for s in segments if s.marker == 0xE1 and s.payload.startswith(_XMP_SIGNATURE)), None
    )
    variant = next(
        (s for s in segments if s.marker == 0xE1 and s.payload.startswith(_XMP_VARIANT)), None
    )
    found = standard or variant
    old = None
    if found is not None:
        old = found.payload[len(_XMP_SIGNATURE if found is standard else _XMP_VARIANT) :]
    packet = _edited_packet(old, changes, notes)
    try:
        fitted, extension = split_packet(packet, _SEGMENT - len(_XMP_SIGNATURE))
    except UnreadablePacket as exc:
        raise PhotoArchiveError(f"its XMP cannot be written: {exc}") from None
    new = [Segment(0xE1, _XMP_SIGNATURE + fitted)]
    if extension is not None:
        new += _extended_segments(extension)
        # The old extension belonged to the old packet.
        segments[:] = [
            s for s in segments if not (s.marker == 0xE1 and s.payload.startswith(_EXTENDED))
        ]
        notes.append(
            f"its XMP ({len(packet):,} bytes) is more than one JPEG segment holds: the "
            "largest fields are in extended XMP, which exiftool and Adobe software read but "
            "some other programs do not"
        )
    if found is not None:
        at = segments.index(found)
        segments[at : at + 1] = new
        # A second packet under the variant header would contradict the new one.
        if variant is not None and found is not variant:
            segments.remove(variant)
    else:
        at = _after_app0_app1(segments)
        segments[at:at] = new


def _extended_segments(extension: bytes) -> list[Segment]:
    """The extended XMP in pieces, each with the GUID, the full length and its offset."""
    guid = hashlib.md5(extension).hexdigest().upper().encode("ascii")
    return [
        Segment(
            0xE1,
            _EXTENDED
            + guid
            + struct.pack(">II", len(extension), offset)
            + extension[offset : offset + _EXTENDED_CHUNK],
        )
        for offset in range(0, len(extension), _EXTENDED_CHUNK)
    ]


def _edited_packet(old: bytes | None, changes: dict[str, Any], notes: list[str]) -> bytes:
    try:
        return edit_packet(old, changes)
    except UnreadablePacket as exc:
        notes.append(f"its XMP could not be read ({exc}): a new XMP packet replaces it")
        return edit_packet(None, changes)


def _jpeg_iim(segments: list[Segment], changes: dict[str, Any], notes: list[str]) -> None:
    # Photoshop's resources may run over several APP13 segments, read as one.
    found = [s for s in segments if s.marker == 0xED and s.payload.startswith(_PHOTOSHOP)]
    resources = b"".join(s.payload[len(_PHOTOSHOP) :] for s in found) or None
    old = iim_edit.iim_in_resources(resources) if resources else None
    iim, said = iim_edit.edit_iim(old, changes)
    notes.extend(said)
    if len(iim) > 0x7FFF * 2:
        raise PhotoArchiveError(
            f"its IPTC-IIM would be {len(iim):,} bytes: export it with --sidecar, or "
            "shorten the longest field"
        )
    body = iim_edit.replace_in_resources(resources, iim)
    room = _SEGMENT - len(_PHOTOSHOP)
    new = [Segment(0xED, _PHOTOSHOP + body[at : at + room]) for at in range(0, len(body), room)]
    at = segments.index(found[0]) if found else _after_app0_app1(segments)
    for old_segment in found:
        segments.remove(old_segment)
    segments[at:at] = new


def _jpeg_exif(segments: list[Segment], values: dict[int, str | None], notes: list[str]) -> None:
    found = next((s for s in segments if s.marker == 0xE1 and s.payload.startswith(_EXIF)), None)
    if found is None:
        return
    tiff = found.payload[len(_EXIF) :]
    wanted = {tag: v for tag, v in values.items() if tag in exif_edit.present_tags(tiff)}
    if not wanted:
        return
    try:
        edited = exif_edit.set_strings(tiff, wanted)
        if len(edited) > exif_edit.MAX_JPEG_EXIF:
            # Too long for the segment: the EXIF copies are emptied, and readers take the
            # fields from XMP and IIM, as MWG has them do for blank ones.
            edited = exif_edit.set_strings(tiff, dict.fromkeys(wanted))
            notes.append("its EXIF description, artist and copyright were emptied: too long")
    except ValueError as exc:
        notes.append(f"its EXIF was left as it was ({exc})")
        return
    segments[segments.index(found)] = Segment(0xE1, _EXIF + edited)


def _moved_mp_entries(payload: bytes, delta: int) -> bytes:
    """Return an MPF segment with each MP Entry's image offset (but the first image's, 0)
    moved by `delta` (CIPA DC-007: tag 0xB002, 16 bytes an image, offset at byte 8)."""
    tiff = bytearray(payload[4:])
    if bytes(tiff[:4]) not in (b"II*\x00", b"MM\x00*"):
        return payload
    order = "<" if tiff[:2] == b"II" else ">"
    try:
        (ifd,) = struct.unpack_from(f"{order}I", tiff, 4)
        (count,) = struct.unpack_from(f"{order}H", tiff, ifd)
        for i in range(count):
            tag, _kind, length, value = struct.unpack_from(f"{order}HHII", tiff, ifd + 2 + 12 * i)
            if tag != 0xB002:
                continue
            for entry in range(value, value + length, 16):
                (offset,) = struct.unpack_from(f"{order}I", tiff, entry + 8)
                if offset:
                    struct.pack_into(f"{order}I", tiff, entry + 8, offset + delta)
    except struct.error:
        return payload
    return payload[:4] + bytes(tiff)


def _after_app0_app1(segments: list[Segment]) -> int:
    at = 0
    while at < len(segments) and segments[at].marker in (0xE0, 0xE1):
        at += 1
    return at


# -- PNG ----------------------------------------------------------------------------------


def _png(data: bytes, changes: dict[str, Any]) -> Embedded:
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise PhotoArchiveError("not a PNG file")
    notes: list[str] = []
    chunks = list(png_chunks(data))
    xmp_at = next(
        (
            i
            for i, (kind, body) in enumerate(chunks)
            if kind == b"iTXt" and body.startswith(_PNG_XMP)
        ),
        None,
    )
    old = itxt_text(chunks[xmp_at][1][len(_PNG_XMP) :]) if xmp_at is not None else None
    packet = _edited_packet(old, changes, notes)
    new_xmp = (b"iTXt", _PNG_XMP + b"\x00\x00\x00\x00" + packet)
    if xmp_at is not None:
        chunks[xmp_at] = new_xmp
    else:
        idat = next((i for i, (kind, _) in enumerate(chunks) if kind == b"IDAT"), len(chunks) - 1)
        chunks.insert(idat, new_xmp)
    exif_changes = _exif_strings(changes)
    for i, (kind, body) in enumerate(chunks):
        if kind == b"eXIf" and exif_changes:
            wanted = {t: v for t, v in exif_changes.items() if t in exif_edit.present_tags(body)}
            if wanted:
                try:
                    chunks[i] = (kind, exif_edit.set_strings(body, wanted))
                except ValueError as exc:
                    notes.append(f"its EXIF was left as it was ({exc})")
    return Embedded(data[:8] + b"".join(png_chunk(kind, body) for kind, body in chunks), notes)


def png_chunk(kind: bytes, body: bytes) -> bytes:
    """Return one PNG chunk as stored: length, type, data and CRC."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_chunks(data: bytes) -> Iterator[tuple[bytes, bytes]]:
    """Yield (type, data) of each chunk of a PNG file, after its signature."""
    pos = 8
    while pos + 12 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if pos + 12 + length > len(data):
            raise PhotoArchiveError("its PNG chunks run past the end of the file")
        yield kind, data[pos + 8 : pos + 8 + length]
        pos += 12 + length


# -- TIFF and WebP, with exiv2 --------------------------------------------------------------


def _with_exiv2(data: bytes, fmt: str, changes: dict[str, Any]) -> Embedded:
    import exiv2  # type: ignore[import-untyped]
    from PIL import Image

    from photoarchive.metadata.xmp import find_packet

    notes: list[str] = []
    try:
        with Image.open(io.BytesIO(data)) as im:
            old = find_packet(im, data)
            old_iim = _tiff_iim(im) if fmt == "TIFF" else None
    except (
        OSError,  # UnidentifiedImageError is one
        SyntaxError,
        ValueError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        raise PhotoArchiveError(f"its {fmt} structure cannot be read ({exc})") from None
    packet = _edited_packet(old, changes, notes)
    with _exiv2_errors():
        image = exiv2.ImageFactory.open(data)
        image.readMetadata()
        # The packet edited here is written as it is: exiv2's own serialisation would drop
        # empty values and properties its toolkit does not know.
        image.writeXmpFromPacket(True)
        image.setXmpPacket(packet.decode("utf-8"))
        iim_changes = {k: v for k, v in changes.items() if k in iim_edit.FIELDS}
        if fmt in IIM_FORMATS and iim_changes:
            iim, said = iim_edit.edit_iim(old_iim, iim_changes)
            notes.extend(said)
            _set_iptc(image.iptcData(), iim)
        exif = image.exifData()
        for tag, text in _exif_strings(changes).items():
            key = exiv2.ExifKey(tag, "Image")
            if exif.findKey(key) != exif.end():
                exif[key.key()] = text or ""
        image.writeMetadata()
        with image.io().mmap() as view:
            return Embedded(bytes(view), notes)


def _tiff_iim(im: Any) -> bytes | None:
    tags = getattr(im, "tag_v2", None)
    raw = tags._tagdata.get(33723) if tags is not None else None
    return raw if isinstance(raw, bytes) and raw else None


def _set_iptc(iptc: Any, block: bytes) -> None:
    """Put an IIM block into exiv2's IPTC data dataset by dataset, bytes kept as they are
    (exiv2's typed values would write a zone into a time that has none)."""
    import exiv2

    iptc.clear()
    for d in iim_edit.parse_datasets(block):
        datum = exiv2.Iptcdatum(exiv2.IptcKey(d.number, d.record))
        datum.setValue(
            exiv2.DataValue(d.data, exiv2.ByteOrder.invalidByteOrder, exiv2.TypeId.undefined)
        )
        iptc.add(datum)


@contextmanager
def _exiv2_errors() -> Iterator[None]:
    """Turn exiv2's errors into one PhotoArchiveError, and keep its warnings off stderr."""
    import exiv2

    logger = logging.getLogger("exiv2")
    before = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        yield
    except exiv2.Exiv2Error as exc:
        raise PhotoArchiveError(f"exiv2 cannot write its metadata: {exc}") from None
    finally:
        logger.setLevel(before)


def _exif_strings(changes: dict[str, Any]) -> dict[int, str | None]:
    """Return the changes EXIF's IFD0 strings take, by tag."""
    return {exif_edit.TAGS[k]: _text(v) for k, v in changes.items() if k in exif_edit.TAGS}


def _text(value: Any) -> str | None:
    if value in (None, "", []):
        return None
    return "; ".join(str(v) for v in value) if isinstance(value, list) else str(value)
