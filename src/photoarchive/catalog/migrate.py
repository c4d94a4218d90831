"""Moving up: an embedded archive's catalog copied to a PostgreSQL server in one
transaction, checked (every table's rows counted, a sample of photos compared field by
field), and only then named in archive.toml. The SQLite file is left as it was."""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from photoarchive.catalog import MIGRATIONS, Catalog, ServerCatalog
from photoarchive.errors import PhotoArchiveError

#: Tables in the order their references need; anything else in the file is refused.
TABLES = (
    "photos",
    "sources",
    "pictures",
    "edits",
    "meta",
    "refs",
    "standing_kills",
    "picture_events",
    "users",
    "selections",
    "selection_photos",
    "audit",
)
#: Tables whose SQLite rowid is the order things were made in (a column on the server).
_ROWID_TABLES = ("photos", "selection_photos")
#: Identity columns whose sequences continue after the copied rows.
_SEQUENCES = {
    "photos": "rowid",
    "selection_photos": "rowid",
    "edits": "number",
    "standing_kills": "number",
    "picture_events": "number",
    "selections": "selection_id",
    "audit": "number",
}
#: Rows left out of the copy: the server's schema version is its own (made with its schema).
_COPIED_ROWS = {"meta": " WHERE key != 'schema_version'"}
#: Photos compared field by field after the copy (besides the first and the last).
SAMPLE = 200


@dataclass
class MigrationReport:
    """What was copied, and what was checked."""

    url: str
    schema: str
    rows: dict[str, int] = field(default_factory=dict)
    compared: int = 0
    #: The archive's search engine after the move (set by the caller).
    search_engine: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "catalog": self.url,
            "schema": self.schema,
            "rows": self.rows,
            "photos_compared": self.compared,
            "search_engine": self.search_engine,
        }


def copy_catalog(
    source: Path,
    target: ServerCatalog,
    on_progress: Callable[[str, int], None] | None = None,
) -> MigrationReport:
    """Copy the SQLite catalog `source` (at today's schema) into a new schema on the
    server, check it, and return what was done; a failure leaves no schema behind."""
    from photoarchive.catalog.postgresql import PostgresConnection
    from photoarchive.postgres import shown

    report = MigrationReport(shown(target.url), target.schema)
    db = sqlite3.connect(f"file:{source}?mode=ro", uri=True, timeout=30)
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version != len(MIGRATIONS):
            raise PhotoArchiveError(
                f"the catalog {source} is schema version {version}, not {len(MIGRATIONS)}: "
                "open the archive for writing once (photoarchive reindex) and migrate again"
            )
        present = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        unknown = sorted(present - set(TABLES))
        if unknown:
            raise PhotoArchiveError(
                f"the catalog {source} has tables this photoarchive does not know "
                f"({', '.join(unknown)}): it cannot be copied faithfully"
            )
        server = PostgresConnection(target.url, target.schema)
        try:
            with server.transaction():
                server.create_schema(len(MIGRATIONS))
                # The server's own identity row gives way to the archive's: its search index
                # names the archive it belongs to.
                server.execute("DELETE FROM meta WHERE key = 'archive_id'")
                for table in TABLES:
                    report.rows[table] = _copy_table(db, server, table, on_progress)
                for table, column in _SEQUENCES.items():
                    server.execute(
                        f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), "
                        f"coalesce((SELECT max({column}) FROM {table}), 0) + 1, false)"
                    )
                _check_counts(db, server, report.rows)
        finally:
            server.close()
    finally:
        db.close()
    try:
        report.compared = _compare_sample(source, target)
    except PhotoArchiveError:
        server = PostgresConnection(target.url, target.schema)
        try:
            server.drop_schema()
        finally:
            server.close()
        raise
    return report


def _copy_table(
    db: sqlite3.Connection,
    server: Any,
    table: str,
    on_progress: Callable[[str, int], None] | None,
) -> int:
    names = [r[1] for r in db.execute(f"PRAGMA table_info({table})")]
    if table in _ROWID_TABLES:
        names = ["rowid", *names]
    selected = ", ".join(names)
    order = " ORDER BY rowid" if table in _ROWID_TABLES else ""
    where = _COPIED_ROWS.get(table, "")
    rows = db.execute(f"SELECT {selected} FROM {table}{where}{order}")
    count = 0
    with server.copy(f"COPY {table} ({selected}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
            if on_progress and count % 10_000 == 0:
                on_progress(table, count)
    if on_progress:
        on_progress(table, count)
    return count


def _check_counts(db: sqlite3.Connection, server: Any, copied: dict[str, int]) -> None:
    for table in TABLES:
        where = _COPIED_ROWS.get(table, "")
        there = server.execute(f"SELECT count(*) FROM {table}{where}").fetchone()[0]
        here = db.execute(f"SELECT count(*) FROM {table}{where}").fetchone()[0]
        if not here == there == copied[table]:
            raise PhotoArchiveError(
                f"the copy of {table} holds {there} rows, the catalog {here}: nothing was kept"
            )


_READINGS: tuple[tuple[str, Callable[[Catalog, str], Any]], ...] = (
    ("record", lambda c, s: c.get(s)),
    ("sources", lambda c, s: c.sources(s)),
    ("picture", lambda c, s: c.picture(s)),
    ("history", lambda c, s: c.edits(s)),
    ("standing", lambda c, s: c.standing([s])),
)


def _compare_sample(source: Path, target: ServerCatalog) -> int:
    """Read a sample of photos from both catalogs through the catalog's own code and
    compare them whole (record, stored fields, sources, standing, history)."""
    mine = Catalog(source, readonly=True)
    theirs = Catalog(target, readonly=True)
    try:
        shas = sorted(mine.all_hashes())
        chosen = set(random.Random(len(shas)).sample(shas, min(SAMPLE, len(shas))))
        chosen.update(shas[:1] + shas[-1:])
        for sha in sorted(chosen):
            for what, read in _READINGS:
                if read(mine, sha) != read(theirs, sha):
                    raise PhotoArchiveError(
                        f"photo {sha[:12]} reads differently on the server ({what}); the copy "
                        "was removed and the archive still uses its own catalog"
                    )
        if mine.archive_id() != theirs.archive_id():
            raise PhotoArchiveError("the copy does not carry the archive's identity")
        return len(chosen)
    finally:
        mine.close()
        theirs.close()
