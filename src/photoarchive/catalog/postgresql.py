"""The catalog on a PostgreSQL server: a psycopg 3 connection pool behind the same small
connection interface as SQLite's (execute, executemany, rows by name and position), so
the catalog's SQL is written once for both."""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

from photoarchive.catalog.schema import postgresql_schema
from photoarchive.errors import CatalogMissingError, PhotoArchiveError, StorageError
from photoarchive.postgres import first_line, psycopg_module, shown

#: The catalog's schema version on PostgreSQL, kept in its meta table. The server's schema
#: starts at today's SQLite schema; later changes append migrations here.
POSTGRES_MIGRATIONS: tuple[str, ...] = ()
#: The key of the advisory lock every writing transaction takes: writers follow one another,
#: as on SQLite (BEGIN IMMEDIATE), so picture links and versions are decided one at a time.
_WRITER_LOCK = "photoarchive catalog writer"


class IntegrityError(PhotoArchiveError):
    """A constraint of the catalog refused a change (as sqlite3.IntegrityError does)."""


class Row(tuple[Any, ...]):
    """A result row read by position or by column name (as sqlite3.Row)."""

    __slots__ = ()
    _index: ClassVar[dict[str, int]] = {}
    _names: ClassVar[tuple[str, ...]] = ()

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return tuple.__getitem__(self, self._index[key])
        return tuple.__getitem__(self, key)

    def keys(self) -> list[str]:
        return list(self._names)


@functools.cache
def _row_class(names: tuple[str, ...]) -> type[Row]:
    index = {name: i for i, name in enumerate(names)}
    return type("Row", (Row,), {"__slots__": (), "_index": index, "_names": names})


def _row_factory(cursor: Any) -> Any:
    names = tuple(c.name for c in cursor.description or ())
    cls = _row_class(names)
    return cls


class Result:
    """The rows of one statement, read at once (the connection goes back to the pool)."""

    def __init__(self, rows: list[Row], rowcount: int) -> None:
        self._rows = rows
        self._at = 0
        self.rowcount = rowcount

    def fetchone(self) -> Row | None:
        if self._at >= len(self._rows):
            return None
        self._at += 1
        return self._rows[self._at - 1]

    def fetchall(self) -> list[Row]:
        rows = self._rows[self._at :]
        self._at = len(self._rows)
        return rows

    def __iter__(self) -> Iterator[Row]:
        return iter(self.fetchall())


@functools.lru_cache(maxsize=1024)
def translate(sql: str) -> str:
    """Return SQLite-style SQL (`?` and `:name` parameters) in psycopg's style (`%s`,
    `%(name)s`, a literal `%` doubled); quoted text and identifiers are left alone."""
    out: list[str] = []
    i = 0
    n = len(sql)
    while i < n:
        c = sql[i]
        if c in "'\"":
            end = sql.find(c, i + 1)
            end = n - 1 if end < 0 else end
            out.append(sql[i : end + 1].replace("%", "%%"))
            i = end + 1
            continue
        if c == "?":
            out.append("%s")
        elif c == "%":
            out.append("%%")
        elif c == ":" and i + 1 < n and (sql[i + 1].isalpha() or sql[i + 1] == "_"):
            if i > 0 and sql[i - 1] == ":":  # a cast, ::text
                out.append(c)
            else:
                j = i + 1
                while j < n and (sql[j].isalnum() or sql[j] == "_"):
                    j += 1
                out.append(f"%({sql[i + 1 : j]})s")
                i = j
                continue
        else:
            out.append(c)
        i += 1
    return "".join(out)


def _value(value: Any) -> Any:
    # Flags are stored as integers, as in SQLite; psycopg would send a Python bool as boolean.
    if isinstance(value, bool):
        return int(value)
    # PostgreSQL's text cannot hold NUL: it is kept as U+FFFD, what exports write for it.
    if isinstance(value, str) and "\x00" in value:
        return value.replace("\x00", "\ufffd")
    return value


def _params(values: Any) -> Any:
    if isinstance(values, Mapping):
        return {k: _value(v) for k, v in values.items()}
    return [_value(v) for v in values]


class PostgresConnection:
    """The catalog's connection to its server: statements run on a pooled connection, those
    inside `transaction()` on the transaction's own."""

    def __init__(self, url: str, schema: str, readonly: bool = False) -> None:
        psycopg = psycopg_module("a catalog on PostgreSQL")
        from psycopg import sql
        from psycopg_pool import ConnectionPool

        self._psycopg = psycopg
        self.url = url
        self.schema = schema
        self.readonly = readonly
        self._local = threading.local()
        # One plain connection first: a server that is down or refuses us is one clear
        # line at once, not a pool retrying (and logging each try) until its timeout.
        try:
            psycopg.connect(url, connect_timeout=10).close()
        except psycopg.Error as exc:
            raise PhotoArchiveError(
                f"cannot reach the catalog at {shown(url)}: {first_line(exc)}"
            ) from None
        # The pool's own warnings would be printed without a handler; errors reach the
        # caller as one line anyway.
        logging.getLogger("psycopg.pool").addHandler(logging.NullHandler())
        search_path = sql.Identifier(schema).as_string()
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=8,
            kwargs={
                "autocommit": True,
                "row_factory": _row_factory,
                "connect_timeout": 10,
                # citext (names compared without case, as SQLite's NOCASE) is in public.
                "options": f"-c search_path={search_path},public",
            },
            open=False,
            name="photoarchive-catalog",
        )
        try:
            self._pool.open(wait=True, timeout=15)
        except Exception as exc:
            self._pool.close()
            raise PhotoArchiveError(
                f"cannot reach the catalog at {shown(url)}: {first_line(exc)}"
            ) from None

    @property
    def where(self) -> str:
        """The catalog named for messages: the server (without password) and schema."""
        return f"{shown(self.url)} (schema {self.schema})"

    def close(self) -> None:
        self._pool.close()

    def _run(self, conn: Any, sql: str, params: Any, many: bool) -> Result:
        try:
            cur = conn.cursor()
            if many:
                cur.executemany(translate(sql), [_params(p) for p in params])
                return Result([], cur.rowcount)
            cur.execute(translate(sql), _params(params) if params else None)
            rows = cur.fetchall() if cur.description is not None else []
            return Result(rows, cur.rowcount)
        except self._psycopg.IntegrityError as exc:
            raise IntegrityError(first_line(exc)) from None
        except self._psycopg.Error as exc:
            raise self._error(exc) from None

    def _error(self, exc: Exception) -> PhotoArchiveError:
        psycopg = self._psycopg
        if isinstance(exc, psycopg.errors.UndefinedTable):
            return CatalogMissingError(
                f"the catalog {self.where} has no archive's tables: {first_line(exc)}"
            )
        if isinstance(exc, psycopg.errors.ReadOnlySqlTransaction):
            return StorageError(f"cannot write the catalog {self.where}: it is read-only")
        if isinstance(exc, psycopg.errors.DiskFull):
            return StorageError(
                f"the catalog server {shown(self.url)} is out of disk space; nothing was "
                "recorded for this batch: free some space and run it again"
            )
        if isinstance(exc, psycopg.OperationalError):
            return StorageError(f"lost the catalog at {self.where}: {first_line(exc)}")
        return PhotoArchiveError(f"the catalog {self.where} failed: {first_line(exc)}")

    def execute(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> Result:
        current = getattr(self._local, "conn", None)
        if current is not None:
            return self._run(current, sql, params, many=False)
        try:
            with self._pool.connection(timeout=30) as conn:
                return self._run(conn, sql, params, many=False)
        except PhotoArchiveError:
            raise
        except Exception as exc:
            raise StorageError(f"lost the catalog at {self.where}: {first_line(exc)}") from None

    def current(self) -> Any:
        """The psycopg connection of this thread's open transaction, or None: work that
        belongs with the catalog's (the search index's rows) joins it there."""
        return getattr(self._local, "conn", None)

    def commit(self) -> None:
        """Nothing to do: a statement outside `transaction()` is committed as it runs."""

    def executemany(self, sql: str, rows: Iterable[Sequence[Any]]) -> Result:
        rows = list(rows)
        if not rows:
            return Result([], 0)
        current = getattr(self._local, "conn", None)
        if current is None:
            with self.transaction():
                return self.executemany(sql, rows)
        return self._run(current, sql, rows, many=True)

    @contextmanager
    def transaction(self) -> Iterator[PostgresConnection]:
        """Run a block as one transaction, after every other writer's; a block inside
        another joins it."""
        if getattr(self._local, "conn", None) is not None:
            yield self
            return
        psycopg = self._psycopg
        from psycopg_pool import PoolTimeout

        try:
            with self._pool.connection(timeout=30) as conn, conn.transaction():
                if self.readonly:
                    conn.execute("SET TRANSACTION READ ONLY")
                else:
                    conn.execute(
                        "SELECT pg_advisory_xact_lock(hashtext(%s))",
                        (f"{_WRITER_LOCK} {self.schema}",),
                    )
                self._local.conn = conn
                try:
                    yield self
                finally:
                    self._local.conn = None
                if conn.info.transaction_status == psycopg.pq.TransactionStatus.INERROR:
                    # A statement failed and its error was handled: the server would roll
                    # the whole transaction back at COMMIT, so nothing may be reported saved.
                    raise PhotoArchiveError(
                        f"a change to the catalog {self.where} failed part-way; nothing of it "
                        "was recorded: try again"
                    )
        except psycopg.IntegrityError as exc:
            raise IntegrityError(first_line(exc)) from None
        except psycopg.Error as exc:
            raise self._error(exc) from None
        except PoolTimeout as exc:
            raise StorageError(f"lost the catalog at {self.where}: {first_line(exc)}") from None

    @contextmanager
    def copy(self, statement: str) -> Iterator[Any]:
        """COPY rows in inside the current transaction: yields psycopg's Copy (write_row)."""
        conn = getattr(self._local, "conn", None)
        if conn is None:
            raise PhotoArchiveError("COPY runs inside a transaction of the catalog")
        with conn.cursor() as cursor, cursor.copy(statement) as copy:
            yield copy

    def drop_schema(self) -> None:
        """Remove the schema and everything in it (a copy that failed its checks)."""
        from psycopg import sql

        with self._pool.connection(timeout=30) as conn:
            conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema))
            )

    # The schema: made by `create`, checked and migrated when opened.

    def schema_exists(self) -> bool:
        row = self.execute(
            "SELECT 1 FROM information_schema.tables "
            "WHERE table_schema = ? AND table_name = 'meta'",
            (self.schema,),
        ).fetchone()
        return row is not None

    def create_schema(self, sqlite_version: int) -> None:
        """Make the archive's tables in a new schema; refuse a schema that holds some."""
        from psycopg import sql

        with self.transaction() as conn:
            if conn.schema_exists():
                raise PhotoArchiveError(
                    f"the schema {self.schema} on {shown(self.url)} already holds an archive's "
                    "catalog: name another (catalog_schema) or open that archive"
                )
            current = self._local.conn
            current.execute(
                sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(self.schema))
            )
            current.execute("CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA public")
            current.execute(postgresql_schema(sqlite_version))

    def schema_version(self) -> int:
        row = self.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return 0 if row is None else int(row[0])

    def migrate(self, sqlite_version: int) -> None:
        """Apply the server's migrations this catalog lacks."""
        target = sqlite_version + len(POSTGRES_MIGRATIONS)
        version = self.schema_version()
        if version > target:
            raise PhotoArchiveError(
                f"catalog {self.where} is schema version {version}; this photoarchive knows "
                f"{target}: upgrade photoarchive"
            )
        for number in range(version, target):
            with self.transaction() as conn:
                if conn.schema_version() > number:
                    continue
                self._local.conn.execute(POSTGRES_MIGRATIONS[number - sqlite_version])
                conn.execute(
                    "UPDATE meta SET value = ? WHERE key = 'schema_version'", (str(number + 1),)
                )
