"""The catalog of record: the project's SQL, written once, over SQLite in WAL mode (the
embedded default, one file in the archive) or a PostgreSQL server (several machines, one
archive); the schema's migrations are in schema.py, identity's SQL in picture_links.py."""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from photoarchive.catalog.schema import MIGRATIONS
from photoarchive.catalog.sqlite import connect_readonly, file_state, require_catalog, write_error
from photoarchive.errors import (
    AmbiguousIdError,
    CatalogMissingError,
    PhotoArchiveError,
    PhotoNotFoundError,
)
from photoarchive.picture_links import (
    apply_kills,
    file_refs,
    kill_picture,
    link_version,
    supplier_of_photo,
)
from photoarchive.record import PhotoRecord
from photoarchive.states import PhotoState

if TYPE_CHECKING:
    from photoarchive.catalog.connection import Connection
    from photoarchive.config import ArchiveSettings

__all__ = [
    "CATALOG_FILE",
    "MIGRATIONS",
    "Catalog",
    "CatalogLocation",
    "Picture",
    "ServerCatalog",
    "StoredPhoto",
    "catalog_location",
    "file_state",
]

_RECORD_COLUMNS = PhotoRecord.field_names()
#: Record fields stored as JSON text (lists and mappings).
_JSON_COLUMNS = frozenset(PhotoRecord.structured_fields())
_LIST_COLUMNS = frozenset(PhotoRecord.list_fields())
#: The columns of a stored photo beyond its record, in StoredPhoto's order.
_STORED_COLUMNS = (
    "ext",
    "warnings",
    "picture_id",
    "version",
    "pixel_digest",
    "dhash",
    "notice",
    "notice_reason",
    "supplier",
)


class ServerCatalog(NamedTuple):
    """A catalog on a PostgreSQL server: its URL and the schema its tables are in."""

    url: str
    schema: str


#: Where a catalog is: its SQLite file, or a server.
CatalogLocation = Path | ServerCatalog
#: The embedded catalog's file in the archive folder.
CATALOG_FILE = "catalog.sqlite"


def catalog_location(root: Path, settings: ArchiveSettings | None = None) -> CatalogLocation:
    """Return where the catalog of the archive at `root` is, by its settings (archive.toml's
    `catalog`, read when not given): a server, or the file in the folder."""
    if settings is None:
        from photoarchive.config import SETTINGS_FILE, load_settings

        settings = load_settings(root / SETTINGS_FILE)
    if settings.catalog:
        return ServerCatalog(settings.catalog, settings.catalog_schema)
    return root / CATALOG_FILE


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
    #: Who supplied it, as the identity rules compare it (identity.supplier_of); None:
    #: derived from the agency.
    supplier: str | None = None


@dataclass(frozen=True)
class Picture:
    """A picture: its versions (oldest first), the current one, and whether it is killed."""

    picture_id: str
    current_sha256: str
    killed_at: str | None
    kill_reason: str | None
    versions: list[StoredPhoto]
    killed_by: str | None = None


class Catalog:
    """The catalog: one connection (SQLite's, or a pool on the server), writes inside
    `transaction()`."""

    conn: Connection

    def __init__(
        self, location: CatalogLocation, readonly: bool = False, create: bool = False
    ) -> None:
        """Open the catalog at `location`; only `create=True` (photoarchive init) may make one.

        A missing or empty catalog raises CatalogMissingError: every command then stops
        rather than work on an empty catalog (and, say, prune every original).
        """
        self.location = location
        self.readonly = readonly
        # (SQLite's data_version, the photo count then): see count().
        self._count: tuple[int, int] | None = None
        #: Set when the catalog had to be opened as an immutable file (see
        #: sqlite.connect_readonly): what the file was then, to notice when it changes.
        self.immutable_state: tuple[int, int, int] | None = None
        self._server: Any = None
        if isinstance(location, ServerCatalog):
            self.path: Path | None = None
            self._open_server(location, readonly, create)
        else:
            self.path = location
            self._open_file(location, readonly, create)

    @property
    def on_server(self) -> bool:
        """True if the catalog is on a PostgreSQL server."""
        return self._server is not None

    def _open_server(self, location: ServerCatalog, readonly: bool, create: bool) -> None:
        from photoarchive.catalog.postgresql import PostgresConnection

        server = PostgresConnection(location.url, location.schema, readonly)
        self._server = server
        self.conn = server
        try:
            if create:
                server.create_schema(len(MIGRATIONS))
            elif not server.schema_exists():
                raise CatalogMissingError(
                    f"the archive's catalog {server.where} is missing: restore it from a "
                    "backup. Nothing was changed (no command creates a new, empty catalog in "
                    "an archive)"
                )
            if not readonly:
                server.migrate(len(MIGRATIONS))
        except BaseException:
            server.close()
            raise

    def _open_file(self, path: Path, readonly: bool, create: bool) -> None:
        if not create:
            require_catalog(path)
        try:
            if readonly:
                conn, self.immutable_state = connect_readonly(path)
            else:
                conn = sqlite3.connect(path, timeout=30)
            self.conn = conn
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys = ON")
            if not create and self.schema_version() == 0:
                conn.close()
                raise CatalogMissingError(
                    f"the catalog {path} is empty (schema version 0): it is not this "
                    "archive's catalog; restore catalog.sqlite from a backup. Nothing was changed"
                )
            if not create:
                # Each table's first page: garbage there would otherwise surface as an
                # error in the middle of a command (or be migrated over by a writer).
                tables = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                for (table,) in tables.fetchall():
                    conn.execute(f'SELECT * FROM "{table}" LIMIT 1').fetchall()
            if not readonly:
                conn.execute("PRAGMA journal_mode = WAL")
                # FULL: a committed photo survives a power cut, not only a crash.
                conn.execute("PRAGMA synchronous = FULL")
                self._migrate()
                if create and self.count() == 0:
                    # A new catalog has no pictures to link again, nor an old index.
                    with self.transaction() as tx:
                        tx.execute("DELETE FROM meta WHERE key IN ('relink', 'rebuild_index')")
        except sqlite3.OperationalError as exc:
            if readonly:
                raise PhotoArchiveError(f"catalog {path} cannot be opened: {exc}") from None
            raise write_error(path, exc) from None
        except sqlite3.DatabaseError as exc:
            # Garbage, a truncated copy, a file that is not SQLite: never repaired by
            # guessing, since the catalog is the record of truth.
            raise PhotoArchiveError(
                f"the catalog {path} is damaged ({exc}): restore catalog.sqlite from a "
                "backup. Nothing was changed"
            ) from None

    @property
    def where(self) -> str:
        """The catalog, named for messages."""
        return str(self.path) if self._server is None else str(self._server.where)

    def close(self) -> None:
        """Close the connection."""
        if self._server is not None:
            self._server.close()
        else:
            self._sqlite.close()

    @property
    def _sqlite(self) -> sqlite3.Connection:
        assert isinstance(self.conn, sqlite3.Connection)
        return self.conn

    def changed_on_disk(self) -> bool:
        """True if this catalog was opened as an immutable file and the file has changed
        since (a long-lived reader must then open it again)."""
        if self.immutable_state is None or self.path is None:
            return False
        wal = self.path.with_name(self.path.name + "-wal")
        return file_state(self.path) != self.immutable_state or wal.exists()

    def _migrate(self) -> None:
        conn = self._sqlite
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > len(MIGRATIONS):
            raise PhotoArchiveError(
                f"catalog {self.path} is schema version {version}; this photoarchive knows "
                f"{len(MIGRATIONS)}: upgrade photoarchive"
            )
        for number in range(version, len(MIGRATIONS)):
            with self.transaction():
                # Another process may have migrated meanwhile: the version is read again
                # under the write lock the transaction holds.
                if self.schema_version() > number:
                    continue
                for statement in MIGRATIONS[number].split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number + 1}")

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """Run a block as one transaction: committed whole or rolled back whole."""
        self._count = None
        if self._server is not None:
            with self._server.transaction() as conn:
                yield conn
            return
        conn = self._sqlite
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        except sqlite3.OperationalError as exc:
            raise write_error(self.path or Path(), exc) from None

    def archive_id(self) -> str | None:
        """Return the archive's identity (None in a catalog from before it was recorded)."""
        try:
            row = self.conn.execute("SELECT value FROM meta WHERE key = 'archive_id'").fetchone()
        except sqlite3.OperationalError:  # an older catalog opened read-only
            return None
        return None if row is None else str(row[0])

    def schema_version(self) -> int:
        """Return the schema version (SQLite's PRAGMA user_version; a row of meta on a
        server)."""
        if self._server is not None:
            return int(self._server.schema_version())
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
    def _insert(conn: Connection, photo: StoredPhoto, sources: dict[str, dict[str, Any]]) -> bool:
        if conn.execute("SELECT 1 FROM photos WHERE sha256 = ?", (photo.record.sha256,)).fetchone():
            return False
        picture_id, version, warning = link_version(conn, photo)
        warnings = [*photo.warnings, *([warning] if warning else [])]
        rec = photo.record.to_dict()
        for name in _JSON_COLUMNS:
            rec[name] = json.dumps(rec[name], ensure_ascii=False)
        columns = [*_RECORD_COLUMNS, *_STORED_COLUMNS]
        values = [
            *(rec[c] for c in _RECORD_COLUMNS),
            photo.ext,
            json.dumps(warnings, ensure_ascii=False),
            picture_id,
            version,
            photo.pixel_digest,
            photo.dhash,
            photo.notice,
            photo.notice_reason,
            supplier_of_photo(photo),
        ]
        cur = conn.execute(
            f"INSERT INTO photos ({', '.join(columns)}) "
            f"VALUES ({', '.join('?' * len(columns))}) ON CONFLICT DO NOTHING",
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
        refs = file_refs(conn, photo)
        apply_kills(conn, photo, picture_id, refs)
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

    def photos_between(self, first: str, last: str | None) -> list[StoredPhoto]:
        """Return the photos whose sha256 is at least `first` and below `last` (None: no
        bound), in sha256 order."""
        if last is None:
            rows = self.conn.execute(
                "SELECT * FROM photos WHERE sha256 >= ? ORDER BY sha256", (first,)
            )
        else:
            rows = self.conn.execute(
                "SELECT * FROM photos WHERE sha256 >= ? AND sha256 < ? ORDER BY sha256",
                (first, last),
            )
        return [_stored(row) for row in rows.fetchall()]

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
        """Return the live pictures' current versions, newest-ingested first (older
        versions, killed pictures and kill notices are left out)."""
        rows = self.conn.execute(
            "SELECT ph.* FROM photos ph JOIN pictures p ON p.current_sha256 = ph.sha256 "
            "WHERE p.killed_at IS NULL AND coalesce(ph.notice, '') != 'kill' "
            "ORDER BY ph.ingested_at DESC, ph.sha256 LIMIT ? OFFSET ?",
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
            row["picture_id"],
            row["current_sha256"],
            row["killed_at"],
            row["kill_reason"],
            versions,
            row["killed_by"],
        )

    def standing(self, shas: Iterable[str]) -> dict[str, PhotoState]:
        """Return where each photo stands: live, superseded, killed or a notice."""
        rows = self._rows_for(
            "SELECT ph.sha256, ph.notice, ph.notice_reason, p.current_sha256, p.killed_at, "
            "p.kill_reason, p.killed_by FROM photos ph "
            "JOIN pictures p ON p.picture_id = ph.picture_id WHERE ph.sha256 IN ({})",
            shas,
        )
        out = {}
        for row in rows:
            sha = row["sha256"]
            if row["notice"] == "kill":
                state = "notice"
            elif row["killed_at"]:
                state = "killed"
            else:
                state = "live" if sha == row["current_sha256"] else "superseded"
            out[sha] = PhotoState(
                state=state,
                current=row["current_sha256"],
                killed_at=row["killed_at"],
                kill_reason=row["kill_reason"],
                killed_by=row["killed_by"],
                notice_reason=row["notice_reason"] if row["notice"] == "kill" else None,
            )
        return out

    def states(self, shas: Iterable[str]) -> dict[str, str]:
        """Return "live", "superseded", "killed" or "notice" for each photo."""
        return {sha: st.state for sha, st in self.standing(shas).items()}

    def copies(self, sha256: str) -> list[StoredPhoto]:
        """Return the photos of other pictures with the same pixels: the same frame sent
        by other suppliers (or under another reference), oldest first."""
        rows = self.conn.execute(
            "SELECT other.* FROM photos me JOIN photos other "
            "ON other.pixel_digest = me.pixel_digest AND other.picture_id != me.picture_id "
            "WHERE me.sha256 = ? AND me.pixel_digest IS NOT NULL "
            "AND coalesce(other.notice, '') != 'kill' ORDER BY other.rowid",
            (sha256,),
        )
        return [_stored(row) for row in rows]

    def picture_events(self, picture_id: str) -> list[dict[str, Any]]:
        """Return the kills and unkills of a picture, oldest first."""
        rows = self.conn.execute(
            "SELECT at, by, action, reason, notice_sha256 FROM picture_events "
            "WHERE picture_id = ? ORDER BY number",
            (picture_id,),
        )
        return [
            {
                "at": r["at"],
                "by": r["by"],
                "action": r["action"],
                "reason": r["reason"],
                "notice": (r["notice_sha256"] or "")[:12] or None,
            }
            for r in rows
        ]

    def notice_targets(self, sha256: str) -> dict[str, list[str]]:
        """Return what a kill notice killed (picture ids) and the names it waits for."""
        killed = [
            r[0]
            for r in self.conn.execute(
                "SELECT DISTINCT picture_id FROM picture_events WHERE notice_sha256 = ?",
                (sha256,),
            )
        ]
        waiting = [
            r[0]
            for r in self.conn.execute(
                "SELECT ref FROM standing_kills WHERE notice_sha256 = ? ORDER BY number",
                (sha256,),
            )
        ]
        return {"killed": killed, "names": waiting}

    def set_killed(self, sha256: str, killed: bool, at: str, by: str, reason: str) -> bool:
        """Kill or unkill the picture a photo belongs to as the desk's decision, recorded in
        its history; return False if it already stood so."""
        with self.transaction() as conn:
            row = conn.execute(
                "SELECT picture_id, notice FROM photos WHERE sha256 = ?", (sha256,)
            ).fetchone()
            if row is None:
                raise PhotoNotFoundError(f"no photo with id {sha256[:12]}")
            if row["notice"] == "kill":
                raise PhotoArchiveError(
                    f"{sha256[:12]} is a kill notice, not a picture: kill or unkill the "
                    "picture it names"
                )
            picture_id = row["picture_id"]
            if killed:
                return kill_picture(conn, picture_id, at, reason, None, by=by)
            changed = conn.execute(
                "UPDATE pictures SET killed_at = NULL, kill_reason = NULL, killed_by = NULL "
                "WHERE picture_id = ? AND killed_at IS NOT NULL",
                (picture_id,),
            ).rowcount
            if not changed:
                return False
            conn.execute(
                "INSERT INTO picture_events (picture_id, at, by, action, reason) "
                "VALUES (?, ?, ?, 'unkill', ?)",
                (picture_id, at, by, reason),
            )
            conn.execute("UPDATE photos SET needs_index = 1 WHERE picture_id = ?", (picture_id,))
            return True

    def pending(self, task: str) -> bool:
        """True when an upgrade left `task` ("relink", "rebuild_index") to be done."""
        try:
            row = self.conn.execute("SELECT 1 FROM meta WHERE key = ?", (task,)).fetchone()
        except sqlite3.OperationalError:  # an older catalog opened read-only
            return True
        return row is not None

    def done(self, task: str) -> None:
        """Record that an upgrade task is done."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM meta WHERE key = ?", (task,))

    def relink_pending(self) -> bool:
        """True when pictures must be linked again by the identity rules (after an upgrade)."""
        return self.pending("relink")

    def relink(
        self,
        agency_of: Callable[[str | None], tuple[str | None, str]],
        notice_of: Callable[[PhotoRecord, dict[str, dict[str, Any]]], tuple[str, str] | None],
    ) -> int:
        """Link every photo to its picture again by the identity rules, in the order they
        were catalogued: agencies and notices are read again (`agency_of` a credit,
        `notice_of` a record and its sources), kills by notices redone, the desk's own kills
        and unkills replayed. Edits are kept. Return how many photos changed picture."""
        with self.transaction() as conn:
            before = {r[0]: r[1] for r in conn.execute("SELECT sha256, picture_id FROM photos")}
            order = [r[0] for r in conn.execute("SELECT sha256 FROM photos ORDER BY rowid")]
            desk = conn.execute(
                "SELECT picture_id, at, by, action, reason FROM picture_events "
                "WHERE notice_sha256 IS NULL ORDER BY number"
            ).fetchall()
            for statement in (
                "DELETE FROM pictures",
                "DELETE FROM refs",
                "DELETE FROM standing_kills",
                "DELETE FROM picture_events",
                "UPDATE photos SET picture_id = NULL, needs_index = 1",
            ):
                conn.execute(statement)
            for start in range(0, len(order), 500):
                chunk = order[start : start + 500]
                rows = {
                    r["sha256"]: r
                    for r in conn.execute(
                        f"SELECT * FROM photos WHERE sha256 IN ({', '.join('?' * len(chunk))})",
                        chunk,
                    )
                }
                for sha in chunk:
                    photo = _stored(rows[sha])
                    photo = self._read_again(photo, agency_of, notice_of)
                    picture_id, version, _ = link_version(conn, photo)
                    conn.execute(
                        "UPDATE photos SET picture_id = ?, version = ?, agency = ?, supplier = ?, "
                        "notice = ?, notice_reason = ? WHERE sha256 = ?",
                        (
                            picture_id,
                            version,
                            photo.record.agency,
                            photo.supplier,
                            photo.notice,
                            photo.notice_reason,
                            sha,
                        ),
                    )
                    apply_kills(conn, photo, picture_id, file_refs(conn, photo))
            for event in desk:
                exists = conn.execute(
                    "SELECT 1 FROM pictures WHERE picture_id = ?", (event["picture_id"],)
                ).fetchone()
                if exists is None:
                    continue
                if event["action"] == "kill":
                    kill_picture(
                        conn, event["picture_id"], event["at"], event["reason"], None, event["by"]
                    )
                else:
                    conn.execute(
                        "UPDATE pictures SET killed_at = NULL, kill_reason = NULL, "
                        "killed_by = NULL WHERE picture_id = ?",
                        (event["picture_id"],),
                    )
                    conn.execute(
                        "INSERT INTO picture_events (picture_id, at, by, action, reason) "
                        "VALUES (?, ?, ?, 'unkill', ?)",
                        (event["picture_id"], event["at"], event["by"], event["reason"]),
                    )
            conn.execute("DELETE FROM meta WHERE key = 'relink'")
            after = {r[0]: r[1] for r in conn.execute("SELECT sha256, picture_id FROM photos")}
        return sum(1 for sha, pid in after.items() if before.get(sha) != pid)

    def _read_again(
        self,
        photo: StoredPhoto,
        agency_of: Callable[[str | None], tuple[str | None, str]],
        notice_of: Callable[[PhotoRecord, dict[str, dict[str, Any]]], tuple[str, str] | None],
    ) -> StoredPhoto:
        from dataclasses import replace

        sources = self.sources(photo.record.sha256)  # the relink's transaction sees them
        agency, supplier = agency_of(photo.record.credit)
        record = replace(photo.record, agency=agency)
        notice = notice_of(record, sources)
        return replace(
            photo,
            record=record,
            supplier=supplier,
            notice=notice[0] if notice else None,
            notice_reason=notice[1] if notice else None,
        )

    def _rows_for(self, sql: str, shas: Iterable[str]) -> Iterator[Any]:
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
                value = json.dumps(new, ensure_ascii=False) if name in _JSON_COLUMNS else new
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

    def set_read_fields(self, sha256: str, values: dict[str, Any]) -> None:
        """Store fields read from the photo's file again (not edits: no history is kept of
        what a file says) and flag it for the index."""
        names = [_column(name) for name in values]
        with self.transaction() as conn:
            conn.execute(
                f"UPDATE photos SET {', '.join(f'{n} = ?' for n in names)}, needs_index = 1 "
                "WHERE sha256 = ?",
                [
                    *(
                        json.dumps(v, ensure_ascii=False) if n in _JSON_COLUMNS else v
                        for n, v in values.items()
                    ),
                    sha256,
                ],
            )

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
            "LIMIT ? OFFSET ?",
            (sha256, 2**62, after),
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
        # Counting is a scan of every row (13 ms at a million photos, on every desk page):
        # the count is kept until the catalog changes, which SQLite's data_version tells for
        # other connections' commits and transaction() for this one's.
        if self._server is not None:
            # The server keeps no cheap change counter: PostgreSQL counts in parallel.
            return int(self.conn.execute("SELECT count(*) FROM photos").fetchone()[0])
        version = self.conn.execute("PRAGMA data_version").fetchone()[0]
        if self._count is not None and self._count[0] == version:
            return self._count[1]
        count = int(self.conn.execute("SELECT count(*) FROM photos").fetchone()[0])
        self._count = (int(version), count)
        return count

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


@functools.cache
def _positions(names: tuple[str, ...]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Return where each record column, and each other column of a stored photo, is in a
    row of these column names (looked up once: a row's values by name cost more than the
    rest of making the photo)."""
    return (
        tuple(names.index(c) for c in _RECORD_COLUMNS),
        tuple(names.index(c) for c in _STORED_COLUMNS),
    )


def _stored(row: Any) -> StoredPhoto:
    values = tuple(row)
    of_record, of_stored = _positions(tuple(row.keys()))
    data = dict(zip(_RECORD_COLUMNS, [values[i] for i in of_record], strict=True))
    for name in _JSON_COLUMNS:
        # Most of these are empty for most photos: reading a million of them for a rebuild
        # spent a third of its catalog time in json.loads("[]").
        text = data[name]
        if not text or text in ("[]", "{}"):
            data[name] = [] if name in _LIST_COLUMNS else {}
        else:
            data[name] = json.loads(text)
    ext, warnings, picture_id, version, pixel_digest, dhash, notice, reason, supplier = (
        values[i] for i in of_stored
    )
    return StoredPhoto(
        record=PhotoRecord(**data),
        ext=ext,
        warnings=json.loads(warnings) if warnings and warnings != "[]" else [],
        picture_id=picture_id,
        version=version,
        pixel_digest=pixel_digest,
        dhash=dhash,
        notice=notice,
        notice_reason=reason,
        supplier=supplier,
    )
