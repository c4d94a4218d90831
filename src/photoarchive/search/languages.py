"""The languages captions are analysed in: English, Ukrainian and Russian, told apart by
their script and letters, each with its stemmer or lemmatiser.

English and Russian are stemmed by Snowball (PyStemmer, in C). Ukrainian words are
lemmatised by pymorphy3 with its Ukrainian dictionary when the `ukrainian` extra is
installed (the dictionary is GPL-3.0, so it is not a dependency of the MIT-licensed
project); without it, a light stemmer in this module takes off the common endings and
folds the і/о/е that alternate in a word's last syllable (Харків, Харкова).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from photoarchive.letters import RUSSIAN_ONLY, UKRAINIAN_ONLY

#: Set to "stems" to analyse Ukrainian with the light stemmer though pymorphy3 is installed.
UKRAINIAN_VARIABLE = "PHOTOARCHIVE_UKRAINIAN"
#: The languages a caption's Cyrillic words may be in, by what they are written with.
UKRAINIAN, RUSSIAN, EITHER = "uk", "ru", "uk ru"

#: Words too common to search by.
STOP_WORDS = frozenset(
    # English: Whoosh's list, which indexes were built with.
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
        "та",
        "і",
        "й",
        "або",
        "але",
        "що",
        "як",
        "це",
        "на",
        "до",
        "від",
        "для",
        "за",
        "по",
        "під",
        "над",
        "при",
        "без",
        "через",
        "про",
        "між",
        "із",
        "зі",
        "не",
        "ні",
        "же",
        "ж",
        "би",
        "б",
        "чи",
        "у",
        "в",
        "з",
        "и",
        "или",
        "но",
        "что",
        "как",
        "это",
        "от",
        "из",
        "со",
        "во",
        "об",
        "о",
        "к",
        "ко",
        "для",
        "по",
        "под",
        "над",
        "при",
        "без",
        "через",
        "про",
        "между",
        "не",
        "ни",
        "же",
        "бы",
        "ли",
    ]
)


def cyrillic_language(text: str, lang: str | None = None) -> str:
    """Return the language of a text's Cyrillic words: its `lang` (an xml:lang such as
    "uk" or "ru-RU") where that names one, else what its letters show: Ukrainian if only
    Ukrainian letters appear (і ї є ґ), Russian if only Russian ones (ы э ъ ё), else
    EITHER."""
    if lang:
        primary = lang.lower().split("-")[0]
        if primary in (UKRAINIAN, RUSSIAN):
            return primary
    ukrainian = UKRAINIAN_ONLY.search(text) is not None
    russian = RUSSIAN_ONLY.search(text) is not None
    if ukrainian != russian:
        return UKRAINIAN if ukrainian else RUSSIAN
    return EITHER


@functools.cache
def _snowball(language: str) -> Any:
    import Stemmer

    # One stemmer per language, in C; it keeps its own cache of words.
    stemmer = Stemmer.Stemmer(language)
    stemmer.maxCacheSize = 100_000
    return stemmer


def english_stem(word: str) -> str:
    """Return the Snowball English (Porter 2) stem of a lowercase word."""
    return _snowball("english").stemWord(word)  # type: ignore[no-any-return]


def english_stems(words: list[str]) -> list[str]:
    """Return the Snowball English stems of lowercase words, in one call."""
    return _snowball("english").stemWords(words)  # type: ignore[no-any-return]


def russian_stem(word: str) -> str:
    """Return the Snowball Russian stem of a lowercase word."""
    return _snowball("russian").stemWord(word)  # type: ignore[no-any-return]


@functools.cache
def _morph() -> Any:
    try:
        import pymorphy3

        return pymorphy3.MorphAnalyzer(lang="uk")
    except (ImportError, ValueError, OSError):  # the extra, or its dictionary, is missing
        return None


@functools.cache
def ukrainian_analysis() -> str:
    """Return how Ukrainian words are analysed here: "lemmas" (pymorphy3's dictionary) or
    "stems" (the light stemmer, without the `ukrainian` extra). Found without loading the
    dictionary, which only a Ukrainian word needs."""
    import os
    from importlib.util import find_spec

    if os.environ.get(UKRAINIAN_VARIABLE, "").strip().lower() == "stems":
        return "stems"  # asked for: the plain analysis, with the extra installed
    found = all(find_spec(name) is not None for name in ("pymorphy3", "pymorphy3_dicts_uk"))
    return "lemmas" if found else "stems"


@functools.lru_cache(maxsize=100_000)
def ukrainian_forms(word: str) -> tuple[str, ...]:
    """Return a lowercase Ukrainian word's base forms, the dictionary's likeliest first
    (at most three; Києві may be Київ or the name Кий): its lemmas with the `ukrainian`
    extra, else its light stem."""
    morph = _morph() if ukrainian_analysis() == "lemmas" else None
    if morph is None:
        return (ukrainian_light_stem(word),)
    forms: list[str] = []
    for parse in morph.parse(word):
        form = parse.normal_form
        if form not in forms:
            forms.append(form)
    return tuple(forms[:3]) or (word,)


# Endings of Ukrainian nouns and adjectives, longest first.
_ENDINGS = sorted(
    [
        "ами",
        "ями",
        "ові",
        "еві",
        "єві",
        "ого",
        "ому",
        "ими",
        "іми",
        "ах",
        "ях",
        "ам",
        "ям",
        "ом",
        "ем",
        "єм",
        "ою",
        "єю",
        "ею",
        "ий",
        "ій",
        "ої",
        "ім",
        "им",
        "их",
        "іх",
        "а",
        "я",
        "у",
        "ю",
        "і",
        "ї",
        "и",
        "е",
        "є",
        "о",
    ],
    key=len,
    reverse=True,
)
# The -ов/-ів of place names and of the genitive plural (Харків, Харкова, солдатів).
_OV = re.compile(r"[оіеїє]в$")
_ALTERNATING = re.compile(r"[іїєео]([бвгґджзйклмнпрстфхцчшщь']+)$")
_VOWELS = frozenset("аеєиіїоуюя")


def ukrainian_light_stem(word: str) -> str:
    """Return the light stem of a lowercase Ukrainian word: its ending taken off, then a
    final -ов or -ів (leaving three letters at least each time), and the і, ї, є, е or о
    of its last syllable written о, since they alternate in a word's forms (Київ, Києва)."""
    for ending in _ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= 3:
            word = word[: -len(ending)]
            break
    if _OV.search(word) and len(word) >= 5:
        return word[:-2]
    if sum(ch in _VOWELS for ch in word) < 2:
        return word  # one syllable: nothing alternates
    return _ALTERNATING.sub(r"о\1", word)
