"""Verify an archive (rehash originals; compare catalog, files and index) and repair it."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from photoarchive.store import TEMP_PREFIX

if TYPE_CHECKING:
    from photoarchive.archive import Archive
    from photoarchive.catalog import StoredPhoto


@dataclass
class VerifyReport:
    """What `verify` found (and, with repair, fixed); empty lists mean a healthy archive."""

    checked: int = 0
    corrupt: list[str] = field(default_factory=list)
    missing_originals: list[str] = field(default_factory=list)
    missing_renditions: list[str] = field(default_factory=list)
    orphan_files: list[str] = field(default_factory=list)
    temp_files: list[str] = field(default_factory=list)
    not_indexed: list[str] = field(default_factory=list)
    index_extra: list[str] = field(default_factory=list)
    index_problem: str | None = None
    repaired: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing is wrong (after any repair)."""
        return not (
            self.corrupt
            or self.missing_originals
            or self.missing_renditions
            or self.orphan_files
            or self.temp_files
            or self.not_indexed
            or self.index_extra
            or self.index_problem
        )


def verify_archive(
    archive: Archive,
    repair: bool = False,
    prune: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    """Check every photo; with `repair`, rebuild renditions and index entries and remove
    temporary files left by interrupted writes; with `prune` also, delete files no photo
    owns. An original is never deleted or changed otherwise."""
    report = VerifyReport()
    total = archive.catalog.count()
    owned: set[Path] = set()
    for n, photo in enumerate(archive.catalog.iter_photos(), 1):
        _check_photo(archive, photo, owned, report, repair)
        if on_progress:
            on_progress(n, total)
    temps = archive.store.temp_files()
    for base in (archive.store.originals, archive.store.renditions):
        if base.is_dir():
            report.orphan_files.extend(
                str(p)
                for p in sorted(base.glob("*/*"))
                if p not in owned and not p.name.startswith(TEMP_PREFIX)
            )
    report.temp_files = [str(p) for p in temps]
    _check_index(archive, report)
    if repair:
        _repair(archive, report, prune)
    return report


def _check_photo(
    archive: Archive, photo: StoredPhoto, owned: set[Path], report: VerifyReport, repair: bool
) -> None:
    rec = photo.record
    path = archive.store.original_path(rec.sha256, photo.ext)
    owned.add(path)
    report.checked += 1
    original_ok = False
    if not path.exists():
        report.missing_originals.append(f"{rec.id} {path}")
    elif hash_file(path) != rec.sha256:
        report.corrupt.append(f"{rec.id} {path}")
    else:
        original_ok = True
    missing = []
    for kind in ("thumb", "preview"):
        rpath = archive.store.rendition_path(rec.sha256, kind)
        owned.add(rpath)
        if not rpath.exists():
            missing.append(rpath)
    if not missing:
        return
    if repair and original_ok:
        _render_again(archive, path, rec.sha256)
        report.repaired.append(f"{rec.id}: renditions made again")
    else:
        report.missing_renditions.extend(f"{rec.id} {p}" for p in missing)


def _render_again(archive: Archive, original: Path, sha256: str) -> None:
    import io

    from PIL import Image

    from photoarchive.renditions import make_renditions

    settings = archive.settings
    with Image.open(io.BytesIO(original.read_bytes())) as im:
        made = make_renditions(
            im, settings.preview_size, settings.thumbnail_size, settings.jpeg_quality
        )
    archive.store.put_rendition(sha256, "preview", made.preview)
    archive.store.put_rendition(sha256, "thumb", made.thumb)


def _check_index(archive: Archive, report: VerifyReport) -> None:
    catalogued = archive.catalog.all_hashes()
    try:
        indexed = archive.index.all_hashes()
    except Exception as exc:  # a damaged index is a finding, not a crash
        report.index_problem = str(exc)
        return
    report.not_indexed = sorted(s[:12] for s in catalogued - indexed)
    report.index_extra = sorted(s[:12] for s in indexed - catalogued)


def _repair(archive: Archive, report: VerifyReport, prune: bool) -> None:
    removed = archive.store.remove_temp_files()
    if removed:
        report.repaired.append(f"{removed} temporary files of interrupted writes removed")
        report.temp_files = []
    if report.index_problem or report.not_indexed or report.index_extra:
        count = archive.reindex()
        report.repaired.append(f"search index rebuilt from the catalog ({count} photos)")
        report.index_problem, report.not_indexed, report.index_extra = None, [], []
    if prune and report.orphan_files:
        for name in report.orphan_files:
            Path(name).unlink(missing_ok=True)
        report.repaired.append(f"{len(report.orphan_files)} files no photo owns deleted")
        report.orphan_files = []


def hash_file(path: Path) -> str:
    """Return the SHA-256 of a file, read in 1 MiB pieces."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()
