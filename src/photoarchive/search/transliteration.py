"""Cyrillic names in Latin letters, and spelling keys that bring variant spellings together.

Ukrainian follows the national system of 2010 (Cabinet of Ministers resolution 55: Харків
→ Kharkiv, Запоріжжя → Zaporizhzhia), with the older spelling of г as g (Gostomel) as a
variant; Russian follows the common English-press system (BGN/PCGN without diacritics:
Харьков → Kharkov). A spelling key then lets the usual variants meet: y, i and j written
for one sound are one letter, doubled letters single, apostrophes gone, so Izyum and Izium,
Kupyansk and Kupiansk, Zelensky, Zelenskyy and Zelenskiy, Odessa and Odesa share a key.
"""

from __future__ import annotations

import re

_COMMON = {
    "а": "a",
    "б": "b",
    "в": "v",
    "ґ": "g",
    "д": "d",
    "е": "e",
    "ж": "zh",
    "з": "z",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "kh",
    "ц": "ts",
    "ч": "ch",
    "ш": "sh",
    "щ": "shch",
    "ь": "",
    "'": "",
}
#: Ukrainian, national system of 2010 (word-initial є, ї, й, ю, я as ye, yi, y, yu, ya).
UKRAINIAN = {
    **_COMMON,
    "г": "h",
    "є": "ie",
    "и": "y",
    "і": "i",
    "ї": "i",
    "й": "i",
    "ю": "iu",
    "я": "ia",
    # Russian letters in a Ukrainian text are written as in Russian.
    "ё": "e",
    "ъ": "",
    "ы": "y",
    "э": "e",
}
_UKRAINIAN_INITIAL = {"є": "ye", "ї": "yi", "й": "y", "ю": "yu", "я": "ya"}
#: Russian, as English-language agencies write it.
RUSSIAN = {
    **_COMMON,
    "г": "g",
    "ё": "e",
    "и": "i",
    "й": "y",
    "ъ": "",
    "ы": "y",
    "э": "e",
    "ю": "yu",
    "я": "ya",
    "і": "i",
    "ї": "yi",
    "є": "ye",
}
_DOUBLED = re.compile(r"([a-z])\1+")
_IYJ = re.compile(r"[iyj]+")


def ukrainian_latin(word: str, g: bool = False) -> str:
    """Return a lowercase Ukrainian word in the national system's Latin letters (зг as
    zgh); with `g`, г as g, as older and Russian-based spellings have it."""
    out = []
    for n, ch in enumerate(word):
        if n == 0 and ch in _UKRAINIAN_INITIAL:
            out.append(_UKRAINIAN_INITIAL[ch])
        elif ch == "г":
            out.append("g" if g else "gh" if n and word[n - 1] == "з" else "h")
        else:
            out.append(UKRAINIAN.get(ch, ch))
    return "".join(out)


def russian_latin(word: str) -> str:
    """Return a lowercase Russian word in Latin letters, as the English-language press
    writes it."""
    return "".join(RUSSIAN.get(ch, ch) for ch in word)


def spelling_key(latin: str) -> str:
    """Return the spelling key of a lowercase Latin word: runs of y, i and j as one i,
    doubled letters single, apostrophes dropped."""
    return _DOUBLED.sub(r"\1", _IYJ.sub("i", latin.replace("'", "")))


def cyrillic_keys(word: str) -> set[str]:
    """Return the spelling keys of a lowercase Cyrillic word: as Ukrainian (with h and with
    g for г) and as Russian."""
    return {
        spelling_key(ukrainian_latin(word)),
        spelling_key(ukrainian_latin(word, g=True)),
        spelling_key(russian_latin(word)),
    }
