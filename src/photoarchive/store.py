"""Content-addressed files on disk, written atomically (temp file, fsync, rename)."""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from photoarchive.errors import StorageError

TEMP_PREFIX = ".tmp-"
RENDITION_KINDS = ("thumb", "preview")


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see either nothing or the whole file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=TEMP_PREFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if exc.errno == errno.ENOSPC:
            raise StorageError(f"disk full while writing {path}") from None
        raise StorageError(f"cannot write {path}: {exc.strerror}") from None
    _fsync_dir(path.parent)


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
            atomic_write(path, data)
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

    def remove_temp_files(self) -> int:
        """Delete temporary files left by an interrupted write; return how many."""
        removed = 0
        for base in (self.originals, self.renditions):
            if base.is_dir():
                for path in base.glob(f"*/{TEMP_PREFIX}*"):
                    with contextlib.suppress(OSError):
                        path.unlink()
                        removed += 1
        return removed
