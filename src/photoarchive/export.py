"""Export photos with the archive's current metadata embedded, pixels untouched."""

from __future__ import annotations

import hashlib
import os
import re
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PIL import Image

from photoarchive.errors import PhotoArchiveError, TargetExistsError
from photoarchive.fingerprints import pixel_digest
from photoarchive.metadata.iptc_writer import embed_in_jpeg, encode_iim_fitted, photoshop_resources
from photoarchive.metadata.xmp_writer import build_xmp, build_xmp_parts, xml_safe
from photoarchive.record import DESCRIPTIVE_FIELDS
from photoarchive.store import atomic_copy, atomic_write

if TYPE_CHECKING:
    from photoarchive.archive import Archive
    from photoarchive.record import PhotoRecord

EXPORTED_FIELDS = DESCRIPTIVE_FIELDS
_XMP_SIGNATURE = b"http://ns.adobe.com/xap/1.0/\x00"
_EXTENDED_SIGNATURE = b"http://ns.adobe.com/xmp/extension/\x00"
_XMP_APP1 = (_XMP_SIGNATURE, _EXTENDED_SIGNATURE)
# A JPEG segment holds at most 0xFFFF - 2 bytes after its marker and length.
_SEGMENT_PAYLOAD = 0xFFFF - 2
# Extended XMP in pieces of this size, as Adobe's XMP toolkit writes them (XMP part 3).
_EXTENDED_CHUNK = 65400
DEFAULT_PATTERN = "{date}_{agency}_{id}"
#: Formats whose metadata export rewrites inside the file; others get an .xmp sidecar.
EMBEDDED_FORMATS = ("JPEG", "PNG")


@dataclass(frozen=True)
class Exported:
    """One exported photo: where it went and how its metadata travels."""

    id: str
    path: Path
    how: str  # "embedded" or "sidecar"
    sidecar: Path | None = None
    #: What a reader should know about this file's metadata (extended XMP, IIM cut short).
    warnings: tuple[str, ...] = ()


def metadata_values(record: PhotoRecord) -> dict[str, Any]:
    """Return the record's fields that travel with an exported file."""
    values: dict[str, Any] = {}
    for name in EXPORTED_FIELDS:
        value = getattr(record, name)
        if value not in (None, "", []):
            # The same text in XMP, IIM and EXIF: without what XML 1.0 cannot hold.
            if isinstance(value, list):
                values[name] = [xml_safe(str(v)) for v in value]
            else:
                values[name] = xml_safe(value) if isinstance(value, str) else value
    return values


def export_photos(
    archive: Archive,
    records: list[PhotoRecord],
    to: Path,
    sidecar: bool = False,
    pattern: str = DEFAULT_PATTERN,
    overwrite: bool = False,
) -> list[Exported]:
    """Copy originals into `to` with current captions, credits and keywords embedded (XMP,
    and IIM in JPEGs) without touching the image data, or beside them as .xmp sidecars.

    Every file appears whole or not at all, even if the export is killed. Unless
    `overwrite`, a file already in `to` is never replaced: if any name is taken nothing is
    written (TargetExistsError).
    """
    plan: list[tuple[PhotoRecord, Path, Path, Path | None]] = []
    used: set[str] = set()
    for record in records:
        stored = archive.catalog.get(record.sha256)
        original = archive.store.original_path(record.sha256, stored.ext)
        target = to / _unique(_name(pattern, record), stored.ext, used)
        side = None
        if sidecar or record.format not in EMBEDDED_FORMATS:
            side = target.with_name(target.name + ".xmp")
        plan.append((record, original, target, side))
    if not overwrite:
        _refuse_clashes([p for _, _, target, side in plan for p in (target, side) if p])
    to.mkdir(parents=True, exist_ok=True)
    done: list[Exported] = []
    for record, original, target, side in plan:
        values = metadata_values(record)
        # overwrite=False still reaches the write: a file that someone else creates under
        # the same name after the check above is not replaced either.
        if side is not None:
            atomic_copy(original, target, overwrite=overwrite)
            atomic_write(side, build_xmp(values), overwrite=overwrite)
            done.append(Exported(record.id, target, "sidecar", side))
        else:
            notes: list[str] = []
            embedded = embed_metadata(original.read_bytes(), record.format, values, notes)
            assert embedded is not None  # EMBEDDED_FORMATS are the ones embed_metadata writes
            atomic_write(target, embedded, overwrite=overwrite)
            done.append(Exported(record.id, target, "embedded", warnings=tuple(notes)))
    return done


def _refuse_clashes(paths: list[Path]) -> None:
    clashes = [p for p in paths if os.path.lexists(p)]
    if len(clashes) == 1:
        raise TargetExistsError(
            f"{clashes[0]} exists already: nothing was exported (--overwrite replaces it)"
        )
    if clashes:
        raise TargetExistsError(
            f"{len(clashes)} files exist already in {clashes[0].parent}, the first "
            f"{clashes[0].name}: nothing was exported (--overwrite replaces them)"
        )


def embed_metadata(
    data: bytes, fmt: str, values: dict[str, Any], notes: list[str] | None = None
) -> bytes | None:
    """Return the file with its XMP (and IIM, and EXIF description) replaced by `values`;
    None for formats whose metadata is not rewritten here (they get a sidecar).

    What a reader of the file should know (XMP beyond one JPEG segment went to extended
    XMP; IIM's limits cut a value) is appended to `notes`.
    """
    if fmt == "JPEG":
        out = _jpeg(data, values, notes if notes is not None else [])
    elif fmt == "PNG":
        out = _png(data, values)
    else:
        return None
    if pixel_digest(out, fmt) != pixel_digest(data, fmt):
        raise PhotoArchiveError("export would change the image data: refused")
    return out


def _jpeg(data: bytes, values: dict[str, Any], notes: list[str]) -> bytes:
    kept = bytearray(data[:2])
    pos = 2
    exif_payload = None
    while pos + 4 <= len(data) and data[pos] == 0xFF and data[pos + 1] != 0xDA:
        marker = data[pos + 1]
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        segment = data[pos : pos + 2 + length]
        payload = segment[4:]
        drop = (marker == 0xE1 and payload.startswith(_XMP_APP1)) or (
            marker == 0xED and payload.startswith(b"Photoshop 3.0\x00")
        )
        if marker == 0xE1 and payload.startswith(b"Exif\x00\x00"):
            exif_payload = _exif_with(payload, values, notes)
            segment = b"\xff\xe1" + struct.pack(">H", len(exif_payload) + 2) + exif_payload
        if not drop:
            kept += segment
        pos += 2 + length
    kept += data[pos:]
    with_xmp = _after_app0_app1(bytes(kept), _xmp_segments(values, notes))
    iim, left_out = encode_iim_fitted(_iim_values(values))
    if left_out:
        notes.append(
            f"IPTC-IIM holds {left_out} fewer keywords or by-lines than the XMP: "
            "one APP13 segment has no room for them"
        )
    return embed_in_jpeg(with_xmp, photoshop_resources(iim))


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _xmp_segments(values: dict[str, Any], notes: list[str]) -> bytes:
    """The XMP APP1 segment, and extended XMP segments when it does not fit in one.

    Per XMP part 3 (1.1.3.1): the standard packet keeps what fits in its 64 KB and names
    the rest by the MD5 of its serialisation; the rest follows in pieces, each with that
    GUID, the full length and its offset. exiftool and Adobe's toolkit read them whole.
    """
    standard, extended = build_xmp_parts(values, _SEGMENT_PAYLOAD - len(_XMP_SIGNATURE))
    segments = _segment(0xE1, _XMP_SIGNATURE + standard)
    if extended is None:
        return segments
    guid = hashlib.md5(extended).hexdigest().upper().encode("ascii")
    for offset in range(0, len(extended), _EXTENDED_CHUNK):
        chunk = extended[offset : offset + _EXTENDED_CHUNK]
        header = _EXTENDED_SIGNATURE + guid + struct.pack(">II", len(extended), offset)
        segments += _segment(0xE1, header + chunk)
    notes.append(
        f"its XMP ({len(standard) + len(extended):,} bytes) is more than one JPEG segment "
        "holds: the largest fields are in extended XMP, which exiftool and Adobe software "
        "read but some other programs do not"
    )
    return segments


def _exif_with(payload: bytes, values: dict[str, Any], notes: list[str]) -> bytes:
    """EXIF with its description, artist and copyright made to agree with `values`.

    Readers following the Metadata Working Group take a non-blank EXIF description over
    XMP and IIM, so a stale one would hide the edited caption.
    """
    exif = Image.Exif()
    exif.load(payload[6:])
    tags = {0x010E: "caption", 0x013B: "byline", 0x8298: "copyright"}
    if not any(tag in exif for tag in tags):
        return payload
    for tag, name in tags.items():
        if tag in exif:
            if values.get(name):
                exif[tag] = values[name]
            else:
                del exif[tag]
    out = b"Exif\x00\x00" + exif.tobytes()
    if len(out) > _SEGMENT_PAYLOAD:
        # Too long for its segment (a caption of 100,000 characters): the EXIF copies go,
        # and readers take these fields from the XMP, as MWG has them do for blank ones.
        for tag in tags:
            if tag in exif:
                del exif[tag]
        out = b"Exif\x00\x00" + exif.tobytes()
        notes.append("its EXIF description, artist and copyright were left out: too long")
    return out


def _after_app0_app1(jpeg: bytes, segment: bytes) -> bytes:
    pos = 2
    while pos + 4 <= len(jpeg) and jpeg[pos] == 0xFF and jpeg[pos + 1] in (0xE0, 0xE1):
        pos += 2 + struct.unpack(">H", jpeg[pos + 2 : pos + 4])[0]
    return jpeg[:pos] + segment + jpeg[pos:]


def _iim_values(values: dict[str, Any]) -> dict[str, Any]:
    # encode_iim_fitted cuts each value to its dataset's limit (caption 2,000 bytes...).
    return {name: value for name, value in values.items() if name != "usage_terms"}


def _png(data: bytes, values: dict[str, Any]) -> bytes:
    out = bytearray(data[:8])
    pos = 8
    inserted = False
    packet = build_xmp(values)
    body = b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + packet
    chunk = (
        struct.pack(">I", len(body))
        + b"iTXt"
        + body
        + struct.pack(">I", zlib.crc32(b"iTXt" + body))
    )
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        whole = data[pos : pos + 12 + length]
        is_xmp = kind == b"iTXt" and whole[8:].startswith(b"XML:com.adobe.xmp\x00")
        if kind == b"IDAT" and not inserted:
            out += chunk
            inserted = True
        if not is_xmp:
            out += whole
        pos += 12 + length
    return bytes(out)


def _name(pattern: str, record: PhotoRecord) -> str:
    fields = {
        "id": record.id,
        "date": (record.date_created or "undated")[:10],
        "agency": record.agency or "unknown",
        "credit": record.credit or "uncredited",
        "name": Path(record.original_filename).stem,
    }
    try:
        name = pattern.format(**fields)
    except (KeyError, IndexError, ValueError) as exc:
        raise PhotoArchiveError(
            f"bad --name pattern {pattern!r} ({exc}); use {{id}}, {{date}}, {{agency}}, "
            "{credit}, {name}"
        ) from None
    return re.sub(r"[^\w.,() -]+", "_", name).strip(" ._") or record.id


def _unique(stem: str, ext: str, used: set[str]) -> str:
    # Compared case-blind: on a Mac or Windows share A.jpg and a.jpg are one file.
    name, n = f"{stem}.{ext}", 2
    while name.casefold() in used:
        name, n = f"{stem}-{n}.{ext}", n + 1
    used.add(name.casefold())
    return name
