"""The catalog of record: SQLite in WAL mode, ordered migrations, all of the project's SQL."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from photoarchive.errors import (
    AmbiguousIdError,
    CatalogMissingError,
    PhotoArchiveError,
    PhotoNotFoundError,
    StorageError,
)
from photoarchive.record import PhotoRecord

_RECORD_COLUMNS = PhotoRecord.field_names()


def _column_type(name: str) -> str:
    if name in ("width", "height", "file_size", "orientation"):
        return "INTEGER"
    return "REAL" if name.startswith("gps_") else "TEXT"


_PHOTO_COLUMNS = ",\n        ".join(
    f"{c} {_column_type(c)}" for c in _RECORD_COLUMNS if c != "sha256"
)

# Ordered migrations: entry N brings the schema from version N to N+1.
MIGRATIONS: tuple[str, ...] = (
    f"""
    CREATE TABLE photos (
        sha256 TEXT PRIMARY KEY,
        {_PHOTO_COLUMNS},
        ext TEXT NOT NULL,
        warnings TEXT NOT NULL DEFAULT '[]',
        needs_index INTEGER NOT NULL DEFAULT 1
    );
    CREATE UNIQUE INDEX photos_id ON photos (id);
    CREATE INDEX photos_needs_index ON photos (needs_index) WHERE needs_index = 1;
    CREATE TABLE sources (
        sha256 TEXT NOT NULL REFERENCES photos (sha256) ON DELETE CASCADE,
        field TEXT NOT NULL,
        family TEXT NOT NULL,
        value TEXT NOT NULL,
        PRIMARY KEY (sha256, field, family)
    );
    """,
    """
    ALTER TABLE photos ADD COLUMN picture_id TEXT;
    ALTER TABLE photos ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
    ALTER TABLE photos ADD COLUMN pixel_digest TEXT;
    ALTER TABLE photos ADD COLUMN dhash TEXT;
    UPDATE photos SET picture_id = sha256;
    CREATE INDEX photos_picture ON photos (picture_id, version);
    CREATE INDEX photos_reference ON photos (transmission_reference)
        WHERE transmission_reference IS NOT NULL;
    CREATE INDEX photos_pixels ON photos (pixel_digest) WHERE pixel_digest IS NOT NULL;
    CREATE TABLE pictures (
        picture_id TEXT PRIMARY KEY,
        current_sha256 TEXT NOT NULL,
        killed_at TEXT,
        kill_reason TEXT
    );
    INSERT INTO pictures (picture_id, current_sha256) SELECT sha256, sha256 FROM photos;
    CREATE TABLE edits (
        number INTEGER PRIMARY KEY,
        sha256 TEXT NOT NULL REFERENCES photos (sha256),
        at TEXT NOT NULL,
        editor TEXT NOT NULL,
        field TEXT NOT NULL,
        old TEXT,
        new TEXT
    );
    CREATE INDEX edits_photo ON edits (sha256, number);
    """,
    # The archive's identity: its search index carries it, so an index copied from another
    # archive (or left from before) is recognised instead of trusted.
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    INSERT INTO meta (key, value) VALUES ('archive_id', lower(hex(randomblob(16))));
    """,
)


@dataclass(frozen=True)
class StoredPhoto:
    """A catalog row: the record plus what the store needs to find its files."""

    record: PhotoRecord
    ext: str
    warnings: list[str]
    #: The picture this photo is a version of (its first version's sha256), and which.
    picture_id: str | None = None
    version: int = 1
    #: SHA-256 of the image data without its metadata: equal for the same pixels.
    pixel_digest: str | None = None
    #: 64-bit difference hash (hex) for finding the same frame resized or recompressed.
    dhash: str | None = None
    #: "kill" when the photo is an agency's kill notice (with `notice_reason`).
    notice: str | None = None
    notice_reason: str | None = None


@dataclass(frozen=True)
class Picture:
    """A picture: its versions (oldest first), the current one, and whether it is killed."""

    picture_id: str
    current_sha256: str
    killed_at: str | None
    kill_reason: str | None
    versions: list[StoredPhoto]


class Catalog:
    """The SQLite catalog; one connection, writes inside `transaction()`."""

    def __init__(self, path: Path, readonly: bool = False, create: bool = False) -> None:
        """Open the catalog at `path`; only `create=True` (photoarchive init) may make one.

        A missing or empty catalog raises CatalogMissingError: every command then stops
        rather than work on an empty catalog (and, say, prune every original).
        """
        self.path = path
        self.readonly = readonly
        if not create:
            _require_catalog(path)
        try:
            #: Set when the catalog had to be opened as an immutable file (see
            #: _connect_readonly): what the file was then, to notice when it changes.
            self.immutable_state: tuple[int, int, int] | None = None
            if readonly:
                self.conn, self.immutable_state = _connect_readonly(path)
            else:
                self.conn = sqlite3.connect(path, timeout=30)
            self.conn.row_factory = sqlite3.Row
            self.conn.execute("PRAGMA foreign_keys = ON")
            if not create and self.schema_version() == 0:
                self.conn.close()
                raise CatalogMissingError(
                    f"the catalog {path} is empty (schema version 0): it is not this "
                    "archive's catalog; restore catalog.sqlite from a backup. Nothing was changed"
                )
            if not create:
                # Each table's first page: garbage there would otherwise surface as an
                # error in the middle of a command (or be migrated over by a writer).
                tables = self.conn.execute(
                    "SELECT name FROM sqlite_master WHERE type = 'table'"
                ).fetchall()
                for (table,) in tables:
                    self.conn.execute(f'SELECT * FROM "{table}" LIMIT 1').fetchall()
            if not readonly:
                self.conn.execute("PRAGMA journal_mode = WAL")
                # FULL: a committed photo survives a power cut, not only a crash.
                self.conn.execute("PRAGMA synchronous = FULL")
                self._migrate()
        except sqlite3.OperationalError as exc:
            if readonly:
                raise PhotoArchiveError(f"catalog {path} cannot be opened: {exc}") from None
            raise _write_error(path, exc) from None
        except sqlite3.DatabaseError as exc:
            # Garbage, a truncated copy, a file that is not SQLite: never repaired by
            # guessing, since the catalog is the record of truth.
            raise PhotoArchiveError(
                f"the catalog {path} is damaged ({exc}): restore catalog.sqlite from a "
                "backup. Nothing was changed"
            ) from None

    def close(self) -> None:
        """Close the connection."""
        self.conn.close()

    def changed_on_disk(self) -> bool:
        """True if this catalog was opened as an immutable file and the file has changed
        since (a long-lived reader must then open it again)."""
        if self.immutable_state is None:
            return False
        wal = self.path.with_name(self.path.name + "-wal")
        return _file_state(self.path) != self.immutable_state or wal.exists()

    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise PhotoArchiveError(
                f"catalog {self.path} is schema version {version}; this photoarchive knows "
                f"{len(MIGRATIONS)}: upgrade photoarchive"
            )
        for number in range(version, len(MIGRATIONS)):
            with self.transaction():
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        self.conn.execute(statement)
                self.conn.execute(f"PRAGMA user_version = {number + 1}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Run a block as one transaction: committed whole or rolled back whole."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.rollback()
                raise
            self.conn.commit()
        except sqlite3.OperationalError as exc:
            raise _write_error(self.path, exc) from None

    def archive_id(self) -> str | None:
        """Return the archive's identity (None in a catalog from before it was recorded)."""
        try:
            row = self.conn.execute("SELECT value FROM meta WHERE key = 'archive_id'").fetchone()
        except sqlite3.OperationalError:  # an older catalog opened read-only
            return None
        return None if row is None else str(row[0])

    def schema_version(self) -> int:
        """Return the schema version stored in PRAGMA user_version."""
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def has(self, sha256: str) -> bool:
        """Return True if a photo with these bytes is catalogued."""
        row = self.conn.execute("SELECT 1 FROM photos WHERE sha256 = ?", (sha256,)).fetchone()
        return row is not None

    def add(self, photo: StoredPhoto, sources: dict[str, dict[str, Any]]) -> bool:
        """Insert a photo and its per-family source values; return False if already there."""
        with self.transaction() as conn:
            return self._insert(conn, photo, sources)

    @staticmethod
    def _insert(
        conn: sqlite3.Connection, photo: StoredPhoto, sources: dict[str, dict[str, Any]]
    ) -> bool:
        if conn.execute("SELECT 1 FROM photos WHERE sha256 = ?", (photo.record.sha256,)).fetchone():
            return False
        picture_id, version = _link_version(conn, photo)
        rec = photo.record.to_dict()
        rec["keywords"] = json.dumps(rec["keywords"], ensure_ascii=False)
        columns = [
            *_RECORD_COLUMNS,
            "ext",
            "warnings",
            "picture_id",
            "version",
            "pixel_digest",
            "dhash",
        ]
        values = [
            *(rec[c] for c in _RECORD_COLUMNS),
            photo.ext,
            json.dumps(photo.warnings, ensure_ascii=False),
            picture_id,
            version,
            photo.pixel_digest,
            photo.dhash,
        ]
        cur = conn.execute(
            f"INSERT OR IGNORE INTO photos ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))})",
            values,
        )
        if cur.rowcount == 0:
            return False
        conn.executemany(
            "INSERT INTO sources (sha256, field, family, value) VALUES (?, ?, ?, ?)",
            [
                (photo.record.sha256, name, family, json.dumps(value, ensure_ascii=False))
                for name, by_family in sources.items()
                for family, value in by_family.items()
            ],
        )
        return True

    def add_many(self, photos: list[tuple[StoredPhoto, dict[str, dict[str, Any]]]]) -> set[str]:
        """Insert photos in one transaction; return the hashes actually inserted (others
        were already catalogued, perhaps by a concurrent ingest)."""
        inserted: set[str] = set()
        with self.transaction() as conn:
            for photo, sources in photos:
                if self._insert(conn, photo, sources):
                    inserted.add(photo.record.sha256)
        return inserted

    def resolve(self, id_or_prefix: str) -> str:
        """Return the sha256 of the one photo whose id or sha256 starts with the given text."""
        prefix = id_or_prefix.strip().lower()
        if not prefix or any(c not in "0123456789abcdef" for c in prefix):
            raise PhotoNotFoundError(f"'{id_or_prefix}' is not a photo id (hex digits)")
        rows = self.conn.execute(
            "SELECT sha256 FROM photos WHERE sha256 >= ? AND sha256 < ? LIMIT 2",
            (prefix, prefix + "g"),
        ).fetchall()
        if not rows:
            raise PhotoNotFoundError(f"no photo with id {id_or_prefix}")
        if len(rows) > 1:
            raise AmbiguousIdError(f"id {id_or_prefix} matches several photos: give more digits")
        return str(rows[0]["sha256"])

    def get(self, sha256: str) -> StoredPhoto:
        """Return the catalogued photo with this sha256."""
        row = self.conn.execute("SELECT * FROM photos WHERE sha256 = ?", (sha256,)).fetchone()
        if row is None:
            raise PhotoNotFoundError(f"no photo with id {sha256[:12]}")
        return _stored(row)

    def get_many(self, shas: Iterable[str]) -> dict[str, StoredPhoto]:
        """Return the photos with these hashes, keyed by sha256."""
        rows = self._rows_for("SELECT * FROM photos WHERE sha256 IN ({})", shas)
        return {row["sha256"]: _stored(row) for row in rows}

    def sources(self, sha256: str) -> dict[str, dict[str, Any]]:
        """Return every family's value per field: {field: {family: value}}."""
        out: dict[str, dict[str, Any]] = {}
        for row in self.conn.execute(
            "SELECT field, family, value FROM sources WHERE sha256 = ? ORDER BY field, family",
            (sha256,),
        ):
            out.setdefault(row["field"], {})[row["family"]] = json.loads(row["value"])
        return out

    def sources_many(self, shas: Iterable[str]) -> dict[str, dict[str, dict[str, Any]]]:
        """Return `sources()` for many photos at once, keyed by sha256."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        rows = self._rows_for(
            "SELECT sha256, field, family, value FROM sources WHERE sha256 IN ({})", shas
        )
        for row in rows:
            by_field = out.setdefault(row["sha256"], {})
            by_field.setdefault(row["field"], {})[row["family"]] = json.loads(row["value"])
        return out

    def iter_photos(self, batch: int = 1000) -> Iterator[StoredPhoto]:
        """Yield every photo in ingest order without loading them all at once."""
        last = ""
        while True:
            rows = self.conn.execute(
                "SELECT * FROM photos WHERE sha256 > ? ORDER BY sha256 LIMIT ?", (last, batch)
            ).fetchall()
            if not rows:
                return
            for row in rows:
                yield _stored(row)
            last = rows[-1]["sha256"]

    def all_hashes(self) -> set[str]:
        """Return the sha256 of every catalogued photo."""
        return {r[0] for r in self.conn.execute("SELECT sha256 FROM photos")}

    def pending_index(self) -> list[str]:
        """Return photos catalogued but not yet confirmed in the search index."""
        rows = self.conn.execute("SELECT sha256 FROM photos WHERE needs_index = 1")
        return [r[0] for r in rows]

    def mark_indexed(self, shas: Iterable[str]) -> None:
        """Record that these photos are in the search index."""
        with self.transaction() as conn:
            conn.executemany(
                "UPDATE photos SET needs_index = 0 WHERE sha256 = ?", [(s,) for s in shas]
            )

    def mark_all_pending(self) -> None:
        """Flag every photo for indexing (before a rebuild of the index)."""
        with self.transaction() as conn:
            conn.execute("UPDATE photos SET needs_index = 1")

    def latest(self, limit: int, offset: int = 0) -> list[StoredPhoto]:
        """Return photos newest-ingested first."""
        rows = self.conn.execute(
            "SELECT * FROM photos ORDER BY ingested_at DESC, sha256 LIMIT ? OFFSET ?",
            (limit, offset),
        )
        return [_stored(row) for row in rows]

    def picture(self, sha256: str) -> Picture:
        """Return the picture a photo belongs to, with all its versions."""
        row = self.conn.execute(
            "SELECT p.* FROM pictures p JOIN photos ph ON ph.picture_id = p.picture_id "
            "WHERE ph.sha256 = ?",
            (sha256,),
        ).fetchone()
        if row is None:
            raise PhotoNotFoundError(f"no photo with id {sha256[:12]}")
        versions = [
            _stored(r)
            for r in self.conn.execute(
                "SELECT * FROM photos WHERE picture_id = ? ORDER BY version", (row["picture_id"],)
            )
        ]
        return Picture(
            row["picture_id"], row["current_sha256"], row["killed_at"], row["kill_reason"], versions
        )

    def states(self, shas: Iterable[str]) -> dict[str, str]:
        """Return "live", "superseded" or "killed" for each photo."""
        rows = self._rows_for(
            "SELECT ph.sha256, p.current_sha256, p.killed_at FROM photos ph "
            "JOIN pictures p ON p.picture_id = ph.picture_id WHERE ph.sha256 IN ({})",
            shas,
        )
        return {
            sha: "killed" if killed else ("live" if sha == current else "superseded")
            for sha, current, killed in rows
        }

    def kill_reasons(self, shas: Iterable[str]) -> dict[str, str]:
        """Return why each killed photo's picture was killed (others are left out)."""
        rows = self._rows_for(
            "SELECT ph.sha256, p.killed_at, p.kill_reason FROM photos ph "
            "JOIN pictures p ON p.picture_id = ph.picture_id "
            "WHERE p.killed_at IS NOT NULL AND ph.sha256 IN ({})",
            shas,
        )
        return {sha: f"KILLED {at}: {reason}" for sha, at, reason in rows}

    def _rows_for(self, sql: str, shas: Iterable[str]) -> Iterator[sqlite3.Row]:
        """Run `sql` (with {} for the placeholders) over the hashes, 500 at a time."""
        wanted = list(shas)
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            yield from self.conn.execute(sql.format(", ".join("?" * len(chunk))), chunk)

    def dhashes(self) -> list[tuple[str, str]]:
        """Return (sha256, dhash) for every photo that has one."""
        rows = self.conn.execute("SELECT sha256, dhash FROM photos WHERE dhash IS NOT NULL")
        return [(r[0], r[1]) for r in rows]

    def record_edit(
        self,
        sha256: str,
        editor: str,
        at: str,
        changes: dict[str, tuple[Any, Any]],
        before_commit: Callable[[], None] | None = None,
    ) -> None:
        """Change fields of a photo and append each change to its history, in one
        transaction; `before_commit` runs inside it, seeing the change (the index update)."""
        with self.transaction() as conn:
            for name, (old, new) in changes.items():
                value = json.dumps(new, ensure_ascii=False) if name == "keywords" else new
                conn.execute(
                    f"UPDATE photos SET {_column(name)} = ?, needs_index = 1 WHERE sha256 = ?",
                    (value, sha256),
                )
                conn.execute(
                    "INSERT INTO edits (sha256, at, editor, field, old, new) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        sha256,
                        at,
                        editor,
                        name,
                        json.dumps(old, ensure_ascii=False),
                        json.dumps(new, ensure_ascii=False),
                    ),
                )
            if before_commit is not None:
                before_commit()

    def mark_pending(self, shas: Iterable[str]) -> None:
        """Flag these photos for indexing (before their index entries change)."""
        with self.transaction() as conn:
            conn.executemany(
                "UPDATE photos SET needs_index = 1 WHERE sha256 = ?", [(s,) for s in shas]
            )

    def revision(self, sha256: str) -> int:
        """Return how many field changes the photo has had: what an editor saw is named by it."""
        row = self.conn.execute("SELECT count(*) FROM edits WHERE sha256 = ?", (sha256,))
        return int(row.fetchone()[0])

    def revisions(self, shas: Iterable[str]) -> dict[str, int]:
        """Return `revision()` of photos that have been edited, keyed by sha256."""
        rows = self._rows_for(
            "SELECT sha256, count(*) FROM edits WHERE sha256 IN ({}) GROUP BY sha256", shas
        )
        return {sha: int(n) for sha, n in rows}

    def edits(self, sha256: str, after: int = 0) -> list[dict[str, Any]]:
        """Return a photo's edits, oldest first (those after revision `after`)."""
        rows = self.conn.execute(
            "SELECT at, editor, field, old, new FROM edits WHERE sha256 = ? ORDER BY number "
            "LIMIT -1 OFFSET ?",
            (sha256, after),
        )
        return [
            {
                "at": r["at"],
                "by": r["editor"],
                "field": r["field"],
                "old": json.loads(r["old"]),
                "new": json.loads(r["new"]),
            }
            for r in rows
        ]

    def count(self) -> int:
        """Return how many photos are catalogued."""
        return int(self.conn.execute("SELECT count(*) FROM photos").fetchone()[0])

    def counts_by(self, column: str) -> list[tuple[str | None, int, int]]:
        """Return (value, photos, bytes) per distinct value of credit, agency or format."""
        if column not in ("credit", "agency", "format"):
            raise ValueError(column)
        rows = self.conn.execute(
            f"SELECT {column} AS v, count(*) AS n, sum(file_size) AS b FROM photos "
            f"GROUP BY {column} ORDER BY n DESC, v"
        )
        return [(r["v"], int(r["n"]), int(r["b"] or 0)) for r in rows]

    def total_bytes(self) -> int:
        """Return the summed size of all originals."""
        return int(
            self.conn.execute("SELECT coalesce(sum(file_size), 0) FROM photos").fetchone()[0]
        )


def _column(name: str) -> str:
    if name not in _RECORD_COLUMNS or name in ("id", "sha256"):
        raise ValueError(f"not an editable field: {name}")
    return name


def _link_version(conn: sqlite3.Connection, photo: StoredPhoto) -> tuple[str, int]:
    """Return the picture a new photo belongs to and its version number, and record it.

    A photo with the transmission reference or the pixels of a catalogued one is a new
    version of that picture (a refile, correction or repeat); a kill notice kills it.
    """
    rec = photo.record
    row = None
    if rec.transmission_reference:
        row = conn.execute(
            "SELECT picture_id FROM photos WHERE transmission_reference = ? "
            "ORDER BY version DESC LIMIT 1",
            (rec.transmission_reference,),
        ).fetchone()
    if row is None and photo.pixel_digest:
        row = conn.execute(
            "SELECT picture_id FROM photos WHERE pixel_digest = ? ORDER BY version DESC LIMIT 1",
            (photo.pixel_digest,),
        ).fetchone()
    if row is None:
        picture_id, version = rec.sha256, 1
        conn.execute(
            "INSERT INTO pictures (picture_id, current_sha256) VALUES (?, ?)",
            (picture_id, rec.sha256),
        )
    else:
        picture_id = row[0]
        version = (
            1
            + conn.execute(
                "SELECT max(version) FROM photos WHERE picture_id = ?", (picture_id,)
            ).fetchone()[0]
        )
        conn.execute(
            "UPDATE pictures SET current_sha256 = ? WHERE picture_id = ?", (rec.sha256, picture_id)
        )
        # Every version is indexed again: which one is current has changed.
        conn.execute("UPDATE photos SET needs_index = 1 WHERE picture_id = ?", (picture_id,))
    if photo.notice == "kill":
        conn.execute(
            "UPDATE pictures SET killed_at = ?, kill_reason = ? WHERE picture_id = ?",
            (rec.ingested_at, photo.notice_reason or "killed by the sender", picture_id),
        )
    return picture_id, version


def _require_catalog(path: Path) -> None:
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


def _connect_readonly(path: Path) -> tuple[sqlite3.Connection, tuple[int, int, int] | None]:
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
    seen = _file_state(path)
    conn = sqlite3.connect(f"file:{path}?mode=ro&immutable=1", uri=True, timeout=30)
    conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    return conn, seen


def _file_state(path: Path) -> tuple[int, int, int] | None:
    try:
        info = path.stat()
    except OSError:
        return None
    return (info.st_ino, info.st_size, info.st_mtime_ns)


def _write_error(path: Path, exc: sqlite3.OperationalError) -> StorageError:
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


def _stored(row: sqlite3.Row) -> StoredPhoto:
    data = {c: row[c] for c in _RECORD_COLUMNS}
    data["keywords"] = json.loads(data["keywords"] or "[]")
    return StoredPhoto(
        record=PhotoRecord(**data),
        ext=row["ext"],
        warnings=json.loads(row["warnings"]),
        picture_id=row["picture_id"],
        version=row["version"],
        pixel_digest=row["pixel_digest"],
        dhash=row["dhash"],
    )
