"""The ingest pipeline: discover, hash, dedupe, extract, render, store, catalog, index."""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import stat
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from photoarchive.catalog import Catalog, StoredPhoto
from photoarchive.config import ArchiveSettings
from photoarchive.credits import normalise_agency
from photoarchive.errors import PhotoArchiveError, RejectedFileError, StorageError
from photoarchive.manifest import match_files
from photoarchive.record import PhotoRecord
from photoarchive.store import FileStore

if TYPE_CHECKING:
    from photoarchive.archive import Archive

IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".jpe", ".tif", ".tiff", ".png", ".webp", ".heic", ".heif"}
# Pillow format -> extension the original is stored under.
STORED_FORMATS = {
    "JPEG": "jpg",
    "MPO": "jpg",
    "TIFF": "tif",
    "PNG": "png",
    "WEBP": "webp",
    "HEIF": "heic",
}
# New photos are catalogued and indexed in batches: at most this many, or this often, so a
# killed ingest loses little work and the index sees few commits.
BATCH_SIZE = 100
BATCH_SECONDS = 3.0

# Called after each file with its outcome, how many files are done and how many there are.
ProgressCallback = Callable[["FileOutcome", int, int], None]


@dataclass(frozen=True)
class IngestOptions:
    """Desk-supplied values for the whole batch, and how many worker processes to use."""

    caption: str | None = None
    headline: str | None = None
    credit: str | None = None
    byline: str | None = None
    keywords: tuple[str, ...] = ()
    jobs: int = 1
    #: Per-file desk values by file name (see photoarchive.manifest); a row's values
    #: outrank the batch-wide ones above.
    manifest: Mapping[str, Mapping[str, Any]] | None = None

    def desk_values(self) -> dict[str, Any]:
        """Return the desk-supplied values under record field names."""
        values: dict[str, Any] = {
            name: value.strip()
            for name in ("caption", "headline", "credit", "byline")
            if (value := getattr(self, name)) and value.strip()
        }
        if self.keywords:
            values["keywords"] = [k.strip() for k in self.keywords if k.strip()]
        return values


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file: new, duplicate or rejected (with the reason)."""

    path: str
    status: str
    id: str | None = None
    reason: str | None = None
    warnings: tuple[str, ...] = ()


@dataclass(frozen=True)
class IngestReport:
    """Every file's outcome, in discovery order."""

    outcomes: tuple[FileOutcome, ...]
    skipped: tuple[str, ...] = ()
    #: Manifest rows that named no file of the batch.
    unmatched_rows: tuple[str, ...] = ()

    def count(self, status: str) -> int:
        """Return how many files ended with this status."""
        return sum(1 for o in self.outcomes if o.status == status)

    @property
    def ok(self) -> bool:
        """True when no file was rejected and every manifest row found its file."""
        return self.count("rejected") == 0 and not self.unmatched_rows


@dataclass
class _Prepared:
    photo: StoredPhoto
    sources: dict[str, dict[str, Any]]
    outcome: FileOutcome


@dataclass(frozen=True)
class _Job:
    path: str
    root: str
    settings: ArchiveSettings
    desk: dict[str, Any] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)


def discover(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[str], list[str]]:
    """Return (image files to ingest, paths that do not exist, other files skipped).

    Folders are walked recursively in name order; inside them only image extensions are
    taken and hidden files are skipped. A file named explicitly is always tried.
    """
    found: list[Path] = []
    missing: list[str] = []
    skipped: list[str] = []
    for given in paths:
        path = Path(given)
        if path.is_dir():
            for dirpath, dirnames, filenames in os.walk(path, followlinks=False):
                dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
                for name in sorted(filenames):
                    if name.startswith("."):
                        continue
                    full = Path(dirpath) / name
                    if full.suffix.lower() in IMAGE_EXTENSIONS:
                        found.append(full)
                    else:
                        skipped.append(str(full))
        elif path.exists() or path.is_symlink():
            found.append(path)
        else:
            missing.append(str(path))
    return found, missing, skipped


def ingest_paths(
    archive: Archive,
    paths: Iterable[str | os.PathLike[str]],
    options: IngestOptions | None = None,
    on_progress: ProgressCallback | None = None,
) -> IngestReport:
    """Ingest files and folders into the archive; per-file problems become rejections.

    Work on each file (hashing, metadata, renditions, storing the original) runs in
    `options.jobs` processes; the catalog and the index are written here, in batches.
    """
    options = options or IngestOptions()
    given = list(paths)
    files, missing, skipped = discover(given)
    # Rows are matched to files before anything is done: an ambiguous row stops the ingest.
    rows = match_files(options.manifest, files, given) if options.manifest is not None else {}
    total = len(files) + len(missing)
    outcomes: list[FileOutcome] = []

    def record(outcome: FileOutcome) -> None:
        outcomes.append(outcome)
        if on_progress:
            on_progress(outcome, len(outcomes), total)

    for path in missing:
        record(FileOutcome(path=path, status="rejected", reason="no such file or folder"))
    with archive.running_writer("ingest"):
        _ingest_files(archive, files, options, outcomes, record, rows)
    unmatched = tuple(sorted(set(options.manifest or {}) - set(rows.values())))
    return IngestReport(outcomes=tuple(outcomes), skipped=tuple(skipped), unmatched_rows=unmatched)


def _ingest_files(
    archive: Archive,
    files: list[Path],
    options: IngestOptions,
    outcomes: list[FileOutcome],
    record: Callable[[FileOutcome], None],
    rows: Mapping[str, str],
) -> None:
    # Finish what an interrupted ingest left (its index entries and temporary files), and
    # refuse to start on an index that is missing or not this archive's.
    with archive.writing("ingest"):
        archive.finish_pending_index()
        archive.store.remove_temp_files()
    batch_desk = options.desk_values()
    aliases = archive.policy.aliases
    manifest = options.manifest
    no_row: set[str] = set()
    jobs = []
    for f in files:
        desk = dict(batch_desk)
        if manifest is not None:
            key = rows.get(str(f))
            if key is None:
                no_row.add(str(f))
            else:
                desk.update(manifest[key])
        jobs.append(_Job(str(f), str(archive.root), archive.settings, desk, aliases))
    seen: set[str] = set()
    # New photos waiting for the catalog, with where their outcome stands in `outcomes`.
    batch: list[tuple[_Prepared, int]] = []

    def commit() -> None:
        with archive.writing("ingest"):
            complete = []
            for prepared, position in batch:
                if _files_present(archive.store, prepared.photo):
                    complete.append((prepared, position))
                else:
                    # Its files went between the worker writing them and now (a prune of
                    # an older copy of the same bytes): it is not catalogued without them.
                    outcomes[position] = replace(
                        outcomes[position],
                        status="rejected",
                        reason="its stored files were removed while it was ingested; "
                        "ingest it again",
                    )
            inserted = archive.catalog.add_many([(p.photo, p.sources) for p, _ in complete])
            for prepared, position in complete:
                if prepared.photo.record.sha256 not in inserted:
                    # Another ingest catalogued the same bytes first.
                    outcomes[position] = replace(outcomes[position], status="duplicate")
            batch.clear()
            archive.finish_pending_index()

    last_commit = time.monotonic()
    try:
        for result in _run(jobs, options.jobs):
            if isinstance(result, _Prepared):
                sha = result.photo.record.sha256
                if sha in seen or archive.catalog.has(sha):
                    outcome = replace(result.outcome, status="duplicate")
                else:
                    seen.add(sha)
                    batch.append((result, len(outcomes)))
                    outcome = result.outcome
            else:
                outcome = result
            if outcome.path in no_row:
                outcome = replace(outcome, warnings=(*outcome.warnings, "no row in the manifest"))
            record(outcome)
            if len(batch) >= BATCH_SIZE or (
                batch and time.monotonic() - last_commit >= BATCH_SECONDS
            ):
                commit()
                last_commit = time.monotonic()
    finally:
        # Whatever stopped the run (a full disk, Ctrl-C), photos whose files are complete
        # are catalogued; nothing half-done is.
        if batch:
            commit()


def _files_present(store: FileStore, photo: StoredPhoto) -> bool:
    sha = photo.record.sha256
    return store.original_path(sha, photo.ext).exists() and all(
        store.rendition_path(sha, kind).exists() for kind in ("thumb", "preview")
    )


def _run(jobs: list[_Job], workers: int) -> Iterator[_Prepared | FileOutcome]:
    if workers <= 1 or len(jobs) < 4:
        yield from map(_prepare, jobs)
        return
    # At most a few files per worker are in flight, so memory does not grow with the
    # number of files however slowly the results are taken; order is kept.
    window = workers * 4
    failed: list[StorageError] = []

    def take(future: Future[_Prepared | FileOutcome]) -> _Prepared | FileOutcome | None:
        # A full disk in one worker: the files others have finished are still handed on
        # (and catalogued), then the error stops the run.
        try:
            return future.result()
        except StorageError as exc:
            failed.append(exc)
            return None

    with ProcessPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future[_Prepared | FileOutcome]] = deque()
        for job in jobs:
            if failed:
                break
            pending.append(pool.submit(_prepare, job))
            if len(pending) >= window and (done := take(pending.popleft())) is not None:
                yield done
        while pending:
            if (done := take(pending.popleft())) is not None:
                yield done
    if failed:
        raise failed[0]


# One read-only catalog connection per process and thread (SQLite connections stay in the
# thread that made them), for the archive being ingested into.
_readonly_catalogs = threading.local()


def _already_catalogued(root: str, sha256: str) -> bool:
    held: tuple[str, Catalog] | None = getattr(_readonly_catalogs, "held", None)
    if held is None or held[0] != root:
        if held is not None:
            held[1].close()
        held = (root, Catalog(Path(root) / "catalog.sqlite", readonly=True))
        _readonly_catalogs.held = held
    return held[1].has(sha256)


def _forget_inherited_catalogs() -> None:
    # A connection must not be used across fork: a worker opens its own. The inherited
    # object is kept, not closed, so the parent's connection is left alone.
    global _readonly_catalogs
    _inherited.append(_readonly_catalogs)
    _readonly_catalogs = threading.local()


_inherited: list[threading.local] = []
os.register_at_fork(after_in_child=_forget_inherited_catalogs)


class _FileTimeout(BaseException):
    pass


def _on_alarm(_signum: int, _frame: object) -> None:
    raise _FileTimeout


def _prepare(job: _Job) -> _Prepared | FileOutcome:
    """Do one file's work; never raises for a bad file, only returns a rejection."""
    # A hostile file must not hang the batch: each file gets a bounded time (where the
    # process can take a timer signal, that is in its main thread).
    timed = threading.current_thread() is threading.main_thread() and hasattr(signal, "setitimer")
    if timed:
        previous = signal.signal(signal.SIGALRM, _on_alarm)
        signal.setitimer(signal.ITIMER_REAL, job.settings.max_seconds_per_file)
    try:
        return _prepare_file(job)
    except _FileTimeout:
        return FileOutcome(
            path=job.path,
            status="rejected",
            reason=f"took longer than {job.settings.max_seconds_per_file} s to read",
        )
    except RejectedFileError as exc:
        return FileOutcome(path=job.path, status="rejected", reason=str(exc))
    except StorageError:
        raise
    except PhotoArchiveError as exc:
        return FileOutcome(path=job.path, status="rejected", reason=str(exc))
    except MemoryError:
        return FileOutcome(path=job.path, status="rejected", reason="too large to process")
    except Exception as exc:  # a hostile file must not stop the batch
        return FileOutcome(
            path=job.path,
            status="rejected",
            reason=f"cannot be read as an image ({type(exc).__name__}: {exc})",
        )
    finally:
        if timed:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def _prepare_file(job: _Job) -> _Prepared | FileOutcome:
    from PIL import Image, UnidentifiedImageError

    from photoarchive.fingerprints import difference_hash
    from photoarchive.metadata import extract_metadata
    from photoarchive.notices import read_notice
    from photoarchive.renditions import make_renditions

    path = Path(job.path)
    data = _read(path, job.settings.max_file_mb)
    sha = hashlib.sha256(data).hexdigest()
    if _already_catalogued(job.root, sha):
        return FileOutcome(path=job.path, status="duplicate", id=sha[:12])
    _register_heif()
    import io

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(io.BytesIO(data))
    except UnidentifiedImageError:
        raise RejectedFileError("not a recognised image format") from None
    except Image.DecompressionBombError:
        raise RejectedFileError("image dimensions too large (decompression bomb)") from None
    except (OSError, SyntaxError, ValueError) as exc:
        raise RejectedFileError(f"truncated or corrupt image header ({exc})") from None
    fmt = im.format or ""
    ext = STORED_FORMATS.get(fmt)
    if ext is None:
        raise RejectedFileError(f"unsupported image format {fmt or 'unknown'}")
    width, height = im.size
    if width <= 0 or height <= 0:
        raise RejectedFileError("image has no pixels")
    if width * height > job.settings.max_pixels:
        raise RejectedFileError(
            f"image is {width}x{height} pixels, over the archive's limit of "
            f"{job.settings.max_pixels:,} (decompression bomb?)"
        )
    extracted = extract_metadata(im, data, job.desk)
    store = FileStore(Path(job.root))
    # The original is written (and fsynced) in a thread while the renditions are decoded:
    # the disk and the processor work at once. Both finish before the photo is catalogued.
    original = store.original_path(sha, ext)
    original_existed = original.exists()
    writing = _writer_pool().submit(_store_original, store, sha, ext, data, fmt)

    def take_back_original() -> None:
        try:
            writing.result()
        finally:
            if not original_existed:
                original.unlink(missing_ok=True)

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rend = make_renditions(
                im,
                job.settings.preview_size,
                job.settings.thumbnail_size,
                job.settings.jpeg_quality,
            )
    except (OSError, SyntaxError, ValueError) as exc:
        take_back_original()
        raise RejectedFileError(f"truncated or corrupt image data ({exc})") from None
    except BaseException:
        take_back_original()
        raise
    values = extracted.merged.values
    record = PhotoRecord(
        id=sha[:12],
        sha256=sha,
        original_filename=display_name(path.name),
        format="JPEG" if fmt == "MPO" else fmt,
        width=width,
        height=height,
        file_size=len(data),
        ingested_at=datetime.now(UTC).isoformat(timespec="seconds"),
        **{k: v for k, v in values.items() if k in _RECORD_VALUE_FIELDS},
    )
    record.agency = normalise_agency(record.credit, job.aliases or None)
    written: list[Path] = []
    try:
        for kind, rendered in (("preview", rend.preview), ("thumb", rend.thumb)):
            existed = store.rendition_path(sha, kind).exists()
            path_written = store.put_rendition(sha, kind, rendered)
            if not existed:
                written.append(path_written)
        digest = writing.result()
    except StorageError:
        # A full disk: take back this photo's files so nothing of it stays behind (once the
        # writer thread is done with the original).
        with contextlib.suppress(StorageError):
            writing.result()
        for leftover in written:
            leftover.unlink(missing_ok=True)
        if not original_existed:
            original.unlink(missing_ok=True)
        raise
    sources = dict(extracted.merged.sources)
    notice = read_notice(record, sources)
    with Image.open(io.BytesIO(rend.thumb)) as thumb:
        dhash = difference_hash(thumb)
    photo = StoredPhoto(
        record=record,
        ext=ext,
        warnings=list(extracted.warnings),
        pixel_digest=digest,
        dhash=dhash,
        notice=notice.kind if notice else None,
        notice_reason=notice.reason if notice else None,
    )
    return _Prepared(
        photo=photo,
        sources=sources,
        outcome=FileOutcome(
            path=job.path, status="new", id=record.id, warnings=tuple(extracted.warnings)
        ),
    )


_RECORD_VALUE_FIELDS = set(PhotoRecord.field_names()) - {
    "id",
    "sha256",
    "original_filename",
    "format",
    "width",
    "height",
    "file_size",
    "agency",
    "ingested_at",
}


def display_name(name: str) -> str:
    """Return a file name as text: bytes that are not UTF-8 are read as CP1252."""
    raw = os.fsencode(name)
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def _read(path: Path, max_mb: int) -> bytes:
    try:
        if path.is_symlink() and not path.exists():
            raise RejectedFileError("broken symbolic link")
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise RejectedFileError("is a folder")
        if not stat.S_ISREG(info.st_mode):
            # A pipe or device would block the read or never end.
            raise RejectedFileError("not a regular file (a pipe, socket or device)")
        size = info.st_size
        if size == 0:
            raise RejectedFileError("empty file (0 bytes)")
        if size > max_mb * 1024 * 1024:
            raise RejectedFileError(f"file is {size / 1e6:.0f} MB, over the limit of {max_mb} MB")
        with path.open("rb") as fh:
            return fh.read()
    except PermissionError:
        raise RejectedFileError("cannot read file: permission denied") from None
    except OSError as exc:
        raise RejectedFileError(f"cannot read file: {exc.strerror or exc}") from None


def _store_original(store: FileStore, sha: str, ext: str, data: bytes, fmt: str) -> str | None:
    """Write the original and return its image-data digest (both release the GIL)."""
    from photoarchive.fingerprints import pixel_digest

    store.put_original(sha, ext, data)
    return pixel_digest(data, fmt)


_writers: tuple[int, ThreadPoolExecutor] | None = None


def _writer_pool() -> ThreadPoolExecutor:
    """One background writer thread per process. A forked worker inherits the parent's
    executor without its thread, so each process makes its own."""
    global _writers
    if _writers is None or _writers[0] != os.getpid():
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="original-writer")
        _writers = (os.getpid(), pool)
    return _writers[1]


_heif_registered = False


def _register_heif() -> None:
    global _heif_registered
    if not _heif_registered:
        try:
            from pillow_heif import register_heif_opener

            register_heif_opener()
        except ImportError:  # HEIC support is optional; such files are then rejected
            pass
        _heif_registered = True
