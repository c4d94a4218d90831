"""The PostgreSQL engine: our analysed terms in tsvectors, in the catalog's database.

Each document is one row of `search_documents`: sha256, digest, the agency, state, rights
key and dates as plain columns (filters, agency counts and date order run in SQL), and one
`tsvector` of every field's terms, each lexeme a field code and the term ("tkyiv" is `kyiv`
in `text`, "ccreuters" `reuters` in `credit`), positions counted per field so that phrases
(`<->`) hold within a field. PostgreSQL's parsers, dictionaries and stemmers are never used:
the terms are ours (search.analysis), so every engine finds the same photos. A table of
terms with their document counts (`search_terms`) answers what a search needs before it
runs: which of a word's spellings the index holds, how common each is (broad queries, the
weight of rare words) and what a wildcard, prefix or range stands for.

Ranking differs from Whoosh's BM25F (and tantivy's BM25): a photo's score is built along
the query tree as theirs is (boosts multiply, a word's forms and spellings count by the
best of them, AND and OR add up their parts, wildcards and dates score their boost), but
each word scores `ts_rank` (how often the word is in the photo, with no saturation and no
field-length normalisation: all fields share one tsvector) times its inverse document
frequency from `search_terms` (as BM25's, so rare words still weigh more). Photos a query
finds, totals, agency counts and date order are the same as the other engines'; the order
of equally scored photos (and of photos scored alike by one engine, apart by another) may
differ.
"""

from __future__ import annotations

import hashlib
import math
import os
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from photoarchive.errors import IndexUnavailableError, PhotoArchiveError, QueryTimeoutError
from photoarchive.search import folders
from photoarchive.search.deadline import Deadline, time_budget
from photoarchive.search.documents import DATE_FIELDS, KEY_FIELDS, TERM_FIELDS, Entry, document
from photoarchive.search.query import MAX_EXPANSIONS, ExpansionBudget, parse_query
from photoarchive.search.results import BROAD_SHARE, WITHHELD, Hit, IndexResults, SearchFilters
from photoarchive.search.tree import (
    And,
    AndMaybe,
    DateRange,
    Every,
    Node,
    Not,
    Or,
    ParsedQuery,
    Pattern,
    Phrase,
    Term,
    leaves,
    pruned,
)

if TYPE_CHECKING:
    import psycopg
    from psycopg import sql
    from psycopg_pool import ConnectionPool

NAME = "postgresql"
#: The engine and the version of its documents (kept in search_meta, as folders' marks).
INDEX_FORMAT = "postgresql-1"
DOCUMENTS = "search_documents"
TERMS = "search_terms"
META = "search_meta"
#: A rebuild's tables, swapped in for the others when it has written them all.
BUILDING = "_rebuild"
#: Each field's code, the first character of its lexemes: one character, so no term can
#: be mistaken for another field's.
FIELD_CODES = {
    "text": "t",
    "headline": "h",
    "keywords": "k",
    "byline": "b",
    "credit": "c",
    "agency": "a",
    "source": "s",
    "city": "y",
    "country": "n",
    "format": "f",
    "person": "p",
    "organisation": "o",
    "event": "e",
    "lang": "l",
    "source_type": "d",
    "c2pa": "v",
    "spelling": "w",
    # One exact value each (filters read the columns; these give counts in search_terms).
    "agency_key": "A",
    "state": "S",
    "rights": "R",
}
assert set(FIELD_CODES) == {*TERM_FIELDS, *KEY_FIELDS}
assert len(set(FIELD_CODES.values())) == len(FIELD_CODES)
# PostgreSQL's limits for a tsvector: a lexeme of at most 2,047 bytes, positions up to
# 16,383 and 256 positions per lexeme. A longer term is kept by its hash (found whole, not
# by a wildcard); later positions are left out (a phrase that far into a field is missed).
_LONGEST_LEXEME = 2000
_LAST_POSITION = 16_383
_MOST_POSITIONS = 256
_HASHED = "\x01"
# Connections kept open per process: searches run one at a time per desk worker thread.
_POOL_SIZE = 4
_CONNECT_SECONDS = 5
# The columns of search_documents, in the order COPY is given them.
_COPY_COLUMNS = (
    "sha256",
    "digest",
    "agency_key",
    "state",
    "rights",
    "date_created",
    "ingested_at",
    "terms",
)


def lexeme(field: str, term: str) -> str:
    """Return the lexeme a field's term is indexed as."""
    code = FIELD_CODES[field]
    if "\x00" in term or (
        len(term) > _LONGEST_LEXEME // 4 and len(term.encode()) > _LONGEST_LEXEME
    ):
        return code + _HASHED + hashlib.blake2b(term.encode("utf-8", "replace")).hexdigest()
    return code + term


def _quoted(lex: str) -> str:
    """Return a lexeme quoted as tsvector and tsquery input take it."""
    return "'" + lex.replace("\\", "\\\\").replace("'", "''") + "'"


def tsvector_text(doc: dict[str, Any]) -> str:
    """Return a document's (documents.document's) terms as tsvector input: each lexeme
    with its positions in its field."""
    positions: dict[str, list[int]] = {}
    for name in TERM_FIELDS:
        value = doc.get(name)
        if not value:
            continue
        code = FIELD_CODES[name]
        for at, term in enumerate(str(value).split(), 1):
            # (the common case first: a short term is its code and itself)
            short = len(term) <= _LONGEST_LEXEME // 4 and "\x00" not in term
            lex = code + term if short else lexeme(name, term)
            found = positions.get(lex)
            if found is None:
                positions[lex] = [at]
            elif len(found) < _MOST_POSITIONS and at <= _LAST_POSITION:
                found.append(at)
    for name in KEY_FIELDS:
        value = doc.get(name)
        if value:
            positions.setdefault(lexeme(name, str(value)), [1])
    return " ".join(
        f"{_quoted(lex)}:{','.join(str(min(p, _LAST_POSITION)) for p in found)}"
        for lex, found in positions.items()
    )


def _row(doc: dict[str, Any]) -> tuple[Any, ...]:
    """Return a document as a row of search_documents (_COPY_COLUMNS)."""
    return (
        doc["sha256"],
        doc.get("digest"),
        _text(doc.get("agency_key")),
        _text(doc.get("state")),
        _text(doc.get("rights")),
        doc.get("date_created"),
        doc.get("ingested_at"),
        tsvector_text(doc),
    )


def _text(value: Any) -> str | None:
    # PostgreSQL's text holds no NUL character.
    return None if value is None else str(value).replace("\x00", "")


def _psycopg() -> Any:
    """Return the psycopg module, or raise the error saying how to install it."""
    try:
        import psycopg
    except ImportError:
        raise PhotoArchiveError(
            "this archive's search engine is PostgreSQL, and psycopg is not installed: "
            "pip install 'psycopg[binary]' psycopg-pool"
        ) from None
    return psycopg


class PostgresEngine:
    """The search index as tables in one schema of a PostgreSQL database; derived from the
    catalog and rebuildable. Writers take a transaction-level advisory lock, so two
    processes' updates of the terms' counts cannot interleave; searchers see each commit
    as it lands."""

    name = NAME

    def __init__(self, url: str, schema: str, archive_id: str | None, folder: Path) -> None:
        self.url = url
        self.schema = schema
        self.archive_id = archive_id
        #: A name only: the index lives in the database.
        self.folder = folder
        self._pool: ConnectionPool[Any] | None = None
        self._pool_pid = 0
        self._checked = False
        self._joined: Callable[[], Any] | None = None

    # -- connections ------------------------------------------------------------------------

    def _where(self) -> str:
        """Return the server and database, without user or password, for messages."""
        from psycopg.conninfo import conninfo_to_dict

        try:
            info = conninfo_to_dict(self.url)
        except Exception:
            return "the configured server"
        host = str(info.get("host") or "localhost")
        port = f":{info['port']}" if info.get("port") else ""
        return f"{host}{port}/{info.get('dbname') or ''}"

    def _redacted(self, exc: BaseException) -> str:
        """Return the first line of a server error with the URL's password taken out."""
        from psycopg.conninfo import conninfo_to_dict

        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        try:
            password = conninfo_to_dict(self.url).get("password")
        except Exception:
            password = None
        if password:
            text = text.replace(str(password), "***")
        return text.replace(self.url, self._where())

    def _pool_open(self) -> ConnectionPool[Any]:
        """Return this process's pool, opened on first use (a forked process opens its
        own: the parent's connections are not its to use)."""
        if self._pool is not None and self._pool_pid == os.getpid():
            return self._pool
        psycopg = _psycopg()
        from psycopg_pool import ConnectionPool

        # A direct connection first: when the server is down, it fails at once with the
        # reason, where the pool would retry until its timeout.
        psycopg.connect(self.url, connect_timeout=_CONNECT_SECONDS).close()
        pool: ConnectionPool[Any] = ConnectionPool(
            self.url,
            min_size=1,
            max_size=_POOL_SIZE,
            kwargs={"autocommit": True, "connect_timeout": _CONNECT_SECONDS},
            check=ConnectionPool.check_connection,
            open=False,
            name=f"photoarchive-search-{self.schema}",
        )
        pool.open(wait=True, timeout=_CONNECT_SECONDS * 2)
        self._pool, self._pool_pid = pool, os.getpid()
        return pool

    def join(self, current: Callable[[], Any]) -> None:
        """Write inside the catalog's transaction when one is open in this thread
        (`current` returns its connection, or None): a photo's row and its index entry are
        then committed together."""
        self._joined = current

    @contextmanager
    def _connection(self, join: bool = True) -> Iterator[psycopg.Connection[Any]]:
        """Yield a connection (autocommit: each piece of work opens its transaction; inside
        the catalog's transaction, that one's, where work opens a savepoint), with the
        server's errors made the archive's. Searches (`join=False`) read committed rows on
        a connection of their own."""
        joined = self._joined() if join and self._joined is not None else None
        if joined is not None:
            # In a savepoint: an error here (the index's tables gone, say) undoes only the
            # index's part, and the catalog's transaction goes on to commit its own.
            with self._errors(), joined.transaction():
                yield joined
            return
        with self._errors():
            pool = self._pool_open()
            with pool.connection(timeout=_CONNECT_SECONDS * 2) as conn:
                yield conn

    @contextmanager
    def _errors(self) -> Iterator[None]:
        """Turn psycopg's errors into the archive's: one line, never the password."""
        psycopg = _psycopg()
        from psycopg_pool import PoolTimeout

        try:
            yield
        except PhotoArchiveError:
            raise
        except psycopg.errors.UndefinedTable:
            raise self._missing() from None
        except (psycopg.OperationalError, PoolTimeout) as exc:
            raise IndexUnavailableError(
                f"the search index's PostgreSQL server ({self._where()}) cannot be reached: "
                f"{self._redacted(exc)}"
            ) from None
        except psycopg.Error as exc:
            raise IndexUnavailableError(
                f"the search index's PostgreSQL database ({self._where()}, schema "
                f"{self.schema}) failed: {type(exc).__name__}: {self._redacted(exc)}"
            ) from None

    def _missing(self) -> IndexUnavailableError:
        return IndexUnavailableError(
            f"the search index is missing (schema {self.schema} of PostgreSQL "
            f"{self._where()}); rebuild it with 'photoarchive reindex'"
        )

    def _table(self, name: str) -> sql.Identifier:
        from psycopg import sql

        return sql.Identifier(self.schema, name)

    def _sql(self, text: str, **more: Any) -> sql.Composed:
        """Return a statement with {schema}, {docs}, {terms} and {meta} filled in."""
        from psycopg import sql

        names: dict[str, Any] = {
            "schema": sql.Identifier(self.schema),
            "docs": self._table(DOCUMENTS),
            "terms": self._table(TERMS),
            "meta": self._table(META),
        }
        return sql.SQL(text).format(**(names | more))

    # -- the tables -------------------------------------------------------------------------
    def create(self) -> None:
        """Create an empty index, replacing whatever is in the schema."""
        with self._connection() as conn, conn.transaction():
            self._lock(conn)
            conn.execute(self._sql("CREATE SCHEMA IF NOT EXISTS {schema}"))
            self._drop(conn, "")
            self._drop(conn, BUILDING)
            self._make_tables(conn, "")
            self._make_indexes(conn, "")
            self._write_meta(conn, 0)
        self._checked = False

    def _drop(self, conn: psycopg.Connection[Any], suffix: str) -> None:
        for table in (DOCUMENTS, TERMS, META):
            conn.execute(self._sql("DROP TABLE IF EXISTS {t}", t=self._table(table + suffix)))

    def _make_tables(self, conn: psycopg.Connection[Any], suffix: str) -> None:
        # Dates are naive wall-clock times, as documents and queries hold them. Terms are
        # in the C collation: sorted by code point, as the other engines list them, and
        # read by prefix from the primary key's index.
        conn.execute(
            self._sql(
                """CREATE TABLE {docs} (
                    sha256 text PRIMARY KEY,
                    digest text,
                    agency_key text,
                    state text,
                    rights text,
                    date_created timestamp,
                    ingested_at timestamp,
                    terms tsvector NOT NULL
                )""",
                docs=self._table(DOCUMENTS + suffix),
            )
        )
        conn.execute(
            self._sql(
                'CREATE TABLE {t} (lexeme text COLLATE "C" PRIMARY KEY, docs integer NOT NULL)',
                t=self._table(TERMS + suffix),
            )
        )
        conn.execute(
            self._sql(
                "CREATE TABLE {t} (key text PRIMARY KEY, value text)",
                t=self._table(META + suffix),
            )
        )

    def _make_indexes(self, conn: psycopg.Connection[Any], suffix: str) -> None:
        from psycopg import sql

        docs = self._table(DOCUMENTS + suffix)
        for name, how in (
            ("terms", "USING gin (terms)"),
            # Newest first, ties by sha256: the order date-sorted pages are listed in.
            ("date_created", "(date_created DESC NULLS LAST, sha256)"),
            ("ingested_at", "(ingested_at DESC NULLS LAST, sha256)"),
        ):
            conn.execute(
                self._sql(
                    "CREATE INDEX {name} ON {docs} " + how,
                    name=sql.Identifier(f"{DOCUMENTS}_{name}{suffix}"),
                    docs=docs,
                )
            )

    def _write_meta(self, conn: psycopg.Connection[Any], count: int, suffix: str = "") -> None:
        rows = [
            ("format", folders.with_analysis(INDEX_FORMAT)),
            ("archive_id", self.archive_id),
            ("documents", str(count)),
        ]
        with conn.cursor() as cur:
            cur.executemany(
                self._sql(
                    "INSERT INTO {t} (key, value) VALUES (%s, %s) ON CONFLICT (key) "
                    "DO UPDATE SET value = excluded.value",
                    t=self._table(META + suffix),
                ),
                rows,
            )

    def _lock(self, conn: psycopg.Connection[Any]) -> None:
        """Take the index's writer lock until the transaction ends."""
        conn.execute(
            "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
            (f"photoarchive-search:{self.schema}",),
        )

    def exists(self) -> bool:
        """Return True if the index's tables are in the schema (IndexUnavailableError if
        the server cannot be reached: nothing can then be known)."""
        with self._connection() as conn:
            found = conn.execute(
                "SELECT to_regclass(%s) IS NOT NULL",
                (f"{_ident(self.schema)}.{_ident(META)}",),
            ).fetchone()
        return bool(found and found[0])

    def check(self) -> None:
        """Raise IndexUnavailableError (saying to run reindex) unless the index is usable:
        its tables present, of this version and built for this archive."""
        with self._connection() as conn:
            self._check(conn)

    def _check(self, conn: psycopg.Connection[Any]) -> None:
        if self._checked:
            return
        try:
            marks = dict(conn.execute(self._sql("SELECT key, value FROM {meta}")).fetchall())
        except _psycopg().errors.UndefinedTable:
            raise self._missing() from None
        except _psycopg().errors.InvalidSchemaName:
            raise self._missing() from None
        folders.check_found_marks(
            marks.get("format"),
            marks.get("archive_id"),
            self.archive_id,
            folders.with_analysis(INDEX_FORMAT),
        )
        self._checked = True

    def leftovers(self) -> tuple[Path, Path]:
        """Return the folders a rebuild of a folder index would work in: never present,
        as this index keeps nothing on disk (a rebuild's tables go in one transaction)."""
        return folders.leftovers(self.folder)

    # -- writing ----------------------------------------------------------------------------
    def add(self, entries: Iterable[Entry], delete: Iterable[str] = ()) -> int:
        """Add or replace documents (and delete those of `delete`, by sha256) in one
        transaction; return how many were written."""
        docs: dict[str, dict[str, Any]] = {}
        for entry in entries:
            doc = document(entry)
            docs[doc["sha256"]] = doc
        gone = sorted(set(delete) | set(docs))
        if not gone:
            return 0
        with self._connection() as conn, conn.transaction():
            self._check(conn)
            self._lock(conn)
            # The terms of the rows replaced or deleted are counted out, those of the new
            # rows counted in: search_terms stays each lexeme's number of documents.
            found = conn.execute(
                self._sql(
                    """WITH gone AS (DELETE FROM {docs} WHERE sha256 = ANY(%s) RETURNING terms),
                    lex AS (
                        SELECT l, count(*) AS n FROM gone, unnest(tsvector_to_array(gone.terms)) l
                        GROUP BY l
                    ),
                    counted AS (
                        UPDATE {terms} t SET docs = t.docs - lex.n FROM lex
                        WHERE t.lexeme = lex.l RETURNING 1
                    )
                    SELECT count(*) FROM gone"""
                ),
                (gone,),
            ).fetchone()
            removed = int(found[0]) if found else 0
            if docs:
                self._copy(conn, DOCUMENTS, docs.values())
                conn.execute(
                    self._sql(
                        """INSERT INTO {terms} (lexeme, docs)
                        SELECT l, count(*) FROM {docs}, unnest(tsvector_to_array(terms)) l
                        WHERE sha256 = ANY(%s) GROUP BY l
                        ON CONFLICT (lexeme) DO UPDATE SET docs = {terms}.docs + excluded.docs"""
                    ),
                    (sorted(docs),),
                )
            conn.execute(self._sql("DELETE FROM {terms} WHERE docs <= 0"))
            conn.execute(
                self._sql(
                    "UPDATE {meta} SET value = (value::bigint + %s)::text WHERE key = 'documents'"
                ),
                (len(docs) - removed,),
            )
        return len(docs)

    def _copy(
        self, conn: psycopg.Connection[Any], table: str, documents: Iterable[dict[str, Any]]
    ) -> int:
        from psycopg import sql

        count = 0
        columns = sql.SQL(", ").join(sql.Identifier(c) for c in _COPY_COLUMNS)
        statement = self._sql("COPY {t} ({c}) FROM STDIN", t=self._table(table), c=columns)
        with conn.cursor() as cur, cur.copy(statement) as copy:
            for doc in documents:
                copy.write_row(_row(doc))
                count += 1
        return count

    def rebuild(self, documents: Iterable[dict[str, Any]]) -> int:
        """Replace the whole index with `documents` (documents.document's), in one
        transaction: new tables are filled (COPY), indexed and swapped in for the old ones,
        which searches read until the commit; if anything fails, the old index stays."""
        from psycopg import sql

        with self._connection() as conn:
            with conn.transaction():
                self._lock(conn)
                conn.execute(self._sql("CREATE SCHEMA IF NOT EXISTS {schema}"))
                self._drop(conn, BUILDING)
                self._make_tables(conn, BUILDING)
                count = self._copy(conn, DOCUMENTS + BUILDING, documents)
                # The index and the terms' counts are made once all rows are in: building
                # a GIN index whole is several times quicker than row by row.
                conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
                self._make_indexes(conn, BUILDING)
                conn.execute(
                    self._sql(
                        "INSERT INTO {t} (lexeme, docs) SELECT word, ndoc FROM ts_stat({q})",
                        t=self._table(TERMS + BUILDING),
                        q=sql.Literal(
                            self._sql(
                                "SELECT terms FROM {t}", t=self._table(DOCUMENTS + BUILDING)
                            ).as_string(conn)
                        ),
                    )
                )
                self._write_meta(conn, count, BUILDING)
                self._drop(conn, "")
                for table in (DOCUMENTS, TERMS, META):
                    conn.execute(
                        self._sql(
                            "ALTER TABLE {old} RENAME TO {new}",
                            old=self._table(table + BUILDING),
                            new=sql.Identifier(table),
                        )
                    )
                for name in ("terms", "date_created", "ingested_at"):
                    conn.execute(
                        self._sql(
                            "ALTER INDEX {old} RENAME TO {new}",
                            old=self._table(f"{DOCUMENTS}_{name}{BUILDING}"),
                            new=sql.Identifier(f"{DOCUMENTS}_{name}"),
                        )
                    )
                for table in (DOCUMENTS, TERMS, META):
                    conn.execute(
                        self._sql(
                            "ALTER INDEX {old} RENAME TO {new}",
                            old=self._table(f"{table}{BUILDING}_pkey"),
                            new=sql.Identifier(f"{table}_pkey"),
                        )
                    )
                conn.execute(self._sql("ANALYZE {docs}"))
                conn.execute(self._sql("ANALYZE {terms}"))
            # Outside the transaction (VACUUM cannot run in one): marks the pages all
            # visible, so that counting matches need not read the rows.
            conn.execute(self._sql("VACUUM {docs}"))
        self._checked = False
        return count

    # -- reading ----------------------------------------------------------------------------
    @contextmanager
    def _reading(self, deadline: Deadline | None = None) -> Iterator[psycopg.Connection[Any]]:
        """Yield a connection in a read-only transaction that sees one state of the index
        (REPEATABLE READ), its statements stopped at the deadline."""
        psycopg = _psycopg()
        with self._connection(join=False) as conn:
            self._check(conn)
            try:
                with conn.transaction():
                    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
                    if deadline is not None:
                        left = deadline.at - time.monotonic()
                        if left <= 0:
                            deadline.check()
                        conn.execute(
                            self._sql(
                                "SET LOCAL statement_timeout = {ms}",
                                ms=_literal(max(1, int(left * 1000))),
                            )
                        )
                    yield conn
            except psycopg.errors.QueryCanceled:
                if deadline is None:
                    raise
                raise _timed_out(deadline) from None

    def rights_keys(self) -> list[str]:
        """Return every distinct RightsFacts.status_key() value in the index."""
        with self._reading() as conn:
            rows = conn.execute(
                self._sql("SELECT lexeme FROM {terms} WHERE lexeme LIKE %s ORDER BY lexeme"),
                (_like_prefix(FIELD_CODES["rights"]),),
            ).fetchall()
        return [row[0][1:] for row in rows]

    def all_hashes(self) -> set[str]:
        """Return the sha256 of every document in the index."""
        with self._reading() as conn:
            return {row[0] for row in conn.execute(self._sql("SELECT sha256 FROM {docs}"))}

    def digests(self) -> dict[str, str | None]:
        """Return each document's content digest (see documents.document_digest) by sha256."""
        with self._reading() as conn:
            return dict(conn.execute(self._sql("SELECT sha256, digest FROM {docs}")).fetchall())

    def missing_postings(self, entries: Iterable[Entry]) -> list[str]:
        """Return the sha256 of entries the index cannot find by their own terms: the
        lexemes of the document the catalog would make, each looked up in the photo's row
        (its tsvector, as a search reads it) and in the terms' counts."""
        bad: list[str] = []
        with self._reading() as conn:
            for entry in entries:
                lexemes = sorted(_doc_lexemes(document(entry)))
                found = conn.execute(
                    self._sql(
                        """SELECT
                            (SELECT count(*) FROM unnest(tsvector_to_array(d.terms)) l
                             WHERE l = ANY(%(lex)s)),
                            (SELECT count(*) FROM {terms} WHERE lexeme = ANY(%(lex)s))
                        FROM {docs} d WHERE d.sha256 = %(sha)s"""
                    ),
                    {"lex": lexemes, "sha": entry.record.sha256},
                ).fetchone()
                if found is None or found[0] != len(lexemes) or found[1] != len(lexemes):
                    bad.append(entry.record.sha256)
        return bad

    def search(
        self,
        query: ParsedQuery | str,
        limit: int | None = 20,
        page: int = 1,
        filters: SearchFilters | None = None,
        count_agencies: bool = False,
        deadline: Deadline | None = None,
        sort: str = "relevance",
    ) -> IndexResults:
        """Return one page of hits (every hit with limit=None) and the total.

        Ranked as the module's docstring says (`sort="relevance"`), except a query matching
        more than BROAD_SHARE of the photos, which is listed newest first by date taken, as
        with `sort="date"` (`"ingested"`: newest ingested first); filters, agency counts,
        pages and limits as in the Whoosh engine. The deadline stops the statements on the
        server (statement_timeout) with QueryTimeoutError."""
        parsed = parse_query(query) if isinstance(query, str) else query
        wanted = filters or SearchFilters()
        with time_budget(deadline), self._reading(deadline) as conn:
            freq = self._frequencies(conn, parsed.tree)
            tree = pruned(parsed.tree, lambda field, text: _lexeme_or_none(field, text) in freq)
            if tree is None:
                return IndexResults(hits=[], total=0, terms=parsed.marked)
            size = self._documents(conn)
            compiler = _Compiler(self, conn, freq, size)
            where = compiler.where(tree, wanted)
            first = 0 if limit is None else (page - 1) * limit
            ordered = sort != "relevance" or (
                limit is not None and _fewest_matches(tree, freq, size) > size * BROAD_SHARE
            )
            hits, total = self._page(conn, compiler, tree, where, ordered, sort, limit, first)
            counts = self._agency_counts(conn, where) if count_agencies else {}
        return IndexResults(hits=hits, total=total, agency_counts=counts, terms=parsed.marked)

    def _page(
        self,
        conn: psycopg.Connection[Any],
        compiler: _Compiler,
        tree: Node,
        where: sql.Composable,
        ordered: bool,
        sort: str,
        limit: int | None,
        first: int,
    ) -> tuple[list[Hit], int]:
        from psycopg import sql

        # A page past any archive's end (the desk accepts any page number) would overflow
        # OFFSET's bigint: it is empty, with the true total.
        if limit is not None and (limit <= 0 or first >= 2**62):
            return [], self._count(conn, where)
        cut = "ORDER BY {order} OFFSET {first}" + ("" if limit is None else " LIMIT {limit}")
        if ordered:
            # Newest first: the page is read along the date's index, stopping at the page's
            # end (a query matching most photos finds them at once); the matches are
            # counted apart, from the GIN index alone.
            column = sql.Identifier("ingested_at" if sort == "ingested" else "date_created")
            statement = self._sql(
                "SELECT sha256 FROM {docs} WHERE {where} " + cut,
                where=where,
                order=sql.SQL("{c} DESC NULLS LAST, sha256").format(c=column),
                first=_literal(first),
                limit=_literal(limit or 0),
            )
            shas = [row[0] for row in conn.execute(statement)]
            if first == 0 and (limit is None or len(shas) < limit):
                total = len(shas)  # every match is on this page
            else:
                total = self._count(conn, where)
            return [Hit(sha, 0.0) for sha in shas], total
        # By score: every match is scored anyway, and counted in the same pass.
        statement = self._sql(
            "SELECT sha256, {score} AS score, count(*) OVER () FROM {docs} WHERE {where} " + cut,
            score=compiler.score(tree) or sql.SQL("0.0"),
            where=where,
            order=sql.SQL("score DESC, sha256"),
            first=_literal(first),
            limit=_literal(limit or 0),
        )
        rows = conn.execute(statement).fetchall()
        if not rows:
            return [], (0 if first == 0 else self._count(conn, where))
        return [Hit(row[0], float(row[1])) for row in rows], int(rows[0][2])

    def _count(self, conn: psycopg.Connection[Any], where: sql.Composable) -> int:
        found = conn.execute(self._sql("SELECT count(*) FROM {docs} WHERE {w}", w=where))
        row = found.fetchone()
        return int(row[0]) if row else 0

    def _agency_counts(
        self, conn: psycopg.Connection[Any], where: sql.Composable
    ) -> dict[str, int]:
        rows = conn.execute(
            self._sql(
                "SELECT agency_key, count(*) FROM {docs} WHERE {w} AND agency_key <> '' "
                "GROUP BY agency_key",
                w=where,
            )
        ).fetchall()
        return {str(agency): int(n) for agency, n in rows}

    def _documents(self, conn: psycopg.Connection[Any]) -> int:
        row = conn.execute(self._sql("SELECT value FROM {meta} WHERE key = 'documents'")).fetchone()
        return int(row[0]) if row and row[0] else 0

    def _frequencies(self, conn: psycopg.Connection[Any], tree: Node) -> dict[str, int]:
        """Return the number of documents of each word and phrase word of the query the
        index holds (one look-up for them all)."""
        wanted: set[str] = set()
        for leaf, _ in leaves(tree):
            if isinstance(leaf, Term):
                wanted.add(_lexeme_or_none(leaf.field, leaf.text) or "")
            elif isinstance(leaf, Phrase):
                wanted.update(_lexeme_or_none(leaf.field, t) or "" for t in leaf.terms)
        wanted.discard("")
        if not wanted:
            return {}
        rows = conn.execute(
            self._sql("SELECT lexeme, docs FROM {terms} WHERE lexeme = ANY(%s)"),
            (sorted(wanted),),
        ).fetchall()
        return {str(lex): int(n) for lex, n in rows}

    def expand(self, conn: psycopg.Connection[Any], pattern: Pattern) -> Iterator[str]:
        """Yield the terms of the pattern's field the index holds that may match it (from
        its literal start, narrowed in SQL where that is exact), in code point order."""
        code = FIELD_CODES.get(pattern.field)
        if code is None or pattern.field in KEY_FIELDS:
            return
        conditions = ["lexeme LIKE %(like)s"]
        params: dict[str, Any] = {"like": _like_prefix(code + pattern.literal_prefix())}
        if pattern.kind == "wildcard":
            params["like"] = _like_prefix(code)[:-1] + _like_wildcard(pattern.text)
        elif pattern.kind == "fuzzy":
            conditions.append("char_length(lexeme) BETWEEN %(short)s AND %(long)s")
            params["short"] = len(pattern.text) + 1 - pattern.distance
            params["long"] = len(pattern.text) + 1 + pattern.distance
        elif pattern.kind == "range":
            if pattern.start is not None:
                conditions.append("lexeme >= %(start)s")
                params["start"] = code + pattern.start
            if pattern.end is not None:
                conditions.append("lexeme <= %(end)s")
                params["end"] = code + pattern.end
        statement = self._sql(
            "SELECT lexeme FROM {terms} WHERE "
            + " AND ".join(conditions)
            + " ORDER BY lexeme LIMIT %(most)s"
        )
        # One more than the budget allows for all the query's patterns: past it, the
        # budget refuses the query whatever the rest would be.
        params["most"] = MAX_EXPANSIONS + 1
        for (lex,) in conn.execute(statement, params):
            if not lex.startswith(code + _HASHED):
                yield lex[1:]

    def close(self) -> None:
        """Close this process's connections."""
        pool, self._pool = self._pool, None
        if pool is not None and self._pool_pid == os.getpid():
            pool.close()


def _ident(name: str) -> str:
    """Return a name quoted as an SQL identifier (for to_regclass's text)."""
    return '"' + name.replace('"', '""') + '"'


def _literal(value: Any) -> sql.Literal:
    from psycopg import sql

    return sql.Literal(value)


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _like_prefix(prefix: str) -> str:
    """Return the LIKE pattern of the strings beginning with `prefix`."""
    return _like_escape(prefix) + "%"


def _like_wildcard(text: str) -> str:
    """Return the LIKE pattern of a wildcard's terms (* any letters, ? one)."""
    return "".join("%" if ch == "*" else "_" if ch == "?" else _like_escape(ch) for ch in text)


def _lexeme_or_none(field: str, term: str) -> str | None:
    return lexeme(field, term) if field in FIELD_CODES else None


def _doc_lexemes(doc: dict[str, Any]) -> set[str]:
    out: set[str] = set()
    for name in TERM_FIELDS:
        out.update(lexeme(name, t) for t in str(doc.get(name) or "").split())
    for name in KEY_FIELDS:
        if doc.get(name):
            out.add(lexeme(name, str(doc[name])))
    return out


def _timed_out(deadline: Deadline) -> QueryTimeoutError:
    """Return the error the other engines raise when the deadline passes."""
    try:
        Deadline(deadline.seconds, 0.0).check()  # its message, whatever the clock says
    except QueryTimeoutError as exc:
        return exc
    raise AssertionError("a deadline in the past did not raise")  # pragma: no cover


def _fewest_matches(node: Node, freq: dict[str, int], size: int) -> int:
    """Return a lower bound of the photos a query matches, from the terms' counts, as the
    tantivy engine does: a word's, the most of its alternatives', every photo for `*:*`,
    else none known."""
    if isinstance(node, Term):
        return freq.get(_lexeme_or_none(node.field, node.text) or "", 0)
    if isinstance(node, Or):
        return max((_fewest_matches(part, freq, size) for part in node.parts), default=0)
    if isinstance(node, Every):
        return size
    return 0


class _Cond(NamedTuple):
    """What a part of the query matches: a tsquery (`ts`, combined with others into one
    for the GIN index) or, for dates and every photo, an SQL condition."""

    ts: str | None = None
    expr: sql.Composable | None = None


class _Compiler:
    """From the query tree to SQL: the condition of the photos found and their score."""

    def __init__(
        self,
        engine: PostgresEngine,
        conn: psycopg.Connection[Any],
        freq: dict[str, int],
        size: int,
    ) -> None:
        from psycopg import sql

        self.engine = engine
        self.conn = conn
        self.freq = freq
        self.size = size
        self.expansions = ExpansionBudget()
        # Patterns are expanded once, for the condition and the score alike.
        self.expanded: dict[Pattern, str | None] = {}
        self.true = sql.SQL("true")
        self.false = sql.SQL("false")

    # -- the condition ------------------------------------------------------------------------
    def where(self, tree: Node, filters: SearchFilters) -> sql.Composable:
        from psycopg import sql

        parts = [self.as_sql(self.cond(tree)), *self.filters(filters)]
        return sql.SQL(" AND ").join(sql.SQL("({})").format(p) for p in parts)

    def as_sql(self, cond: _Cond) -> sql.Composable:
        from psycopg import sql

        if cond.ts is not None:
            return sql.SQL("terms @@ {}::tsquery").format(sql.Literal(cond.ts))
        assert cond.expr is not None
        return cond.expr

    def cond(self, node: Node) -> _Cond:
        from psycopg import sql

        if isinstance(node, Term):
            lex = _lexeme_or_none(node.field, node.text)
            return _Cond(ts=_quoted(lex)) if lex else _Cond(expr=self.false)
        if isinstance(node, Phrase):
            found = [_lexeme_or_none(node.field, t) for t in node.terms]
            if not found or None in found:
                return _Cond(expr=self.false)
            return _Cond(ts=" <-> ".join(_quoted(lex or "") for lex in found))
        if isinstance(node, Pattern):
            ts = self.pattern(node)
            return _Cond(ts=ts) if ts else _Cond(expr=self.false)
        if isinstance(node, DateRange):
            if node.field not in DATE_FIELDS:
                return _Cond(expr=self.false)
            column = sql.Identifier(node.field)
            tests: list[sql.Composable] = [sql.SQL("{} IS NOT NULL").format(column)]
            if node.start is not None:
                tests.append(sql.SQL("{} >= {}").format(column, sql.Literal(node.start)))
            if node.end is not None:
                tests.append(sql.SQL("{} <= {}").format(column, sql.Literal(node.end)))
            return _Cond(expr=sql.SQL(" AND ").join(tests))
        if isinstance(node, Every):
            return _Cond(expr=self.true)
        if isinstance(node, Not):
            return self.negated(self.cond(node.part))
        if isinstance(node, AndMaybe):
            return self.cond(node.required)
        if isinstance(node, And):
            musts = [self.cond(p) for p in node.parts if not isinstance(p, Not)]
            nots = [self.negated(self.cond(p.part)) for p in node.parts if isinstance(p, Not)]
            if not musts:
                musts = [_Cond(expr=self.true)]
            return self.joined(musts + nots, " & ", "AND")
        assert isinstance(node, Or)
        return self.joined([self.cond(p) for p in node.parts], " | ", "OR")

    def negated(self, cond: _Cond) -> _Cond:
        from psycopg import sql

        if cond.ts is not None:
            return _Cond(ts=f"!({cond.ts})")
        if cond.expr is self.true:
            return _Cond(expr=self.false)
        if cond.expr is self.false:
            return _Cond(expr=self.true)
        return _Cond(expr=sql.SQL("NOT ({})").format(cond.expr))

    def joined(self, conds: list[_Cond], ts_op: str, sql_op: str) -> _Cond:
        """Join conditions by AND or OR: the tsqueries into one tsquery (one look-up in
        the GIN index), the SQL conditions beside it."""
        from psycopg import sql

        absorbing, neutral = (self.false, self.true) if sql_op == "AND" else (self.true, self.false)
        if any(c.expr is absorbing for c in conds):
            return _Cond(expr=absorbing)
        texts = [c.ts for c in conds if c.ts is not None]
        rest = [c.expr for c in conds if c.expr is not None and c.expr is not neutral]
        # A tsquery of exclusions alone would scan the whole GIN index; beside an SQL
        # condition that narrows, it is tested on the rows that one finds.
        ts = ts_op.join(f"({t})" for t in texts) if texts else None
        if ts is not None and not rest:
            return _Cond(ts=ts)
        parts = ([self.as_sql(_Cond(ts=ts))] if ts is not None else []) + rest
        if not parts:
            return _Cond(expr=neutral)
        if len(parts) == 1:
            return _Cond(expr=parts[0])
        return _Cond(expr=sql.SQL(f" {sql_op} ").join(sql.SQL("({})").format(p) for p in parts))

    def pattern(self, node: Pattern) -> str | None:
        """Return the tsquery of the terms a pattern stands for, None for none."""
        if node not in self.expanded:
            terms = self.expansions.take(node, self.engine.expand(self.conn, node))
            self.expanded[node] = (
                " | ".join(_quoted(lexeme(node.field, t)) for t in terms) if terms else None
            )
        return self.expanded[node]

    def filters(self, filters: SearchFilters) -> list[sql.Composable]:
        from psycopg import sql

        out: list[sql.Composable] = []
        if filters.agency:
            out.append(sql.SQL("agency_key = {}").format(sql.Literal(filters.agency)))
        if filters.sha256s is not None:
            # An empty set matches nothing, as it should.
            out.append(sql.SQL("sha256 = ANY({})").format(sql.Literal(sorted(filters.sha256s))))
        if filters.date_from is not None:
            out.append(sql.SQL("date_created >= {}").format(sql.Literal(filters.date_from)))
        if filters.date_to is not None:
            out.append(sql.SQL("date_created <= {}").format(sql.Literal(filters.date_to)))
        hidden = filters.hidden_states()
        if hidden:
            out.append(sql.SQL("state IS NULL OR state <> ALL({})").format(sql.Literal(hidden)))
        if filters.rights is not None:
            out.append(self.rights(filters))
        return out

    def rights(self, filters: SearchFilters) -> sql.Composable:
        """Return the rights filter as the other engines apply it: killed, superseded and
        notice photos are blocked (or, with killed_passes, kept) whatever their rights;
        which photos without a rights key pass depends, as there, on whether the passing
        or the failing keys hold fewer photos."""
        from psycopg import sql

        code = FIELD_CODES["rights"]
        rows = self.conn.execute(
            self.engine._sql("SELECT lexeme, docs FROM {terms} WHERE lexeme LIKE %s"),
            (_like_prefix(code),),
        ).fetchall()
        counts = {str(lex)[1:]: int(n) for lex, n in rows}
        wanted = filters.rights or frozenset()
        passing = sorted(k for k in counts if k in wanted)
        failing = sorted(k for k in counts if k not in wanted)
        withheld = sql.SQL("coalesce(state = ANY({}), false)").format(sql.Literal(list(WITHHELD)))
        if sum(counts[k] for k in passing) <= sum(counts[k] for k in failing):
            passes = sql.SQL("coalesce(rights = ANY({}), false)").format(sql.Literal(passing))
            if filters.killed_passes:
                return sql.SQL("({}) OR ({})").format(passes, withheld)
            return sql.SQL("({}) AND NOT ({})").format(passes, withheld)
        fails = sql.SQL("coalesce(rights = ANY({}), false)").format(sql.Literal(failing))
        if filters.killed_passes:
            return sql.SQL("NOT (({}) AND NOT ({}))").format(fails, withheld)
        return sql.SQL("NOT ({}) AND NOT ({})").format(fails, withheld)

    # -- the score ----------------------------------------------------------------------------
    def idf(self, lexemes: Iterable[str | None]) -> float:
        """Return the words' weight as BM25 gives it (rarer words weigh more)."""
        total = 0.0
        for lex in lexemes:
            n = self.freq.get(lex or "", 0)
            total += math.log(1 + (self.size - n + 0.5) / (n + 0.5))
        return total

    def score(self, node: Node) -> sql.Composable | None:
        """Return the score of a matching photo, None for nothing (0)."""
        from psycopg import sql

        boost = node.boost
        if isinstance(node, Term | Phrase):
            cond = self.cond(node)
            if cond.ts is None:
                return None
            words = [node.text] if isinstance(node, Term) else list(node.terms)
            weight = boost * self.idf(_lexeme_or_none(node.field, w) for w in words)
            rank = sql.SQL("{} * ts_rank(terms, {}::tsquery)").format(
                sql.Literal(weight), sql.Literal(cond.ts)
            )
            if isinstance(node, Phrase) and len(node.terms) > 1:
                # ts_rank weighs the words wherever they are: only a photo holding the
                # phrase scores it.
                return sql.SQL("CASE WHEN {} THEN {} ELSE 0 END").format(self.as_sql(cond), rank)
            return rank
        if isinstance(node, Pattern | DateRange):
            # Every photo a pattern or date range finds scores the same, as in Lucene.
            return sql.SQL("CASE WHEN {} THEN {} ELSE 0 END").format(
                self.as_sql(self.cond(node)), sql.Literal(boost)
            )
        if isinstance(node, Every):
            return sql.Literal(boost)
        if isinstance(node, Not):
            return None
        if isinstance(node, AndMaybe):
            parts = [self.score(node.required), self.score(node.optional)]
            return _combined(parts, " + ", boost)
        if isinstance(node, And):
            return _combined([self.score(p) for p in node.parts], " + ", boost)
        assert isinstance(node, Or)
        scores = [self.score(p) for p in node.parts]
        if node.best:
            found = [s for s in scores if s is not None]
            if len(found) > 1:
                return _combined(
                    [sql.SQL("GREATEST({})").format(sql.SQL(", ").join(found))], "", boost
                )
            return _combined(found, "", boost)
        return _combined(scores, " + ", boost)


def _combined(
    scores: Sequence[sql.Composable | None], op: str, boost: float
) -> sql.Composable | None:
    from psycopg import sql

    found = [s for s in scores if s is not None]
    if not found:
        return None
    joined = sql.SQL(op).join(sql.SQL("({})").format(s) for s in found) if op else found[0]
    if boost == 1.0:
        return joined
    return sql.SQL("{} * ({})").format(sql.Literal(boost), joined)
