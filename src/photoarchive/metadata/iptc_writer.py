"""IPTC-IIM writer: encode record fields as IIM datasets, within IIM's limits, and embed them
in a JPEG's APP13."""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Mapping

from photoarchive.metadata.iptc import EXTRA_DATASETS, LIMITS, TEXT_DATASETS

_DATASETS = {name: number for number, name in {**TEXT_DATASETS, **EXTRA_DATASETS}.items()}
_UTF8 = b"\x1b%G"
# Most octets each dataset may hold (IIM 4.2, record 2), beyond those the reader checks for
# truncation; 0x7FFF is the most a standard dataset's length field can say.
MAX_OCTETS = {
    **LIMITS,
    "byline_title": 32,
    "special_instructions": 256,
    "country_code": 3,
    "release_date": 8,
    "release_time": 11,
    "expiration_date": 8,
    "expiration_time": 11,
    "action_advised": 2,
}
_DATASET_MAX = 0x7FFF
# What one APP13 segment leaves for IIM: 0xFFFF less its length field, "Photoshop 3.0\0",
# the IIM resource's header and padding byte, and the IPTCDigest resource.
MAX_IIM_IN_JPEG = 0xFFFF - 2 - 14 - (12 + 1) - (12 + 16)
# Repeated datasets given up first when the whole does not fit (the XMP keeps them all).
_TRIM_FIRST = ("keywords", "byline")
# Control characters other than tab and line breaks: an ESC inside IIM text reads as the
# start of a character set designation, and the XMP copy holds U+FFFD for all of them.
CONTROLS = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")


def encode_iim(values: Mapping[str, str | list[str]], charset: str | None = "utf-8") -> bytes:
    """Return IIM datasets for record fields (caption, credit, keywords, date_created...).

    With charset "utf-8", record 1:90 declares UTF-8; with any other codec name the text is
    encoded in it and no charset is declared, as older wire systems do. Each value is cut
    to its dataset's length limit (on a character boundary); control characters become
    U+FFFD (or '?' where the codec has none).
    """
    return encode_iim_fitted(values, charset, limit=None)[0]


def encode_iim_fitted(
    values: Mapping[str, str | list[str]],
    charset: str | None = "utf-8",
    limit: int | None = MAX_IIM_IN_JPEG,
) -> tuple[bytes, int]:
    """Return IIM for `values` of at most `limit` bytes, and how many repeated values
    (keywords first, then by-lines, from the end) were left out to fit."""
    codec = charset or "latin-1"
    head = bytearray()
    if charset == "utf-8":
        head += _dataset(1, 90, _UTF8)
    head += _dataset(2, 0, b"\x00\x04")
    fields: dict[str, list[bytes]] = {}
    for name, value in values.items():
        fields[name] = _datasets(name, value, codec)
    total = len(head) + sum(len(d) for ds in fields.values() for d in ds)
    left_out = 0
    if limit is not None and total > limit:
        repeated = [n for n in fields if len(fields[n]) > 1 and n not in _TRIM_FIRST]
        for name in (*_TRIM_FIRST, *repeated):
            datasets = fields.get(name, [])
            while datasets and total > limit:
                total -= len(datasets.pop())
                left_out += 1
    return bytes(head) + b"".join(d for ds in fields.values() for d in ds), left_out


def _datasets(name: str, value: str | list[str], codec: str) -> list[bytes]:
    texts = value if isinstance(value, list) else [value]
    if name == "date_created":
        assert isinstance(value, str)
        # 2:55 is CCYYMMDD and 2:60 HHMMSS±HHMM: anything else is left out, not garbled.
        match = re.fullmatch(
            r"(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?"
            r"(Z|[+-]\d{2}:?\d{2})?)?",
            value.strip(),
        )
        if match is None:
            return []
        year, month, day, hour, minute, second, zone = match.groups()
        out = [_dataset(2, 55, f"{year}{month}{day}".encode("ascii"))]
        if hour:
            offset = "+0000" if zone in (None, "Z") else zone.replace(":", "")
            clock = f"{hour}{minute}{second or '00'}{offset}"
            out.append(_dataset(2, 60, clock.encode("ascii")))
        return out
    if name == "keywords":
        number = 25
    elif name in _DATASETS:
        number = _DATASETS[name]
    else:
        raise ValueError(f"no IIM dataset for field {name!r}")
    limit = min(MAX_OCTETS.get(name, _DATASET_MAX), _DATASET_MAX)
    return [_dataset(2, number, _encoded(text, codec, limit)) for text in texts]


def _encoded(text: str, codec: str, limit: int) -> bytes:
    raw = CONTROLS.sub("\ufffd", text).encode(codec, errors="replace")
    if len(raw) <= limit:
        return raw
    # Cut on a character boundary: a broken UTF-8 sequence at the end would make readers
    # take the whole value for CP1252.
    return raw[:limit].decode(codec, errors="ignore").encode(codec, errors="replace")


def _dataset(record: int, number: int, payload: bytes) -> bytes:
    if len(payload) > _DATASET_MAX:
        raise ValueError("IIM dataset too long")
    return struct.pack(">BBBH", 0x1C, record, number, len(payload)) + payload


def photoshop_resources(iim: bytes, digest: bytes | None = None) -> bytes:
    """Wrap IIM in Photoshop image resources (8BIM 0x0404), with an IPTCDigest (0x0425).

    `digest=None` stores the MD5 of `iim` (IIM and XMP in sync); pass b"" to store none,
    or other 16 bytes to mark the IIM as edited after the XMP was written.
    """
    blocks = resource_block(0x0404, iim)
    stored = hashlib.md5(iim).digest() if digest is None else digest
    if stored:
        blocks += resource_block(0x0425, stored)
    return blocks


def resource_block(rid: int, payload: bytes, name: bytes = b"") -> bytes:
    """Return one Photoshop image resource (8BIM): id, Pascal-string name (padded to even
    length), length and the payload (padded to even length)."""
    pascal = bytes([len(name)]) + name
    if len(pascal) % 2:
        pascal += b"\x00"
    body = b"8BIM" + struct.pack(">H", rid) + pascal + struct.pack(">I", len(payload))
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
