"""Search engines behind one interface: the query language, analysis, documents and
highlighting are ours; each engine (Whoosh, the default, tantivy and PostgreSQL) indexes
the terms we make and answers the query tree we read, so all find the same photos."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from photoarchive.errors import ConfigError
from photoarchive.search.deadline import Deadline
from photoarchive.search.documents import Entry
from photoarchive.search.highlight import highlight
from photoarchive.search.results import WITHHELD, Hit, IndexResults, SearchFilters

if TYPE_CHECKING:
    from photoarchive.search.tree import ParsedQuery

__all__ = [
    "ENGINES",
    "WITHHELD",
    "Deadline",
    "Entry",
    "Hit",
    "IndexResults",
    "SearchEngine",
    "SearchFilters",
    "highlight",
    "index_folder",
    "open_engine",
]

from photoarchive.search.folders import INDEX_FOLDERS

#: Engine names, the default first; each keeps its index in its own folder.
ENGINES = INDEX_FOLDERS
DEFAULT_ENGINE = "whoosh"


class SearchEngine(Protocol):
    """What the archive asks of a search engine."""

    #: "whoosh", "tantivy" or "postgresql"
    name: str
    #: The folder the index lives in.
    folder: Path

    def create(self) -> None:
        """Create an empty index, replacing whatever is in the folder."""

    def exists(self) -> bool:
        """Return True if an index is present in the folder."""

    def check(self) -> None:
        """Raise IndexUnavailableError unless the index is usable."""

    def leftovers(self) -> tuple[Path, Path]:
        """Return the folders a rebuild works in (present while one runs or was killed)."""

    def add(self, entries: Iterable[Entry], delete: Iterable[str] = ()) -> int:
        """Add or replace documents and delete others (by sha256) in one commit."""

    def rebuild(self, documents: Iterable[dict[str, Any]]) -> int:
        """Replace the whole index with these documents (search.documents.document's),
        swapped in whole when done; return the count."""

    def rights_keys(self) -> list[str]:
        """Return every distinct RightsFacts.status_key() value in the index."""

    def all_hashes(self) -> set[str]:
        """Return the sha256 of every document."""

    def digests(self) -> dict[str, str | None]:
        """Return each document's content digest by sha256."""

    def missing_postings(self, entries: Iterable[Entry]) -> list[str]:
        """Return the sha256 of entries the index cannot find by their own terms."""

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
        """Return a page of hits, the total and, if asked, the matches per agency, for a
        query read by query.parse_query (or its text, read without a thesaurus)."""

    def close(self) -> None:
        """Let go of open searchers and files."""


def index_folder(root: Path, engine: str) -> Path:
    """Return the folder of an archive's index for an engine."""
    return root / ENGINES[engine]


def open_engine(
    engine: str,
    root: Path,
    archive_id: str | None,
    database: tuple[str, str] | None = None,
) -> SearchEngine:
    """Return the search engine `engine` for the archive at `root` (nothing is read yet);
    "postgresql" needs `database`, the (libpq URL, schema) its tables live in."""
    folder = index_folder(root, check_engine(engine))
    if engine == "postgresql":
        if database is None:
            raise ConfigError(
                "the postgresql search engine needs the archive's catalog on PostgreSQL"
            )
        from photoarchive.search.postgresql_engine import PostgresEngine

        url, schema = database
        return PostgresEngine(url, schema, archive_id, folder)
    if engine == "tantivy":
        from photoarchive.search.tantivy_engine import TantivyEngine

        return TantivyEngine(folder, archive_id)
    from photoarchive.search.whoosh_engine import WhooshEngine

    return WhooshEngine(folder, archive_id)


def check_engine(engine: str) -> str:
    """Return the engine name, or raise ConfigError naming the engines there are."""
    if engine not in ENGINES:
        raise ConfigError(
            f"unknown search engine '{engine}': choose {' or '.join(sorted(ENGINES))}"
        )
    return engine


def require_engine(engine: str) -> str:
    """Return the engine name if it is one and installed; else raise ConfigError or
    PhotoArchiveError saying how to install it (before an index is made for it)."""
    if check_engine(engine) == "tantivy":
        from photoarchive.search.tantivy_engine import _tantivy

        _tantivy()
    return engine
