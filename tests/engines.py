"""Which search engine the tests' archives use, and where its index lives: a folder, or
tables on the catalog's PostgreSQL server."""

from __future__ import annotations

import shutil
from pathlib import Path

from photoarchive.config import load_settings
from photoarchive.search import index_folder

#: The PostgreSQL engine's tables (search/postgresql_engine.py).
SERVER_TABLES = ("search_documents", "search_terms", "search_meta")


def index_dir(root: Path) -> Path:
    """Return the index folder of the archive at `root` (its engine's, from archive.toml)."""
    return index_folder(root, load_settings(root / "archive.toml").search_engine)


def _server_execute(root: Path, statement: str) -> list[tuple[object, ...]]:
    import psycopg
    from psycopg import sql

    settings = load_settings(root / "archive.toml")
    with psycopg.connect(settings.catalog, autocommit=True) as conn:
        conn.execute(
            sql.SQL("SET search_path = {}").format(sql.Identifier(settings.catalog_schema))
        )
        cur = conn.execute(statement)
        return cur.fetchall() if cur.description else []


def remove_index(root: Path) -> None:
    """Take the archive's search index away (a lost folder, or dropped tables)."""
    if load_settings(root / "archive.toml").search_engine == "postgresql":
        _server_execute(root, f"DROP TABLE IF EXISTS {', '.join(SERVER_TABLES)}")
    else:
        shutil.rmtree(index_dir(root))


def index_exists(root: Path) -> bool:
    """True if the archive's search index is there at all."""
    if load_settings(root / "archive.toml").search_engine == "postgresql":
        rows = _server_execute(
            root,
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = "
            "current_schema() AND table_name = 'search_documents'",
        )
        return rows[0][0] == 1
    return index_dir(root).exists()
