"""The catalog's SQLite file: opened read-only also where nothing can be written beside
it, checked before use, its errors named with what to do."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from photoarchive.errors import CatalogMissingError, PhotoArchiveError, StorageError


def require_catalog(path: Path) -> None:
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise CatalogMissingError(
            f"the archive's catalog {path} is missing: restore catalog.sqlite from a backup. "
            "Nothing was changed (no command creates a new, empty catalog in an archive)"
        ) from None
    except OSError as exc:
        raise PhotoArchiveError(f"catalog {path} cannot be read: {exc.strerror}") from None
    if size == 0:
        raise CatalogMissingError(
            f"the archive's catalog {path} is empty (0 bytes): restore catalog.sqlite from a "
            "backup. Nothing was changed"
        )


def connect_readonly(path: Path) -> tuple[sqlite3.Connection, tuple[int, int, int] | None]:
    """Open the catalog for reading only, also where nothing can be written beside it.

    Reading a WAL database needs its shared-memory file (-shm); on a read-only file system,
    or a full disk, it cannot be made when no other process has the catalog open. When no
    WAL content is waiting to be checkpointed, the database file alone is the whole truth
    and is opened as immutable.
    """
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=30)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
        return conn, None
    except sqlite3.OperationalError as exc:
        conn.close()
        wal = path.with_name(path.name + "-wal")
        if "locked" in str(exc) or (wal.exists() and wal.stat().st_size > 0):
            raise
    seen = file_state(path)
    conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, timeout=30)
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return conn, seen


def file_state(path: Path) -> tuple[int, int, int] | None:
    """Return what tells a file's new version from its old (inode, size, modification
    time), or None if it is not there."""
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def write_error(path: Path, exc: sqlite3.OperationalError) -> StorageError:
    text = str(exc)
    if "full" in text:
        return StorageError(
            f"disk full while writing the catalog {path}; nothing was "
            "recorded for this batch: free some space and run it again"
        )
    if "readonly" in text or "read-only" in text:
        return StorageError(f"cannot write the catalog {path}: the archive is read-only")
    if "locked" in text:
        return StorageError(
            f"the catalog {path} stayed locked by another process for 30 s; "
            "try again when it has finished"
        )
    return StorageError(f"cannot write the catalog {path}: {text}")
