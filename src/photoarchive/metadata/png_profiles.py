"""EXIF, IPTC-IIM and XMP kept in PNG text chunks as "Raw profile type NAME".

ImageMagick, GraphicsMagick, exiv2 and GIMP store each metadata block they carry into a
PNG as a tEXt, zTXt or iTXt chunk with the keyword "Raw profile type exif" (or "APP1"),
"... iptc", "... 8bim" or "... xmp", its text a header and the block in hex:

    "\\nexif\\n     152\\n45786966000049492a00...\\n"   (name, decimal length, hex lines)

The exif profile may start with "Exif\\0\\0"; the iptc profile may be a Photoshop resource
block (8BIM) holding the IIM or the bare IIM datasets; Photo Mechanic writes the bare IIM as
binary rather than hex. Chunks are read one by one from the file (the image data is
skipped), and every size is bounded: a profile says its length, is read only when that is
within MAX_PROFILE, and a compressed chunk is inflated no further than that.
"""

from __future__ import annotations

import io
import re
import struct
import zlib
from dataclasses import dataclass, field
from typing import BinaryIO

from photoarchive.metadata.iptc import read_photoshop_resources

# A decoded profile may be at most this large (as large as an XMP packet may be).
MAX_PROFILE = 4 * 1024 * 1024
# Hex text of a profile that size: two digits a byte, a newline every 72 digits, a header.
MAX_TEXT = MAX_PROFILE * 2 + MAX_PROFILE // 36 + 256
# Chunks looked at before giving up (ingest refuses files with more metadata parts first).
MAX_CHUNKS = 100_000

_PREFIX = b"Raw profile type "
_NAMES = {b"exif": "exif", b"app1": "exif", b"iptc": "iptc", b"8bim": "8bim", b"xmp": "xmp"}
_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")
_XMP_SIGNATURE = b"http://ns.adobe.com/xap/1.0/\x00"
# "\nNAME\n   LENGTH\n": bounded repeats only, so a hostile header cannot make it slow.
_HEADER = re.compile(rb"\A[ \t\r\n]{0,8}([^\n]{0,80})\n[ \t]{0,32}(\d{1,10})[ \t\r]{0,32}\n")


@dataclass
class PngProfiles:
    """The blocks found, each as the reader of its family takes it."""

    exif: bytes | None = None  # a TIFF structure, possibly after "Exif\0\0"
    iim: bytes | None = None  # bare IIM datasets (0x1C ...)
    resources: dict[int, bytes] = field(default_factory=dict)  # Photoshop resources (8BIM)
    xmp: bytes | None = None
    warnings: list[str] = field(default_factory=list)


def read_png_profiles(data: bytes | BinaryIO) -> PngProfiles:
    """Return the raw profiles of a PNG (`data`: its bytes or a seekable file on it)."""
    fh = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    found = PngProfiles()
    pos = 8
    for _ in range(MAX_CHUNKS):
        fh.seek(pos)
        header = fh.read(8)
        if len(header) < 8:
            break
        length, kind = struct.unpack(">I4s", header)
        if kind == b"IEND":
            break
        if kind in _TEXT_CHUNKS:
            # Only the keyword (at most 79 bytes) is read first: other text chunks are
            # skipped unread.
            head = fh.read(min(length, 80))
            keyword, nul, after = head.partition(b"\x00")
            name = _NAMES.get(keyword[len(_PREFIX) :].lower()) if nul else None
            if name is not None and keyword.startswith(_PREFIX):
                rest = after + fh.read(min(length - len(head), MAX_TEXT + 64))
                _take(found, name, kind, rest, length - len(keyword) - 1)
        pos += 12 + length
    return found


def _take(found: PngProfiles, name: str, kind: bytes, raw: bytes, length: int) -> None:
    body = _chunk_text(kind, raw, length)
    if body is None:
        found.warnings.append(f"PNG raw {name} profile unreadable or over {MAX_PROFILE:,} bytes")
        return
    block = decode_raw_profile(body)
    if block is None and name in ("iptc", "8bim") and body.startswith((b"\x1c", b"8BIM")):
        block = body  # Photo Mechanic: the block itself, not hex
    if block is None:
        found.warnings.append(f"PNG raw {name} profile unreadable")
        return
    if name == "exif":
        if block.startswith(_XMP_SIGNATURE):  # an "APP1" profile may be XMP's segment
            found.xmp = found.xmp or block[len(_XMP_SIGNATURE) :]
        elif found.exif is None:
            found.exif = block
    elif name == "xmp":
        found.xmp = found.xmp or block
    elif block.startswith(b"8BIM"):
        resources = read_photoshop_resources(block)
        found.resources = found.resources or resources
        iim = resources.get(0x0404)
        if iim and found.iim is None:
            found.iim = iim
    elif block.startswith(b"\x1c") and found.iim is None:
        found.iim = block


def _chunk_text(kind: bytes, raw: bytes, length: int) -> bytes | None:
    """The text of a tEXt, zTXt or iTXt chunk after its keyword (`raw`, read bounded;
    `length` the whole of it), inflated no further than MAX_TEXT; None if over that."""
    if kind == b"tEXt":
        return raw if length <= MAX_TEXT else None
    if kind == b"iTXt":
        flag, rest = raw[:1], raw[2:]  # compression flag and method
        _lang, _, rest = rest.partition(b"\x00")
        _translated, _, raw = rest.partition(b"\x00")
        if flag != b"\x01":
            return raw if length <= MAX_TEXT + 64 else None
    else:
        raw = raw[1:]  # zTXt's compression method
    try:
        text = zlib.decompressobj().decompress(raw, MAX_TEXT + 1)
    except zlib.error:
        return None
    return text if len(text) <= MAX_TEXT else None


def decode_raw_profile(text: bytes) -> bytes | None:
    """Decode ImageMagick's hex form ("\\nNAME\\n  LENGTH\\nHEX..."); None if it is not."""
    match = _HEADER.match(text)
    if match is None:
        return None
    size = int(match.group(2))
    if size > MAX_PROFILE:
        return None
    digits = re.sub(rb"\s+", b"", text[match.end() :])
    if len(digits) < 2 * size:
        return None
    try:
        return bytes.fromhex(digits[: 2 * size].decode("ascii"))
    except (UnicodeDecodeError, ValueError):
        return None
