"""Documents read straight from Whoosh's postings (term sets, date ranges, expanded
wildcards), and Whoosh's searcher and collector made to honour the time budget."""

from __future__ import annotations

import sys
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from typing import Any

from whoosh.codec.whoosh3 import LENGTHS_COLUMN, W3LeafMatcher
from whoosh.collectors import FilterCollector
from whoosh.columns import NumericColumn
from whoosh.matching import DisjunctionMaxMatcher, ListMatcher, NullMatcher, WrappingMatcher
from whoosh.query import DisjunctionMax, NumericRange, Query
from whoosh.searching import Searcher

from photoarchive.search.deadline import CHECK_EVERY, check_time


def docs_with_terms(reader: Any, terms: Iterable[tuple[str, Any]]) -> set[int]:
    """Return the documents holding any of the (field, text) terms, read from their postings
    at once rather than through one matcher per term stepped together in Python."""
    found: set[int] = set()
    for fieldname, text in terms:
        check_time()
        found.update(term_docs(reader, fieldname, text).tolist())
    return found


def term_docs(reader: Any, fieldname: str, text: Any) -> Any:
    """Return the documents holding a term, as a sorted numpy array, read a block of
    postings (up to 128) at a time: Whoosh's own matcher gives them one by one through
    Python generators, which took 0.4 s for a word in each of 300,000 photos."""
    return term_postings(reader, fieldname, text, weights=False)[0]


def term_postings(reader: Any, fieldname: str, text: Any, weights: bool = True) -> Any:
    """Return (documents, weights, field lengths) of a term's postings as numpy arrays
    (weights and lengths None unless `weights`), read a block at a time."""
    import numpy as np

    btext = text if isinstance(text, bytes) else str(text).encode("utf-8")
    parts: list[Any] = []
    weighed: list[Any] = []
    lengths: list[Any] = []
    for leaf, offset in reader.leaf_readers():
        if (fieldname, btext) not in leaf:
            continue
        check_time()
        docs, found_weights = _segment_postings(leaf, fieldname, btext, weights)
        if weights and found_weights is None:
            found_weights = np.ones(len(docs))
        if leaf.has_deletions():
            deleted = leaf.deleted_docs_set
            kept = ~np.isin(docs, np.fromiter(deleted, dtype=np.int64, count=len(deleted)))
            docs = docs[kept]
            found_weights = None if found_weights is None else found_weights[kept]
        parts.append(docs + offset)
        if weights:
            weighed.append(found_weights)
            lengths.append(_field_lengths(leaf, fieldname)[docs])
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return empty, (np.zeros(0) if weights else None), (np.zeros(0) if weights else None)
    if not weights:
        return np.concatenate(parts), None, None
    return np.concatenate(parts), np.concatenate(weighed), np.concatenate(lengths)


def _segment_postings(leaf: Any, fieldname: str, btext: bytes, weights: bool) -> Any:
    """Return (documents, weights or None) of a term in one segment, deleted documents
    included, from the cache of decoded postings if there."""
    import numpy as np

    key = (leaf._segid, fieldname, btext)
    found = DECODED.get(key)
    if found is not None:
        return found
    keep = leaf.doc_frequency(fieldname, btext) >= DECODED.smallest
    weights = weights or keep
    matcher = leaf.postings(fieldname, btext)
    while isinstance(matcher, WrappingMatcher):  # deleted documents are filtered later
        matcher = matcher.child
    if type(matcher) is W3LeafMatcher and not matcher._byteids:
        blocks, block_weights = [], []
        while not matcher._atend and matcher._blocklength:
            if matcher._data is None:
                matcher._read_data()
            # Each block's ids are stored as differences from the one before.
            blocks.append(np.cumsum(np.asarray(matcher._data[0], dtype=np.int64)))
            if weights:
                given = matcher._data[1]  # None: all 1.0; a float: all that
                if given is None or isinstance(given, float):
                    given = np.full(matcher._blocklength, given or 1.0)
                block_weights.append(np.asarray(given, dtype=np.float64))
            matcher._next_block()
        docs = np.concatenate(blocks) if blocks else np.zeros(0, dtype=np.int64)
        found_weights = np.concatenate(block_weights) if block_weights else None
    else:
        items = list(matcher.items_as("weight"))
        docs = np.fromiter((d for d, _ in items), dtype=np.int64, count=len(items))
        found_weights = np.fromiter((w for _, w in items), dtype=np.float64, count=len(items))
    if keep:
        DECODED.put(key, (docs, found_weights))
    return docs, found_weights


class DecodedPostings:
    """The decoded postings of the largest terms searched lately, by segment, up to a
    number of bytes, least recently used out first.

    A segment's postings never change (deletions are kept beside them and applied after),
    so a term read once need not be decoded again while it stays here; the key is the
    segment's id, random and unique to it. Decoding a word in every one of 300,000 photos
    in its forms, spellings and fields is tens of thousands of pickled blocks (about 0.1 s
    of every broad search on the desk); the arrays take 16 bytes a photo.
    """

    def __init__(self, budget: int, smallest: int) -> None:
        self.budget = budget
        #: Postings shorter than this decode in well under a millisecond: not kept.
        self.smallest = smallest
        self._entries: OrderedDict[tuple[str, str, bytes], tuple[Any, Any]] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str, bytes]) -> tuple[Any, Any] | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple[str, str, bytes], value: tuple[Any, Any]) -> None:
        size = sum(part.nbytes for part in value if part is not None)
        if size > self.budget:
            return
        with self._lock:
            if key in self._entries:
                return
            self._entries[key] = value
            self._size += size
            while self._size > self.budget:
                _, dropped = self._entries.popitem(last=False)
                self._size -= sum(part.nbytes for part in dropped if part is not None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._size = 0


#: The process's decoded postings (a desk worker's threads share them).
DECODED = DecodedPostings(budget=96 << 20, smallest=4096)


def _field_lengths(leaf: Any, fieldname: str) -> Any:
    """Return the length of a field in each document of a segment (as Whoosh keeps it, to
    one byte), read once per segment reader."""
    import numpy as np
    from whoosh.util.numeric import byte_to_length

    cache = leaf.__dict__.setdefault("_photoarchive_lengths", {})
    found = cache.get(fieldname)
    if found is None:
        count = leaf.doc_count_all()
        table = np.array([byte_to_length(b) for b in range(256)], dtype=np.float64)
        codes = np.zeros(count, dtype=np.int64)
        column = leaf._perdoc._cached_reader(f"_{fieldname}_len", LENGTHS_COLUMN)
        if isinstance(column, NumericColumn.Reader) and column._fixedlen == 1:
            # One byte per document, stored in a row: read at once (the command line opens
            # the index anew for each search).
            stored = min(column._count, count)
            raw = column._dbfile.get(column._basepos, stored)
            codes[:stored] = np.frombuffer(raw, dtype=np.uint8)
        elif column is not None:
            codes = np.fromiter((column[d] for d in range(count)), dtype=np.int64, count=count)
        found = cache[fieldname] = table[codes]
    return found


def best_scores(searcher: Any, terms: Iterable[tuple[str, str, float]]) -> tuple[Any, Any]:
    """Return the documents holding any of the (field, term, boost) terms and each one's
    score: BM25F as Whoosh scores a term (k1 1.2, b 0.75), times the term's boost, the best
    of the document's terms. In numpy over the postings: Whoosh's own matchers stepped a
    word's spellings and equivalents together in Python, 0.2 s for a place name in a
    fifth of 100,000 photos."""
    import numpy as np

    reader = searcher.reader()
    docs_parts, score_parts = [], []
    k1, b = 1.2, 0.75
    for fieldname, text, boost in terms:
        docs, weights, lengths = term_postings(reader, fieldname, text)
        if not len(docs):
            continue
        # Collection statistics from the top searcher, as Whoosh's BM25F takes them.
        idf = searcher.idf(fieldname, text)
        average = searcher.get_parent().avg_field_length(fieldname) or 1
        scores = idf * (weights * (k1 + 1)) / (weights + k1 * ((1 - b) + b * lengths / average))
        docs_parts.append(docs)
        score_parts.append(scores * boost)
    if not docs_parts:
        return np.zeros(0, dtype=np.int64), np.zeros(0)
    docs = np.concatenate(docs_parts)
    scores = np.concatenate(score_parts)
    # The best score of each document: sorted by document, then by score within it.
    order = np.lexsort((-scores, docs))
    docs, scores = docs[order], scores[order]
    first = np.ones(len(docs), dtype=bool)
    first[1:] = docs[1:] != docs[:-1]
    return docs[first], scores[first]


def _list_matcher(docnums: set[int], boost: float) -> Any:
    if not docnums:
        return NullMatcher()
    return ListMatcher(sorted(docnums), all_weights=boost)


class PostingsRange(NumericRange):  # type: ignore[misc]
    """A numeric or date range matched as one sorted list of documents.

    Whoosh matches a range with one matcher per index term, stepped together in Python; a
    month of photos taken minutes apart is thousands of terms, which took 0.4-0.7 s at
    100,000 photos. Reading each term's postings into one set gives the same documents
    with the same constant score.
    """

    @classmethod
    def of(cls, other: NumericRange) -> PostingsRange:
        """Return the same range (a NumericRange or DateRange) as a PostingsRange."""
        return cls(
            other.fieldname,
            other.start,
            other.end,
            startexcl=other.startexcl,
            endexcl=other.endexcl,
            boost=other.boost,
            constantscore=other.constantscore,
        )

    def _docnums(self, reader: Any) -> set[int]:
        terms = self._compile_query(reader).existing_terms(reader, expand=True)
        return docs_with_terms(reader, terms)

    def docs(self, searcher: Any) -> Iterator[int]:
        return iter(sorted(self._docnums(searcher.reader())))

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        return _list_matcher(self._docnums(searcher.reader()), self.boost)


class PostingsTerms(Query):  # type: ignore[misc]
    """A wildcard, prefix or word range, already expanded to its index terms, matched as one
    sorted list of documents with a constant score.

    Whoosh ORs one matcher per expanded term and steps them together in Python: `a* b*`
    (a few hundred words each) took a minute at 100,000 photos. The terms are those the
    query's limit on expansions counted, so the lexicon is not read twice.
    """

    def __init__(self, original: Query, btexts: Iterable[bytes]) -> None:
        self.original = original
        self.fieldname = original.field()
        self.btexts = tuple(btexts)
        self.boost = original.boost

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.original!r}, {len(self.btexts)} terms)"

    def __eq__(self, other: object) -> bool:
        return (
            type(other) is type(self)
            and isinstance(other, PostingsTerms)
            and other.original == self.original
            and other.btexts == self.btexts
        )

    def __hash__(self) -> int:
        return hash((type(self), self.original, self.btexts))

    def field(self) -> str:
        return str(self.fieldname)

    def terms(self, phrases: bool = False) -> Iterator[tuple[str, Any]]:
        return iter(self.original.terms(phrases=phrases))

    def tokens(self, boost: float = 1.0, exreader: Any = None) -> Iterator[Any]:
        return iter(self.original.tokens(boost=boost))

    def estimate_size(self, ixreader: Any) -> int:
        return sum(
            ixreader.doc_frequency(self.fieldname, t)
            for t in self.btexts
            if (self.fieldname, t) in ixreader
        )

    def estimate_min_size(self, ixreader: Any) -> int:
        return min(
            (
                ixreader.doc_frequency(self.fieldname, t)
                for t in self.btexts
                if (self.fieldname, t) in ixreader
            ),
            default=0,
        )

    def _docnums(self, reader: Any) -> set[int]:
        return docs_with_terms(reader, ((self.fieldname, t) for t in self.btexts))

    def docs(self, searcher: Any) -> Iterator[int]:
        return iter(sorted(self._docnums(searcher.reader())))

    def matcher(self, searcher: Any, context: Any = None) -> Any:
        return _list_matcher(self._docnums(searcher.reader()), self.boost)


class BestMatcher(DisjunctionMaxMatcher):  # type: ignore[misc]
    """Either of two matchers, scored by the better of those on the current document.

    Whoosh's own DisjunctionMaxMatcher scores a document by both matchers even when one is
    on another document, and its replace() drops a still-active matcher."""

    def replace(self, minquality: float = 0) -> Any:
        a, b = self.a, self.b
        if not a.is_active():
            return b.replace(minquality) if b.is_active() else NullMatcher()
        if not b.is_active():
            return a.replace(minquality)
        return self

    def score(self) -> float:
        a, b = self.a, self.b
        if not a.is_active():
            return float(b.score())
        if not b.is_active():
            return float(a.score())
        first, second = a.id(), b.id()
        if first == second:
            return float(max(a.score(), b.score()))
        return float(a.score() if first < second else b.score())


#: Postings from which a word's variants are scored in numpy even where it is not yet
#: imported (importing it costs a command-line search about 60 ms).
NUMPY_FROM = 20_000


def _numpy_pays(searcher: Any, subs: Any) -> bool:
    if "numpy" in sys.modules:
        return True
    reader = searcher.reader()
    return int(sum(reader.doc_frequency(q.fieldname, q.text) for q in subs)) >= NUMPY_FROM


class BestOf(DisjunctionMax):  # type: ignore[misc]
    """Documents matching any subquery, scored by the best of those that match (a word
    with its other forms and spellings). When every subquery is a word (the usual case),
    they are scored together in numpy (best_scores)."""

    def _matcher(self, subs: Any, searcher: Any, context: Any) -> Any:
        from whoosh.query import Term

        if subs and all(type(q) is Term for q in subs) and _numpy_pays(searcher, subs):
            terms = [(q.fieldname, q.text, q.boost) for q in subs]
            docs, scores = best_scores(searcher, terms)
            if not len(docs):
                return NullMatcher()
            matcher = ListMatcher(docs.tolist(), weights=scores.tolist())
            return WrappingMatcher(matcher, self.boost) if self.boost != 1.0 else matcher
        reader = searcher.reader()
        return self._tree_matcher(
            subs, BestMatcher, searcher, context, lambda q: q.estimate_size(reader)
        )


def with_postings_ranges(query: Any) -> Any:
    """Return `query` with every numeric or date range in it made a PostingsRange."""

    def swap(node: Any) -> Any:
        if isinstance(node, NumericRange) and not isinstance(node, PostingsRange):
            return PostingsRange.of(node)
        return node

    return query.accept(swap)


class TimedSearcher(Searcher):  # type: ignore[misc]
    """A Whoosh searcher whose postings matchers honour the running search's time budget
    (its per-segment searchers are of this class too).

    Intersections and phrases step their words' matchers in loops of their own, which may
    run through every posting without handing the collector one document; so each postings
    matcher looks at the clock whenever it moves to its next block (up to 128 postings).
    """

    def postings(self, fieldname: str, text: Any, weighting: Any = None, qf: int = 1) -> Any:
        matcher = super().postings(fieldname, text, weighting=weighting, qf=qf)
        leaf = matcher
        while isinstance(leaf, WrappingMatcher):  # deleted documents are filtered out
            leaf = leaf.child
        if type(leaf) is W3LeafMatcher:
            # The check is given to this one object: a wrapping matcher would add a Python
            # call to every step, and giving the object a subclass (__class__ = ...) makes
            # CPython's attribute look-ups on it slower; either cost searches 30-40%.
            goto = leaf._goto

            def timed_goto(position: int) -> None:
                check_time()
                goto(position)

            leaf._goto = timed_goto
        return matcher


class TimedCollector(FilterCollector):  # type: ignore[misc]
    """Whoosh's FilterCollector (allowed and hidden documents, either may be None) whose
    loop over the matches also checks the time budget, as Whoosh's TimeLimitCollector does
    but without its alarm signal (only the main thread may take signals) or timer thread.

    The check sits in the filter's own loop: another collector layer would cost a Python
    generator step per matching document.
    """

    filtered_count: int
    #: The document numbers collected, in order, when asked for (see `keep_matches`).
    matched: list[int]

    def __init__(self, child: Any, allow: Any, restrict: Any, keep_matches: bool = False):
        super().__init__(child, allow, restrict)
        # Every match is met here anyway when Whoosh cannot skip blocks: kept, they give
        # the agency counts without a second pass over the postings.
        self.keep_matches = keep_matches
        self.matched = []

    def prepare(self, top_searcher: Any, q: Any, context: Any) -> None:
        check_time()
        super().prepare(top_searcher, q, context)

    def collect_matches(self) -> None:
        child = self.child
        allow, hide = self._allow, self._restrict
        offset = self.offset
        filtered = self.filtered_count
        keep = self.matched.append if self.keep_matches else None
        for n, sub_docnum in enumerate(child.matches()):
            if n % CHECK_EVERY == 0:
                check_time()
            if (allow is not None and offset + sub_docnum not in allow) or (
                hide is not None and offset + sub_docnum in hide
            ):
                filtered += 1
                continue
            child.collect(sub_docnum)
            if keep is not None:
                keep(offset + sub_docnum)
        self.filtered_count = filtered
