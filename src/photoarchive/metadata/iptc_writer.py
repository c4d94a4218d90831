"""IPTC-IIM writer: encode record fields as IIM datasets and embed them in a JPEG's APP13."""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Mapping

from photoarchive.metadata.iptc import EXTRA_DATASETS, TEXT_DATASETS

_DATASETS = {name: number for number, name in {**TEXT_DATASETS, **EXTRA_DATASETS}.items()}
_UTF8 = b"\x1b%G"


def encode_iim(values: Mapping[str, str | list[str]], charset: str | None = "utf-8") -> bytes:
    """Return IIM datasets for record fields (caption, credit, keywords, date_created...).

    With charset "utf-8", record 1:90 declares UTF-8; with any other codec name the text is
    encoded in it and no charset is declared, as older wire systems do.
    """
    codec = charset or "latin-1"
    out = bytearray()
    if charset == "utf-8":
        out += _dataset(1, 90, _UTF8)
    out += _dataset(2, 0, b"\x00\x04")
    for name, value in values.items():
        if name == "keywords":
            for word in value if isinstance(value, list) else [value]:
                out += _dataset(2, 25, word.encode(codec))
        elif name == "date_created":
            assert isinstance(value, str)
            date, _, time = value.partition("T")
            out += _dataset(2, 55, date.replace("-", "").encode("ascii"))
            if time:
                clock, zone = time[:8].replace(":", ""), time[8:].replace(":", "")
                out += _dataset(2, 60, (clock + (zone or "+0000")).encode("ascii"))
        elif name in _DATASETS:
            for text in value if isinstance(value, list) else [value]:
                out += _dataset(2, _DATASETS[name], text.encode(codec))
        else:
            raise ValueError(f"no IIM dataset for field {name!r}")
    return bytes(out)


def _dataset(record: int, number: int, payload: bytes) -> bytes:
    if len(payload) > 0x7FFF:
        raise ValueError("IIM dataset too long")
    return struct.pack(">BBBH", 0x1C, record, number, len(payload)) + payload


def photoshop_resources(iim: bytes, digest: bytes | None = None) -> bytes:
    """Wrap IIM in Photoshop image resources (8BIM 0x0404), with an IPTCDigest (0x0425).

    `digest=None` stores the MD5 of `iim` (IIM and XMP in sync); pass b"" to store none,
    or other 16 bytes to mark the IIM as edited after the XMP was written.
    """
    blocks = _resource(0x0404, iim)
    stored = hashlib.md5(iim).digest() if digest is None else digest
    if stored:
        blocks += _resource(0x0425, stored)
    return blocks


def _resource(rid: int, payload: bytes) -> bytes:
    body = b"8BIM" + struct.pack(">H", rid) + b"\x00\x00" + struct.pack(">I", len(payload))
    return body + payload + (b"\x00" if len(payload) % 2 else b"")


def embed_in_jpeg(jpeg: bytes, resources: bytes) -> bytes:
    """Return the JPEG with an APP13 segment holding `resources`, after its APP0/APP1."""
    if not jpeg.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG")
    payload = b"Photoshop 3.0\x00" + resources
    if len(payload) + 2 > 0xFFFF:
        raise ValueError("Photoshop resources too large for one APP13 segment")
    segment = b"\xff\xed" + struct.pack(">H", len(payload) + 2) + payload
    pos = 2
    while pos + 4 <= len(jpeg) and jpeg[pos] == 0xFF and jpeg[pos + 1] in (0xE0, 0xE1):
        pos += 2 + struct.unpack(">H", jpeg[pos + 2 : pos + 4])[0]
    return jpeg[:pos] + segment + jpeg[pos:]
