"""Content-addressed files on disk, written atomically (temp file, fsync, rename)."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path

from photoarchive.errors import StorageError

TEMP_PREFIX = ".tmp-"
RENDITION_KINDS = ("thumb", "preview")


def atomic_write(path: Path, data: bytes, keep_cached: bool = True) -> None:
    """Write `data` to `path` so that readers see either nothing or the whole file.

    With `keep_cached=False` the file's pages leave the page cache once they are on disk.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # The writer's pid in the name tells a later cleanup whether the writer is gone.
        fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=path.parent)
    except OSError as exc:
        raise _storage_error(path, exc) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
            if not keep_cached:
                _drop_from_cache(fh.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise _storage_error(path, exc) from None
        raise
    _fsync_dir(path.parent)


def _drop_from_cache(fd: int) -> None:
    # Originals are written once and seldom read again. Kept in the page cache, a day's
    # ingest of 24 MP photos pushes out what the desk does read (index, catalog, previews),
    # and every original takes fresh pages for the kernel to fill. Released, the next
    # original reuses them: writing 280 MB of originals cost 0.5 s of kernel time before,
    # 0.08 s after (scripts/bench.py's corpus). The pages are clean after the fsync.
    if hasattr(os, "posix_fadvise"):
        with contextlib.suppress(OSError):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)


def _storage_error(path: Path, exc: OSError) -> StorageError:
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageError(
            f"disk full while writing {path}: nothing was stored for this "
            "photo; free some space and run the ingest again"
        )
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return StorageError(f"cannot write {path}: the archive is read-only ({exc.strerror})")
    return StorageError(f"cannot write {path}: {exc.strerror or exc}")


def _fsync_dir(folder: Path) -> None:
    # The rename is only durable once the directory entry is on disk.
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class FileStore:
    """Originals under originals/ab/<sha256>.<ext>, renditions under renditions/ab/."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.originals = root / "originals"
        self.renditions = root / "renditions"

    def original_path(self, sha256: str, ext: str) -> Path:
        """Return where the original with this hash and extension lives."""
        return self.originals / sha256[:2] / f"{sha256}.{ext}"

    def rendition_path(self, sha256: str, kind: str) -> Path:
        """Return where the `kind` ("thumb" or "preview") rendition lives."""
        return self.renditions / sha256[:2] / f"{sha256}-{kind}.jpg"

    def put_original(self, sha256: str, ext: str, data: bytes) -> Path:
        """Store an original once; an existing file with this hash is never rewritten."""
        path = self.original_path(sha256, ext)
        if not path.exists():
            atomic_write(path, data, keep_cached=False)
        return path

    def put_rendition(self, sha256: str, kind: str, data: bytes) -> Path:
        """Store (or replace) a rendition."""
        path = self.rendition_path(sha256, kind)
        atomic_write(path, data)
        return path

    def iter_originals(self) -> Iterator[Path]:
        """Yield every original file on disk (temporary files excluded)."""
        if self.originals.is_dir():
            for path in sorted(self.originals.glob("*/*")):
                if not path.name.startswith(TEMP_PREFIX):
                    yield path

    def temp_files(self) -> list[Path]:
        """Return temporary files whose writer has gone (left by an interrupted write)."""
        found: list[Path] = []
        for base in (self.originals, self.renditions):
            if base.is_dir():
                found.extend(p for p in base.glob(f"*/{TEMP_PREFIX}*") if not _writer_alive(p))
        return sorted(found)

    def remove_temp_files(self) -> int:
        """Delete temporary files whose writer has gone; return how many."""
        removed = 0
        for path in self.temp_files():
            with contextlib.suppress(OSError):
                path.unlink()
                removed += 1
        return removed


def _writer_alive(path: Path) -> bool:
    match = re.match(rf"{re.escape(TEMP_PREFIX)}(\d+)-", path.name)
    if not match:
        return False
    pid = int(match.group(1))
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
