"""The ingest pipeline: discover, hash, dedupe, extract, render, store, catalog, index."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import signal
import stat
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from photoarchive.catalog import Catalog, StoredPhoto, catalog_location
from photoarchive.config import ArchiveSettings
from photoarchive.errors import PhotoArchiveError, RejectedFileError, StorageError
from photoarchive.identity import supplier_of
from photoarchive.manifest import match_files
from photoarchive.record import PhotoRecord
from photoarchive.store import FileStore, open_store, original_key, photo_keys, rendition_key

if TYPE_CHECKING:
    from photoarchive.archive import Archive
    from photoarchive.metadata.merge import TextLimits

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

    def to_dict(self) -> dict[str, Any]:
        """The outcome as `ingest --json` prints it and the ingest queue records it."""
        return {
            "path": self.path,
            "status": self.status,
            "id": self.id,
            "reason": self.reason,
            "warnings": list(self.warnings),
        }


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
        archive.store.remove_leftovers(archive.writers_since())
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
            absent = archive.store.missing(
                key for prepared, _ in batch for key in _keys_of(prepared.photo)
            )
            for prepared, position in batch:
                if absent.isdisjoint(_keys_of(prepared.photo)):
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
            inserted = archive.catalogue([(p.photo, p.sources) for p, _ in complete])
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


def _keys_of(photo: StoredPhoto) -> list[str]:
    return photo_keys(photo.record.sha256, photo.ext)


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
        held = (root, Catalog(catalog_location(Path(root)), readonly=True))
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
    path = Path(job.path)
    with _Original(path, job.settings) as source:
        sha = source.sha256()
        if _already_catalogued(job.root, sha):
            return FileOutcome(path=job.path, status="duplicate", id=sha[:12])
        _register_heif()
        with image_limits(job.settings), _storing(job, sha):
            return _prepare_opened(job, path, source, sha)


def _storing(job: _Job, sha: str) -> AbstractContextManager[None]:
    """On object storage, hold the lock of the photo's files while they are written (see
    locking.storing_photo); a folder's own writes need none (a link never replaces)."""
    if not job.settings.storage:
        return contextlib.nullcontext()
    from photoarchive.locking import storing_photo

    return storing_photo(Path(job.root), sha)


def _prepare_opened(job: _Job, path: Path, source: _Original, sha: str) -> _Prepared:
    from PIL import Image, UnidentifiedImageError

    from photoarchive.fingerprints import difference_hash
    from photoarchive.metadata import extract_metadata
    from photoarchive.metadata.merge import cap_text
    from photoarchive.notices import read_notice
    from photoarchive.renditions import make_renditions

    settings = job.settings
    with source.reader() as fh:
        _check_metadata_size(fh)
    reader = source.reader()
    try:
        im = Image.open(reader)
    except UnidentifiedImageError:
        raise RejectedFileError("not a recognised image format") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise RejectedFileError(_too_many_pixels(_size_of(source), settings.max_pixels)) from None
    except ValueError as exc:
        if "text chunk" in str(exc) or "MAX_TEXT" in str(exc):
            raise RejectedFileError(_text_bomb()) from None
        raise RejectedFileError(f"truncated or corrupt image header ({exc})") from None
    except (OSError, SyntaxError) as exc:
        raise RejectedFileError(f"truncated or corrupt image header ({exc})") from None
    fmt = im.format or ""
    ext = STORED_FORMATS.get(fmt)
    if ext is None:
        raise RejectedFileError(f"unsupported image format {fmt or 'unknown'}")
    width, height = im.size
    if width <= 0 or height <= 0:
        raise RejectedFileError("image has no pixels")
    # Checked from the header, before a single pixel is decoded.
    if width * height > settings.max_pixels:
        raise RejectedFileError(_too_many_pixels((width, height), settings.max_pixels))
    with source.reader() as fh:
        extracted = extract_metadata(im, fh, job.desk)
    warnings_found = list(extracted.warnings)
    warnings_found.extend(cap_text(extracted.merged, _text_limits(settings)))
    # Cheap to make: an object store's client is the process's, kept between files.
    store = open_store(Path(job.root), job.settings)
    # The original is copied (and fsynced, or uploaded) in a thread while the renditions are
    # decoded: the store and the processor work at once. Both finish before the photo is
    # catalogued.
    writing = _writer_pool().submit(_store_original, store, sha, ext, source, fmt)
    source.hold(writing)

    def take_back_original() -> None:
        # Only an original this call wrote: one stored before may be another photo's.
        try:
            created = writing.result()[0]
        except (StorageError, RejectedFileError):
            return  # nothing was stored
        if created:
            with contextlib.suppress(StorageError):
                store.delete(original_key(sha, ext))

    try:
        rend = make_renditions(
            im, settings.preview_size, settings.thumbnail_size, settings.jpeg_quality
        )
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        take_back_original()
        raise RejectedFileError(_too_many_pixels(im.size, settings.max_pixels)) from None
    except (OSError, SyntaxError, ValueError) as exc:
        take_back_original()
        if isinstance(exc, ValueError) and "MAX_TEXT" in str(exc):
            raise RejectedFileError(_text_bomb()) from None
        raise RejectedFileError(f"truncated or corrupt image data ({exc})") from None
    except BaseException:
        take_back_original()
        raise
    finally:
        im.close()
    values = extracted.merged.values
    record = PhotoRecord(
        id=sha[:12],
        sha256=sha,
        original_filename=display_name(path.name),
        format="JPEG" if fmt == "MPO" else fmt,
        width=width,
        height=height,
        file_size=source.size,
        ingested_at=datetime.now(UTC).isoformat(timespec="seconds"),
        **{k: v for k, v in values.items() if k in _RECORD_VALUE_FIELDS},
    )
    record.agency, supplier = supplier_of(record.credit, job.aliases or None)
    record.display_width, record.display_height = displayed_size(record)
    warnings_found.extend(_read_provenance(record, path, record.format, Path(job.root)))
    written: list[str] = []
    try:
        for kind, rendered in (("preview", rend.preview), ("thumb", rend.thumb)):
            key = rendition_key(sha, kind)
            # Written once: another worker's renditions of the same bytes are these.
            if store.put(key, rendered, replace=False):
                written.append(key)
        digest = writing.result()[1]
    except (StorageError, RejectedFileError):
        # A full disk, the store gone, or the file changed while it was copied: take back
        # this photo's files so nothing of it stays behind (once the writer thread is done).
        take_back_original()
        with contextlib.suppress(StorageError):
            for leftover in written:
                store.delete(leftover)
        raise
    sources = dict(extracted.merged.sources)
    notice = read_notice(record, sources)
    with Image.open(io.BytesIO(rend.thumb)) as thumb:
        dhash = difference_hash(thumb)
    photo = StoredPhoto(
        record=record,
        ext=ext,
        warnings=warnings_found,
        pixel_digest=digest,
        dhash=dhash,
        notice=notice.kind if notice else None,
        notice_reason=notice.reason if notice else None,
        supplier=supplier,
    )
    return _Prepared(
        photo=photo,
        sources=sources,
        outcome=FileOutcome(
            path=job.path, status="new", id=record.id, warnings=tuple(warnings_found)
        ),
    )


def displayed_size(record: PhotoRecord) -> tuple[int, int]:
    """Return the size as shown: EXIF orientations 5 to 8 turn the stored grid a quarter
    (HEIF's decoder has applied the container's rotation already, which the spec says
    outranks EXIF's)."""
    turned = record.orientation in (5, 6, 7, 8) and record.format != "HEIF"
    return (record.height, record.width) if turned else (record.width, record.height)


#: Certificates (PEM) whose Content Credentials signatures the desk trusts, in the archive.
TRUST_ANCHORS_FILE = "c2pa-trust.pem"


def _read_provenance(record: PhotoRecord, path: Path | bytes, fmt: str, root: Path) -> list[str]:
    """Fill the record's digital source type (IPTC's code) and C2PA report; return warnings
    (Content Credentials that do not validate are reported, never fatal). Signers whose
    certificate chains to one in the archive's c2pa-trust.pem are "valid"; others, intact,
    are "untrusted"."""
    from photoarchive.provenance import MIME, normalise_source_type, read_c2pa

    record.digital_source_type = normalise_source_type(record.digital_source_type)
    try:
        anchors: str | None = (root / TRUST_ANCHORS_FILE).read_text("utf-8")
    except (OSError, UnicodeDecodeError):
        anchors = None
    report = read_c2pa(path, MIME.get(fmt, "application/octet-stream"), trust_anchors=anchors)
    if report.state == "absent":
        return []
    record.c2pa = report.to_dict()
    if record.digital_source_type is None and report.source_type:
        record.digital_source_type = report.source_type
    if report.state in ("invalid", "unreadable"):
        why = "; ".join(report.problems[:3]) or report.state
        return [f"C2PA Content Credentials {report.state}: {why}"]
    return []


# Pillow keeps every JPEG application segment, TIFF tag and PNG chunk it meets while opening
# a file in memory (PNG's unknown chunks too, for a moment): a 400 MB file of metadata would
# cost 400 MB before a pixel is read. A photo's metadata (EXIF, IPTC, XMP, an ICC profile, a
# preview) is well under a megabyte; files with more than this are refused unread.
MAX_METADATA_MB = 32
# ...and a file of a million empty segments would keep Pillow's parser busy for minutes.
MAX_METADATA_PARTS = 100_000


def _check_metadata_size(fh: io.BufferedReader) -> None:
    """Refuse a JPEG, PNG or TIFF whose metadata (all but the image data) is over the limit,
    reading only the headers of its segments, chunks or tags."""
    head = fh.read(8)
    fh.seek(0)
    if head[:2] == b"\xff\xd8":
        total, what = _jpeg_metadata(fh), "JPEG application and comment segments"
    elif head == b"\x89PNG\r\n\x1a\n":
        total, what = _png_metadata(fh), "PNG chunks other than image data"
    elif head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        total, what = _tiff_metadata(fh, head), "TIFF tags"
    else:
        return
    if total < 0:
        raise RejectedFileError(
            f"{what}: more than {MAX_METADATA_PARTS:,} of them (a photo has a few dozen)"
        )
    if total > MAX_METADATA_MB * 1024 * 1024:
        raise RejectedFileError(
            f"{what} hold {total / 1e6:.0f} MB, over the limit of {MAX_METADATA_MB} MB "
            "(a photo's metadata is under 1 MB)"
        )


def _jpeg_metadata(fh: io.BufferedReader) -> int:
    """The bytes of a JPEG's APPn and COM segments (-1 for too many segments)."""
    total, pos = 0, 2
    for _ in range(MAX_METADATA_PARTS):
        fh.seek(pos)
        header = fh.read(4)
        if len(header) < 4 or header[0] != 0xFF or header[1] == 0xDA:
            return total  # the image data starts (or the file is broken: Pillow says so)
        length = int.from_bytes(header[2:4], "big")
        if 0xE0 <= header[1] <= 0xEF or header[1] == 0xFE:
            total += length
        pos += 2 + length
    return -1


def _png_metadata(fh: io.BufferedReader) -> int:
    """The bytes of a PNG's chunks other than IDAT (-1 for too many of them).

    Image data chunks are not counted: encoders write them 8 KB at a time.
    """
    total, parts, pos = 0, 0, 8
    while parts < MAX_METADATA_PARTS:
        fh.seek(pos)
        header = fh.read(8)
        if len(header) < 8 or header[4:8] == b"IEND":
            return total
        length = int.from_bytes(header[:4], "big")
        if header[4:8] != b"IDAT":
            total += length
            parts += 1
        pos += 12 + length
    return -1


def _tiff_metadata(fh: io.BufferedReader, head: bytes) -> int:
    """The bytes of the first IFD's tag values (BigTIFF too), which Pillow reads on opening."""
    order: Literal["little", "big"] = "little" if head[:2] == b"II" else "big"
    big = head[2:4] in (b"+\x00", b"\x00+")
    if big:
        fh.seek(8)
        offset = int.from_bytes(fh.read(8), order)
    else:
        offset = int.from_bytes(head[4:8], order)
    fh.seek(offset)
    count_size, entry_size = (8, 20) if big else (2, 12)
    count = int.from_bytes(fh.read(count_size), order)
    entries = fh.read(min(count, 65_536) * entry_size)
    sizes = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8}
    sizes |= {13: 4, 16: 8, 17: 8, 18: 8}
    total = 0
    for at in range(0, len(entries) - entry_size + 1, entry_size):
        kind = int.from_bytes(entries[at + 2 : at + 4], order)
        values = int.from_bytes(entries[at + 4 : at + (12 if big else 8)], order)
        total += values * sizes.get(kind, 1)
    return total


def _size_of(source: _Original) -> tuple[int, int] | None:
    """The dimensions a header claims, read with Pillow's bomb check off (for a message)."""
    from PIL import Image

    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        with source.reader() as fh, Image.open(fh) as im:
            return im.size
    except Exception:  # only for the message: without it the reason just says "larger"
        return None
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def _too_many_pixels(size: tuple[int, int] | None, limit: int) -> str:
    shown = f"{size[0]}x{size[1]} pixels" if size else "larger"
    return f"image is {shown}, over the archive's limit of {limit:,} (decompression bomb?)"


def _text_bomb() -> str:
    return (
        f"PNG text or ICC profile chunks inflate to more than {PNG_TEXT_CHUNK_MB} MB each, "
        f"or text to more than {PNG_TEXT_TOTAL_MB} MB in all (a decompression bomb?)"
    )


# Pillow's limits on PNG text (zTXt, iTXt, tEXt) and ICC profiles (iCCP), checked while it
# inflates them, before their memory is taken: a chunk may inflate to 4 MB (an XMP packet as
# large as the XMP reader takes), all text chunks together to 8 MB. Pillow's own defaults (1
# and 64 MB) let 60 KB of zTXt chunks cost 64 MB.
PNG_TEXT_CHUNK_MB = 4
PNG_TEXT_TOTAL_MB = 8


@contextlib.contextmanager
def image_limits(settings: ArchiveSettings) -> Iterator[None]:
    """Apply the archive's limits to Pillow while one file is read, then restore Pillow's.

    Pillow's decompression-bomb limit is the archive's max_pixels (its own default, 89 MP
    with an error at twice that, would otherwise apply whatever max_pixels says), and its
    warning for an image over it is a rejection, not a message nobody reads.
    """
    from PIL import Image, PngImagePlugin

    saved = (Image.MAX_IMAGE_PIXELS, PngImagePlugin.MAX_TEXT_CHUNK, PngImagePlugin.MAX_TEXT_MEMORY)
    Image.MAX_IMAGE_PIXELS = settings.max_pixels
    PngImagePlugin.MAX_TEXT_CHUNK = PNG_TEXT_CHUNK_MB * 1024 * 1024
    PngImagePlugin.MAX_TEXT_MEMORY = PNG_TEXT_TOTAL_MB * 1024 * 1024
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved[0]
        PngImagePlugin.MAX_TEXT_CHUNK, PngImagePlugin.MAX_TEXT_MEMORY = saved[1:]


def _text_limits(settings: ArchiveSettings) -> TextLimits:
    from photoarchive.metadata.merge import TextLimits

    return TextLimits(
        caption=settings.max_caption_chars,
        text=settings.max_text_chars,
        keywords=settings.max_keywords,
        keyword=settings.max_keyword_chars,
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


# A file is sparse (holes the file system does not store) when less than this share of its
# length is on disk; a real photo is all data. Files under a megabyte are never judged.
SPARSE_RATIO = 8
_PIECE = 1 << 20


class _Original:
    """A file being ingested, opened once and read in pieces, never whole into memory.

    Every reader (hashing, Pillow, the metadata readers, the copy to the archive, the
    image-data digest) gets its own position in the one open file (`pread`), so they can
    work in two threads at once and all read the file that was checked and hashed, even if
    its name is replaced meanwhile. Streamed rather than memory-mapped: a mapping's pages
    count in the worker's resident memory once touched, so hashing a 400 MB TIFF through a
    mapping would show (and, under pressure, cost) 400 MB per worker; reads through a 1 MB
    buffer cost 1 MB.
    """

    def __init__(self, path: Path, settings: ArchiveSettings) -> None:
        self.path = path
        self.limit = settings.max_file_mb * 1024 * 1024
        self._pending: Future[str | None] | None = None
        self.fd = _open_checked(path, self.limit)
        self.size = os.fstat(self.fd).st_size

    def __enter__(self) -> _Original:
        return self

    def __exit__(self, *exc: object) -> None:
        # The writer thread may still be copying: the descriptor stays open until it is done
        # (its errors were reported where its result was taken). Interrupted meanwhile, the
        # copy fails on the closed descriptor or its hash check, and nothing is stored.
        try:
            if self._pending is not None:
                with contextlib.suppress(Exception):
                    self._pending.result()
        finally:
            os.close(self.fd)

    def hold(self, future: Future[Any]) -> None:
        """Keep the file open until `future` (a thread reading it) is done."""
        self._pending = future

    def reader(self) -> io.BufferedReader:
        """Return a new buffered reader of the file, at its start, with its own position."""
        return io.BufferedReader(_PositionalReader(self.fd), buffer_size=1 << 16)

    def sha256(self) -> str:
        """Hash the file a piece at a time, reading at most the size limit."""
        digest = hashlib.sha256()
        buffer = bytearray(_PIECE)
        view = memoryview(buffer)
        total = 0
        with self.reader() as fh:
            raw = fh.raw
            while n := raw.readinto(view):
                total += n
                if total > self.limit:
                    raise RejectedFileError(_over_limit(total, self.limit))
                digest.update(view[:n])
        if total == 0:
            raise RejectedFileError("empty file (0 bytes)")
        self.size = total
        return digest.hexdigest()


class _PositionalReader(io.RawIOBase):
    """Raw reads of an open file descriptor at this reader's own offset (os.pread)."""

    def __init__(self, fd: int) -> None:
        super().__init__()
        self._fd = fd
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        data = os.pread(self._fd, len(buffer), self._pos)
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if whence == io.SEEK_SET:
            self._pos = offset
        elif whence == io.SEEK_CUR:
            self._pos += offset
        else:
            self._pos = os.fstat(self._fd).st_size + offset
        if self._pos < 0:
            self._pos = 0
            raise OSError("negative seek position")
        return self._pos

    def tell(self) -> int:
        return self._pos


def _over_limit(size: int, limit: int) -> str:
    return f"file is {size / 1e6:.0f} MB, over the limit of {limit // (1024 * 1024)} MB"


def _open_checked(path: Path, limit: int) -> int:
    """Open a file to ingest, refusing what is not a whole, regular, reasonably sized file."""
    try:
        if path.is_symlink() and not path.exists():
            raise RejectedFileError("broken symbolic link")
        info = path.stat()
        if stat.S_ISDIR(info.st_mode):
            raise RejectedFileError("is a folder")
        if not stat.S_ISREG(info.st_mode):
            # A pipe or device would block the read or never end.
            raise RejectedFileError("not a regular file (a pipe, socket or device)")
        # O_NONBLOCK: a file swapped for a pipe since the check is refused, not waited on.
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except PermissionError:
        raise RejectedFileError("cannot read file: permission denied") from None
    except OSError as exc:
        raise RejectedFileError(f"cannot read file: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise RejectedFileError("not a regular file (a pipe, socket or device)")
        if info.st_size == 0:
            raise RejectedFileError("empty file (0 bytes)")
        if info.st_size > limit:
            raise RejectedFileError(_over_limit(info.st_size, limit))
        _refuse_sparse(fd, info)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _refuse_sparse(fd: int, info: os.stat_result) -> None:
    """Refuse a file mostly made of holes: 4 KB on disk must not become a 499 MB original.

    The allocated size (st_blocks) is the cheap first look; file systems that compress may
    also show few blocks, so the holes are then counted (SEEK_HOLE), and only holes count.
    """
    size = info.st_size
    allocated = getattr(info, "st_blocks", size // 512) * 512
    if size < _PIECE or allocated * SPARSE_RATIO >= size:
        return
    holes = _hole_bytes(fd, size)
    if holes * SPARSE_RATIO >= size * (SPARSE_RATIO - 1):
        raise RejectedFileError(
            f"sparse file: {size / 1e6:.0f} MB long but {max(allocated, size - holes) / 1e3:.0f}"
            " KB on disk (mostly holes, not a photo); copy it without holes to ingest it"
        )


def _hole_bytes(fd: int, size: int) -> int:
    if not hasattr(os, "SEEK_HOLE"):
        return 0
    holes = 0
    position = 0
    try:
        while position < size:
            hole = os.lseek(fd, position, os.SEEK_HOLE)
            if hole >= size:
                break
            try:
                data = os.lseek(fd, hole, os.SEEK_DATA)
            except OSError:  # ENXIO: a hole up to the end
                data = size
            holes += data - hole
            position = data
    except OSError:
        return 0
    return holes


def _store_original(
    store: FileStore, sha: str, ext: str, source: _Original, fmt: str
) -> tuple[bool, str | None]:
    """Copy the original into the archive's store; return whether this call wrote it (not
    stored before) and its image-data digest.

    Both read the file in pieces (and release the GIL while they wait for the disk). The
    copy is refused, leaving nothing, if its bytes no longer hash to `sha`: the file was
    changed while it was ingested.
    """
    from photoarchive.fingerprints import pixel_digest

    with source.reader() as fh:
        created = store.put_original_from(sha, ext, fh, source.limit)
    with source.reader() as fh:
        return created, pixel_digest(fh, fmt)


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
