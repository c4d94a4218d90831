"""A read-only Archive per thread for long-lived readers (the desk, the search service),
opened again when the archive changes under it."""

from __future__ import annotations

import threading
from pathlib import Path

from photoarchive.archive import Archive, open_archive


class ArchivePool:
    """A read-only Archive per thread (SQLite connections stay in the thread that made them)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._local = threading.local()

    def get(self) -> Archive:
        """Return this thread's archive, opening it on first use and again when it is
        outdated (archive.toml changed, or a catalog that had to be read as an immutable
        file, on a full or read-only disk, changed)."""
        archive: Archive | None = getattr(self._local, "archive", None)
        if archive is not None and archive.outdated():
            archive.close()
            archive = None
        if archive is None:
            archive = open_archive(self.root, readonly=True)
            self._local.archive = archive
        return archive
