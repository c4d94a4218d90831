"""Which search engine the tests' archives use, and where its index lives."""

from __future__ import annotations

from pathlib import Path

from photoarchive.config import load_settings
from photoarchive.search import index_folder


def index_dir(root: Path) -> Path:
    """Return the index folder of the archive at `root` (its engine's, from archive.toml)."""
    return index_folder(root, load_settings(root / "archive.toml").search_engine)
