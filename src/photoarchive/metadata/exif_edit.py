"""Change EXIF's description, artist or copyright without moving anything else in the block.

Rewriting an EXIF block moves its directories, and maker notes hold offsets that only their
camera's makers know how to move: a general writer breaks them (exiv2 lost 77 Canon
maker-note tags of a real photo this way). Here the new text is appended at the end of the
block and the one directory entry is pointed at it, so every other byte stays where it was.
"""

from __future__ import annotations

import struct

#: Record field -> EXIF IFD0 tag (as the Metadata Working Group maps them).
TAGS = {"caption": 0x010E, "byline": 0x013B, "copyright": 0x8298}
_ASCII = 2
# One JPEG APP1 segment holds at most this much EXIF (after "Exif\0\0").
MAX_JPEG_EXIF = 0xFFFF - 2 - 6


def present_tags(tiff: bytes) -> set[int]:
    """Return which of TAGS' tags IFD0 of this EXIF (TIFF-structured) block has."""
    try:
        order, entries = _ifd0(tiff)
    except ValueError:
        return set()
    return {tag for tag, _ in entries if tag in TAGS.values()} if order else set()


def set_strings(tiff: bytes, values: dict[int, str | None]) -> bytes:
    """Return the EXIF block with IFD0's `values` ({tag: text}) set as UTF-8 text; a None
    or blank value empties the tag. Only tags IFD0 already has are changed (MWG: EXIF is
    written where a file carries it). ValueError for a block that is not valid TIFF."""
    order, entries = _ifd0(tiff)
    out = bytearray(tiff)
    for tag, at in entries:
        if tag not in values:
            continue
        text = (values[tag] or "").replace("\x00", "")
        data = text.encode("utf-8") + b"\x00"
        if len(data) <= 4:
            field = data.ljust(4, b"\x00")
        else:
            if len(out) % 2:
                out += b"\x00"
            field = struct.pack(f"{order}I", len(out))
            out += data
        out[at + 2 : at + 12] = struct.pack(f"{order}HI", _ASCII, len(data)) + field
    return bytes(out)


def _ifd0(tiff: bytes) -> tuple[str, list[tuple[int, int]]]:
    """Return the byte order and (tag, entry offset) of each IFD0 entry."""
    if tiff[:4] not in (b"II*\x00", b"MM\x00*") or len(tiff) < 8:
        raise ValueError("not a TIFF-structured EXIF block")
    order = "<" if tiff[:2] == b"II" else ">"
    (offset,) = struct.unpack(f"{order}I", tiff[4:8])
    if offset + 2 > len(tiff):
        raise ValueError("IFD0 outside the EXIF block")
    (count,) = struct.unpack(f"{order}H", tiff[offset : offset + 2])
    if offset + 2 + 12 * count > len(tiff):
        raise ValueError("IFD0 runs past the EXIF block")
    entries = []
    for i in range(count):
        at = offset + 2 + 12 * i
        (tag,) = struct.unpack(f"{order}H", tiff[at : at + 2])
        entries.append((tag, at))
    return order, entries
