"""How text becomes index terms: one analysis, in our code, for every search engine.

Engines are handed the terms already made (pre-analysed, joined by spaces) and split them
on spaces only, so a query finds the same photos whichever engine holds the index.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

# A word: letters and digits, with inner dots kept ("u.s", "3.5"), as Whoosh read them.
WORD = re.compile(r"\w+(?:\.\w+)*")
# Names (credits, places, people) are split at dots too: "REUTERS/Gleb.Garanich".
NAME = re.compile(r"\w+")
#: Words too common to search by (Whoosh's English list, which indexes were built with).
STOP_WORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "for",
        "from",
        "have",
        "if",
        "in",
        "is",
        "it",
        "may",
        "not",
        "of",
        "on",
        "or",
        "tbd",
        "that",
        "the",
        "this",
        "to",
        "us",
        "we",
        "when",
        "will",
        "with",
        "yet",
        "you",
        "your",
    ]
)


@functools.cache
def _stemmer() -> Callable[[list[str]], list[str]]:
    import Stemmer

    # Snowball's English stemmer (Porter 2), in C; it keeps its own cache of words.
    stemmer = Stemmer.Stemmer("english")
    stemmer.maxCacheSize = 100_000
    return stemmer.stemWords  # type: ignore[no-any-return]


def text_terms(text: str) -> list[str]:
    """Return the terms of running text (captions, headlines, keywords): words lowercased,
    stop words and single letters left out, stemmed (`tanks` and `tank` are one term)."""
    return _stemmer()([w for w in WORD.findall(text.lower()) if len(w) > 1 and w not in STOP_WORDS])


def name_terms(text: str) -> list[str]:
    """Return the terms of a name field (credit, agency, place, person): words lowercased,
    unstemmed ("AP" never finds "apes"), stop words left out."""
    return [w for w in NAME.findall(text.lower()) if w not in STOP_WORDS]


def keyword_terms(text: str) -> list[str]:
    """Return the terms of a keyword list field (languages, source types): lowercased,
    split on spaces."""
    return text.lower().split()


def exact_terms(text: str) -> list[str]:
    """Return an identifier field's one term (format, state, agency key): as it is."""
    return [text] if text else []


#: Each searchable field's analysis.
ANALYSERS: dict[str, Callable[[str], list[str]]] = {
    "text": text_terms,
    "headline": text_terms,
    "keywords": text_terms,
    "byline": text_terms,
    "event": text_terms,
    "credit": name_terms,
    "agency": name_terms,
    "source": name_terms,
    "city": name_terms,
    "country": name_terms,
    "person": name_terms,
    "organisation": name_terms,
    "lang": keyword_terms,
    "source_type": keyword_terms,
    "c2pa": keyword_terms,
    "format": keyword_terms,
}


def analyse(field: str, text: str) -> list[str]:
    """Return the index terms of `text` in `field`."""
    return ANALYSERS.get(field, exact_terms)(text)


def marked_spans(text: str, terms: frozenset[str]) -> list[tuple[int, int]]:
    """Return the (start, end) of each word of `text` whose term is one of `terms` (for
    marking a query's words in a caption)."""
    if not terms:
        return []
    spans: list[tuple[int, int]] = []
    found = list(WORD.finditer(text))
    words = [m.group().lower() for m in found]
    stems = _stemmer()(words)
    for match, word, stem in zip(found, words, stems, strict=True):
        if len(word) > 1 and word not in STOP_WORDS and stem in terms:
            spans.append(match.span())
    return spans
