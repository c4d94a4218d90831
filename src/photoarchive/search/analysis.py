"""How text becomes index terms: one analysis, in our code, for every search engine.

Engines are handed the terms already made (pre-analysed, joined by spaces) and split them
on spaces only, so a query finds the same photos whichever engine holds the index.

A word of running text gives one term, at its place in the text (for phrases): folded
(José is jose), lowercased and reduced to its base form in its language (English and
Russian stems, Ukrainian lemmas or stems: see languages.py). What else the word may be
found by goes into the `spelling` field, without places: its other possible base forms,
and for names (capitalised words, and place, person and keyword fields) their spelling
keys (transliteration.py), so that izyum finds Izium and Ізюм.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from photoarchive.letters import CYRILLIC
from photoarchive.search.folding import fold
from photoarchive.search.languages import (
    EITHER,
    RUSSIAN,
    STOP_WORDS,
    UKRAINIAN,
    cyrillic_language,
    english_stem,
    english_stems,
    russian_stem,
    ukrainian_analysis,
    ukrainian_forms,
)
from photoarchive.search.transliteration import cyrillic_keys, spelling_key

# A word: letters and digits, with inner dots kept ("u.s", "3.5") and apostrophes inside
# Cyrillic words (куп'янськ).
WORD = re.compile(r"\w+(?:(?:\.|(?<=[\u0400-\u04ff])['’ʼ`](?=[\u0400-\u04ff]))\w+)*")
# Names (credits, places, people) are split at dots too: "REUTERS/Gleb.Garanich".
NAME = re.compile(r"\w+(?:(?<=[\u0400-\u04ff])['’ʼ`](?=[\u0400-\u04ff])\w+)*")
#: The field of every other form a word of the `text` field may be found by.
SPELLING_FIELD = "spelling"
# Spelling keys in the terms marked in captions start with this (no term can).
KEY_MARK = "~"


def analysis_id() -> str:
    """Return what the index's terms depend on beyond this code: how Ukrainian words are
    analysed (an index built one way is rebuilt to be searched the other)."""
    return f"uk-{ukrainian_analysis()}"


class WordTerms(NamedTuple):
    """What one word of running text is indexed as."""

    #: Its term in the field, at its place in the text.
    term: str
    #: Its other base forms and spelling keys, for the `spelling` field.
    more: tuple[str, ...] = ()


# Words seen before, with how they were indexed: most words of captions recur.
_WORDS: dict[tuple[str, bool, str], WordTerms] = {}
_MAX_WORDS = 200_000


def _index_word(word: str, name: bool, language: str) -> WordTerms:
    """Return how a lowercase, folded word is indexed; `name` adds spelling keys; Cyrillic
    words are analysed as `language` (UKRAINIAN, RUSSIAN or EITHER)."""
    key = (word, name, language)
    found = _WORDS.get(key)
    if found is not None:
        return found
    if CYRILLIC.search(word) is None:
        stem = english_stem(word)
        made = WordTerms(stem, (_key(stem),) if name else ())
    else:
        forms = cyrillic_forms(word, language)
        more = list(forms[1:])
        if name:
            for form in (word, *forms):
                if len(form) > 2:
                    more += sorted(cyrillic_keys(form))
        made = WordTerms(forms[0], _unique(more, forms[0]))
    if len(_WORDS) >= _MAX_WORDS:
        _WORDS.clear()
    _WORDS[key] = made
    return made


def cyrillic_forms(word: str, language: str) -> tuple[str, ...]:
    """Return the base forms of a lowercase Cyrillic word in `language`, the likeliest
    first: Ukrainian lemmas (or stems), the Russian stem, or for EITHER both."""
    if language == RUSSIAN:
        return (russian_stem(word),)
    forms = ukrainian_forms(word)
    if language == UKRAINIAN:
        return forms
    return (*forms, russian_stem(word))


def _unique(items: list[str], leave_out: str = "") -> tuple[str, ...]:
    return tuple(dict.fromkeys(i for i in items if i != leave_out))


def _words(text: str) -> tuple[list[str], list[bool]]:
    """Return the words of folded text to index, lowercased, and whether each was
    capitalised; stop words and single letters left out."""
    found = WORD.findall(text)
    lowered = [w.lower() for w in found]
    keep = [len(w) > 1 and w not in STOP_WORDS for w in lowered]
    if all(keep):
        return lowered, [w[0].isupper() for w in found]
    return (
        [w for w, k in zip(lowered, keep, strict=True) if k],
        [w[0].isupper() for w, k in zip(found, keep, strict=True) if k],
    )


# Spelling keys of words seen before.
_KEYS: dict[str, str] = {}


def _key(stem: str) -> str:
    key = _KEYS.get(stem)
    if key is None:
        if len(_KEYS) >= _MAX_WORDS:
            _KEYS.clear()
        key = _KEYS[stem] = spelling_key(stem)
    return key


def text_analysis(
    text: str, lang: str | None = None, names: bool = False
) -> tuple[list[str], list[str]]:
    """Return the terms of running text (captions, headlines, keywords), in order, and
    the terms of its words for the `spelling` field. `lang` is the text's language where
    its metadata names it (xml:lang); `names` gives every word spelling keys, not only
    the capitalised ones (place names, people, keywords)."""
    short = len(text) <= _MAX_REMEMBERED
    if short:
        # Credits, places, by-lines and keywords recur from photo to photo.
        known = _TEXTS.get((text, lang, names))
        if known is not None:
            return list(known[0]), list(known[1])
    terms, extra = _text_analysis(text, lang, names)
    if short:
        if len(_TEXTS) >= _MAX_WORDS:
            _TEXTS.clear()
        _TEXTS[(text, lang, names)] = (tuple(terms), tuple(extra))
    return terms, extra


# Short texts analysed before, with their terms.
_TEXTS: dict[tuple[str, str | None, bool], tuple[tuple[str, ...], tuple[str, ...]]] = {}
_MAX_REMEMBERED = 200


def _text_analysis(text: str, lang: str | None, names: bool) -> tuple[list[str], list[str]]:
    text = fold(text)
    words, capitalised = _words(text)
    if not words:
        return [], []
    if text.isascii():  # the common case, quickest: English words only
        stems = english_stems(words)
        if names:
            return stems, [_key(s) for s in stems]
        return stems, [_key(s) for s, cap in zip(stems, capitalised, strict=True) if cap]
    language = cyrillic_language(text, lang) if CYRILLIC.search(text) else EITHER
    terms: list[str] = []
    extra: list[str] = []
    for word, cap in zip(words, capitalised, strict=True):
        made = _index_word(word, names or cap, language)
        terms.append(made.term)
        extra += made.more
    return terms, extra


def text_terms(text: str) -> list[str]:
    """Return the terms of running text (captions, headlines, keywords): words folded and
    lowercased, stop words and single letters left out, reduced to their base forms
    (`tanks` and `tank` are one term)."""
    return text_analysis(text)[0]


def name_terms(text: str) -> list[str]:
    """Return the terms of a name field (credit, agency, place, person): words folded and
    lowercased, unstemmed ("AP" never finds "apes"), stop words left out."""
    return [w for w in NAME.findall(fold(text).lower()) if w not in STOP_WORDS]


class QueryWord(NamedTuple):
    """What a word typed in a query finds."""

    #: Terms of the word's field, at least one: its base forms in every language.
    terms: tuple[str, ...]
    #: Terms of the `spelling` field: its base forms and spelling keys.
    spellings: tuple[str, ...] = ()


def query_word(word: str, base_form: bool = False) -> QueryWord | None:
    """Return the terms a word typed in a query finds in the `text` field, analysed for
    every language it may be in; None for a stop word or a single letter. With
    `base_form`, a Ukrainian word is taken as its own lemma, without the dictionary (a
    thesaurus term)."""
    lower = fold(word).lower()
    if len(lower) < 2 or lower in STOP_WORDS:
        return None
    if CYRILLIC.search(lower) is None:
        stem = english_stem(lower)
        return QueryWord((stem,), (spelling_key(stem),))
    language = cyrillic_language(lower)
    forms: tuple[str, ...]
    if base_form and ukrainian_analysis() == "lemmas":
        forms = (lower,) if language == UKRAINIAN else (lower, russian_stem(lower))
    else:
        forms = cyrillic_forms(lower, language)
    if language != UKRAINIAN:
        forms = (*forms, lower)  # Snowball shortens some names: Харьков is харьк
    forms = _unique(list(forms))
    # Keys of very short stems (Киев is ки to Snowball) would find unrelated names.
    keys = sorted({k for form in (lower, *forms) if len(form) > 2 for k in cyrillic_keys(form)})
    return QueryWord(forms, _unique([*forms, *keys]))


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
    """Return the (start, end) of each word of `text` found by `terms` (for marking a
    query's words in a caption): terms of the `text` field, and `spelling` terms written
    after KEY_MARK."""
    if not terms:
        return []
    language = cyrillic_language(text) if CYRILLIC.search(text) else EITHER
    spans: list[tuple[int, int]] = []
    for match in WORD.finditer(text):
        word = fold(match.group()).lower()
        if len(word) < 2 or word in STOP_WORDS:
            continue
        made = _index_word(word, True, language)
        if made.term in terms or any(KEY_MARK + m in terms for m in made.more):
            spans.append(match.span())
    return spans
