"""The tantivy engine: a compiled (Rust) index for large archives, `pip install
photoarchive[tantivy]` and `search_engine = "tantivy"` in archive.toml."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from photoarchive.errors import IndexUnavailableError, PhotoArchiveError
from photoarchive.search import folders
from photoarchive.search.deadline import Deadline, check_time, time_budget
from photoarchive.search.documents import (
    DATE_FIELDS,
    KEY_FIELDS,
    TERM_FIELDS,
    Entry,
    document,
    field_terms,
)
from photoarchive.search.query import ExpansionBudget, parse_query
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
    pruned,
)

NAME = "tantivy"
#: The engine and the version of its documents (see search.folders.FORMAT_FILE).
INDEX_FORMAT = "tantivy-2"
WRITER_LOCK_SECONDS = 60.0
# The writer's memory for documents not yet written out, shared by its threads: larger
# means fewer, larger segments while rebuilding; 1M photos stay well under 1.5 GB.
_REBUILD_HEAP = 512_000_000
_UPDATE_HEAP = 64_000_000
# Agencies counted per search (tantivy's terms aggregation returns the top N).
_MAX_AGENCIES = 10_000


def _tantivy() -> Any:
    """Return the tantivy module, or raise the error saying how to install it."""
    try:
        import tantivy
    except ImportError:
        raise PhotoArchiveError(
            "this archive's search engine is tantivy, which is not installed: "
            "pip install 'photoarchive[tantivy]' (or 'photoarchive reindex --engine whoosh')"
        ) from None
    return tantivy


@contextmanager
def _guard() -> Iterator[None]:
    """Turn what tantivy raises on damaged files (ValueError, or a Rust panic, which is a
    BaseException) into the error that says to run reindex."""
    try:
        yield
    except (PhotoArchiveError, KeyboardInterrupt, SystemExit, GeneratorExit, MemoryError):
        raise
    except BaseException as exc:
        raise folders.damaged(exc) from None


def _follow_umask(folder: Path) -> None:
    """Give the files tantivy wrote the modes the umask allows (it writes its list of
    files readable by its owner alone, which other users of the archive could not read)."""
    mask = os.umask(0)
    os.umask(mask)
    for path in folder.iterdir():
        try:
            if path.is_file() and path.stat().st_mode & 0o777 == 0o600:
                path.chmod(0o666 & ~mask)
        except OSError:
            continue


def _open_index(tantivy: Any, folder: Path) -> Any:
    """Open the index in `folder` for reading, reloaded by hand before each search.

    tantivy's default reader watches meta.json from a thread of its own and reloads on a
    change under the index's lock file; a process forked while that thread held the lock
    (ingest's worker processes) kept it locked, and the next commit waited forever.
    """
    index = tantivy.Index.open(str(folder))
    index.config_reader(reload_policy="Manual")
    index.reload()
    return index


def _schema() -> Any:
    tantivy = _tantivy()
    builder = tantivy.SchemaBuilder()
    builder.add_text_field("sha256", stored=True, tokenizer_name="raw", index_option="basic")
    # Terms come analysed by our own code (search.analysis), joined by spaces.
    for name in TERM_FIELDS:
        builder.add_text_field(name, tokenizer_name="whitespace", index_option="position")
    for name in KEY_FIELDS:
        # The agency as a fast field: filters and counts run inside the engine.
        builder.add_text_field(
            name, tokenizer_name="raw", index_option="basic", fast=name == "agency_key"
        )
    for name in DATE_FIELDS:
        builder.add_date_field(name, indexed=True, fast=True)
    # A digest of everything else in the document (see documents.document_digest).
    builder.add_text_field("digest", stored=True, tokenizer_name="raw", index_option="basic")
    return builder.build()


def _utc(when: datetime | None) -> datetime | None:
    """Return a naive wall-clock datetime (as documents and queries hold them) marked UTC,
    as tantivy keeps dates, so that both sides compare alike."""
    return None if when is None else when.replace(tzinfo=UTC)


def tantivy_document(doc: dict[str, Any]) -> dict[str, Any]:
    """Return an index document (documents.document's) as tantivy takes it: dates in UTC,
    as tantivy keeps them."""
    for name in DATE_FIELDS:
        if name in doc:
            doc[name] = _utc(doc[name])
    return doc


class TantivyEngine:
    """A tantivy index in one folder; derived from the catalog and rebuildable.

    One process writes at a time (tantivy's lock; the archive's writer lock already
    orders photoarchive's writers); searchers see each commit as it lands.
    """

    name = NAME

    def __init__(self, folder: Path, archive_id: str | None = None) -> None:
        self.folder = folder
        self.archive_id = archive_id
        self._index: Any = None
        self._schema: Any = None
        self._identity: tuple[int, int] | None = None
        self._copy: Path | None = None

    # -- the folder -----------------------------------------------------------------------
    def create(self) -> None:
        """Create an empty index, replacing whatever is in the folder."""
        tantivy = _tantivy()
        self.close()
        if self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True)
        tantivy.Index(_schema(), path=str(self.folder))
        folders.write_marks(self.folder, self.archive_id, folders.with_analysis(INDEX_FORMAT))

    def exists(self) -> bool:
        """Return True if an index is present in the folder."""
        return (self.folder / "meta.json").is_file()

    def check(self) -> None:
        """Raise IndexUnavailableError (saying to run reindex) unless the index is usable."""
        self._open()

    def leftovers(self) -> tuple[Path, Path]:
        """Return the folders a rebuild works in (see search.folders.leftovers)."""
        return folders.leftovers(self.folder)

    def _open(self) -> Any:
        if self._index is not None and folders.folder_identity(self.folder) != self._identity:
            self.close()  # a rebuild swapped in another folder
        if self._index is None:
            tantivy = _tantivy()
            if not self.exists():
                raise folders.missing(self.folder)
            folders.check_marks(self.folder, self.archive_id, folders.with_analysis(INDEX_FORMAT))
            try:
                with _guard():
                    index = _open_index(tantivy, self.folder)
            except IndexUnavailableError as exc:
                if "Read-only file system" not in str(exc) and "Permission denied" not in str(exc):
                    raise
                index = self._open_copy(tantivy)
            self._index = index
            self._schema = index.schema
            self._identity = folders.folder_identity(self.folder)
        return self._index

    def _open_copy(self, tantivy: Any) -> Any:
        """Open a copy of the index in the temporary folder: tantivy takes a lock file
        beside the index even to read, which an archive on a read-only file system (or
        one this user may only read) cannot give it."""
        copy = Path(tempfile.mkdtemp(prefix="photoarchive-index-"))
        self._copy = copy
        atexit.register(shutil.rmtree, copy, True)
        with _guard():
            for path in self.folder.iterdir():
                if path.is_file() and not path.name.endswith(".lock"):
                    shutil.copy2(path, copy / path.name)
            return _open_index(tantivy, copy)

    def _searcher(self) -> Any:
        index = self._open()
        try:
            with _guard():
                index.reload()  # sees the latest commit (cheap when there is none)
                return index.searcher()
        except IndexUnavailableError:
            self.close()
            raise

    def close(self) -> None:
        """Let go of the open index (its files stay mapped until then), and of a copy made
        to read it from a read-only file system."""
        self._index = None
        self._schema = None
        if self._copy is not None:
            shutil.rmtree(self._copy, ignore_errors=True)
            self._copy = None

    # -- writing --------------------------------------------------------------------------
    def _writer(self, index: Any, heap: int) -> Any:
        """Return the index's writer, waiting while another process holds tantivy's lock."""
        waited = 0.0
        while True:
            try:
                return index.writer(heap_size=heap, num_threads=min(4, os.cpu_count() or 1))
            except ValueError as exc:
                if "LockBusy" not in str(exc):  # a read-only or damaged folder, say
                    raise folders.damaged(exc) from None
                if waited >= WRITER_LOCK_SECONDS:
                    raise IndexUnavailableError(
                        f"the search index is locked by another process for over "
                        f"{WRITER_LOCK_SECONDS:.0f} s; try again when it has finished"
                    ) from None
                time.sleep(0.25)
                waited += 0.25

    def add(self, entries: Iterable[Entry], delete: Iterable[str] = ()) -> int:
        """Add or replace documents (and delete those of `delete`, by sha256) in one commit;
        return how many were written."""
        tantivy = _tantivy()
        index = self._open()
        writer = self._writer(index, _UPDATE_HEAP)
        count = 0
        try:
            with _guard():
                for sha in delete:
                    writer.delete_documents_by_term("sha256", sha)
                for entry in entries:
                    writer.delete_documents_by_term("sha256", entry.record.sha256)
                    writer.add_document(
                        tantivy.Document.from_dict(tantivy_document(document(entry)), index.schema)
                    )
                    count += 1
                writer.commit()
        except BaseException:
            writer.rollback()
            raise
        finally:
            writer.wait_merging_threads()  # lets go of the lock
        _follow_umask(self.folder)
        return count

    def rebuild(self, documents: Iterable[dict[str, Any]]) -> int:
        """Replace the whole index with `documents` (documents.document's); return the
        count."""
        tantivy = _tantivy()
        tmp = folders.fresh_build_folder(self.folder)
        schema = _schema()
        index = tantivy.Index(schema, path=str(tmp))
        writer = self._writer(index, _REBUILD_HEAP)
        count = 0
        from_dict = tantivy.Document.from_dict
        for doc in documents:
            writer.add_document(from_dict(tantivy_document(doc), schema))
            count += 1
        writer.commit()
        writer.wait_merging_threads()
        del writer, index
        _follow_umask(tmp)
        folders.write_marks(tmp, self.archive_id, folders.with_analysis(INDEX_FORMAT))
        self.close()
        folders.swap_in(self.folder)
        return count

    # -- reading --------------------------------------------------------------------------
    def rights_keys(self) -> list[str]:
        """Return every distinct RightsFacts.status_key() value in the index."""
        searcher = self._searcher()
        with _guard():
            return [term for term, count in searcher.terms_with_prefix("rights", "") if count]

    def all_hashes(self) -> set[str]:
        """Return the sha256 of every document in the index."""
        return set(self.digests())

    def digests(self) -> dict[str, str | None]:
        """Return each document's content digest (see documents.document_digest) by sha256."""
        tantivy = _tantivy()
        searcher = self._searcher()
        if not searcher.num_docs:
            return {}
        out: dict[str, str | None] = {}
        with _guard():
            found = searcher.search(tantivy.Query.all_query(), searcher.num_docs, count=False)
            for _, address in found.hits:
                doc = searcher.doc(address)
                out[doc.get_first("sha256")] = doc.get_first("digest")
        return out

    def missing_postings(self, entries: Iterable[Entry]) -> list[str]:
        """Return the sha256 of entries whose terms the index cannot find them by: each term
        of each field of the document the catalog would make, looked up with the photo."""
        tantivy = _tantivy()
        searcher = self._searcher()
        schema = self._schema
        query = tantivy.Query
        bad: list[str] = []
        with _guard():
            return self._missing(tantivy, searcher, schema, query, entries, bad)

    def _missing(
        self,
        tantivy: Any,
        searcher: Any,
        schema: Any,
        query: Any,
        entries: Iterable[Entry],
        bad: list[str],
    ) -> list[str]:
        for entry in entries:
            doc = document(entry)
            this = query.term_query(schema, "sha256", entry.record.sha256)
            terms = [(n, t) for n in doc for t in set(field_terms(doc, n))]
            if searcher.search(this, 1).count != 1:
                bad.append(entry.record.sha256)
                continue
            for name, text in terms:
                both = query.boolean_query(
                    [
                        (tantivy.Occur.Must, this),
                        (tantivy.Occur.Must, query.term_query(schema, name, text)),
                    ]
                )
                if searcher.search(both, 1).count != 1:
                    bad.append(entry.record.sha256)
                    break
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
        """Return one page of hits ranked by BM25 (every hit with limit=None) and the total;
        `sort="date"` or `"ingested"` lists newest first instead. Filters, agency counts,
        pages and limits as in the Whoosh engine; the search itself runs in tantivy,
        uninterrupted, and the deadline is checked around it."""
        tantivy = _tantivy()
        parsed = parse_query(query) if isinstance(query, str) else query
        with time_budget(deadline), _guard():
            searcher = self._searcher()
            tree = pruned(parsed.tree, lambda field, text: searcher.doc_freq(field, text) > 0)
            if tree is None:
                return IndexResults(hits=[], total=0, terms=parsed.marked)
            compiled = _Compiler(tantivy, self._schema, searcher).compile(tree)
            narrowed = _filtered(
                tantivy, self._schema, searcher, compiled, filters or SearchFilters()
            )
            check_time()
            size = searcher.num_docs
            first = 0 if limit is None else (page - 1) * limit
            wanted = size if limit is None else limit
            if size == 0 or wanted <= 0 or first >= size:
                # tantivy cannot be asked for no results; count them alone
                total = searcher.search(narrowed, 1).count if size else 0
                return IndexResults(hits=[], total=total, terms=parsed.marked)
            options: dict[str, Any] = {"count": True, "offset": first}
            ordered = sort != "relevance" or (
                limit is not None and _fewest_matches(tree, searcher) > size * BROAD_SHARE
            )
            if ordered:
                options["order_by_field"] = "ingested_at" if sort == "ingested" else "date_created"
                options["order"] = tantivy.Order.Desc
            found = searcher.search(narrowed, wanted, **options)
            check_time()
            hits = [
                Hit(searcher.doc(address).get_first("sha256"), 0.0 if ordered else float(score))
                for score, address in found.hits
            ]
            counts: dict[str, int] = {}
            if count_agencies:
                result = searcher.aggregate(
                    narrowed,
                    {"agencies": {"terms": {"field": "agency_key", "size": _MAX_AGENCIES}}},
                )
                counts = {
                    str(b["key"]): int(b["doc_count"])
                    for b in result["agencies"]["buckets"]
                    if b["key"]
                }
        return IndexResults(
            hits=hits, total=int(found.count), agency_counts=counts, terms=parsed.marked
        )


def _fewest_matches(node: Node, searcher: Any) -> int:
    """Return a lower bound of the photos a query matches, from the index's term counts: a
    word's, the most of its alternatives', every photo for `*:*`, else none known.

    As the Whoosh engine does, a query matching more than BROAD_SHARE of the photos is listed
    newest first; a word in most photos (with its spellings, however many) is known to be
    one without counting its matches.
    """
    if isinstance(node, Term):
        return int(searcher.doc_freq(node.field, node.text))
    if isinstance(node, Or):
        return max((_fewest_matches(part, searcher) for part in node.parts), default=0)
    if isinstance(node, Every):
        return int(searcher.num_docs)
    return 0


class _Compiler:
    """From the query tree to tantivy's queries."""

    def __init__(self, tantivy: Any, schema: Any, searcher: Any) -> None:
        self.t = tantivy
        self.schema = schema
        self.searcher = searcher
        self.expansions = ExpansionBudget()

    def compile(self, node: Node) -> Any:
        query = self.t.Query
        boost = node.boost
        if isinstance(node, Term):
            out = query.term_query(self.schema, node.field, node.text)
        elif isinstance(node, Phrase):
            out = query.phrase_query(self.schema, node.field, list(node.terms))
        elif isinstance(node, Pattern):
            terms = self._expand(node)
            if not terms:
                return query.empty_query()
            # Every photo found scores the same, as in the Whoosh engine (and Lucene).
            return query.const_score_query(
                query.term_set_query(self.schema, node.field, terms), boost
            )
        elif isinstance(node, DateRange):
            out = query.range_query(
                self.schema,
                node.field,
                self.t.FieldType.Date,
                _utc(node.start),
                _utc(node.end),
            )
            return query.const_score_query(out, boost)
        elif isinstance(node, Every):
            return query.const_score_query(query.all_query(), boost)
        elif isinstance(node, Not):
            out = self._boolean([], [self.compile(node.part)])
        elif isinstance(node, AndMaybe):
            out = query.boolean_query(
                [
                    (self.t.Occur.Must, self.compile(node.required)),
                    (self.t.Occur.Should, self.compile(node.optional)),
                ]
            )
        elif isinstance(node, And):
            musts = [self.compile(p) for p in node.parts if not isinstance(p, Not)]
            nots = [self.compile(p.part) for p in node.parts if isinstance(p, Not)]
            out = self._boolean(musts, nots)
        else:
            assert isinstance(node, Or)
            if node.best:
                out = query.disjunction_max_query([self.compile(p) for p in node.parts])
            else:
                out = query.boolean_query(
                    [(self.t.Occur.Should, self.compile(p)) for p in node.parts]
                )
        return out if boost == 1.0 else query.boost_query(out, boost)

    def _boolean(self, musts: list[Any], nots: list[Any]) -> Any:
        occur = self.t.Occur
        if not musts:  # only exclusions: every photo but those
            musts = [self.t.Query.const_score_query(self.t.Query.all_query(), 0.0)]
        if len(musts) == 1 and not nots:
            return musts[0]
        return self.t.Query.boolean_query(
            [(occur.Must, m) for m in musts] + [(occur.MustNot, n) for n in nots]
        )

    def _expand(self, pattern: Pattern) -> list[str]:
        """Return the index terms a wildcard, prefix or word range stands for, in order
        (see query.ExpansionBudget)."""
        candidates = self.searcher.terms_with_prefix(pattern.field, pattern.literal_prefix())
        return sorted(self.expansions.take(pattern, (t for t, count in candidates if count)))


def _filtered(
    tantivy: Any, schema: Any, searcher: Any, compiled: Any, filters: SearchFilters
) -> Any:
    """Return the query with the filters added: they narrow without scoring."""
    query, occur = tantivy.Query, tantivy.Occur
    musts: list[Any] = []
    nots: list[Any] = []
    if filters.agency:
        musts.append(query.term_query(schema, "agency_key", filters.agency))
    if filters.sha256s is not None:
        # An empty set matches nothing, as it should.
        musts.append(query.term_set_query(schema, "sha256", sorted(filters.sha256s)))
    if filters.date_from or filters.date_to:
        musts.append(
            query.range_query(
                schema,
                "date_created",
                tantivy.FieldType.Date,
                _utc(filters.date_from),
                _utc(filters.date_to),
            )
        )
    # States no photo is in are not filtered on: an exclusion, however empty, makes tantivy
    # score through a boolean query, which doubled a word in every one of a million photos
    # (9 ms -> 18 ms).
    hidden = [s for s in filters.hidden_states() if searcher.doc_freq("state", s)]
    if hidden:
        nots.append(query.term_set_query(schema, "state", hidden))
    if filters.rights is not None:
        present = [s for s in WITHHELD if searcher.doc_freq("state", s)]
        withheld = query.term_set_query(schema, "state", present) if present else None
        counts = dict(searcher.terms_with_prefix("rights", ""))
        passing = [k for k in counts if k in filters.rights]
        failing = [k for k in counts if k not in filters.rights]
        # Whichever side holds fewer photos is named, as in the Whoosh engine: leaving out
        # the few photos that fail is quicker than requiring the many that pass (a word in
        # every one of a million photos, cleared for editorial use: 32 ms -> 22 ms).
        if sum(counts[k] for k in failing) < sum(counts[k] for k in passing):
            fails = query.term_set_query(schema, "rights", failing)
            if withheld is None:
                nots.append(fails)
            elif filters.killed_passes:
                nots.append(query.boolean_query([(occur.Must, fails), (occur.MustNot, withheld)]))
            else:
                nots += [fails, withheld]
        else:
            passes = query.term_set_query(schema, "rights", passing)
            if withheld is None:
                musts.append(passes)
            elif filters.killed_passes:
                musts.append(
                    query.boolean_query([(occur.Should, passes), (occur.Should, withheld)])
                )
            else:
                musts.append(passes)
                nots.append(withheld)
    if not musts and not nots:
        return compiled
    clauses = [(occur.Must, compiled)]
    clauses += [(occur.Must, query.const_score_query(m, 0.0)) for m in musts]
    clauses += [(occur.MustNot, n) for n in nots]
    return query.boolean_query(clauses)
