"""The archive's query language, read into an engine-neutral query tree.

Words (all must match), "phrases", field:word, AND / OR / NOT / ANDNOT / ANDMAYBE,
(groups), word^2 boosts, wildcards (tank*, ta?k), word ranges ([a to f]), near misses
(izuim~) and dates (date:2022-09, date:[2022-09-01 to 2022-09-30], date:>2022-09-10). Each
word also finds its forms, spellings and equivalents (words.py). As in Whoosh, whose
language this is: AND binds tighter than OR, and words side by side are joined by AND last,
so `tank river OR flag` is `tank AND (river OR flag)`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, NamedTuple

from photoarchive.errors import QueryError
from photoarchive.search.analysis import KEY_MARK, SPELLING_FIELD, WORD, analyse
from photoarchive.search.deadline import CHECK_EVERY, check_time
from photoarchive.search.documents import DATE_FIELDS, TERM_FIELDS
from photoarchive.search.tree import (
    DEFAULT_FIELD,
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
    boosted,
    leaves,
)
from photoarchive.search.words import RUNNING_TEXT, WordFinder

if TYPE_CHECKING:
    from photoarchive.search.results import SearchFilters
    from photoarchive.search.thesaurus import Thesaurus

#: Fields whose words are marked in the caption (all share its analysis).
CAPTION_FIELDS = frozenset({"text", "headline", "keywords", "byline"})
#: Fields a query may name: every field of terms, and the dates.
SEARCH_FIELDS = (*(f for f in TERM_FIELDS if f != SPELLING_FIELD), *DATE_FIELDS)
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
_CANONICAL = {a: name for name, aliases in FIELD_ALIASES.items() for a in aliases} | {
    n: n for n in SEARCH_FIELDS
}

# Limits on a query, checked before it is read: a query pasted by mistake (or sent to the
# desk on purpose) could otherwise hold a worker for minutes.
MAX_QUERY_CHARS = 1_000
MAX_WORD_CHARS = 100
#: Words typed, and index terms made of them (a phrase counts its words).
MAX_QUERY_WORDS = 50
#: Brackets within brackets.
MAX_DEPTH = 20
#: Index terms the wildcards, prefixes and word ranges of one query may stand for.
MAX_EXPANSIONS = 2_000
# What counts as a word typed: anything between spaces, brackets and quotes, less operators.
_WORD = re.compile(r'[^\s()"\[\]{}]+')
_OPERATORS = frozenset({"AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "TO", "to"})
_FIELD_PREFIX = re.compile(r"([A-Za-z_][A-Za-z0-9_]*):")
_BOOST = re.compile(r"\^(\d+(?:\.\d*)?|\.\d+)$")
_DATE = re.compile(
    r"(\d{4})(?:-?(\d{2})(?:-?(\d{2})(?:(?:[T ]|(?<=\d{8}))(\d{2}):?(\d{2})(?::?(\d{2}))?)?)?)?"
)
_FUZZY = re.compile(r"~([0-2])?$")
_RANGE_TO = re.compile(r"\s+to\s+|^to\s+|\s+to$|^to$", re.IGNORECASE)


# -- reading a query ----------------------------------------------------------------------------
def check_query_limits(query: str) -> None:
    """Raise QueryError if the query is too long, holds too long a word or too many words."""
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


class ExpansionBudget:
    """The index terms a query's wildcards, prefixes and word ranges stand for, counted
    against MAX_EXPANSIONS together, whichever engine reads its terms."""

    def __init__(self) -> None:
        self.total = 0
        self.shown: list[str] = []

    def take(self, pattern: Pattern, candidates: Iterable[str]) -> list[str]:
        """Return the candidate index terms `pattern` stands for; raise QueryError once the
        query's patterns stand for more than MAX_EXPANSIONS. The candidates are read under
        the search's time budget, and at most one term past the limit: a wildcard such as
        `*a*` stands for most of the index."""
        self.shown.append(pattern.shown())
        found: list[str] = []
        for n, term in enumerate(candidates):
            if n % CHECK_EVERY == 0:
                check_time()
            if not pattern.matches(term):
                continue
            self.total += 1
            if self.total > MAX_EXPANSIONS:
                raise too_many_expansions(self.shown)
            found.append(term)
        return found


def too_many_expansions(shown: list[str]) -> QueryError:
    """Return the error for wildcards that stand for more than MAX_EXPANSIONS terms."""
    what = (
        f"'{shown[0]}' matches"
        if len(shown) == 1
        else f"the wildcards {', '.join(repr(s) for s in shown)} match"
    )
    return QueryError(
        f"{what} more than {MAX_EXPANSIONS:,} words in the index: be more specific (more "
        "letters before a * or ?, a narrower range)"
    )


def parse_query(query: str, thesaurus: Thesaurus | None = None) -> ParsedQuery:
    """Read a query in the archive's query language, each word standing also for its
    forms, spellings and (with a thesaurus) equivalents; raise QueryError if it is not
    one."""
    if not query.strip():
        raise QueryError("empty query: give words to search for")
    check_query_limits(query)
    tokens = _Lexer(query).tokens()
    parser = _Parser(tokens, query, thesaurus)
    tree = parser.parse()
    if tree is None:
        raise QueryError(f"nothing to search for in '{query}'")
    if parser.words.made > MAX_QUERY_WORDS:
        raise QueryError(
            f"too many words: the query makes {parser.words.made:,} search terms (words joined by "
            f"hyphens or dots count one by one), at most {MAX_QUERY_WORDS:,}"
        )
    marked: set[str] = set()
    for leaf, negated in leaves(tree):
        field = getattr(leaf, "field", None)
        if negated:
            continue
        if isinstance(leaf, Term) and field == SPELLING_FIELD:
            marked.add(KEY_MARK + leaf.text)
        elif field not in CAPTION_FIELDS:
            continue
        elif isinstance(leaf, Term):
            marked.add(leaf.text)
        elif isinstance(leaf, Phrase):
            marked.update(leaf.terms)
    return ParsedQuery(tree, frozenset(marked))


class _Token(NamedTuple):
    kind: str  # "(", ")", "op", "word", "phrase", "range", "cmp"
    text: str = ""
    field: str | None = None
    boost: float = 1.0
    #: For ranges: (start, end, start excluded, end excluded); for "cmp": the operator.
    extra: tuple[str | None, str | None, bool, bool] | str | None = None


class _Lexer:
    """Split a query into tokens: brackets, operators, words, phrases and ranges, each with
    the field named before it."""

    def __init__(self, query: str) -> None:
        self.text = query
        self.pos = 0

    def tokens(self) -> list[_Token]:
        out: list[_Token] = []
        text = self.text
        while True:
            while self.pos < len(text) and text[self.pos].isspace():
                self.pos += 1
            if self.pos >= len(text):
                return out
            name = self._field()
            if name is not None and (self.pos >= len(text) or text[self.pos].isspace()):
                continue  # "credit: reuters": a field naming nothing is left out
            char = text[self.pos]
            if char == "(":
                self.pos += 1
                out.append(_Token("(", field=name))
            elif char == ")":
                self.pos += 1
                out.append(_Token(")", boost=self._boost()))
            elif char == '"':
                end = text.find('"', self.pos + 1)
                end = len(text) if end < 0 else end
                phrase = text[self.pos + 1 : end]
                self.pos = end + 1
                out.append(_Token("phrase", phrase, name, self._boost()))
            elif char in "[{":
                out.append(self._range(name))
            else:
                out.append(self._word(name))

    def _field(self) -> str | None:
        match = _FIELD_PREFIX.match(self.text, self.pos)
        if not match:
            return None
        name = match.group(1).lower()
        if name not in _CANONICAL:
            raise QueryError(
                f"unknown field '{match.group(1)}:' in the query; fields are "
                f"{', '.join(sorted(SEARCH_FIELDS))} and date:"
            )
        self.pos = match.end()
        return _CANONICAL[name]

    def _boost(self) -> float:
        match = re.match(r"\^(\d+(?:\.\d*)?|\.\d+)", self.text[self.pos :])
        if not match:
            return 1.0
        self.pos += match.end()
        return float(match.group(1))

    def _range(self, name: str | None) -> _Token:
        opening = self.text[self.pos]
        closing = "]" if opening == "[" else "}"
        end = self.text.find(closing, self.pos + 1)
        other = self.text.find("]" if closing == "}" else "}", self.pos + 1)
        if end < 0 and other >= 0:  # [a to b} : mixed brackets, as Lucene allows
            end, closing = other, self.text[other]
        if end < 0:
            raise QueryError(
                f"cannot understand the query '{self.text}': a range opened with "
                f"'{opening}' is not closed"
            )
        inside = self.text[self.pos + 1 : end]
        self.pos = end + 1
        parts = _RANGE_TO.split(inside.strip(), maxsplit=1)
        if len(parts) != 2:
            raise QueryError(
                f"cannot understand the query '{self.text}': write a range as [FROM to TO]"
            )
        start, stop = (p.strip() or None for p in parts)
        if start is None and stop is None:
            raise QueryError(f"cannot understand the query '{self.text}': an empty range")
        return _Token(
            "range",
            inside,
            name,
            self._boost(),
            (start, stop, opening == "{", closing == "}"),
        )

    def _word(self, name: str | None) -> _Token:
        start = self.pos
        while self.pos < len(self.text) and not (
            self.text[self.pos].isspace() or self.text[self.pos] in '()"'
        ):
            self.pos += 1
        word = self.text[start : self.pos]
        boost = 1.0
        match = _BOOST.search(word)
        if match:
            word, boost = word[: match.start()], float(match.group(1))
        if name is None and word in ("AND", "OR", "NOT", "ANDNOT", "ANDMAYBE"):
            return _Token("op", word)
        for op in (">=", "<=", ">", "<"):
            if word.startswith(op) and len(word) > len(op):
                return _Token("cmp", word[len(op) :], name, boost, op)
        return _Token("word", word, name, boost)


class _Parser:
    """Build the query tree from tokens (recursive descent)."""

    def __init__(self, tokens: list[_Token], query: str, thesaurus: Thesaurus | None) -> None:
        self.tokens = tokens
        self.query = query
        self.words = WordFinder(thesaurus)
        self.pos = 0
        self.depth = 0

    def parse(self) -> Node | None:
        node = self._sequence(DEFAULT_FIELD)
        while self.pos < len(self.tokens):  # a stray ")" is left out
            self.pos += 1
            more = self._sequence(DEFAULT_FIELD)
            node = _join(And, [node, more])
        return _simplify(node) if node is not None else None

    def _peek(self) -> _Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _sequence(self, default: str) -> Node | None:
        parts: list[Node | None] = []
        while (token := self._peek()) is not None and token.kind != ")":
            if token.kind == "op" and token.text in ("AND", "OR", "ANDNOT", "ANDMAYBE"):
                self.pos += 1  # an operator with nothing before it is left out
                continue
            parts.append(self._or(default))
        return _join(And, parts)

    def _or(self, default: str) -> Node | None:
        parts = [self._and(default)]
        while (token := self._peek()) is not None and token.kind == "op" and token.text == "OR":
            self.pos += 1
            parts.append(self._and(default))
        return _join(Or, parts)

    def _and(self, default: str) -> Node | None:
        node = self._not(default)
        while (
            (token := self._peek()) is not None
            and token.kind == "op"
            and token.text in ("AND", "ANDNOT", "ANDMAYBE")
        ):
            self.pos += 1
            right = self._not(default)
            if right is None or node is None:
                node = node if right is None else right
            elif token.text == "AND":
                node = _join(And, [node, right])
            elif token.text == "ANDNOT":
                node = And((node, Not(right)))
            else:
                node = AndMaybe(node, right)
        return node

    def _not(self, default: str) -> Node | None:
        token = self._peek()
        if token is not None and token.kind == "op" and token.text == "NOT":
            self.pos += 1
            inner = self._not(default)
            return None if inner is None else Not(inner)
        return self._atom(default)

    def _atom(self, default: str) -> Node | None:
        token = self._peek()
        if token is None or token.kind == ")" or token.kind == "op":
            return None
        self.pos += 1
        name = token.field or default
        if token.kind == "(":
            if self.depth >= MAX_DEPTH:
                raise QueryError(
                    f"cannot understand the query '{self.query[:60]}...': brackets nested "
                    f"more than {MAX_DEPTH} deep"
                )
            self.depth += 1
            inner = self._sequence(name)
            self.depth -= 1
            closing = self._peek()
            boost = 1.0
            if closing is not None and closing.kind == ")":
                self.pos += 1
                boost = closing.boost
            return boosted(inner, boost)
        if token.kind == "word":
            return self._word(name, token)
        if token.kind == "phrase":
            if name in DATE_FIELDS:
                return self._date(name, token.text, token.boost)
            return self.words.phrase(name, token.text, token.boost)
        if token.kind == "range":
            assert isinstance(token.extra, tuple)
            start, end, start_excl, end_excl = token.extra
            return self._range(name, start, end, start_excl, end_excl, token.boost)
        assert token.kind == "cmp" and isinstance(token.extra, str)
        op = token.extra
        if op.startswith(">"):
            return self._range(name, token.text, None, op == ">", False, token.boost)
        return self._range(name, None, token.text, False, op == "<", token.boost)

    def _word(self, name: str, token: _Token) -> Node | None:
        text = token.text
        if not text:
            return None
        if text == "*:*":
            return Every(token.boost)
        if name in DATE_FIELDS:
            return self._date(name, text, token.boost)
        if "*" in text or "?" in text:
            self.words.made += 1
            pattern = text.lower()  # every field's terms are lowercase
            body = pattern.rstrip("*")
            if body and pattern.endswith("*") and "*" not in body and "?" not in body:
                return Pattern(name, "prefix", body, boost=token.boost)
            return Pattern(name, "wildcard", pattern, boost=token.boost)
        fuzzy = _FUZZY.search(text)
        if fuzzy and name in RUNNING_TEXT:
            return self.words.fuzzy(name, text[: fuzzy.start()], fuzzy.group(1), token.boost)
        if name in RUNNING_TEXT:
            words = WORD.findall(text)
            self.words.made += len(words)
            found = [n for n in (self.words.running_word(name, w) for w in words) if n is not None]
        else:
            terms = analyse(name, text)
            self.words.made += len(terms)
            found = [self.words.name_word(name, t) for t in terms]
        if not found:
            return None
        if len(found) == 1:
            return boosted(found[0], token.boost)
        # One word typed that makes several ("ukraine-russia", "u.s.-led"): all must match,
        # as in Whoosh.
        return And(tuple(found), token.boost)

    def _range(
        self,
        name: str,
        start: str | None,
        end: str | None,
        start_excl: bool,
        end_excl: bool,
        boost: float,
    ) -> Node | None:
        if name in DATE_FIELDS:
            low = high = None
            if start is not None:
                first, last = self._period(start)
                low = last + timedelta(microseconds=1) if start_excl else first
            if end is not None:
                first, last = self._period(end)
                high = first - timedelta(microseconds=1) if end_excl else last
            return DateRange(name, low, high, boost)
        low_text = None if start is None else start.lower()
        high_text = None if end is None else end.lower()
        return Pattern(
            name,
            "range",
            start=low_text,
            end=high_text,
            start_excluded=start_excl,
            end_excluded=end_excl,
            boost=boost,
        )

    def _date(self, name: str, text: str, boost: float) -> Node:
        first, last = self._period(text)
        return DateRange(name, first, last, boost)

    def _period(self, text: str) -> tuple[datetime, datetime]:
        """Return the first and last moment of a date as typed (a year, a month, a day, a
        minute or a second)."""
        period = date_period(text.strip())
        if period is None:
            raise QueryError(
                f"cannot understand the query '{self.query}': '{text}' is not a date such as "
                "2022-09-11"
            )
        return period


_SINCE = re.compile(r"(\d+)\s*(m|min|h|d|w)", re.IGNORECASE)
_SINCE_UNITS = {"m": "minutes", "min": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def since_moment(text: str, now: datetime, zone: tzinfo | None = None) -> datetime:
    """Return the moment `--since` names, as a naive UTC datetime (as arrival times are
    kept): a span back from `now` (90m, 24h, 7d, 2w) or a date or time as typed
    (2022-09-11, 2022-09-11T14:00) in `zone` (default UTC). Raise QueryError otherwise."""
    typed = text.strip()
    span = _SINCE.fullmatch(typed)
    if span:
        amount = int(span.group(1))
        try:
            back = timedelta(**{_SINCE_UNITS[span.group(2).lower()]: amount})
            moment = now.astimezone(UTC) - back
        except OverflowError:
            raise QueryError(f"'{typed}' is too far back: give a date instead") from None
        return moment.replace(tzinfo=None)
    period = date_period(typed)
    if period is None:
        raise QueryError(
            f"'{typed}' is not a time to search since: give a span such as 24h, 7d or 90m, "
            "or a date such as 2022-09-11"
        )
    try:
        moment = period[0].replace(tzinfo=zone or UTC).astimezone(UTC)
    except OverflowError:
        return period[0]
    return moment.replace(tzinfo=None)


def build_query(
    text: str, filters: SearchFilters | None = None, thesaurus: Thesaurus | None = None
) -> ParsedQuery:
    """Return the query to give a search engine: `text` read with the thesaurus (every
    photo if it has no words), with the filters the engines do not take themselves
    (arrival time, source type) added as clauses that every photo found must match."""
    parsed = parse_query(text, thesaurus) if text.strip() else ParsedQuery(Every())
    clauses: list[Node] = []
    if filters is not None and filters.ingested_from is not None:
        clauses.append(DateRange("ingested_at", filters.ingested_from, None))
    if filters is not None and filters.source_type:
        terms = analyse("source_type", filters.source_type)
        if not terms:
            raise QueryError(f"'{filters.source_type}' is not a source type")
        clauses.append(Term("source_type", terms[0]))
    if not clauses:
        return parsed
    if isinstance(parsed.tree, Every):
        tree: Node = clauses[0] if len(clauses) == 1 else And(tuple(clauses))
    else:
        tree = _simplify(And((parsed.tree, *clauses)))
    return parsed._replace(tree=tree)


def date_period(text: str) -> tuple[datetime, datetime] | None:
    """Return the first and last moment of a date as typed (2022, 2022-09, 2022-09-12,
    2022-09-12T14:00, or compact: 20220912, 202209121400), or None if it is not one."""
    match = _DATE.fullmatch(text)
    if not match:
        return None
    year, month, day, hour, minute, second = (int(g) if g else None for g in match.groups())
    assert year is not None
    try:
        if month is None:
            return datetime(year, 1, 1), datetime(year, 12, 31, 23, 59, 59, 999999)
        if day is None:
            import calendar  # here: it imports locale, a cost to every search's start

            last = calendar.monthrange(year, month)[1]
            return datetime(year, month, 1), datetime(year, month, last, 23, 59, 59, 999999)
        if hour is None:
            return datetime(year, month, day), datetime(year, month, day, 23, 59, 59, 999999)
        assert minute is not None
        if second is None:
            first = datetime(year, month, day, hour, minute)
            return first, first + timedelta(seconds=59, microseconds=999999)
        first = datetime(year, month, day, hour, minute, second)
        return first, first + timedelta(microseconds=999999)
    except ValueError:  # 2022-13, 2022-02-30
        return None


def _join(kind: type[And] | type[Or], parts: list[Node | None]) -> Node | None:
    kept = [p for p in parts if p is not None]
    if not kept:
        return None
    if len(kept) == 1:
        return kept[0]
    return kind(tuple(kept))


def _best(node: Node) -> bool:
    return isinstance(node, Or) and node.best


def _simplify(node: Node) -> Node:
    """Flatten nested And/Or of the same kind and cancel double negations."""
    if isinstance(node, Not):
        inner = _simplify(node.part)
        if isinstance(inner, Not) and node.boost == 1.0:
            return inner.part
        return Not(inner, node.boost)
    if isinstance(node, And | Or):
        parts: list[Node] = []
        for part in (_simplify(p) for p in node.parts):
            if type(part) is type(node) and part.boost == 1.0 and _best(part) == _best(node):
                parts.extend(part.parts)
            else:
                parts.append(part)
        if isinstance(node, Or):
            return Or(tuple(parts), node.boost, node.best)
        return And(tuple(parts), node.boost)
    if isinstance(node, AndMaybe):
        return AndMaybe(_simplify(node.required), _simplify(node.optional), node.boost)
    return node
