"""EXIF reader (exifread adapter): date taken, camera, lens, orientation, GPS and EXIF text."""

from __future__ import annotations

import io
import logging
from typing import Any, BinaryIO

import exifread

# exifread logs every oddity of a malformed file; ingest reports its own warnings instead.
logging.getLogger("exifread").setLevel(logging.CRITICAL)

_TEXT_TAGS = {
    "Image ImageDescription": "caption",
    "Image Artist": "byline",
    "Image Copyright": "copyright",
    "Image Make": "camera_make",
    "Image Model": "camera_model",
    "EXIF LensModel": "lens",
}


def read_exif(data: bytes | BinaryIO, exif_block: bytes | None = None) -> dict[str, Any]:
    """Return EXIF values under record field names; unreadable EXIF gives an empty dict.

    `data` is the file's bytes or a binary file open on it (exifread seeks to what it needs,
    so a large file is never read whole). `exif_block` is the raw EXIF (TIFF structure)
    Pillow found in the container; it is read when exifread cannot find EXIF in the file
    itself (as in some WebP files).
    """
    tags = _process(data)
    if not tags and exif_block:
        block = exif_block[6:] if exif_block.startswith(b"Exif\x00\x00") else exif_block
        if block[:4] in (b"II*\x00", b"MM\x00*"):
            tags = _process(block)
    out: dict[str, Any] = {}
    for tag, name in _TEXT_TAGS.items():
        text = _text(tags.get(tag))
        if text is not None:
            out[name] = text
    date = _date_taken(tags)
    if date:
        out["date_created"] = date
    orientation = _int(tags.get("Image Orientation"))
    if orientation is not None and 1 <= orientation <= 8:
        out["orientation"] = orientation
    lat = _gps_coordinate(tags.get("GPS GPSLatitude"), tags.get("GPS GPSLatitudeRef"), 90.0)
    lon = _gps_coordinate(tags.get("GPS GPSLongitude"), tags.get("GPS GPSLongitudeRef"), 180.0)
    if lat is not None and lon is not None:
        out["gps_lat"], out["gps_lon"] = lat, lon
    return out


def _process(data: bytes | BinaryIO) -> dict[str, Any]:
    fh = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    try:
        fh.seek(0)
        tags: dict[str, Any] = exifread.process_file(fh, details=False, extract_thumbnail=False)
    except Exception:  # exifread raises many types on malformed blocks; EXIF is then absent
        return {}
    return tags


def _text(tag: Any) -> str | None:
    if tag is None:
        return None
    values = tag.values
    if isinstance(values, bytes):
        raw = values.split(b"\x00", 1)[0]
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")
    elif isinstance(values, str):
        text = values
    else:
        text = str(tag.printable)
    text = text.split("\x00", 1)[0].strip()
    return text or None


def _int(tag: Any) -> int | None:
    if tag is None:
        return None
    try:
        return int(tag.values[0])
    except (TypeError, ValueError, IndexError):
        return None


def _date_taken(tags: dict[str, Any]) -> str | None:
    raw = _text(tags.get("EXIF DateTimeOriginal"))
    if not raw or len(raw) < 19 or raw.strip(": 0") == "":
        return None
    date, _, time = raw[:19].partition(" ")
    parts = date.split(":")
    if len(parts) != 3 or not all(p.isdigit() for p in parts) or parts[0] == "0000":
        return None
    if not time.replace(":", "").isdigit():
        return None
    iso = f"{parts[0]}-{parts[1]}-{parts[2]}T{time}"
    subsec = _text(tags.get("EXIF SubSecTimeOriginal"))
    if subsec and subsec.isdigit():
        iso += f".{subsec}"
    offset = _text(tags.get("EXIF OffsetTimeOriginal"))
    if offset and len(offset) == 6 and offset[0] in "+-":
        iso += offset
    return iso


def _gps_coordinate(tag: Any, ref: Any, limit: float) -> float | None:
    if tag is None:
        return None
    try:
        d, m, s = (float(v.num) / float(v.den) for v in tag.values[:3])
    except (AttributeError, TypeError, ValueError, ZeroDivisionError):
        return None
    value = d + m / 60.0 + s / 3600.0
    ref_text = _text(ref) or ""
    if ref_text.upper().startswith(("S", "W")):
        value = -value
    if not -limit <= value <= limit:
        return None
    return round(value, 7)
