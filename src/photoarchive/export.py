"""Export photos for a CMS: the desk's changes written into each file, pixels untouched.

Only what the desk changed (edits, and values the desk supplied at ingest) is written, into
every metadata family the file carries (metadata/embed.py); a photo the desk never touched
goes out byte for byte. Killed and superseded pictures are refused unless asked for, and a
use can be required to be cleared. Web copies are resized and carry the same metadata.
"""

from __future__ import annotations

import io
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from photoarchive.atomic import atomic_copy, atomic_write
from photoarchive.errors import ExportRefusedError, PhotoArchiveError, TargetExistsError
from photoarchive.fingerprints import pixel_digest
from photoarchive.metadata.embed import IN_FILE_FORMATS, Embedded, embed_changes, sidecar_packet
from photoarchive.record import DESK_FIELDS
from photoarchive.store import original_key

if TYPE_CHECKING:
    from photoarchive.archive import Archive
    from photoarchive.record import PhotoRecord

DEFAULT_PATTERN = "{date}_{agency}_{id}"
#: States exported only when asked for (`include`).
WITHHELD = ("superseded", "killed")
# Web copies: JPEG for photos, PNG stays PNG (screen grabs, graphics with sharp edges).
_WEB_FORMATS = {"PNG": ("PNG", "png")}
_JPEG = ("JPEG", "jpg")


@dataclass(frozen=True)
class Exported:
    """One exported photo: where it went, how its metadata travels, what changed."""

    id: str
    path: Path
    #: "original" (unchanged, byte for byte), "embedded", "sidecar" or "web copy"
    how: str
    sidecar: Path | None = None
    #: The fields written into the file (the desk's changes).
    changed: tuple[str, ...] = ()
    #: What a reader should know about this file's metadata (a value IIM cut short).
    warnings: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON `export --json` prints for this file."""
        return {
            "id": self.id,
            "path": str(self.path),
            "how": self.how,
            "sidecar": str(self.sidecar) if self.sidecar else None,
            "changed": list(self.changed),
            "warnings": list(self.warnings),
        }


@dataclass
class ExportReport:
    """What was exported, and what was left out for its rights verdict (with why)."""

    done: list[Exported] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)


@dataclass(frozen=True)
class ExportOptions:
    """How to export: see `export_photos`."""

    sidecar: bool = False
    pattern: str = DEFAULT_PATTERN
    overwrite: bool = False
    include: tuple[str, ...] = ()
    cleared_for: str | None = None
    at: datetime | None = None
    max_size: int | None = None
    quality: int = 85


def desk_changes(archive: Archive, record: PhotoRecord) -> dict[str, Any]:
    """Return the fields the desk changed on this photo, with their values now: edited
    since it arrived, or supplied by the desk at ingest (a manifest, --caption)."""
    sources = archive.catalog.sources(record.sha256)
    edits = archive.catalog.edits(record.sha256)
    arrived: dict[str, Any] = {}
    for edit in edits:
        arrived.setdefault(edit["field"], edit["old"])
    changed = {
        name
        for name in DESK_FIELDS
        if ("desk" in sources.get(name, {}))
        or (name in arrived and arrived[name] != getattr(record, name))
    }
    return {name: getattr(record, name) for name in DESK_FIELDS if name in changed}


def export_photos(
    archive: Archive,
    records: Iterable[PhotoRecord],
    to: Path,
    options: ExportOptions | None = None,
) -> ExportReport:
    """Write each photo into `to` with the desk's changes in its metadata.

    Killed and superseded pictures (and kill notices) are refused, nothing written, unless
    `options.include` names their state. With `cleared_for`, photos whose verdict for that
    use does not pass are left out (and listed). Every file appears whole or not at all,
    even if the export is killed; unless `overwrite`, a file already in `to` is never
    replaced: if any name is taken nothing is written (TargetExistsError).
    """
    opts = options or ExportOptions()
    listed = list(records)
    _refuse_withheld(archive, listed, opts.include)
    report = ExportReport()
    if opts.cleared_for is not None:
        kept = []
        for record, verdict in archive.verdicts(listed, opts.cleared_for, opts.at):
            if verdict.passes:
                kept.append(record)
            else:
                why = verdict.reasons[0] if verdict.reasons else verdict.status
                report.left_out.append((record.id, f"{verdict.status}: {why}"))
        listed = kept
        if not listed:
            raise ExportRefusedError(
                f"none of the {len(report.left_out)} photos is cleared for {opts.cleared_for} "
                f"use (the first, {report.left_out[0][0]}: {report.left_out[0][1]}): "
                "nothing was exported"
            )
    plan = _plan(archive, listed, to, opts)
    if not opts.overwrite:
        _refuse_clashes([p for step in plan for p in (step.target, step.sidecar) if p])
    to.mkdir(parents=True, exist_ok=True)
    for step in plan:
        report.done.append(_export_one(archive, step, opts))
    return report


@dataclass(frozen=True)
class _Step:
    record: PhotoRecord
    #: The store key of its original.
    original: str
    target: Path
    sidecar: Path | None
    fmt: str


def _plan(
    archive: Archive, records: list[PhotoRecord], to: Path, opts: ExportOptions
) -> list[_Step]:
    plan = []
    used: set[str] = set()
    for record in records:
        stored = archive.catalog.get(record.sha256)
        original = original_key(record.sha256, stored.ext)
        fmt, ext = record.format, stored.ext
        if opts.max_size is not None:
            fmt, ext = _WEB_FORMATS.get(record.format, _JPEG)
        target = to / _unique(_name(opts.pattern, record), ext, used)
        side = None
        if opts.sidecar or fmt not in IN_FILE_FORMATS:
            # NAME.xmp, as Adobe's tools look for a file's sidecar.
            side = target.with_suffix(".xmp")
        plan.append(_Step(record, original, target, side, fmt))
    return plan


def _export_one(archive: Archive, step: _Step, opts: ExportOptions) -> Exported:
    from photoarchive.ingest import image_limits

    # Pillow reads the file under the archive's limits, as ingest does (a large ICC profile
    # passes, a decompression bomb does not).
    with image_limits(archive.settings):
        return _export_step(archive, step, opts)


def _export_step(archive: Archive, step: _Step, opts: ExportOptions) -> Exported:
    record = step.record
    changes = desk_changes(archive, record)
    # overwrite=False still reaches the write: a file that someone else creates under the
    # same name after the check above is not replaced either.
    with archive.store.open(step.original) as original:
        if opts.max_size is not None:
            data, notes = _web_copy(step, original, changes, opts)
            atomic_write(step.target, data, overwrite=opts.overwrite)
            side = _write_sidecar(step, data, changes, opts) if step.sidecar else None
            return Exported(record.id, step.target, "web copy", side, tuple(changes), tuple(notes))
        if step.sidecar is not None:
            atomic_copy(original, step.target, overwrite=opts.overwrite)
            original.seek(0)
            _write_sidecar(step, original.read(), _all_fields(record), opts)
            return Exported(record.id, step.target, "sidecar", step.sidecar, tuple(changes))
        if not changes:
            atomic_copy(original, step.target, overwrite=opts.overwrite)
            return Exported(record.id, step.target, "original")
        embedded = _with_changes(original.read(), step.fmt, changes, record)
    atomic_write(step.target, embedded.data, overwrite=opts.overwrite)
    return Exported(
        record.id, step.target, "embedded", changed=tuple(changes), warnings=tuple(embedded.notes)
    )


def export_file(archive: Archive, record: PhotoRecord) -> bytes:
    """Return one photo as `export` would write it (the desk's changes in its metadata),
    for a download; formats that take no metadata in the file come as they are."""
    from photoarchive.ingest import image_limits

    _refuse_withheld(archive, [record], ())
    stored = archive.catalog.get(record.sha256)
    data = archive.store.read(original_key(record.sha256, stored.ext))
    changes = desk_changes(archive, record)
    if not changes or record.format not in IN_FILE_FORMATS:
        return data
    with image_limits(archive.settings):
        return _with_changes(data, record.format, changes, record).data


def _with_changes(data: bytes, fmt: str, changes: dict[str, Any], record: PhotoRecord) -> Embedded:
    """Return the original `data` with the desk's changes written in, its image data checked
    to be unchanged; errors name the photo."""
    try:
        embedded = embed_changes(data, fmt, changes)
    except PhotoArchiveError as exc:
        raise PhotoArchiveError(f"{record.id} ({record.original_filename}): {exc}") from None
    _same_pixels(data, embedded.data, fmt, record)
    return embedded


def _write_sidecar(step: _Step, data: bytes, values: dict[str, Any], opts: ExportOptions) -> Path:
    assert step.sidecar is not None
    packet = sidecar_packet(_packet_of(data), values)
    atomic_write(step.sidecar, packet, overwrite=opts.overwrite)
    return step.sidecar


def _all_fields(record: PhotoRecord) -> dict[str, Any]:
    """A sidecar carries every field of the record: it is all the reader gets besides
    what the file itself says."""
    return {
        name: getattr(record, name)
        for name in (*DESK_FIELDS, "transmission_reference")
        if getattr(record, name) not in (None, "", [])
    }


def _packet_of(data: bytes) -> bytes | None:
    from PIL import Image

    from photoarchive.metadata.xmp import find_packet

    try:
        with Image.open(io.BytesIO(data)) as im:
            return find_packet(im, data)
    except (OSError, SyntaxError, ValueError):
        return None


def _same_pixels(before: bytes, after: bytes, fmt: str, record: PhotoRecord) -> None:
    if fmt in ("JPEG", "PNG") and pixel_digest(after, fmt) != pixel_digest(before, fmt):
        raise PhotoArchiveError(
            f"{record.id}: writing its metadata would change the image data: refused"
        )


def _web_copy(
    step: _Step, original: BinaryIO, changes: dict[str, Any], opts: ExportOptions
) -> tuple[bytes, list[str]]:
    """A resized copy (long edge at most max_size) carrying the original's metadata and the
    desk's changes."""
    from PIL import Image

    from photoarchive.ingest import _register_heif
    from photoarchive.metadata.transfer import carry_metadata

    assert opts.max_size is not None
    _register_heif()
    with Image.open(original) as im:
        im.draft("RGB", (opts.max_size, opts.max_size))  # JPEG: decode at a smaller scale
        frame = im.convert("RGBA" if step.fmt == "PNG" and "A" in im.getbands() else "RGB")
    # The pixels keep the original's orientation; its EXIF orientation tag travels with them.
    frame.thumbnail((opts.max_size, opts.max_size), Image.Resampling.LANCZOS)
    buf = io.BytesIO()
    if step.fmt == "PNG":
        frame.save(buf, "PNG", optimize=True)
    else:
        frame.save(buf, "JPEG", quality=opts.quality, optimize=True, progressive=True)
    original.seek(0)
    copy = carry_metadata(original.read(), step.record.format, buf.getvalue(), step.fmt)
    # Moved between formats, the metadata may not all arrive: the copy then gets every
    # field of the record, not only the desk's changes.
    values = changes if step.record.format == step.fmt else _all_fields(step.record)
    if not values:
        return copy, []
    embedded = embed_changes(copy, step.fmt, values)
    return embedded.data, embedded.notes


def _refuse_withheld(
    archive: Archive, records: list[PhotoRecord], include: tuple[str, ...]
) -> None:
    standing = archive.states(r.sha256 for r in records)
    refused = [
        (r.id, standing[r.sha256].state)
        for r in records
        if standing[r.sha256].state in (*WITHHELD, "notice")
        and standing[r.sha256].state not in include
    ]
    if not refused:
        return
    first_id, state = refused[0]
    what = {"superseded": "an older version of a refiled picture", "killed": "killed"}.get(
        state, "a kill notice, not a picture"
    )
    more = f" and {len(refused) - 1} more" if len(refused) > 1 else ""
    hint = f" (--include {state} exports it anyway)" if state in WITHHELD else ""
    raise ExportRefusedError(f"{first_id} is {what}{more}: nothing was exported{hint}")


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
    # Compared case-blind (on a Mac or Windows share A.jpg and a.jpg are one file), and by
    # stem: NAME.xmp sidecars of NAME.jpg and NAME.heic would be one file.
    name, n = stem, 2
    while name.casefold() in used:
        name, n = f"{stem}-{n}", n + 1
    used.add(name.casefold())
    return f"{name}.{ext}"
