"""Verify an archive (rehash originals; compare catalog, files and index) and repair it."""

from __future__ import annotations

import hashlib
import random
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from photoarchive.errors import IndexUnavailableError
from photoarchive.store import TEMP_PREFIX

if TYPE_CHECKING:
    from photoarchive.archive import Archive
    from photoarchive.catalog import StoredPhoto
    from photoarchive.search import Entry

# Photos whose index postings are looked up word by word, besides every pending one.
POSTINGS_SAMPLE = 200
# Files written this close before the oldest running writer started are left alone too
# (file times are coarser than the clock).
YOUNG_MARGIN_SECONDS = 2.0


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
    #: Photos whose index entry differs from what the catalog says now.
    index_stale: list[str] = field(default_factory=list)
    index_problem: str | None = None
    #: Files no photo owns yet that a running ingest may still catalogue: not problems.
    in_flight: list[str] = field(default_factory=list)
    #: Why --prune deleted nothing, when it refused.
    prune_refused: str | None = None
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
            or self.index_stale
            or self.index_problem
            or self.prune_refused
        )


def verify_archive(
    archive: Archive,
    repair: bool = False,
    prune: bool = False,
    on_progress: Callable[[int, int], None] | None = None,
) -> VerifyReport:
    """Check every photo; with `repair`, rebuild renditions and index entries and remove
    temporary files left by interrupted writes; with `prune` also, delete files no photo
    owns. An original is never deleted or changed otherwise.

    The long scan runs beside other writers; what it finds wrong is confirmed (and
    repaired) holding the writer lock, so work in progress is not taken for damage.
    """
    report = VerifyReport()
    total = archive.catalog.count()
    owned: set[Path] = set()
    for n, photo in enumerate(archive.catalog.iter_photos(), 1):
        _check_photo(archive, photo, owned, report, repair)
        if on_progress:
            on_progress(n, total)
    for base in (archive.store.originals, archive.store.renditions):
        if base.is_dir():
            report.orphan_files.extend(
                str(p)
                for p in sorted(base.glob("*/*"))
                if p not in owned and not p.name.startswith(TEMP_PREFIX)
            )
    _check_index(archive, report)
    hold = archive.writing if repair else archive.between_writes
    with hold("verify --repair" if repair else "verify"):
        _confirm(archive, report)
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
    from PIL import Image

    from photoarchive.renditions import make_renditions

    settings = archive.settings
    with Image.open(original) as im:  # read from the file, never whole into memory
        made = make_renditions(
            im, settings.preview_size, settings.thumbnail_size, settings.jpeg_quality
        )
    archive.store.put_rendition(sha256, "preview", made.preview)
    archive.store.put_rendition(sha256, "thumb", made.thumb)


def _expected_entries(archive: Archive, shas: Iterable[str] | None = None) -> Iterator[Entry]:
    """Yield the index entries the catalog makes now (of every photo, or of `shas`)."""
    photos = None if shas is None else archive.catalog.get_many(shas).values()
    return archive.index_entries(photos)


def _index_differences(
    archive: Archive, shas: Iterable[str] | None = None
) -> tuple[list[str], list[str], list[str]]:
    """Return (not indexed, indexed but not catalogued, stale) full hashes: the index's
    stored digest of each document against the one the catalog's values make now."""
    from photoarchive.search.documents import document, document_digest

    indexed = archive.index.digests()
    wanted = None if shas is None else set(shas)
    expected = {
        e.record.sha256: document_digest(document(e)) for e in _expected_entries(archive, wanted)
    }
    scope = set(indexed) if wanted is None else wanted & set(indexed)
    missing = sorted(s for s in expected if s not in indexed)
    extra = sorted(s for s in scope if s not in expected)
    stale = sorted(s for s in expected if s in indexed and indexed[s] != expected[s])
    # Stored digests can be right while postings are damaged: look photos up word by word,
    # a sample of them and every photo still waiting for the index (or all of `shas`).
    comparable = set(indexed) & set(expected)
    if shas is None:
        pending = set(archive.catalog.pending_index()) & comparable
        others = sorted(comparable - pending - set(stale))
        sample = pending | set(random.sample(others, min(POSTINGS_SAMPLE, len(others))))
    else:
        sample = comparable - set(stale)
    bad = archive.index.missing_postings(_expected_entries(archive, sample))
    stale = sorted(set(stale) | set(bad))
    return missing, extra, stale


def _check_index(archive: Archive, report: VerifyReport) -> None:
    try:
        missing, extra, stale = _index_differences(archive)
    except IndexUnavailableError as exc:
        report.index_problem = str(exc)
        return
    except Exception as exc:  # a damaged index is a finding, not a crash
        report.index_problem = f"the search index cannot be read ({type(exc).__name__}: {exc})"
        return
    report.not_indexed, report.index_extra, report.index_stale = missing, extra, stale


def _confirm(archive: Archive, report: VerifyReport) -> None:
    """Check again, between writes, what the scan found: what a running writer has
    finished since is no longer a problem, and its files in progress are not orphans."""
    from photoarchive.locking import running_writers

    if report.index_problem:
        try:
            archive.index.check()
        except IndexUnavailableError:
            pass
        else:  # usable now (a rebuild finished meanwhile): compare it in full
            report.index_problem = None
            _check_index(archive, report)
    elif report.not_indexed or report.index_extra or report.index_stale:
        again = {*report.not_indexed, *report.index_extra, *report.index_stale}
        missing, extra, stale = _index_differences(archive, again)
        report.not_indexed, report.index_extra, report.index_stale = missing, extra, stale
    writers = running_writers(archive.root)
    oldest = min((w.since for w in writers), default=None)
    orphans, in_flight = [], []
    for name in report.orphan_files:
        path = Path(name)
        if not path.exists() or _owned(archive, path):
            continue
        if oldest is not None and _mtime(path) >= oldest - YOUNG_MARGIN_SECONDS:
            in_flight.append(name)
        else:
            orphans.append(name)
    report.orphan_files, report.in_flight = orphans, in_flight
    report.temp_files = [str(p) for p in archive.store.temp_files()]
    # A rebuild killed half-way leaves its folders (no rebuild runs: we hold the lock).
    report.temp_files += [str(p) for p in archive.index.leftovers() if p.exists()]
    # Shown by id from here on: the lists hold full hashes until now.
    for name in ("not_indexed", "index_extra", "index_stale"):
        setattr(report, name, sorted(s[:12] for s in getattr(report, name)))


def _owned(archive: Archive, path: Path) -> bool:
    """True if the catalog now owns this original or rendition."""
    sha = path.name.split(".")[0].split("-")[0]
    if len(sha) != 64:
        return False
    try:
        photo = archive.catalog.get(sha)
    except Exception:
        return False
    if path.parent.parent == archive.store.originals:
        return path == archive.store.original_path(sha, photo.ext)
    return True


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()


def _repair(archive: Archive, report: VerifyReport, prune: bool) -> None:
    removed = archive.store.remove_temp_files()
    for folder in archive.index.leftovers():
        if folder.exists():
            shutil.rmtree(folder, ignore_errors=True)
            removed += 1
    if removed:
        report.repaired.append(f"{removed} temporary files of interrupted writes removed")
        report.temp_files = []
    if report.index_problem:
        count = archive.reindex()
        report.repaired.append(f"search index rebuilt from the catalog ({count} photos)")
        report.index_problem = None
        report.not_indexed, report.index_extra, report.index_stale = [], [], []
    elif report.not_indexed or report.index_extra or report.index_stale:
        _mend_index(archive, report)
    if prune and report.orphan_files:
        _prune(archive, report)


def _mend_index(archive: Archive, report: VerifyReport) -> None:
    """Write again the index entries that differ from the catalog; drop the extra ones."""
    catalogued = archive.catalog.all_hashes()
    by_id = {s[:12]: s for s in catalogued}
    put = [by_id[i] for i in (*report.not_indexed, *report.index_stale) if i in by_id]
    extra_ids = set(report.index_extra)
    drop = [s for s in archive.index.digests() if s[:12] in extra_ids and s not in catalogued]
    archive.index.add(_expected_entries(archive, put), delete=drop)
    archive.catalog.mark_indexed(put)
    report.repaired.append(
        f"search index entries mended: {len(put)} written again, {len(drop)} removed"
    )
    report.not_indexed, report.index_extra, report.index_stale = [], [], []


def _prune(archive: Archive, report: VerifyReport) -> None:
    originals = [n for n in report.orphan_files if Path(n).parent.parent == archive.store.originals]
    catalogued = archive.catalog.count()
    # A catalog that owns far fewer originals than the disk holds has lost rows (restored
    # from an old backup, damaged): deleting "orphans" would destroy those photos for good.
    if originals and (catalogued == 0 or len(originals) > 10 + catalogued // 10):
        report.prune_refused = (
            f"--prune refused: {len(originals)} originals on disk are not in the catalog, "
            f"which holds {catalogued} photos; a catalog that lost photos would lose them "
            "for good. Nothing was deleted: check the catalog (restore it from a backup)"
        )
        return
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
