"""Letters that tell scripts and languages apart: Cyrillic, and the letters only Ukrainian
or only Russian writes (read by metadata language detection and by search analysis)."""

from __future__ import annotations

import re

CYRILLIC = re.compile(r"[\u0400-\u04ff]")
LATIN = re.compile(r"[A-Za-z]")
#: і ї є ґ: Ukrainian writes them, Russian does not.
UKRAINIAN_ONLY = re.compile(r"[іїєґІЇЄҐ]")
#: ы э ъ ё: Russian writes them, Ukrainian does not.
RUSSIAN_ONLY = re.compile(r"[ыэъёЫЭЪЁ]")
