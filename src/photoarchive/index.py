"""The search index (Whoosh adapter): schema, query language, BM25 ranking, highlighting."""

from __future__ import annotations

import contextlib
import functools
import os
import re
import shutil
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from photoarchive.errors import IndexOutdatedError, IndexUnavailableError, QueryError
from photoarchive.record import PhotoRecord

if TYPE_CHECKING:
    from photoarchive.index_postings import Deadline

INDEX_NAME = "photos"
# The identity of the archive the index was built for (its catalog's archive_id).
ARCHIVE_ID_FILE = "archive-id"
WRITER_LOCK_SECONDS = 60.0
# Words without a field search `text`: caption, headline, title, keywords, place, by-line
# and credit together, so each word is one term to look up (far faster than one per field).
DEFAULT_FIELDS = ("text",)
# Query terms in these fields are marked in the caption (all share its stemming analyzer).
TEXT_FIELDS_FOR_CAPTION = ("text", "headline", "keywords", "byline")
# Fields a query may name (the index's own key, sha256, is not one of them).
SEARCH_FIELDS = (
    *DEFAULT_FIELDS,
    "headline",
    "keywords",
    "byline",
    "credit",
    "agency",
    "source",
    "city",
    "country",
    "format",
    "date_created",
    "ingested_at",
    "person",
    "organisation",
    "event",
    "lang",
    "source_type",
    "c2pa",
)
_FIELD_PREFIX = re.compile(r"(?:^|(?<=[\s(]))([A-Za-z_][A-Za-z0-9_]*):")
_DATE_TERM = re.compile(r"\b(date|taken|date_created|ingested_at):(\[[^\]]*\]|\{[^}]*\}|\S+)")
_ISO_DATE = re.compile(r"\b(\d{4})-(\d{2})(?:-(\d{2})(?:[T ](\d{2}:\d{2}))?)?(?![\d:])")
# Limits on a query, checked before Whoosh reads it: its parser and matchers run in pure
# Python, and a query pasted by mistake (or sent to the desk on purpose) could otherwise
# hold a worker for minutes.
MAX_QUERY_CHARS = 1_000
MAX_WORD_CHARS = 100
#: Words typed, and index terms the parser makes of them (a phrase counts its words).
MAX_QUERY_WORDS = 50
#: Index terms the wildcards, prefixes and word ranges of one query may stand for.
MAX_EXPANSIONS = 2_000
# What counts as a word typed: anything between spaces, brackets and quotes, less operators.
_WORD = re.compile(r'[^\s()"\[\]{}]+')
_OPERATORS = frozenset({"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "TO", "to"})
FIELD_ALIASES = {
    "date_created": ["date", "taken"],
    "keywords": ["keyword", "kw"],
    "byline": ["photographer", "by"],
    "text": ["caption", "title", "place", "location", "where"],
    "person": ["persons", "people", "shown"],
    "organisation": ["organization", "org"],
    "lang": ["language"],
    "source_type": ["sourcetype", "made"],
}


#: The states of photos that are never published: left out of searches unless asked for.
WITHHELD = ("superseded", "killed", "notice")


@dataclass(frozen=True)
class SearchFilters:
    """Restrictions on results that do not affect ranking: agency, date taken, versions and
    rights verdict."""

    agency: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    #: Which versions: the current one of each live picture by default; add "killed"
    #: for killed pictures, "superseded" for older versions, "notice" for kill notices.
    states: tuple[str, ...] = ("live",)
    #: Only photos with one of these RightsFacts.status_key() values, None for any; killed,
    #: superseded and notice photos are then kept only if `killed_passes` (their verdict is
    #: always blocked).
    rights: frozenset[str] | None = None
    killed_passes: bool = False

    def query(self) -> Any:
        """Return a Whoosh query matching what the filters allow, or None for everything."""
        from whoosh import query as q

        parts: list[Any] = []
        if self.agency:
            parts.append(q.Term("agency_key", self.agency))
        if self.date_from or self.date_to:
            from photoarchive.index_postings import PostingsRange

            parts.append(
                PostingsRange.of(q.DateRange("date_created", self.date_from, self.date_to))
            )
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else q.And(parts)

    def mask(self) -> Any:
        """Return a Whoosh query for the versions left out (few), or None for none."""
        from whoosh import query as q

        hidden = [q.Term("state", s) for s in WITHHELD if s not in self.states]
        if not hidden:
            return None
        return hidden[0] if len(hidden) == 1 else q.Or(hidden)


@dataclass(frozen=True)
class IndexResults:
    """A page of hits, the total number of matches and, if asked, matches per agency."""

    hits: list[Hit]
    total: int
    agency_counts: dict[str, int] = field(default_factory=dict)
    #: The query's words as they stand in the index, for marking them in captions.
    terms: frozenset[str] = frozenset()


@dataclass(frozen=True)
class Hit:
    """One search result: which photo and its score."""

    sha256: str
    score: float


@functools.cache
def _schema() -> Any:
    from whoosh import fields
    from whoosh.analysis import RegexTokenizer, StemmingAnalyzer
    from whoosh.analysis.filters import LowercaseFilter, StopFilter

    text = StemmingAnalyzer()
    # Credits and place names are matched as words, unstemmed: "credit:reuters" finds
    # "REUTERS/Gleb Garanich" but "AP" never finds "apes".
    # Stop words are dropped so that "signs of defeat" does not demand "of" in the credit.
    words = RegexTokenizer(r"\w+") | LowercaseFilter() | StopFilter(minsize=1)
    return fields.Schema(
        sha256=fields.ID(stored=True, unique=True),
        text=fields.TEXT(analyzer=text),
        headline=fields.TEXT(analyzer=text),
        keywords=fields.TEXT(analyzer=text),
        byline=fields.TEXT(analyzer=text),
        credit=fields.TEXT(analyzer=words),
        agency=fields.TEXT(analyzer=words),
        agency_key=fields.ID(sortable=True),
        # "live" (the current version), "superseded" (an older version), "killed" or
        # "notice" (a kill notice).
        state=fields.ID(),
        source=fields.TEXT(analyzer=words),
        city=fields.TEXT(analyzer=words),
        country=fields.TEXT(analyzer=words),
        format=fields.ID(),
        # What the photo's verdict status depends on (rights.RightsFacts.status_key()):
        # searches filtered by verdict judge each distinct value once.
        rights=fields.ID(),
        date_created=fields.DATETIME(sortable=True),
        ingested_at=fields.DATETIME(sortable=True),
        # IPTC Extension: persons and organisations shown, the event.
        person=fields.TEXT(analyzer=words),
        organisation=fields.TEXT(analyzer=words),
        event=fields.TEXT(analyzer=text),
        # The caption's languages ("uk", "en"), how the picture was made (the IPTC digital
        # source type's code with "ai" or "screen" beside it) and its C2PA state.
        lang=fields.KEYWORD(lowercase=True),
        source_type=fields.KEYWORD(lowercase=True),
        c2pa=fields.KEYWORD(lowercase=True),
        # A digest of everything else in the document: verify compares it with what the
        # catalog says now, so a stale entry cannot pass as good.
        digest=fields.STORED(),
    )


class Entry(NamedTuple):
    """What the index holds of one photo: its record, its state and its rights facts."""

    record: PhotoRecord
    #: "live", "superseded", "killed" or "notice"
    state: str = "live"
    #: rights.RightsFacts.status_key() of the photo
    rights: str | None = None


def document(entry: Entry) -> dict[str, Any]:
    """Return the index document for a catalog entry."""
    record, state = entry.record, entry.state
    place = " ".join(
        v
        for v in (
            record.sublocation,
            record.city,
            record.province_state,
            record.country,
            record.country_code,
        )
        if v
    )
    keywords = "\n".join(record.keywords)
    shown = [
        str(p.get(k))
        for p in record.location_shown
        for k in ("name", "sublocation", "city", "province_state", "country")
        if p.get(k)
    ]
    text = "\n".join(
        v
        for v in (
            record.caption,
            record.headline,
            record.title,
            keywords,
            place,
            record.byline,
            record.credit,
            # Every language of the caption and title is searched by its words.
            *record.caption_languages.values(),
            *record.title_languages.values(),
            record.alt_text,
            record.event,
            *record.persons_shown,
            *record.organisations_shown,
            *shown,
        )
        if v
    )
    values: dict[str, Any] = {
        "sha256": record.sha256,
        "text": text,
        "headline": record.headline,
        "keywords": keywords,
        "byline": record.byline,
        "credit": record.credit,
        "agency": record.agency,
        "agency_key": record.agency,
        "source": record.source,
        "city": record.city,
        "country": " ".join(v for v in (record.country, record.country_code) if v),
        "format": record.format.lower(),
        "state": state,
        "rights": entry.rights,
        "person": "\n".join(record.persons_shown),
        "organisation": "\n".join(record.organisations_shown),
        "event": record.event,
        "lang": " ".join(record.languages),
        "source_type": source_type_terms(record.digital_source_type),
        "c2pa": c2pa_terms(record.c2pa),
    }
    # Empty fields are left out: each one given costs the writer analysis and bookkeeping.
    doc = {name: value for name, value in values.items() if value}
    for name in ("date_created", "ingested_at"):
        when = _parse_datetime(getattr(record, name))
        if when is not None:
            doc[name] = when
    doc["digest"] = document_digest(doc)
    return doc


def source_type_terms(code: str | None) -> str:
    """Return what `source_type:` finds a picture by: its digital source type's code, and
    "ai" or "screen" for pictures made by generative AI or captured from a screen."""
    from photoarchive.provenance import is_ai, is_screen_capture

    if not code:
        return ""
    terms = [code.lower()]
    if is_ai(code):
        terms.append("ai")
    if is_screen_capture(code):
        terms.append("screen")
    return " ".join(terms)


def c2pa_terms(report: dict[str, Any]) -> str:
    """Return what `c2pa:` finds a picture by: its state, "present" with any manifest, and
    "ai" when the manifest says generative AI made it."""
    state = report.get("state")
    if not state or state == "absent":
        return "absent"
    terms = [str(state), "present"]
    if report.get("ai_generated"):
        terms.append("ai")
    return " ".join(terms)


def document_digest(doc: dict[str, Any]) -> str:
    """Return a digest of an index document's content (its `digest` field left out)."""
    import hashlib
    import json

    content = {k: v for k, v in doc.items() if k != "digest"}
    canonical = json.dumps(content, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]


def _parse_datetime(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    # Whoosh stores naive datetimes; the wall-clock time the photo was taken is what
    # editors search by.
    return when.replace(tzinfo=None)


class SearchIndex:
    """A Whoosh index in one folder; derived from the catalog and rebuildable."""

    def __init__(self, folder: Path, archive_id: str | None = None) -> None:
        self.folder = folder
        #: The catalog's identity; an index built for another one is refused.
        self.archive_id = archive_id
        self._ix: Any = None
        # The folder the open index lives in (device, inode): a rebuild swaps in another
        # folder, and readers must then drop the old one's files.
        self._identity: tuple[int, int] | None = None
        # Opening a searcher reads every segment's metadata; long-lived processes (the web
        # desk) keep one per thread and refresh it when the index changes.
        self._local = threading.local()

    def create(self) -> None:
        """Create an empty index, replacing whatever is in the folder."""
        from whoosh import index

        self.close()
        if self.folder.exists():
            shutil.rmtree(self.folder)
        self.folder.mkdir(parents=True)
        self._ix = index.create_in(str(self.folder), _schema(), indexname=INDEX_NAME)
        self._write_archive_id(self.folder)
        self._identity = _folder_identity(self.folder)

    def _write_archive_id(self, folder: Path) -> None:
        from photoarchive.store import atomic_write

        if self.archive_id:
            atomic_write(folder / ARCHIVE_ID_FILE, self.archive_id.encode("ascii"))

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

    def _follow_folder(self) -> None:
        """Forget the open index if its folder was replaced (a rebuild) or removed."""
        if self._ix is None:
            return
        if _folder_identity(self.folder) != self._identity:
            self.close()
            with contextlib.suppress(Exception):
                self._ix.close()
            self._ix = None

    def _open(self) -> Any:
        self._follow_folder()
        if self._ix is None:
            from whoosh import index

            if not self.exists():
                raise IndexUnavailableError(
                    f"the search index is missing ({self.folder}); rebuild it with "
                    "'photoarchive reindex'"
                )
            try:
                ix = index.open_dir(str(self.folder), indexname=INDEX_NAME)
                names = ix.schema.names()  # reads the table of contents: a damaged one fails
            except Exception as exc:
                raise _damaged(exc) from None
            if sorted(names) != sorted(_schema().names()):
                ix.close()
                raise IndexOutdatedError(
                    "the search index was built by another version of photoarchive; rebuild "
                    "it with 'photoarchive reindex'"
                )
            if self.archive_id is not None:
                try:
                    built_for = (self.folder / ARCHIVE_ID_FILE).read_text("ascii").strip()
                except (OSError, UnicodeDecodeError):
                    built_for = None
                if built_for != self.archive_id:
                    ix.close()
                    raise IndexOutdatedError(
                        "the search index was not built for this archive's catalog (it was "
                        "copied from another archive or is older); rebuild it with "
                        "'photoarchive reindex'"
                    )
            self._ix = ix
            self._identity = _folder_identity(self.folder)
        return self._ix

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

    def rebuild(self, entries: Iterable[Entry]) -> int:
        """Replace the whole index with documents for `entries`; return the count."""
        from whoosh import index

        tmp, old = self.leftovers()
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.mkdir(parents=True)
        ix = index.create_in(str(tmp), _schema(), indexname=INDEX_NAME)
        # Analysis is pure Python: one writer process per core (each with its own segment)
        # rebuilds about half again as fast on two cores.
        procs = min(4, os.cpu_count() or 1)
        options = {"limitmb": _writer_memory_mb(procs), **_writer_options()}
        if procs > 1:
            writer = ix.writer(procs=procs, multisegment=True, **options)
        else:
            writer = ix.writer(**options)
        count = 0
        for entry in entries:
            writer.add_document(**document(entry))
            count += 1
        writer.commit()
        ix.close()
        self._write_archive_id(tmp)
        # Swap the finished index in, so searches never see a half-built one: in one step
        # where the system can exchange two folders, else by two renames.
        from photoarchive.store import exchange_paths

        self.close()
        self._ix = None
        if self.folder.exists() and exchange_paths(tmp, self.folder):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            if old.exists():
                shutil.rmtree(old)
            if self.folder.exists():
                self.folder.rename(old)
            tmp.rename(self.folder)
            shutil.rmtree(old, ignore_errors=True)
        return count

    def leftovers(self) -> tuple[Path, Path]:
        """Return the folders a rebuild works in (the new index, the old one): present only
        while a rebuild runs or after one was killed."""
        return (
            self.folder.with_name(self.folder.name + ".rebuild"),
            self.folder.with_name(self.folder.name + ".old"),
        )

    def rights_keys(self) -> list[str]:
        """Return every distinct RightsFacts.status_key() value in the index."""
        with self._searcher() as searcher:
            return [text.decode("utf-8") for text in searcher.reader().lexicon("rights")]

    def all_hashes(self) -> set[str]:
        """Return the sha256 of every document in the index."""
        return set(self.digests())

    def digests(self) -> dict[str, str | None]:
        """Return each document's content digest (see `document_digest`) by sha256."""
        with self._searcher() as searcher:
            return {f["sha256"]: f.get("digest") for f in searcher.all_stored_fields()}

    def missing_postings(self, entries: Iterable[Entry]) -> list[str]:
        """Return the sha256 of entries whose words the index cannot find them by: each
        term of each field of the document the catalog would make is looked up in the
        postings (a check of the index's content, not only of its stored fields)."""
        from whoosh.reading import TermNotFound

        schema = _schema()
        bad: list[str] = []
        with self._searcher() as searcher:
            reader = searcher.reader()
            for entry in entries:
                sha = entry.record.sha256
                docnum = searcher.document_number(sha256=sha)
                if docnum is None:
                    bad.append(sha)
                    continue
                if not _postings_hold(reader, schema, document(entry), docnum, TermNotFound):
                    bad.append(sha)
        return bad

    def search(
        self,
        query: str,
        limit: int | None = 20,
        page: int = 1,
        filters: SearchFilters | None = None,
        count_agencies: bool = False,
        deadline: Deadline | None = None,
    ) -> IndexResults:
        """Return one page of hits ranked by BM25 (every hit with limit=None) and the total.

        `filters` narrow the results without changing their scores; `count_agencies` adds the
        number of matches per agency (over all pages). A page past the last is empty (with
        the true total). With a `deadline`, the search stops with QueryTimeoutError when it
        passes; a query beyond the MAX_... limits is refused with QueryError.
        """
        from whoosh import query as q

        from photoarchive.index_postings import time_budget

        parsed = self.parse(query)
        terms = frozenset(
            text.decode("utf-8") if isinstance(text, bytes) else str(text)
            for name, text in parsed.all_terms()
            if name in TEXT_FIELDS_FOR_CAPTION
        )
        wanted = filters or SearchFilters()
        with self._searcher() as searcher, time_budget(deadline):
            parsed = _bounded_expansions(parsed, searcher.reader())
            # Filters are given to Whoosh as plain sets of document numbers: its own bit sets
            # are tested for emptiness once per matching document, which is slow. Masking the
            # few hidden versions is much cheaper than allowing the many live ones.
            allow, hidden = wanted.query(), wanted.mask()
            allowed = None if allow is None else set(searcher.docs_for_query(allow))
            hidden_docs = set() if hidden is None else set(searcher.docs_for_query(hidden))
            if wanted.rights is not None:
                by_rights, hidden_by_rights = _rights_limits(searcher, wanted)
                if by_rights is not None:
                    allowed = by_rights if allowed is None else allowed & by_rights
                hidden_docs |= hidden_by_rights
            if allowed is not None and not allowed:
                # Whoosh takes an empty filter for no filter at all
                return IndexResults(hits=[], total=0, terms=terms)
            if limit is None:
                results = _collect(searcher, parsed, None, True, allowed, hidden_docs or None)
                total = len(results)
                page_hits = list(results)
            else:
                # Skipping blocks that cannot rank pays for one word in under a tenth of the
                # photos; for anything else Whoosh must then count the matches in a second
                # pass, which costs more than it saved (two words, phrases, fields: 30-45%
                # faster without; a word in every photo 20%).
                optimize = (
                    isinstance(parsed, q.Term)
                    and searcher.doc_frequency(parsed.fieldname, parsed.text) * 10
                    < searcher.doc_count_all()
                )
                # Pages are cut here rather than by Whoosh's search_page, which shows the last
                # page for any page past it (a script paging until it gets nothing would
                # never stop); no search ranks more documents than the index holds.
                first = (page - 1) * limit
                ranked = max(1, min(first + limit, searcher.doc_count_all()))
                results = _collect(searcher, parsed, ranked, optimize, allowed, hidden_docs or None)
                total = len(results)  # with `optimize`, a second, cheap pass counts them
                page_hits = results[first : first + limit] if first < total else []
            hits = [Hit(sha256=h["sha256"], score=float(h.score or 0.0)) for h in page_hits]
            counts: dict[str, int] = {}
            if count_agencies:
                # Apart from the ranking: a facet in Whoosh's collector keeps a Python object
                # per match, which cost more than the search itself on broad queries.
                counts = self._agency_counts(searcher, parsed, allowed, hidden_docs)
        return IndexResults(hits=hits, total=total, agency_counts=counts, terms=terms)

    def _agency_counts(
        self, searcher: Any, parsed: Any, allowed: set[int] | None, hidden: set[int]
    ) -> dict[str, int]:
        """Count the matches per agency: the matching document numbers (postings only, no
        scoring) against a per-index array of each document's agency."""
        import numpy as np

        codes, names = self._agency_column(searcher)
        docs = np.fromiter(searcher.docs_for_query(parsed), dtype=np.int64)
        if allowed is not None:
            docs = docs[np.isin(docs, np.fromiter(allowed, dtype=np.int64, count=len(allowed)))]
        if hidden:
            docs = docs[~np.isin(docs, np.fromiter(hidden, dtype=np.int64, count=len(hidden)))]
        counted = np.bincount(codes[docs], minlength=len(names))
        return {names[i]: int(n) for i, n in enumerate(counted) if n and names[i]}

    def _agency_column(self, searcher: Any) -> tuple[Any, list[str]]:
        """Return (agency code of each document, the agencies by code), made once per index
        version this thread reads."""
        import numpy as np

        reader = searcher.reader()
        cached = getattr(self._local, "agencies", None)
        # Held by the reader itself, not its id: a new reader may be given a freed one's id.
        if cached is not None and cached[0] is reader:
            return cached[1], cached[2]
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
        self._local.agencies = (reader, codes, names)
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
            raise _damaged(exc) from None
        self._local.searcher = searcher
        yield searcher

    def close(self) -> None:
        """Close this thread's searcher, if one is open."""
        searcher = getattr(self._local, "searcher", None)
        if searcher is not None:
            searcher.close()
            self._local.searcher = None

    def highlight(self, terms: frozenset[str], captions: dict[str, str]) -> dict[str, str]:
        """Return each caption HTML-escaped with the given index terms in <mark>
        (`IndexResults.terms` of the search)."""
        from whoosh import highlight

        analyzer = _schema()["text"].analyzer
        formatter = highlight.HtmlFormatter(tagname="mark", classname="hit", termclass="t")
        out: dict[str, str] = {}
        for sha, text in captions.items():
            marked = ""
            if terms:
                marked = highlight.highlight(
                    text,
                    terms,
                    analyzer,
                    highlight.WholeFragmenter(charlimit=None),
                    formatter,
                )
            out[sha] = marked or _escape(text)
        return out

    def parse(self, query: str) -> Any:
        """Parse a query in the archive's query language; raise QueryError if it is not one."""
        from whoosh import qparser
        from whoosh.query import NullQuery

        if not query.strip():
            raise QueryError("empty query: give words to search for")
        check_query_limits(query)
        self._open()  # a missing or outdated index is reported before the query is read
        known = set(SEARCH_FIELDS) | {a for names in FIELD_ALIASES.values() for a in names}
        for name in _FIELD_PREFIX.findall(re.sub(r'"[^"]*"', "", query)):
            if name.lower() not in known:
                raise QueryError(
                    f"unknown field '{name}:' in the query; fields are "
                    f"{', '.join(sorted(SEARCH_FIELDS))} and date:"
                )
        query = _FIELD_PREFIX.sub(lambda m: m.group(1).lower() + ":", query)
        query = _DATE_TERM.sub(_compact_dates, query)
        parser = qparser.MultifieldParser(list(DEFAULT_FIELDS), _schema(), group=qparser.AndGroup)
        parser.add_plugin(qparser.GtLtPlugin())
        parser.add_plugin(qparser.FieldAliasPlugin(FIELD_ALIASES))
        try:
            parsed = parser.parse(query)
        except Exception as exc:
            raise QueryError(f"cannot understand the query '{query}': {exc}") from None
        errors = [node for node in parsed.leaves() if type(node).__name__ == "ErrorQuery"]
        if errors:
            raise QueryError(f"cannot understand the query '{query}': check dates and brackets")
        if parsed is NullQuery:
            raise QueryError(f"nothing to search for in '{query}'")
        if any(
            getattr(leaf, "fieldname", "") is None and type(leaf).__name__ != "Every"
            for leaf in parsed.leaves()
        ):
            # Whoosh leaves some stray operators as a word of no field ("0 (0 OR ^0)"),
            # which would fail only while searching.
            raise QueryError(
                f"cannot understand the query '{query}': check brackets and operators "
                "(^ raises a word's weight: flag^2)"
            )
        _check_dates(parsed, query)
        # Words joined by hyphens, dots or apostrophes are one word typed but several terms.
        made = sum(len(getattr(leaf, "words", None) or [leaf]) for leaf in parsed.leaves())
        if made > MAX_QUERY_WORDS:
            raise QueryError(
                f"too many words: the query makes {made:,} search terms (words joined by "
                f"hyphens or dots count one by one), at most {MAX_QUERY_WORDS:,}"
            )
        from photoarchive.index_postings import with_postings_ranges

        return with_postings_ranges(parsed)


def check_query_limits(query: str) -> None:
    """Raise QueryError if the query is too long, holds too long a word or too many words.

    Checked before Whoosh reads the query: its parser works in pure Python.
    """
    if len(query) > MAX_QUERY_CHARS:
        raise QueryError(f"query too long: {len(query):,} characters, at most {MAX_QUERY_CHARS:,}")
    words = [w for w in _WORD.findall(query) if w not in _OPERATORS]
    longest = max(words, key=len, default="")
    if len(longest) > MAX_WORD_CHARS:
        raise QueryError(
            f"word too long: {len(longest):,} characters ('{longest[:24]}...'), "
            f"at most {MAX_WORD_CHARS:,}"
        )
    if len(words) > MAX_QUERY_WORDS:
        raise QueryError(f"too many words: {len(words):,}, at most {MAX_QUERY_WORDS:,}")


def _check_dates(parsed: Any, query: str) -> None:
    """Raise QueryError for a date Whoosh would only fail to read while searching (a quoted
    one, such as date:"x", is not read by the parser)."""
    schema = _schema()
    for leaf in parsed.leaves():
        name = getattr(leaf, "fieldname", None)
        if name not in ("date_created", "ingested_at"):
            continue
        texts = getattr(leaf, "words", None) or [getattr(leaf, "text", None)]
        for text in texts:
            if not isinstance(text, str):
                continue
            try:
                schema[name].to_bytes(text)
            except Exception:  # Whoosh raises a bare Exception for an unreadable date
                raise QueryError(
                    f"cannot understand the query '{query}': '{text}' is not a date such as "
                    "2022-09-11"
                ) from None


def _bounded_expansions(query: Any, reader: Any) -> Any:
    """Return `query` with its wildcards, prefixes and word ranges expanded to the index
    terms they stand for (matched as postings lists); raise QueryError if together they
    stand for more than MAX_EXPANSIONS terms.

    The lexicon is read under the search's time budget, and at most one term past the
    limit is read: a wildcard such as `*a*` stands for most of the index, and Whoosh would
    step a matcher for each of its terms.
    """
    from whoosh.query import Every, MultiTerm

    from photoarchive.index_postings import PostingsTerms

    total = 0
    shown: list[str] = []

    def bound(node: Any) -> Any:
        nonlocal total
        if isinstance(node, Every):
            if node.fieldname in (None, "", "*"):
                return node  # every document: one list, whatever the lexicon holds
        elif not isinstance(node, MultiTerm):
            return node
        shown.append(_pattern_text(node))
        found: list[bytes] = []
        for btext in _expansions(node, reader):
            total += 1
            if total > MAX_EXPANSIONS:
                what = (
                    f"'{shown[0]}' matches"
                    if len(shown) == 1
                    else f"the wildcards {', '.join(repr(s) for s in shown)} match"
                )
                raise QueryError(
                    f"{what} more than {MAX_EXPANSIONS:,} words in the index: be more "
                    "specific (more letters before a * or ?, a narrower range)"
                )
            found.append(btext)
        if isinstance(node, Every) or not getattr(node, "constantscore", False):
            return node
        return PostingsTerms(node, found)

    return query.accept(bound)


def _expansions(node: Any, reader: Any) -> Iterator[bytes]:
    """Yield the index terms a wildcard, prefix, word range or every-word query stands
    for, checking the time budget while the lexicon is read."""
    from whoosh.query import Every, PatternQuery

    from photoarchive.index_postings import CHECK_EVERY, check_time

    fieldname = node.fieldname
    pattern: re.Pattern[str] | None = None
    if isinstance(node, Every):
        candidates = reader.lexicon(fieldname)
    elif type(node)._btexts is PatternQuery._btexts:
        # Wildcards read the lexicon from their literal start (all of it for `*a`) and
        # test each term; their own loop would skip non-matching terms without a pause in
        # which to look at the clock.
        pattern = re.compile(node._get_pattern())
        prefix = node._find_prefix(node.text)
        candidates = (
            reader.expand_prefix(fieldname, prefix) if prefix else reader.lexicon(fieldname)
        )
    else:
        candidates = node._btexts(reader)
    from_bytes = reader.schema[fieldname].from_bytes if fieldname in reader.schema else None
    for n, btext in enumerate(candidates):
        if n % CHECK_EVERY == 0:
            check_time()
        if pattern is None or (from_bytes is not None and pattern.match(from_bytes(btext))):
            yield btext


def _pattern_text(node: Any) -> str:
    """Return how a wildcard, prefix or range reads in the query language."""
    from whoosh.query import Every, Prefix, TermRange

    if isinstance(node, Every):
        text = "*"
    elif isinstance(node, Prefix):
        text = f"{node.text}*"
    elif isinstance(node, TermRange):
        text = f"[{node.start or ''} to {node.end or ''}]"
    else:
        text = str(getattr(node, "text", node))
    field = node.fieldname
    return text if field in DEFAULT_FIELDS else f"{field}:{text}"


def _new_searcher(ix: Any) -> Any:
    from photoarchive.index_postings import TimedSearcher

    return TimedSearcher(ix.reader(), fromindex=ix)


def _collect(
    searcher: Any,
    parsed: Any,
    limit: int | None,
    optimize: bool,
    allowed: set[int] | None,
    hidden: set[int] | None,
) -> Any:
    """Run a search as Whoosh's Searcher.search does, with the time budget checked as the
    documents are collected."""
    from photoarchive.index_postings import TimedCollector

    collector = TimedCollector(searcher.collector(limit=limit, optimize=optimize), allowed, hidden)
    searcher.search_with_collector(parsed, collector)
    return collector.results()


def _postings_hold(
    reader: Any, schema: Any, doc: dict[str, Any], docnum: int, not_found: type[Exception]
) -> bool:
    from whoosh.matching import ReadTooFar

    for name, value in doc.items():
        field = schema[name]
        if not field.indexed or name == "sha256":
            continue
        try:
            terms = {text for text, *_ in field.index(value)}
        except Exception:  # a value the field cannot take would not have been indexed either
            continue
        for text in terms:
            try:
                matcher = reader.postings(name, text)
            except not_found:
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


def _folder_identity(folder: Path) -> tuple[int, int] | None:
    try:
        info = folder.stat()
    except OSError:
        return None
    return (info.st_dev, info.st_ino)


def _rights_limits(searcher: Any, filters: SearchFilters) -> tuple[set[int] | None, set[int]]:
    """Return the documents a rights filter allows (None for all) and those it hides.

    Whichever side holds fewer documents is read: allowing the few cleared photos, or
    hiding the few that are not.
    """
    from whoosh.query import Term

    from photoarchive.index_postings import docs_with_terms

    wanted = filters.rights or frozenset()
    reader = searcher.reader()
    keys = [text.decode("utf-8") for text in reader.lexicon("rights")]
    passing = [k for k in keys if k in wanted]
    failing = [k for k in keys if k not in wanted]
    # Killed, superseded and notice photos are blocked whatever their rights facts.
    killed: set[int] = set()
    for state in WITHHELD:
        killed |= set(searcher.docs_for_query(Term("state", state)))

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
    from photoarchive.index_codec import WriterCodec

    # Segments are left as separate files: Whoosh opens a compound segment by copying each
    # part into memory, which at 100,000 photos cost every search process 0.1-0.2 s.
    return {"codec": WriterCodec(), "compound": False}


def _damaged(exc: Exception) -> IndexUnavailableError:
    return IndexUnavailableError(
        f"the search index is damaged ({type(exc).__name__}: {exc}); rebuild it with "
        "'photoarchive reindex'"
    )


def _compact_dates(match: re.Match[str]) -> str:
    # Whoosh's date field reads compact dates (20220912, 202209121400) in terms and ranges;
    # editors type ISO dates, so they are rewritten before parsing. (Whoosh's English date
    # parser plugin is not used: it reads 2022-09-12 in a range as the year alone, and
    # building it costs a tenth of a second per process.)
    value = match.group(2)
    in_range = value.startswith(("[", "{"))

    def compact(d: re.Match[str]) -> str:
        out = d.group(1) + d.group(2) + (d.group(3) or "")
        return out + (d.group(4).replace(":", "") if d.group(4) and in_range else "")

    return f"{match.group(1)}:{_ISO_DATE.sub(compact, value)}"


def _escape(text: str) -> str:
    from html import escape

    return escape(text, quote=False)
