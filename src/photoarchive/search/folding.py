"""Accents and diacritics folded away, so that José finds Jose and ё finds е."""

from __future__ import annotations

import re
import unicodedata

# Letters that do not decompose into a letter and a mark.
_LETTERS = str.maketrans(
    {
        "ß": "ss",
        "ẞ": "SS",
        "æ": "ae",
        "Æ": "AE",
        "œ": "oe",
        "Œ": "OE",
        "ø": "o",
        "Ø": "O",
        "đ": "d",
        "Đ": "D",
        "ð": "d",
        "Ð": "D",
        "ł": "l",
        "Ł": "L",
        "þ": "th",
        "Þ": "TH",
        "ı": "i",
        "ħ": "h",
        "ŀ": "l",
        # Apostrophes inside Ukrainian words (Куп'янськ) are written in several ways.
        "’": "'",
        "ʼ": "'",
        "`": "'",
    }
)
# Combining marks, except the breve of й and the diaeresis of ї, which make other letters
# in Ukrainian and Russian (ё, whose diaeresis is often left out in Russian, is folded).
_MARKS = re.compile(
    r"(?<![иіИІ])[\u0300-\u036f]|(?<=[иИ])[\u0300-\u0305\u0307-\u036f]|(?<=[іІ])[\u0300-\u0307\u0309-\u036f]"
)


def fold(text: str) -> str:
    """Return `text` with accents and diacritics taken off its letters (é → e, ü → u,
    ё → е, stress marks dropped), keeping й and ї, and apostrophes made one."""
    if text.isascii():
        return text.replace("`", "'")
    decomposed = unicodedata.normalize("NFD", text.translate(_LETTERS))
    return unicodedata.normalize("NFC", _MARKS.sub("", decomposed))
