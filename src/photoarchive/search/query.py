"""The archive's query language, read into an engine-neutral query tree.

Words (all must match), "phrases", field:word, AND / OR / NOT / ANDNOT / ANDMAYBE,
(groups), word^2 boosts, wildcards (tank*, ta?k), word ranges ([a to f]) and dates
(date:2022-09, date:[2022-09-01 to 2022-09-30], date:>2022-09-10). As in Whoosh, whose
language this is: AND binds tighter than OR, and words side by side are joined by AND last,
so `tank river OR flag` is `tank AND (river OR flag)`.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, NamedTuple

from photoarchive.errors import QueryError
from photoarchive.search.analysis import KEY_MARK, SPELLING_FIELD, WORD, analyse, query_word
from photoarchive.search.deadline import CHECK_EVERY, check_time
from photoarchive.search.documents import DATE_FIELDS, TERM_FIELDS

if TYPE_CHECKING:
    from photoarchive.search.results import SearchFilters
    from photoarchive.search.thesaurus import Thesaurus

#: Words without a field search `text`: caption, headline, title, keywords, place, by-line
#: and credit together.
DEFAULT_FIELD = "text"
#: Fields whose words are marked in the caption (all share its analysis).
CAPTION_FIELDS = frozenset({"text", "headline", "keywords", "byline"})
#: Fields a query may name: every field of terms, and the dates.
SEARCH_FIELDS = (*(f for f in TERM_FIELDS if f != SPELLING_FIELD), *DATE_FIELDS)
#: Fields of running text, whose words are found by their forms in every language and by
#: the thesaurus.
RUNNING_TEXT = frozenset({"text", "headline", "keywords", "byline", "event"})
#: Fields of names, found by the thesaurus too.
NAME_FIELDS = frozenset({"credit", "agency", "source", "city", "country", "person", "organisation"})
#: The score of a photo found only by another spelling, form or equivalent of a word, or
#: by a mistyped word's near misses, against one found by the word itself.
VARIANT_BOOST = 0.5
FUZZY_BOOST = 0.3
#: Phrases made of one phrase typed, with each word's other base forms.
MAX_PHRASE_FORMS = 16
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


# -- the query tree -----------------------------------------------------------------------------
class Term(NamedTuple):
    """Photos holding an index term in a field."""

    field: str
    text: str
    boost: float = 1.0


class Phrase(NamedTuple):
    """Photos holding the terms side by side, in order."""

    field: str
    terms: tuple[str, ...]
    boost: float = 1.0


class Pattern(NamedTuple):
    """Photos holding any index term a wildcard, prefix or word range stands for; every
    photo found scores the same (the boost), as in Lucene."""

    field: str
    #: "prefix" (text), "wildcard" (text with * and ?), "range" (start..end) or "fuzzy"
    #: (terms within `distance` edits of text, sharing its first letter)
    kind: str
    text: str = ""
    start: str | None = None
    end: str | None = None
    start_excluded: bool = False
    end_excluded: bool = False
    boost: float = 1.0
    distance: int = 0

    def shown(self) -> str:
        """Return how the pattern reads in the query language."""
        if self.kind == "prefix":
            text = f"{self.text}*"
        elif self.kind == "fuzzy":
            text = f"{self.text}~{self.distance}"
        elif self.kind == "range":
            text = f"[{self.start or ''} to {self.end or ''}]"
        else:
            text = self.text
        return text if self.field == DEFAULT_FIELD else f"{self.field}:{text}"

    def regex(self) -> re.Pattern[str]:
        """Return the pattern of the terms a wildcard stands for."""
        out = "".join(
            ".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in self.text
        )
        return re.compile(out + r"\Z", re.S)

    def literal_prefix(self) -> str:
        """Return the text every term it stands for begins with."""
        if self.kind == "prefix":
            return self.text
        if self.kind == "range":
            return ""
        if self.kind == "fuzzy":
            # As most search engines do by default: a mistyped word's first letter is
            # taken as right, which keeps the terms to compare few.
            return self.text[:1]
        return re.split(r"[*?]", self.text, maxsplit=1)[0]

    def matches(self, term: str) -> bool:
        """Return True if the index term is one the pattern stands for."""
        if self.kind == "prefix":
            return term.startswith(self.text)
        if self.kind == "wildcard":
            return self.regex().match(term) is not None
        if self.kind == "fuzzy":
            return term != self.text and edits_within(self.text, term, self.distance)
        if self.start is not None and (
            term < self.start or (self.start_excluded and term == self.start)
        ):
            return False
        return not (
            self.end is not None and (term > self.end or (self.end_excluded and term == self.end))
        )


class DateRange(NamedTuple):
    """Photos whose date (date_created or ingested_at, wall-clock time) lies in a range,
    both ends included; None for an open end."""

    field: str
    start: datetime | None
    end: datetime | None
    boost: float = 1.0


class Every(NamedTuple):
    """Every photo (`*:*`)."""

    boost: float = 1.0


class And(NamedTuple):
    """Photos matching every part; `Not` parts leave photos out."""

    parts: tuple[Node, ...]
    boost: float = 1.0


class Or(NamedTuple):
    """Photos matching any part, scored by the sum of those that match (with `best`, by
    the best of them: a word's forms and spellings do not add up)."""

    parts: tuple[Node, ...]
    boost: float = 1.0
    best: bool = False


class Not(NamedTuple):
    """Photos not matching the part (inside And: left out)."""

    part: Node
    boost: float = 1.0


class AndMaybe(NamedTuple):
    """Photos matching `required`, ranked higher where they also match `optional`."""

    required: Node
    optional: Node
    boost: float = 1.0


Node = Term | Phrase | Pattern | DateRange | Every | And | Or | Not | AndMaybe


class ParsedQuery(NamedTuple):
    """A query read: its tree and the caption terms to mark in results."""

    tree: Node
    #: The query's words as they stand in the index, in the caption's fields (not those
    #: under NOT), for marking them in captions.
    marked: frozenset[str] = frozenset()


def leaves(node: Node, negated: bool = False) -> Iterator[tuple[Node, bool]]:
    """Yield each leaf of the tree with whether it stands under a NOT."""
    if isinstance(node, And | Or):
        for part in node.parts:
            yield from leaves(part, negated)
    elif isinstance(node, Not):
        yield from leaves(node.part, not negated)
    elif isinstance(node, AndMaybe):
        yield from leaves(node.required, negated)
        yield from leaves(node.optional, negated)
    else:
        yield node, negated


def patterns(node: Node) -> list[Pattern]:
    """Return the wildcards, prefixes and word ranges of a query, in order."""
    return [leaf for leaf, _ in leaves(node) if isinstance(leaf, Pattern)]


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
    if parser.made > MAX_QUERY_WORDS:
        raise QueryError(
            f"too many words: the query makes {parser.made:,} search terms (words joined by "
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


def edits_within(word: str, other: str, distance: int) -> bool:
    """Return True if `other` is at most `distance` edits from `word` (letters added,
    left out, changed, or two side by side swapped)."""
    if abs(len(word) - len(other)) > distance:
        return False
    # Optimal string alignment distance, row by row, given up once a row passes the limit.
    before: list[int] = []
    row = list(range(len(other) + 1))
    for i, a in enumerate(word, 1):
        current = [i] + [0] * len(other)
        for j, b in enumerate(other, 1):
            cost = 0 if a == b else 1
            best = min(row[j] + 1, current[j - 1] + 1, row[j - 1] + cost)
            if i > 1 and j > 1 and a == other[j - 2] and word[i - 2] == b:
                best = min(best, before[j - 2] + 1)
            current[j] = best
        if min(current) > distance:
            return False
        before, row = row, current
    return row[-1] <= distance


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
        self.thesaurus = thesaurus
        self.pos = 0
        self.depth = 0
        #: Search terms the words typed make (a phrase counts its words).
        self.made = 0

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
            return _boosted(inner, boost)
        if token.kind == "word":
            return self._word(name, token)
        if token.kind == "phrase":
            if name in DATE_FIELDS:
                return self._date(name, token.text, token.boost)
            return self._phrase(name, token.text, token.boost)
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
            self.made += 1
            pattern = text.lower()  # every field's terms are lowercase
            body = pattern.rstrip("*")
            if body and pattern.endswith("*") and "*" not in body and "?" not in body:
                return Pattern(name, "prefix", body, boost=token.boost)
            return Pattern(name, "wildcard", pattern, boost=token.boost)
        fuzzy = _FUZZY.search(text)
        if fuzzy and name in RUNNING_TEXT:
            return self._fuzzy(name, text[: fuzzy.start()], fuzzy.group(1), token.boost)
        if name in RUNNING_TEXT:
            words = WORD.findall(text)
            self.made += len(words)
            found = [n for n in (self._running_word(name, w) for w in words) if n is not None]
        else:
            terms = analyse(name, text)
            self.made += len(terms)
            found = [self._name_word(name, t) for t in terms]
        if not found:
            return None
        if len(found) == 1:
            return _boosted(found[0], token.boost)
        # One word typed that makes several ("ukraine-russia", "u.s.-led"): all must match,
        # as in Whoosh.
        return And(tuple(found), token.boost)

    def _running_word(self, name: str, word: str) -> Node | None:
        """Return what a word of running text finds: its base forms in the field, its other
        forms and spellings in `spelling` (for `text`), the thesaurus's equivalents."""
        forms = query_word(word)
        if forms is None:
            return None
        found: list[Node] = [Term(name, t) for t in forms.terms]
        if name == DEFAULT_FIELD:
            found += [Term(SPELLING_FIELD, t, VARIANT_BOOST) for t in forms.spellings]
        if self.thesaurus is not None:
            from photoarchive.search.thesaurus import lookup_keys

            keys = set(forms.terms) | set(forms.spellings) | lookup_keys(word)
            for other in self.thesaurus.equivalents(keys):
                found += self._equivalent(name, other, word)
        return _any(found)

    def _equivalent(self, name: str, term: str, typed: str) -> list[Node]:
        """Return what a thesaurus term equivalent to the word `typed` finds."""
        words = WORD.findall(term)
        if len(words) > 1:
            phrase = self._phrase(name, term, VARIANT_BOOST, equivalents=False)
            return [] if phrase is None else [phrase]
        if not words or fold_lower(words[0]) == fold_lower(typed):
            return []
        forms = query_word(words[0], base_form=True)
        if forms is None:
            return []
        found: list[Node] = [Term(name, t, VARIANT_BOOST) for t in forms.terms]
        if name == DEFAULT_FIELD:
            found += [Term(SPELLING_FIELD, t, VARIANT_BOOST) for t in forms.spellings]
        return found

    def _name_word(self, name: str, term: str) -> Node:
        """Return what a word of a name field finds: itself and its equivalents."""
        found: list[Node] = [Term(name, term)]
        if self.thesaurus is not None and name in NAME_FIELDS:
            from photoarchive.search.thesaurus import lookup_keys

            for other in self.thesaurus.equivalents(lookup_keys(term)):
                terms = analyse(name, other)
                if len(terms) == 1 and terms[0] != term:
                    found.append(Term(name, terms[0], VARIANT_BOOST))
                elif len(terms) > 1:
                    found.append(Phrase(name, tuple(terms), VARIANT_BOOST))
        return _any(found)

    def _phrase(self, name: str, text: str, boost: float, equivalents: bool = True) -> Node | None:
        """Return what a phrase finds: its words side by side, each in any of its base
        forms, or (with the thesaurus) an equivalent term."""
        if name not in RUNNING_TEXT:
            terms = analyse(name, text)
            self.made += len(terms)
            if not terms:
                return None
            node: Node = Term(name, terms[0]) if len(terms) == 1 else Phrase(name, tuple(terms))
            return _boosted(node, boost)
        typed = [(w, f) for w, f in ((w, query_word(w)) for w in WORD.findall(text)) if f]
        if equivalents:
            self.made += len(typed)
        if not typed:
            return None
        if len(typed) == 1:
            word, forms = typed[0]
            found = self._running_word(name, word) if equivalents else None
            return _boosted(found or _any([Term(name, t) for t in forms.terms]), boost)
        phrases: list[Node] = [
            Phrase(name, combo)
            for combo in itertools.islice(
                itertools.product(*(f.terms for _, f in typed)), MAX_PHRASE_FORMS
            )
        ]
        if equivalents and self.thesaurus is not None:
            for other in self.thesaurus.phrase_equivalents(WORD.findall(text)):
                phrases += self._equivalent(name, other, "")
        node = _any(list(dict.fromkeys(phrases)))
        return _boosted(node, boost)

    def _fuzzy(self, name: str, word: str, distance: str | None, boost: float) -> Node | None:
        """Return what a mistyped word (`word~`, `word~1`) finds: the word, and terms of
        the field within one edit (words of up to four letters) or two of it."""
        forms = query_word(word)
        self.made += 1
        if forms is None:
            return None
        term = forms.terms[0]
        edits = int(distance) if distance else (1 if len(term) <= 4 else 2)
        near = Pattern(name, "fuzzy", term, boost=FUZZY_BOOST, distance=min(edits, 2))
        return _boosted(_any([Term(name, term), near]), boost)

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


def fold_lower(word: str) -> str:
    """Return a word folded and lowercased, as thesaurus terms are compared."""
    from photoarchive.search.folding import fold

    return fold(word).lower()


def _any(nodes: list[Node]) -> Node:
    """Return the one node, or an Or of several (each found once)."""
    unique = list(dict.fromkeys(nodes))
    return unique[0] if len(unique) == 1 else Or(tuple(unique), best=True)


def _join(kind: type[And] | type[Or], parts: list[Node | None]) -> Node | None:
    kept = [p for p in parts if p is not None]
    if not kept:
        return None
    if len(kept) == 1:
        return kept[0]
    return kind(tuple(kept))


def _boosted(node: Node | None, boost: float) -> Node | None:
    if node is None or boost == 1.0:
        return node
    return node._replace(boost=node.boost * boost)


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
