"""The Whoosh engine: the archive's default index, pure Python, in one folder."""

from __future__ import annotations

import functools
import os
import shutil
import threading
from collections.abc import Iterable, Iterator
from collections.abc import Set as AbstractSet
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

from photoarchive.errors import IndexUnavailableError
from photoarchive.search import folders
from photoarchive.search.deadline import Deadline, check_time, time_budget
from photoarchive.search.documents import DATE_FIELDS, TERM_FIELDS, Entry, document, field_terms
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

NAME = "whoosh"
INDEX_NAME = "photos"
#: The engine and the version of its documents (see search.folders.FORMAT_FILE).
INDEX_FORMAT = "whoosh-4"
WRITER_LOCK_SECONDS = 60.0


@functools.cache
def _schema() -> Any:
    from whoosh import fields
    from whoosh.analysis import SpaceSeparatedTokenizer

    terms = SpaceSeparatedTokenizer()
    spec: dict[str, Any] = {"sha256": fields.ID(stored=True, unique=True)}
    # Terms come analysed by our own code (search.analysis), joined by spaces; every field
    # keeps positions, so a phrase may be asked of any.
    for name in TERM_FIELDS:
        spec[name] = fields.TEXT(analyzer=terms, phrase=True)
    spec["agency_key"] = fields.ID(sortable=True)
    spec["state"] = fields.ID()
    spec["rights"] = fields.ID()
    for name in DATE_FIELDS:
        spec[name] = fields.DATETIME(sortable=True)
    # A digest of everything else in the document: verify compares it with what the
    # catalog says now, so a stale entry cannot pass as good.
    spec["digest"] = fields.STORED()
    return fields.Schema(**spec)


class WhooshEngine:
    """A Whoosh index in one folder; derived from the catalog and rebuildable."""

    name = NAME

    def __init__(self, folder: Path, archive_id: str | None = None) -> None:
        self.folder = folder
        #: The catalog's identity; an index built for another one is refused.
        self.archive_id = archive_id
        self._ix: Any = None
        # The folder the open index lives in: a rebuild swaps in another folder, and
        # readers must then drop the old one's files.
        self._identity: tuple[int, int] | None = None
        # Opening a searcher reads every segment's metadata; long-lived processes (the web
        # desk) keep one per thread and refresh it when the index changes.
        self._local = threading.local()

    # -- the folder -----------------------------------------------------------------------
    def create(self) -> None:
        """Create an empty index, replacing whatever is in the folder."""
        from whoosh import index

        self.close()
        if self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True)
        self._ix = index.create_in(str(self.folder), _schema(), indexname=INDEX_NAME)
        folders.write_marks(self.folder, self.archive_id, folders.with_analysis(INDEX_FORMAT))
        self._identity = folders.folder_identity(self.folder)

    def exists(self) -> bool:
        """Return True if an index is present in the folder."""
        from whoosh import index

        if not self.folder.is_dir():
            return False
        try:
            return bool(index.exists_in(str(self.folder), indexname=INDEX_NAME))
        except Exception:  # a damaged table of contents: there is an index, a broken one
            return any(self.folder.glob(f"_{INDEX_NAME}_*.toc"))

    def check(self) -> None:
        """Raise IndexUnavailableError (saying to run reindex) unless the index is usable:
        present, undamaged, of this version and built for this archive."""
        self._open()

    def leftovers(self) -> tuple[Path, Path]:
        """Return the folders a rebuild works in (see search.folders.leftovers)."""
        return folders.leftovers(self.folder)

    def _follow_folder(self) -> None:
        """Forget the open index if its folder was replaced (a rebuild) or removed."""
        if self._ix is None:
            return
        if folders.folder_identity(self.folder) != self._identity:
            self.close()
            with suppress(Exception):
                self._ix.close()
            self._ix = None

    def _open(self) -> Any:
        self._follow_folder()
        if self._ix is None:
            from whoosh import index

            if not self.exists():
                raise folders.missing(self.folder)
            try:
                ix = index.open_dir(str(self.folder), indexname=INDEX_NAME)
                ix.schema.names()  # reads the table of contents: a damaged one fails
            except Exception as exc:
                raise folders.damaged(exc) from None
            try:
                folders.check_marks(
                    self.folder, self.archive_id, folders.with_analysis(INDEX_FORMAT)
                )
            except IndexUnavailableError:
                ix.close()
                raise
            self._ix = ix
            self._identity = folders.folder_identity(self.folder)
        return self._ix

    # -- writing --------------------------------------------------------------------------
    def add(self, entries: Iterable[Entry], delete: Iterable[str] = ()) -> int:
        """Add or replace documents (and delete those of `delete`, by sha256) in one commit;
        return how many were written."""
        from whoosh.index import LockError

        ix = self._open()
        try:
            writer = ix.writer(timeout=WRITER_LOCK_SECONDS, delay=0.25, **_writer_options())
        except LockError:
            raise IndexUnavailableError(
                f"the search index is locked by another process for over "
                f"{WRITER_LOCK_SECONDS:.0f} s; try again when it has finished"
            ) from None
        count = 0
        try:
            for sha in delete:
                writer.delete_by_term("sha256", sha)
            for entry in entries:
                writer.update_document(**document(entry))
                count += 1
        except BaseException:
            writer.cancel()
            raise
        writer.commit()
        return count

    def rebuild(self, documents: Iterable[dict[str, Any]]) -> int:
        """Replace the whole index with `documents` (documents.document's); return the
        count."""
        from whoosh import index

        tmp = folders.fresh_build_folder(self.folder)
        ix = index.create_in(str(tmp), _schema(), indexname=INDEX_NAME)
        # Postings are written in pure Python: one writer process per core (each with its
        # own segment) rebuilds about half again as fast on two cores.
        procs = min(4, os.cpu_count() or 1)
        options = {"limitmb": _writer_memory_mb(procs), **_writer_options()}
        if procs > 1:
            writer = ix.writer(procs=procs, multisegment=True, **options)
        else:
            writer = ix.writer(**options)
        count = 0
        for doc in documents:
            writer.add_document(**doc)
            count += 1
        writer.commit()
        ix.close()
        folders.write_marks(tmp, self.archive_id, folders.with_analysis(INDEX_FORMAT))
        self.close()
        self._ix = None
        folders.swap_in(self.folder)
        return count

    # -- reading --------------------------------------------------------------------------
    def rights_keys(self) -> list[str]:
        """Return every distinct RightsFacts.status_key() value in the index."""
        with self._searcher() as searcher:
            return [text.decode("utf-8") for text in searcher.reader().lexicon("rights")]

    def all_hashes(self) -> set[str]:
        """Return the sha256 of every document in the index."""
        return set(self.digests())

    def digests(self) -> dict[str, str | None]:
        """Return each document's content digest (see documents.document_digest) by sha256."""
        with self._searcher() as searcher:
            return {f["sha256"]: f.get("digest") for f in searcher.all_stored_fields()}

    def missing_postings(self, entries: Iterable[Entry]) -> list[str]:
        """Return the sha256 of entries whose terms the index cannot find them by: each
        term of each field of the document the catalog would make is looked up in the
        postings (a check of the index's content, not only of its stored fields)."""
        bad: list[str] = []
        with self._searcher() as searcher:
            reader = searcher.reader()
            for entry in entries:
                sha = entry.record.sha256
                docnum = searcher.document_number(sha256=sha)
                if docnum is None or not _postings_hold(reader, document(entry), docnum):
                    bad.append(sha)
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

        Ranked by BM25 (`sort="relevance"`), except a query matching more than BROAD_SHARE
        of the photos, which is listed newest first by date taken, as with `sort="date"`
        (`"ingested"`: newest ingested first). `filters` narrow the results without
        changing their scores; `count_agencies` adds the number of matches per agency
        (over all pages). A page past the last is empty (with the true total). With a
        `deadline`, the search stops with QueryTimeoutError when it passes; a query beyond
        the query language's limits is refused with QueryError.
        """
        parsed = parse_query(query) if isinstance(query, str) else query
        self._open()
        wanted = filters or SearchFilters()
        args = (parsed, limit, page, wanted, count_agencies, deadline, sort)
        try:
            return self._search(*args)
        except (TypeError, FileNotFoundError):
            # Whoosh opens a segment's columns (stored fields, dates) when first read: a
            # writer's merge in another process may have removed the files of a segment
            # this searcher holds but had not read yet (the stored-fields reader is then
            # None). Searched again on the index as it is now; an error on an index that
            # did not change is a real one.
            searcher = getattr(self._local, "searcher", None)
            if searcher is None or searcher.up_to_date():
                raise
            self.close()
            return self._search(*args)

    def _search(
        self,
        parsed: ParsedQuery,
        limit: int | None,
        page: int,
        wanted: SearchFilters,
        count_agencies: bool,
        deadline: Deadline | None,
        sort: str,
    ) -> IndexResults:
        from whoosh import query as q

        with self._searcher() as searcher, time_budget(deadline):
            reader = searcher.reader()
            tree = pruned(parsed.tree, lambda field, text: (field, text) in reader)
            if tree is None:
                return IndexResults(hits=[], total=0, terms=parsed.marked)
            compiled = _compile(tree, reader, ExpansionBudget())
            # Filters are given to Whoosh as plain sets of document numbers: its own bit sets
            # are tested for emptiness once per matching document, which is slow. Masking the
            # few hidden versions is much cheaper than allowing the many live ones.
            allowed = _allowed(searcher, wanted)
            hidden: AbstractSet[int] = (
                set(searcher.docs_for_query(_mask(wanted))) if wanted.hidden_states() else set()
            )
            if wanted.rights is not None:
                by_rights, hidden_by_rights = _rights_limits(searcher, wanted)
                if by_rights is not None:
                    allowed = by_rights if allowed is None else allowed & by_rights
                # The searcher's own set where it is all (see _rights_limits), not a copy.
                hidden = hidden | hidden_by_rights if hidden else hidden_by_rights
            if allowed is not None and not allowed:
                # Whoosh takes an empty filter for no filter at all
                return IndexResults(hits=[], total=0, terms=parsed.marked)
            docs_count = searcher.doc_count_all()
            share = docs_count * BROAD_SHARE
            # Whoosh's estimate of an OR is the sum of its parts: a word with its spellings
            # and equivalents (kiev OR kyiv OR київ...) is counted exactly before it is
            # taken for a word in most photos.
            broad = False
            matched = None  # the matches, where they had to be counted (kept for below)
            if limit is not None and compiled.estimate_size(reader) > share:
                if isinstance(compiled, q.Term):
                    broad = True
                else:
                    matched = _docs_of(searcher, compiled)
                    broad = len(matched) > share
            if sort != "relevance" or broad:
                hits, total, docs = self._by_date(
                    searcher,
                    compiled,
                    "ingested_at" if sort == "ingested" else "date_created",
                    allowed,
                    hidden,
                    limit,
                    page,
                    matched,
                )
                counts = self._agency_counts(searcher, docs) if count_agencies else {}
                return IndexResults(
                    hits=hits, total=total, agency_counts=counts, terms=parsed.marked
                )
            if limit is None:
                results, matched = _collect(
                    searcher, compiled, None, True, allowed, hidden or None, False
                )
                total = len(results)
                page_hits = list(results)
            else:
                # Skipping blocks that cannot rank pays for one word in under a tenth of the
                # photos; for anything else Whoosh must then count the matches in a second
                # pass, which costs more than it saved (two words, phrases, fields: 30-45%
                # faster without; a word in every photo 20%).
                optimize = (
                    isinstance(compiled, q.Term)
                    and searcher.doc_frequency(compiled.fieldname, compiled.text) * 10 < docs_count
                )
                # Pages are cut here rather than by Whoosh's search_page, which shows the last
                # page for any page past it (a script paging until it gets nothing would
                # never stop); no search ranks more documents than the index holds.
                first = (page - 1) * limit
                ranked = max(1, min(first + limit, docs_count))
                results, matched = _collect(
                    searcher,
                    compiled,
                    ranked,
                    optimize,
                    allowed,
                    hidden or None,
                    count_agencies and not optimize,
                )
                total = len(results)  # with `optimize`, a second, cheap pass counts them
                page_hits = results[first : first + limit] if first < total else []
            hits = [Hit(sha256=h["sha256"], score=float(h.score or 0.0)) for h in page_hits]
            counts = {}
            if count_agencies:
                # Apart from the ranking: a facet in Whoosh's collector keeps a Python object
                # per match, which cost more than the search itself on broad queries.
                import numpy as np

                docs = (
                    np.array(matched, dtype=np.int64)
                    if matched is not None
                    else _matching(searcher, compiled, allowed, hidden)
                )
                counts = self._agency_counts(searcher, docs)
        return IndexResults(hits=hits, total=total, agency_counts=counts, terms=parsed.marked)

    def _by_date(
        self,
        searcher: Any,
        compiled: Any,
        column: str,
        allowed: AbstractSet[int] | None,
        hidden: AbstractSet[int],
        limit: int | None,
        page: int,
        matched: Any = None,
    ) -> tuple[list[Hit], int, Any]:
        """Return a page of the matches newest first by a date column (no scoring: the
        matching documents are read from the postings, unless `matched` holds them
        already), the total and every match."""
        import numpy as np

        docs = _matching(searcher, compiled, allowed, hidden, matched)
        check_time()
        # Newest first (~ turns the unsigned dates around, a photo without the date was
        # given 0 and comes last); equal dates in index order.
        newest = ~self._column(searcher, column)[docs]
        first = 0 if limit is None else (page - 1) * limit
        wanted = len(docs) if limit is None else min(len(docs), first + limit)
        if 0 < wanted < len(docs):
            # Only the photos up to the page are put in order: those no older than the
            # wanted-th newest (found in linear time), ties included.
            bound = np.partition(newest, wanted - 1)[wanted - 1]
            candidates = np.nonzero(newest <= bound)[0]
            order = candidates[np.lexsort((docs[candidates], newest[candidates]))]
        else:
            order = np.lexsort((docs, newest))
        chosen = order[first:] if limit is None else order[first : first + limit]
        reader = searcher.reader()
        hits = [Hit(reader.stored_fields(int(docs[i]))["sha256"], 0.0) for i in chosen]
        return hits, len(docs), docs

    def _column(self, searcher: Any, name: str) -> Any:
        """Return a date column as an array of uint64 by document number (0 for none),
        made once per index version this thread reads."""
        import numpy as np

        reader = searcher.reader()
        cache: dict[str, Any] = self._reader_cache(reader)
        if name not in cache:
            values = np.zeros(reader.doc_count_all(), dtype=np.uint64)
            # Segment by segment: one without any photo that has the date has no column.
            for leaf, offset in reader.leaf_readers():
                if leaf.has_column(name):
                    count = leaf.doc_count_all()
                    column = leaf.column_reader(name, translate=False)
                    values[offset : offset + count] = np.fromiter(
                        (v or 0 for v in column), dtype=np.uint64, count=count
                    )
            # Whoosh gives a photo without the date the largest value: made 0, it sorts last.
            values[values == np.iinfo(np.uint64).max] = 0
            cache[name] = values
        return cache[name]

    def _reader_cache(self, reader: Any) -> dict[str, Any]:
        cached = getattr(self._local, "columns", None)
        # Held by the reader itself, not its id: a new reader may be given a freed one's id.
        if cached is None or cached[0] is not reader:
            cached = (reader, {})
            self._local.columns = cached
        return cached[1]

    def _agency_counts(self, searcher: Any, docs: Any) -> dict[str, int]:
        """Count the matches per agency: their document numbers against a per-index array
        of each document's agency."""
        import numpy as np

        if len(docs) == 0:
            return {}  # an empty index has no agency column to read
        codes, names = self._agency_column(searcher)
        counted = np.bincount(codes[docs], minlength=len(names))
        return {names[i]: int(n) for i, n in enumerate(counted) if n and names[i]}

    def _agency_column(self, searcher: Any) -> tuple[Any, list[str]]:
        """Return (agency code of each document, the agencies by code), made once per index
        version this thread reads."""
        import numpy as np

        reader = searcher.reader()
        cache = self._reader_cache(reader)
        if "agency" in cache:
            return cache["agency"]  # type: ignore[no-any-return]
        names: list[str] = [""]
        index: dict[str, int] = {"": 0}
        column = reader.column_reader("agency_key", translate=True)
        codes = np.zeros(reader.doc_count_all(), dtype=np.int64)
        for docnum, value in enumerate(column):
            text = value.decode("utf-8") if isinstance(value, bytes) else str(value or "")
            code = index.get(text)
            if code is None:
                code = index[text] = len(names)
                names.append(text)
            codes[docnum] = code
        cache["agency"] = (codes, names)
        return codes, names

    @contextmanager
    def _searcher(self) -> Iterator[Any]:
        """Yield this thread's searcher, reopened only when the index has changed."""
        ix = self._open()
        searcher = getattr(self._local, "searcher", None)
        try:
            if searcher is None:
                searcher = _new_searcher(ix)
            elif not searcher.up_to_date():
                # A fresh searcher rather than refresh(): Whoosh's refresh fails on a reader
                # opened while the index was empty.
                searcher.close()
                searcher = _new_searcher(ix)
        except Exception as exc:  # files removed or damaged under a running process
            self._local.searcher = None
            self._ix = None
            raise folders.damaged(exc) from None
        self._local.searcher = searcher
        yield searcher

    def close(self) -> None:
        """Close this thread's searcher, if one is open."""
        searcher = getattr(self._local, "searcher", None)
        if searcher is not None:
            searcher.close()
            self._local.searcher = None


# -- from the query tree to Whoosh's queries ----------------------------------------------------
def _lexicon(reader: Any, pattern: Pattern) -> Iterator[str]:
    """Yield the terms of the pattern's field that begin with its literal start."""
    name = pattern.field
    if name not in reader.schema:
        return
    prefix = pattern.literal_prefix().encode("utf-8")
    terms = reader.expand_prefix(name, prefix) if prefix else reader.lexicon(name)
    for btext in terms:
        if not btext.startswith(prefix):
            return
        yield btext.decode("utf-8")


def _compile(node: Node, reader: Any, expansions: ExpansionBudget) -> Any:
    """Return the Whoosh query for a query tree."""
    from whoosh import query as q

    from photoarchive.search.whoosh_postings import PostingsRange, PostingsTerms

    if isinstance(node, Term):
        return q.Term(node.field, node.text, boost=node.boost)
    if isinstance(node, Phrase):
        return q.Phrase(node.field, list(node.terms), boost=node.boost)
    if isinstance(node, Pattern):
        original = q.Wildcard(node.field, node.shown(), boost=node.boost)
        terms = expansions.take(node, _lexicon(reader, node))
        return PostingsTerms(original, [t.encode("utf-8") for t in terms])
    if isinstance(node, DateRange):
        return PostingsRange.of(q.DateRange(node.field, node.start, node.end, boost=node.boost))
    if isinstance(node, Every):
        return q.Every(boost=node.boost)
    if isinstance(node, Not):
        return q.Not(_compile(node.part, reader, expansions), boost=node.boost)
    if isinstance(node, AndMaybe):
        maybe = q.AndMaybe(
            _compile(node.required, reader, expansions),
            _compile(node.optional, reader, expansions),
        )
        maybe.boost = node.boost
        return maybe
    parts = [_compile(p, reader, expansions) for p in node.parts]
    if isinstance(node, And):
        return q.And(parts, boost=node.boost)
    assert isinstance(node, Or)
    if node.best:
        from photoarchive.search.whoosh_postings import BestOf

        return BestOf(parts, boost=node.boost)
    return q.Or(parts, boost=node.boost)


def _allowed(searcher: Any, filters: SearchFilters) -> AbstractSet[int] | None:
    """Return the documents the agency, date and photo filters allow, None for all."""
    from whoosh import query as q

    from photoarchive.search.whoosh_postings import PostingsRange, docs_with_terms

    chosen = None
    if filters.sha256s is not None:
        chosen = docs_with_terms(searcher.reader(), (("sha256", s) for s in filters.sha256s))
    parts: list[Any] = []
    if filters.agency:
        parts.append(q.Term("agency_key", filters.agency))
    if filters.date_from or filters.date_to:
        parts.append(
            PostingsRange.of(q.DateRange("date_created", filters.date_from, filters.date_to))
        )
    if not parts:
        return chosen
    found = set(searcher.docs_for_query(parts[0] if len(parts) == 1 else q.And(parts)))
    return found if chosen is None else found & chosen


def _mask(filters: SearchFilters) -> Any:
    """Return a Whoosh query for the versions left out (few)."""
    from whoosh import query as q

    return q.Or([q.Term("state", s) for s in filters.hidden_states()])


def _matching(
    searcher: Any,
    compiled: Any,
    allowed: AbstractSet[int] | None,
    hidden: AbstractSet[int],
    matched: Any = None,
) -> Any:
    """Return the matching document numbers, filtered, as a sorted numpy array (postings
    only, no scoring; `matched`: the query's matches, when read already)."""
    import numpy as np

    docs = _docs_of(searcher, compiled) if matched is None else matched
    if allowed is not None:
        docs = docs[np.isin(docs, _as_array(searcher, allowed))]
    if hidden:
        docs = docs[~np.isin(docs, _as_array(searcher, hidden))]
    return docs


def _as_array(searcher: Any, docs: AbstractSet[int]) -> Any:
    """Return a set of document numbers as a numpy array; one the searcher keeps (the
    rights limits) is turned into one once."""
    import numpy as np

    kept = _kept_arrays(searcher)
    found = kept.get(id(docs))
    if found is None or found[0] is not docs:
        return np.fromiter(docs, dtype=np.int64, count=len(docs))
    if found[1] is None:
        found = kept[id(docs)] = (docs, np.fromiter(docs, dtype=np.int64, count=len(docs)))
    return found[1]


def _kept_arrays(searcher: Any) -> dict[int, tuple[AbstractSet[int], Any]]:
    """The sets of document numbers a searcher keeps, by identity, each with its array once
    made (the set held beside it, so that its id stays its own)."""
    kept: dict[int, tuple[AbstractSet[int], Any]]
    kept = searcher.__dict__.setdefault("_photoarchive_arrays", {})
    return kept


def _docs_of(searcher: Any, compiled: Any) -> Any:
    """Return the documents a Whoosh query matches, sorted and distinct, as a numpy array:
    words from their postings a block at a time, AND, OR and NOT as set operations on the
    arrays. Whoosh's own matchers step document by document in Python, which made the
    agency counts of `credit:reuters flag` at 300,000 photos cost 0.1 s."""
    import numpy as np
    from whoosh import query as q

    from photoarchive.search.whoosh_postings import PostingsRange, PostingsTerms, term_docs

    check_time()
    reader = searcher.reader()
    if isinstance(compiled, q.Term):
        return term_docs(reader, compiled.fieldname, compiled.text)
    if isinstance(compiled, PostingsTerms | PostingsRange):
        found = compiled._docnums(reader)
        return np.sort(np.fromiter(found, dtype=np.int64, count=len(found)))
    if isinstance(compiled, q.Every) and compiled.fieldname in (None, "", "*"):
        return np.fromiter(reader.all_doc_ids(), dtype=np.int64)
    if isinstance(compiled, q.And):
        wanted = [p for p in compiled.subqueries if not isinstance(p, q.Not)]
        excluded = [p.query for p in compiled.subqueries if isinstance(p, q.Not)]
        if wanted:
            parts = sorted((_docs_of(searcher, p) for p in wanted), key=len)
            docs = parts[0]
            for part in parts[1:]:
                docs = np.intersect1d(docs, part, assume_unique=True)
        else:
            docs = np.fromiter(reader.all_doc_ids(), dtype=np.int64)
        for part in excluded:
            docs = np.setdiff1d(docs, _docs_of(searcher, part), assume_unique=True)
        return docs
    if isinstance(compiled, q.Or | q.DisjunctionMax):
        # A mark per document rather than union1d part after part: a word's forms,
        # spellings and equivalents in every field are dozens of parts, and sorting their
        # union again for each took 60 ms for a word in every one of 100,000 photos.
        marked = np.zeros(reader.doc_count_all(), dtype=bool)
        for part in compiled.subqueries:
            marked[_docs_of(searcher, part)] = True
        return np.flatnonzero(marked)
    if isinstance(compiled, q.Not):
        every = np.fromiter(reader.all_doc_ids(), dtype=np.int64)
        return np.setdiff1d(every, _docs_of(searcher, compiled.query), assume_unique=True)
    if isinstance(compiled, q.AndMaybe):
        return _docs_of(searcher, compiled.a)
    # Phrases and anything else: Whoosh's matcher (a phrase needs the words' positions).
    docs = np.fromiter(searcher.docs_for_query(compiled), dtype=np.int64)
    if len(docs) > 1 and not bool(np.all(docs[1:] > docs[:-1])):
        docs = np.unique(docs)
    return docs


def _new_searcher(ix: Any) -> Any:
    from photoarchive.search.whoosh_postings import TimedSearcher

    return TimedSearcher(ix.reader(), fromindex=ix)


def _collect(
    searcher: Any,
    compiled: Any,
    limit: int | None,
    optimize: bool,
    allowed: AbstractSet[int] | None,
    hidden: AbstractSet[int] | None,
    keep_matches: bool,
) -> tuple[Any, list[int] | None]:
    """Run a search as Whoosh's Searcher.search does, with the time budget checked as the
    documents are collected; return the results and, with `keep_matches` (and no blocks
    skipped), every matching document number."""
    from photoarchive.search.whoosh_postings import TimedCollector

    inner = searcher.collector(limit=limit, optimize=optimize)
    if not optimize:
        # Whoosh still swaps a union's matcher for its better half once the top N are
        # known, skipping the documents only the other half matches; without the second
        # counting pass that `optimize` brings, the total would leave them out
        # ("tank OR flag": 67 of 96 on a second page of 5).
        inner.replace = 0
    collector = TimedCollector(inner, allowed, hidden, keep_matches=keep_matches)
    searcher.search_with_collector(compiled, collector)
    return collector.results(), (collector.matched if keep_matches else None)


def _postings_hold(reader: Any, doc: dict[str, Any], docnum: int) -> bool:
    from whoosh.matching import ReadTooFar
    from whoosh.reading import TermNotFound

    for name in doc:
        for text in set(field_terms(doc, name)):
            try:
                matcher = reader.postings(name, text.encode("utf-8"))
            except TermNotFound:
                return False
            if not matcher.is_active():
                return False
            if matcher.id() < docnum:
                try:
                    matcher.skip_to(docnum)
                except ReadTooFar:  # the postings end before the document
                    return False
            if not matcher.is_active() or matcher.id() != docnum:
                return False
    return True


def _rights_limits(
    searcher: Any, filters: SearchFilters
) -> tuple[AbstractSet[int] | None, AbstractSet[int]]:
    """Return the documents a rights filter allows (None for all) and those it hides.

    Whichever side holds fewer documents is read: allowing the few cleared photos, or
    hiding the few that are not. The sets are kept with the searcher, which sees one state
    of the index: a desk judging every page by the same policy reads them once (at 300,000
    photos, turning the postings into sets took 0.1-0.2 s of each cleared page). They are
    Whoosh's plain sets (its filters take no other kind), not to be changed.
    """
    key = (frozenset(filters.rights or ()), filters.killed_passes)
    kept: dict[Any, tuple[AbstractSet[int] | None, AbstractSet[int]]]
    kept = searcher.__dict__.setdefault("_photoarchive_rights", {})
    found = kept.get(key)
    if found is None:
        found = kept[key] = _read_rights_limits(searcher, filters)
        arrays = _kept_arrays(searcher)
        for docs in found:
            if docs is not None:
                arrays[id(docs)] = (docs, None)
    return found


def _read_rights_limits(searcher: Any, filters: SearchFilters) -> tuple[set[int] | None, set[int]]:
    from whoosh.query import Term as WhooshTerm

    from photoarchive.search.whoosh_postings import docs_with_terms

    wanted = filters.rights or frozenset()
    reader = searcher.reader()
    keys = [text.decode("utf-8") for text in reader.lexicon("rights")]
    passing = [k for k in keys if k in wanted]
    failing = [k for k in keys if k not in wanted]
    # Killed, superseded and notice photos are blocked whatever their rights facts.
    killed: set[int] = set()
    for state in WITHHELD:
        killed |= set(searcher.docs_for_query(WhooshTerm("state", state)))

    def size(group: list[str]) -> int:
        return sum(reader.doc_frequency("rights", k) for k in group)

    if size(passing) <= size(failing):
        allowed = docs_with_terms(reader, (("rights", k) for k in passing))
        return (allowed | killed if filters.killed_passes else allowed - killed), set()
    hidden = docs_with_terms(reader, (("rights", k) for k in failing))
    return None, (hidden - killed if filters.killed_passes else hidden | killed)


def _writer_memory_mb(procs: int) -> int:
    """Return the postings memory limit for each writer process, in Whoosh's megabytes.

    Postings beyond the limit are sorted through temporary files, which made a rebuild of
    100,000 photos take almost twice as long; Whoosh's estimate is about half of what the
    postings really take, so an eighth of the machine's memory, shared between the writer
    processes, stays within a quarter of it.
    """
    try:
        total_mb = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") // 2**20
    except (ValueError, OSError, AttributeError):
        return 256
    return max(128, min(1024, total_mb // 8 // max(1, procs)))


def _writer_options() -> dict[str, Any]:
    """Return the options every index writer is given."""
    from photoarchive.search.whoosh_codec import WriterCodec

    # Segments are left as separate files: Whoosh opens a compound segment by copying each
    # part into memory, which at 100,000 photos cost every search process 0.1-0.2 s.
    return {"codec": WriterCodec(), "compound": False}
