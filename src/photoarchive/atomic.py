"""Files written atomically: readers see nothing or the whole file (temp file, fsync, rename)."""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from photoarchive.errors import StorageError, TargetExistsError

TEMP_PREFIX = ".tmp-"


def atomic_write(path: Path, data: bytes, keep_cached: bool = True, overwrite: bool = True) -> None:
    """Write `data` to `path` so that readers see either nothing or the whole file.

    The file is written unnamed (or under a temporary name), fsynced, then given its name;
    its mode follows the process's umask (0644 under umask 022). With `overwrite=False` an
    existing file is never replaced (TargetExistsError). With `keep_cached=False` the file's
    pages leave the page cache once they are on disk.
    """
    write_atomically(path, lambda fh: fh.write(data), keep_cached, overwrite)


def atomic_copy(source: BinaryIO, path: Path, overwrite: bool = True) -> None:
    """Copy the open file `source` to `path` as `atomic_write` writes, a piece at a time."""

    def fill(fh: BinaryIO) -> None:
        while chunk := source.read(1 << 20):
            fh.write(chunk)

    write_atomically(path, fill, True, overwrite)


def write_atomically(
    path: Path, fill: Callable[[BinaryIO], object], keep_cached: bool, overwrite: bool
) -> None:
    """Write `path` as `atomic_write` does, `fill` writing the content into the open file."""
    fd, tmp = _open_temp(path)
    try:
        with os.fdopen(fd, "wb") as fh:
            fill(fh)
            fh.flush()
            os.fsync(fh.fileno())
            if not keep_cached:
                _drop_from_cache(fh.fileno())
            _publish(fh.fileno(), tmp, path, overwrite)
    except BaseException as exc:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        if isinstance(exc, FileExistsError) and not overwrite:
            raise TargetExistsError(f"{path} already exists") from None
        if isinstance(exc, OSError):
            raise _storage_error(path, exc) from None
        raise
    _fsync_dir(path.parent)


def _open_temp(path: Path) -> tuple[int, str | None]:
    """Open a file to write in `path`'s folder: unnamed where the file system allows it
    (O_TMPFILE: a killed writer leaves nothing behind), else under a temporary name with
    the writer's process id, so a later cleanup can tell whether the writer is gone."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise _storage_error(path, exc) from None
    if _unnamed_files_work:
        try:
            return os.open(path.parent, os.O_TMPFILE | os.O_WRONLY | os.O_CLOEXEC, 0o666), None
        except OSError as exc:
            if exc.errno not in (errno.EOPNOTSUPP, errno.EISDIR, errno.EINVAL, errno.ENOENT):
                raise _storage_error(path, exc) from None
    try:
        import tempfile

        fd, tmp = tempfile.mkstemp(prefix=f"{TEMP_PREFIX}{os.getpid()}-", dir=path.parent)
    except OSError as exc:
        raise _storage_error(path, exc) from None
    # mkstemp makes the file 0600; the archive's files follow the umask like any other.
    with contextlib.suppress(OSError):
        os.fchmod(fd, 0o666 & ~_umask())
    return fd, tmp


def _publish(fd: int, tmp: str | None, path: Path, overwrite: bool) -> None:
    """Give the written file its name (FileExistsError if it exists and may not be replaced)."""
    if tmp is None:
        # linkat(AT_SYMLINK_FOLLOW) on /proc/self/fd/N names an O_TMPFILE file.
        source = f"/proc/self/fd/{fd}"
        try:
            _link_following(source, path)
            return
        except FileExistsError:
            if not overwrite:
                raise
        # Replacing a file: named first, then renamed over it (a writer killed in between
        # leaves a temporary file whose process id shows it is gone).
        named = path.with_name(f"{TEMP_PREFIX}{os.getpid()}-{os.urandom(6).hex()}")
        _link_following(source, named)
        try:
            os.replace(named, path)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(named)
            raise
        return
    if overwrite:
        os.replace(tmp, path)
        return
    try:
        os.link(tmp, path)  # fails if `path` exists: nothing is ever replaced
    except FileExistsError:
        raise
    except OSError:  # a file system without hard links: check, then rename
        if path.exists():
            raise FileExistsError(errno.EEXIST, "File exists", str(path)) from None
        os.rename(tmp, path)
        return
    os.unlink(tmp)


def _link_following(source: str, target: Path) -> None:
    root = os.open("/", os.O_RDONLY | os.O_CLOEXEC)
    try:
        os.link(source, target, src_dir_fd=root, follow_symlinks=True)
    finally:
        os.close(root)


def _probe_unnamed_files() -> bool:
    """True where O_TMPFILE files can be named through /proc (Linux with /proc mounted)."""
    return hasattr(os, "O_TMPFILE") and os.path.isdir("/proc/self/fd")


_unnamed_files_work = _probe_unnamed_files()
_umask_value: int | None = None


def _umask() -> int:
    """Return the process's umask (read without changing it where /proc tells it)."""
    global _umask_value
    if _umask_value is None:
        try:
            with open("/proc/self/status", encoding="ascii") as fh:
                for line in fh:
                    if line.startswith("Umask:"):
                        _umask_value = int(line.split()[1], 8)
        except (OSError, ValueError):
            pass
        if _umask_value is None:
            _umask_value = os.umask(0o022)
            os.umask(_umask_value)
    return _umask_value


def exchange_paths(a: Path, b: Path) -> bool:
    """Swap two folders in one step (Linux renameat2 RENAME_EXCHANGE); return False where
    the system cannot, and the caller must rename twice."""
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange)
    if result != 0:
        err = ctypes.get_errno()
        if err in (errno.EINVAL, errno.ENOSYS, errno.EOPNOTSUPP):
            return False
        raise OSError(err, os.strerror(err), str(a))
    return True


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
