"""The query tree: what a query asks, whichever search engine answers it."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import NamedTuple

#: Words without a field search `text`: caption, headline, title, keywords, place, by-line
#: and credit together.
DEFAULT_FIELD = "text"


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


def boosted(node: Node | None, boost: float) -> Node | None:
    """Return the node with its boost multiplied by `boost`."""
    if node is None or boost == 1.0:
        return node
    return node._replace(boost=node.boost * boost)


def pruned(node: Node, holds: Callable[[str, str], bool]) -> Node | None:
    """Return the tree without the terms the index does not hold (`holds(field, term)`
    says which it does), None if it can then match nothing. Most of a word's spellings
    and equivalents are in no photo, and each would cost the engine a look-up and a
    matcher per search; the photos found and their scores stay the same."""
    if isinstance(node, Term):
        return node if holds(node.field, node.text) else None
    if isinstance(node, Or):
        parts = [p for p in (pruned(p, holds) for p in node.parts) if p is not None]
        if not parts:
            return None
        if len(parts) == 1 and node.best:
            return boosted(parts[0], node.boost)
        return node._replace(parts=tuple(parts))
    if isinstance(node, And):
        kept: list[Node] = []
        for part in node.parts:
            if isinstance(part, Not):
                kept.append(part)  # excluding what matches nothing excludes nothing
                continue
            found = pruned(part, holds)
            if found is None:
                return None  # a part matches nothing: so does the whole
            kept.append(found)
        return node._replace(parts=tuple(kept))
    if isinstance(node, AndMaybe):
        required = pruned(node.required, holds)
        if required is None:
            return None
        optional = pruned(node.optional, holds)
        if optional is None:
            return boosted(required, node.boost)
        return node._replace(required=required, optional=optional)
    return node
