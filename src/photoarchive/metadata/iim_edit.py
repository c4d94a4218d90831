"""Change a few datasets of an existing IPTC-IIM block, keeping every other dataset as it was.

Datasets the desk did not change keep their bytes (an IIM time with no zone stays without
one; the envelope, urgency, category, release date and time stay). When the block was not
declared UTF-8, every text dataset is re-encoded from what it said and 1:90 declares UTF-8,
so one block never mixes character sets.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
import struct
from dataclasses import dataclass
from typing import Any

from photoarchive.metadata.countries import ALPHA3
from photoarchive.metadata.iptc import (
    TEXT_DATASETS,
    decode_iim_text,
    iter_datasets,
    resource_blocks,
)
from photoarchive.metadata.iptc_writer import CONTROLS, MAX_OCTETS, resource_block

UTF8 = b"\x1b%G"
_UTF8_MARKERS = (b"\x1b%G", b"\x1b%/G", b"\x1b%/I")
_NUMBERS = {name: number for number, name in TEXT_DATASETS.items()} | {"keywords": 25}
# Record 2 datasets holding text (re-encoded when the character set becomes UTF-8).
_TEXT = {*TEXT_DATASETS, 25, 7, 10, 12, 15, 20, 22, 26, 27, 40, 65, 115, 118, 122, 135}
_REPEATED = {"keywords", "byline"}
_ISO_DATE = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)(?:[T ](\d\d):(\d\d)(?::(\d\d))?(?:\.\d+)?(Z|[+-]\d\d:?\d\d)?)?$"
)
#: Fields IIM holds (the desk's other fields, such as usage terms, live in XMP only).
FIELDS = (*_NUMBERS, "date_created")


@dataclass
class Dataset:
    """One IIM dataset: record, number and value bytes."""

    record: int
    number: int
    data: bytes

    def encode(self) -> bytes:
        """Return the dataset as IIM stores it (extended length beyond 32,767 octets)."""
        if len(self.data) <= 0x7FFF:
            return struct.pack(">BBBH", 0x1C, self.record, self.number, len(self.data)) + self.data
        size = len(self.data).to_bytes(4, "big")
        head = struct.pack(">BBBH", 0x1C, self.record, self.number, 0x8000 | len(size))
        return head + size + self.data


def parse_datasets(block: bytes) -> list[Dataset]:
    """Return the datasets of an IIM block, in order (a damaged tail is left out)."""
    out: list[Dataset] = []
    with contextlib.suppress(ValueError):
        for record, number, data in iter_datasets(block):
            out.append(Dataset(record, number, data))
    return out


def edit_iim(block: bytes | None, changes: dict[str, Any]) -> tuple[bytes, list[str]]:
    """Return the block with `changes` ({field: value, None to remove}) and notes on what IIM
    could not hold as given (cut to its length, a country code it has no 3 letters for)."""
    notes: list[str] = []
    datasets = parse_datasets(block) if block else []
    if not datasets:
        datasets = [Dataset(2, 0, b"\x00\x04")]
    _declare_utf8(datasets)
    for name, value in changes.items():
        if name == "date_created":
            _replace(datasets, {55: _date(value, notes), 60: _time(value, notes)})
        elif name in _NUMBERS:
            _replace(datasets, {_NUMBERS[name]: _values(name, value, notes)})
    return b"".join(d.encode() for d in datasets), notes


def _declare_utf8(datasets: list[Dataset]) -> None:
    charset = next((d for d in datasets if (d.record, d.number) == (1, 90)), None)
    if charset is not None and charset.data in _UTF8_MARKERS:
        return
    for d in datasets:
        if d.record == 2 and d.number in _TEXT:
            d.data = decode_iim_text(d.data, False).encode("utf-8")
    if charset is not None:
        charset.data = UTF8
        return
    # Record 1 comes before record 2; 1:90 after the other envelope datasets.
    at = max((i + 1 for i, d in enumerate(datasets) if d.record == 1), default=0)
    datasets.insert(at, Dataset(1, 90, UTF8))


def _replace(datasets: list[Dataset], new: dict[int, list[bytes]]) -> None:
    """Put each number's new values where its old ones stood (or in number order)."""
    for number, values in new.items():
        positions = [i for i, d in enumerate(datasets) if (d.record, d.number) == (2, number)]
        if positions:
            at = positions[0]
        else:
            at = next(
                (
                    i
                    for i, d in enumerate(datasets)
                    if d.record > 2 or (d.record == 2 and d.number > number)
                ),
                len(datasets),
            )
        for i in reversed(positions):
            del datasets[i]
        for offset, value in enumerate(values):
            datasets.insert(at + offset, Dataset(2, number, value))


def _values(name: str, value: Any, notes: list[str]) -> list[bytes]:
    if value in (None, "", []):
        return []
    if name == "country_code":
        code = str(value).strip().upper()
        code = ALPHA3.get(code, code)
        if not re.fullmatch(r"[A-Z]{3}", code):
            notes.append(f"IPTC-IIM country code left out: {value!r} is not an ISO 3166 code")
            return []
        return [code.encode("ascii")]
    if isinstance(value, list):
        items = [str(v) for v in value]
    elif name in _REPEATED:
        items = [part.strip() for part in str(value).split(";")]
    else:
        items = [str(value)]
    limit = MAX_OCTETS.get(name, 256)
    out = []
    cut = 0
    for item in items:
        raw = CONTROLS.sub("\ufffd", item).strip().encode("utf-8")
        if not raw:
            continue
        if len(raw) > limit:
            # Cut on a character boundary: a broken sequence at the end would make readers
            # take the whole value for CP1252.
            raw = raw[:limit].decode("utf-8", "ignore").encode("utf-8")
            cut += 1
        out.append(raw)
    if cut:
        which = f"{cut} of its {name.replace('_', ' ')}" if len(items) > 1 else f"its {name}"
        notes.append(
            f"IPTC-IIM: {which.replace('_', ' ')} cut to {limit} bytes, as IIM allows; the "
            "XMP holds the whole text"
        )
    return out


def _date(value: Any, notes: list[str]) -> list[bytes]:
    match = _ISO_DATE.match(str(value or "").strip())
    if not value:
        return []
    if match is None:
        notes.append(f"IPTC-IIM date created left out: {value!r} is not an ISO date")
        return []
    year, month, day = match.group(1, 2, 3)
    return [f"{year}{month}{day}".encode("ascii")]


def _time(value: Any, notes: list[str]) -> list[bytes]:
    match = _ISO_DATE.match(str(value or "").strip())
    if match is None or match.group(4) is None:
        return []
    hour, minute, second, zone = match.group(4, 5, 6, 7)
    if zone is None:
        # IIM's time always carries a zone: one is never invented.
        notes.append("IPTC-IIM time created left out: the time has no zone, which IIM needs")
        return []
    offset = "+0000" if zone == "Z" else zone.replace(":", "")
    return [f"{hour}{minute}{second or '00'}{offset}".encode("ascii")]


def replace_in_resources(resources: bytes | None, iim: bytes) -> bytes:
    """Return Photoshop image resources (8BIM) with the IIM (0x0404) replaced and the
    IPTCDigest (0x0425) made current; every other resource is kept byte for byte. Without
    resources, new ones hold the IIM and its digest."""
    digest = hashlib.md5(iim).digest()
    if not resources:
        return resource_block(0x0404, iim) + resource_block(0x0425, digest)
    out = bytearray()
    read = 0
    placed = False
    for resource in resource_blocks(resources):
        read += len(resource.stored)
        if resource.rid == 0x0404:
            if not placed:
                out += resource_block(0x0404, iim, resource.name)
                placed = True
        elif resource.rid == 0x0425 and len(resource.data) == 16:
            out += resource_block(0x0425, digest, resource.name)
        else:
            out += resource.stored
    out += resources[read:]
    if not placed:
        out += resource_block(0x0404, iim)
    return bytes(out)


def iim_in_resources(resources: bytes) -> bytes | None:
    """Return the IIM block (resource 0x0404) of Photoshop image resources, or None."""
    return next((r.data for r in resource_blocks(resources) if r.rid == 0x0404), None)
