"""Verify an archive (rehash originals; compare catalog, files and index) and repair it."""

from __future__ import annotations

import random
import shutil
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from photoarchive.errors import IndexUnavailableError, ObjectMissingError
from photoarchive.store import (
    ORIGINALS,
    RENDITION_KINDS,
    RENDITIONS,
    StoredObject,
    original_key,
    rendition_key,
    sha_of,
)

if TYPE_CHECKING:
    from concurrent.futures import Future

    from photoarchive.archive import Archive
    from photoarchive.catalog import StoredPhoto
    from photoarchive.search import Entry

# Photos whose index postings are looked up word by word, besides every pending one.
POSTINGS_SAMPLE = 200
# Files written this close before the oldest running writer started are left alone too
# (file times are coarser than the clock).
YOUNG_MARGIN_SECONDS = 2.0
# Photos whose files are checked at once: an object store answers each request after a
# round trip, and hashing releases the interpreter.
PARALLEL_CHECKS = 8


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
    owned: set[str] = set()
    window: deque[tuple[StoredPhoto, Future[_FileCheck]]] = deque()

    def settle() -> None:
        photo, future = window.popleft()
        _record(archive, photo, future.result(), owned, report, repair)
        if on_progress:
            on_progress(report.checked, total)

    with ThreadPoolExecutor(PARALLEL_CHECKS) as pool:
        # In catalog order, at most a few photos ahead of the report.
        for photo in archive.catalog.iter_photos():
            window.append((photo, pool.submit(_check_files, archive, photo)))
            if len(window) >= 4 * PARALLEL_CHECKS:
                settle()
        while window:
            settle()
    listed: dict[str, StoredObject] = {}
    for prefix in (ORIGINALS, RENDITIONS):
        for stored in archive.store.objects(prefix):
            if stored.key not in owned:
                listed[stored.key] = stored
    report.orphan_files = sorted(listed)
    _check_index(archive, report)
    hold = archive.writing if repair else archive.between_writes
    with hold("verify --repair" if repair else "verify"):
        _confirm(archive, report, listed)
        if repair:
            _repair(archive, report, prune)
    # Shown as paths or URLs from here on: the lists hold store keys until now.
    report.orphan_files = [archive.store.shown(k) for k in report.orphan_files]
    report.in_flight = [archive.store.shown(k) for k in report.in_flight]
    return report


@dataclass(frozen=True)
class _FileCheck:
    """What one photo's files are: its original "ok", "missing" or "corrupt", and the keys
    of its missing renditions."""

    original: str
    missing_renditions: list[str]


def _check_files(archive: Archive, photo: StoredPhoto) -> _FileCheck:
    rec = photo.record
    store = archive.store
    key = original_key(rec.sha256, photo.ext)
    try:
        state = "ok" if store.sha256(key) == rec.sha256 else "corrupt"
    except ObjectMissingError:
        state = "missing"
    renditions = [rendition_key(rec.sha256, kind) for kind in RENDITION_KINDS]
    absent = store.missing(renditions)
    return _FileCheck(state, [k for k in renditions if k in absent])


def _record(
    archive: Archive,
    photo: StoredPhoto,
    check: _FileCheck,
    owned: set[str],
    report: VerifyReport,
    repair: bool,
) -> None:
    rec = photo.record
    key = original_key(rec.sha256, photo.ext)
    owned.add(key)
    owned.update(rendition_key(rec.sha256, kind) for kind in RENDITION_KINDS)
    report.checked += 1
    shown = archive.store.shown(key)
    if check.original == "missing":
        report.missing_originals.append(f"{rec.id} {shown}")
    elif check.original == "corrupt":
        report.corrupt.append(f"{rec.id} {shown}")
    if not check.missing_renditions:
        return
    if repair and check.original == "ok":
        _render_again(archive, key, rec.sha256)
        report.repaired.append(f"{rec.id}: renditions made again")
    else:
        report.missing_renditions.extend(
            f"{rec.id} {archive.store.shown(k)}" for k in check.missing_renditions
        )


def _render_again(archive: Archive, original: str, sha256: str) -> None:
    from PIL import Image

    from photoarchive.renditions import make_renditions

    settings = archive.settings
    # Read from the file (or a spooled download), never whole into memory.
    with archive.store.open(original) as fh, Image.open(fh) as im:
        made = make_renditions(
            im, settings.preview_size, settings.thumbnail_size, settings.jpeg_quality
        )
    archive.store.put(rendition_key(sha256, "preview"), made.preview)
    archive.store.put(rendition_key(sha256, "thumb"), made.thumb)


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


def _confirm(archive: Archive, report: VerifyReport, listed: dict[str, StoredObject]) -> None:
    """Check again, between writes, what the scan found: what a running writer has
    finished since is no longer a problem, and its files in progress are not orphans."""
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
    oldest = archive.writers_since()
    orphans, in_flight = [], []
    gone = archive.store.missing(report.orphan_files)
    for key in report.orphan_files:
        if key in gone or _owned(archive, key):
            continue
        if oldest is not None and listed[key].modified >= oldest - YOUNG_MARGIN_SECONDS:
            in_flight.append(key)
        else:
            orphans.append(key)
    report.orphan_files, report.in_flight = orphans, in_flight
    report.temp_files = archive.store.leftovers(oldest)
    # A rebuild killed half-way leaves its folders (no rebuild runs: we hold the lock).
    report.temp_files += [str(p) for p in archive.index.leftovers() if p.exists()]
    # Shown by id from here on: the lists hold full hashes until now.
    for name in ("not_indexed", "index_extra", "index_stale"):
        setattr(report, name, sorted(s[:12] for s in getattr(report, name)))


def _owned(archive: Archive, key: str) -> bool:
    """True if the catalog now owns this original or rendition."""
    sha = sha_of(key)
    if sha is None:
        return False
    try:
        photo = archive.catalog.get(sha)
    except Exception:
        return False
    if key.startswith(ORIGINALS):
        return key == original_key(sha, photo.ext)
    return True


def _repair(archive: Archive, report: VerifyReport, prune: bool) -> None:
    removed = archive.store.remove_leftovers(archive.writers_since())
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
    originals = [k for k in report.orphan_files if k.startswith(ORIGINALS)]
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
    for key in report.orphan_files:
        archive.store.delete(key)
    report.repaired.append(f"{len(report.orphan_files)} files no photo owns deleted")
    report.orphan_files = []
