"""IPTC-IIM reader (Pillow adapter): caption, credit, by-line, place, dates; charset per 1:90."""

from __future__ import annotations

import hashlib
import re
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from PIL import Image, ImageFile, IptcImagePlugin, JpegImagePlugin, TiffImagePlugin

_UTF8_MARKERS = (b"\x1b%G", b"\x1b%/G", b"\x1b%/I")

# dataset number in record 2 -> record field; lists for repeatable datasets
TEXT_DATASETS = {
    5: "title",
    105: "headline",
    120: "caption",
    110: "credit",
    80: "byline",
    85: "byline_title",
    115: "source",
    116: "copyright",
    40: "special_instructions",
    90: "city",
    92: "sublocation",
    95: "province_state",
    101: "country",
    100: "country_code",
    103: "transmission_reference",
}
# Extra datasets kept as sources (release and expiry drive rights checks).
EXTRA_DATASETS = {
    7: "edit_status",
    30: "release_date",
    35: "release_time",
    37: "expiration_date",
    38: "expiration_time",
    42: "action_advised",
}
# IIM's length limits: a value exactly this long may be a truncated copy of the XMP value.
LIMITS = {
    "caption": 2000,
    "byline": 32,
    "copyright": 128,
    "keywords": 64,
    "city": 32,
    "province_state": 32,
    "country": 64,
    "sublocation": 32,
    "headline": 256,
    "credit": 32,
    "source": 32,
    "title": 64,
    "transmission_reference": 32,
}


@dataclass
class IimBlock:
    """What the IIM block says, decoded, with the raw bytes kept for charset checks."""

    values: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, bytes | list[bytes]] = field(default_factory=dict)
    utf8_declared: bool = False
    present: bool = False
    digest: str = "absent"  # "absent" (no stored IPTCDigest), "match" or "stale"
    warnings: list[str] = field(default_factory=list)


def decode_iim_text(raw: bytes, utf8_declared: bool) -> str:
    """Decode IIM text: UTF-8 when 1:90 says so or the bytes are valid UTF-8, else CP1252."""
    if utf8_declared:
        return raw.decode("utf-8", errors="replace")
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return raw.decode("cp1252")
    except UnicodeDecodeError:
        return raw.decode("latin-1")


def alternative_decodings(raw: bytes) -> list[str]:
    """Return other plausible readings of undeclared 8-bit IIM text (Mac Roman, Latin-1)."""
    return [trim(raw.decode(codec, errors="replace")) for codec in ("mac_roman", "latin-1")]


_PADDING = re.compile(r"[\s\x00]*")


def trim(text: str) -> str:
    """Strip whitespace and NUL bytes at both ends (writers pad IIM values with NULs, and a
    value of a lone NUL means none); in linear time, however the text is padded."""
    start = _PADDING.match(text)
    end = _PADDING.match(text[::-1])
    head = start.end() if start else 0
    tail = len(text) - (end.end() if end else 0)
    return text[head:tail] if head < tail else ""


def read_iim(
    im: Image.Image, other: bytes | None = None, resources: dict[int, bytes] | None = None
) -> IimBlock:
    """Return the IIM block of a JPEG or TIFF opened with Pillow (empty when there is none).

    `other` is an IIM block found elsewhere (a PNG's raw iptc profile), read when the image
    has none of its own; `resources` are the Photoshop resources around it (its digest).
    """
    block = IimBlock()
    raw_block, own_resources = _raw_block(im)
    elsewhere = raw_block is None and bool(other)
    if elsewhere:
        raw_block, own_resources = other, resources or {}
    if raw_block is None or not isinstance(im, ImageFile.ImageFile):
        return block
    block.present = True
    stored = _stored_digest(own_resources)
    if stored is not None:
        current = hashlib.md5(raw_block).digest()
        block.digest = "match" if stored == current else "stale"
    try:
        info = parse_datasets(raw_block) if elsewhere else IptcImagePlugin.getiptcinfo(im) or {}
    except Exception as exc:  # Pillow raises on lying dataset lengths and similar damage
        block.warnings.append(f"IPTC-IIM block unreadable ({type(exc).__name__})")
        return block
    charset = info.get((1, 90))
    if isinstance(charset, list):
        charset = charset[0]
    block.utf8_declared = isinstance(charset, bytes) and charset in _UTF8_MARKERS
    for dataset, name in {**TEXT_DATASETS, **EXTRA_DATASETS}.items():
        value = info.get((2, dataset))
        if value is None:
            continue
        items = value if isinstance(value, list) else [value]
        texts = [t for t in (trim(decode_iim_text(v, block.utf8_declared)) for v in items) if t]
        if not texts:
            continue
        block.raw[name] = items[0] if len(items) == 1 else items
        block.values[name] = "; ".join(texts) if name == "byline" else texts[0]
    keywords = info.get((2, 25))
    if keywords is not None:
        items = keywords if isinstance(keywords, list) else [keywords]
        words = [trim(decode_iim_text(k, block.utf8_declared)) for k in items]
        block.values["keywords"] = [w for w in words if w]
        block.raw["keywords"] = items
    date = _iim_datetime(info.get((2, 55)), info.get((2, 60)))
    if date:
        block.values["date_created"] = date
    return block


def iter_datasets(data: bytes) -> Iterator[tuple[int, int, bytes]]:
    """Yield (record, dataset, value) of bare IIM datasets in order. ValueError on a length
    that runs past the end (after yielding those before it)."""
    pos = 0
    while pos + 5 <= len(data) and data[pos] == 0x1C:
        record, dataset = data[pos + 1], data[pos + 2]
        size = int.from_bytes(data[pos + 3 : pos + 5], "big")
        pos += 5
        if size & 0x8000:  # extended dataset: the length is in the next 1 to 4 bytes
            count = size & 0x7FFF
            if not 1 <= count <= 4 or pos + count > len(data):
                raise ValueError("IIM extended dataset length unreadable")
            size = int.from_bytes(data[pos : pos + count], "big")
            pos += count
        if pos + size > len(data):
            raise ValueError("IIM dataset runs past the end of the block")
        yield record, dataset, data[pos : pos + size]
        pos += size


def parse_datasets(data: bytes) -> dict[tuple[int, int], bytes | list[bytes]]:
    """Parse bare IIM datasets as Pillow's getiptcinfo returns them: {(record, dataset):
    value}, a list for a repeated dataset. ValueError on a length that runs past the end."""
    out: dict[tuple[int, int], bytes | list[bytes]] = {}
    for record, dataset, value in iter_datasets(data):
        key = (record, dataset)
        previous = out.get(key)
        if previous is None:
            out[key] = value
        elif isinstance(previous, list):
            previous.append(value)
        else:
            out[key] = [previous, value]
    return out


def _raw_block(im: Image.Image) -> tuple[bytes | None, dict[int, bytes]]:
    if isinstance(im, JpegImagePlugin.JpegImageFile):
        resources = im.info.get("photoshop") or {}
        data = resources.get(0x0404)
        return (data if data else None), resources
    if isinstance(im, TiffImagePlugin.TiffImageFile):
        data = im.tag_v2._tagdata.get(TiffImagePlugin.IPTC_NAA_CHUNK)
        ps = im.tag_v2._tagdata.get(34377)
        return (data if data else None), read_photoshop_resources(ps) if ps else {}
    return None, {}


@dataclass(frozen=True)
class Resource:
    """One Photoshop image resource (8BIM): its id, name, data, and its bytes as stored."""

    rid: int
    name: bytes
    data: bytes
    stored: bytes


def resource_blocks(data: bytes) -> Iterator[Resource]:
    """Yield the Photoshop image resources (8BIM) in `data`, in order, up to any damage."""
    pos = 0
    while pos + 12 <= len(data) and data[pos : pos + 4] == b"8BIM":
        start = pos
        rid = struct.unpack(">H", data[pos + 4 : pos + 6])[0]
        name_len = data[pos + 6]
        name = data[pos + 7 : pos + 7 + name_len]
        pos += 7 + name_len + ((name_len + 1) % 2)
        if pos + 4 > len(data):
            return
        size = struct.unpack(">I", data[pos : pos + 4])[0]
        pos += 4
        payload = data[pos : pos + size]
        pos += size + (size % 2)
        yield Resource(rid, name, payload, data[start:pos])


def read_photoshop_resources(data: bytes) -> dict[int, bytes]:
    """Parse Photoshop image resource blocks (8BIM) into {id: payload}."""
    return {r.rid: r.data for r in resource_blocks(data)}


def _stored_digest(resources: dict[int, bytes]) -> bytes | None:
    digest = resources.get(0x0425)
    return digest if isinstance(digest, bytes) and len(digest) == 16 else None


# 2:55 Date Created is CCYYMMDD; some writers put ISO's CCYY-MM-DD (or exiftool's
# CCYY:MM:DD) there. 2:60 Time Created is HHMMSS±HHMM, or HH:MM:SS±HH:MM from the same.
_IIM_DATE = re.compile(r"(\d{4})([-:/]?)(\d{2})\2(\d{2})")
_IIM_TIME = re.compile(r"(\d{2})(:?)(\d{2})\2(\d{2})(?:[.,]\d{1,9})?")
_IIM_ZONE = re.compile(r"\s*(?:Z|([+-])(\d{2}):?(\d{2}))")


def _iim_datetime(date: Any, time: Any) -> str | None:
    if isinstance(date, list):
        date = date[0]
    if isinstance(time, list):
        time = time[0]
    if not isinstance(date, bytes):
        return None
    d = _IIM_DATE.fullmatch(trim(date.decode("ascii", errors="replace")))
    if d is None or d.group(1) == "0000" or int(d.group(3)) > 12 or int(d.group(4)) > 31:
        return None
    iso = f"{d.group(1)}-{d.group(3)}-{d.group(4)}"
    if isinstance(time, bytes):
        text = trim(time.decode("ascii", errors="replace"))
        t = _IIM_TIME.match(text)
        if t and int(t.group(1)) <= 23 and int(t.group(3)) <= 59 and int(t.group(4)) <= 60:
            iso += f"T{t.group(1)}:{t.group(3)}:{t.group(4)}"
            zone = _IIM_ZONE.fullmatch(text[t.end() :])
            if zone and zone.group(1) is None:
                iso += "+00:00"
            elif zone and int(zone.group(2)) <= 23 and int(zone.group(3)) <= 59:
                iso += f"{zone.group(1)}{zone.group(2)}:{zone.group(3)}"
    return iso
