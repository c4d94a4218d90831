"""Credit lines: strip labels and find the agency a credit names."""

from __future__ import annotations

import re

# Canonical agency -> lower-case spellings that name it.
KNOWN_AGENCIES: dict[str, tuple[str, ...]] = {
    "Reuters": ("reuters", "thomson reuters"),
    "AFP": ("afp", "agence france-presse", "agence france presse"),
    "AP": ("ap", "associated press", "the associated press"),
    "Getty Images": ("getty images", "getty"),
    "EPA": ("epa", "epa-efe", "epa efe"),
    "PA": ("pa", "pa images", "pa wire", "press association"),
    "Channel 4": ("channel 4", "channel 4 news", "c4"),
    "Twitter": ("twitter", "x", "x (formerly twitter)"),
}
_ALIASES = {alias: name for name, aliases in KNOWN_AGENCIES.items() for alias in aliases}
_LABEL = re.compile(r"^\s*(credit|photo|picture|pic|image|source)\s*:\s*", re.IGNORECASE)
_COPYRIGHT = re.compile(r"^\s*(©|\(c\)|copyright)\s*", re.IGNORECASE)
_YEAR = re.compile(r"\s+(19|20)\d\d\s*$")


def clean_credit(credit: str) -> str:
    """Return the credit without labels such as 'Credit:' or '©' and trailing years."""
    text = _LABEL.sub("", credit.strip())
    text = _COPYRIGHT.sub("", text)
    return _YEAR.sub("", text).strip()


def normalise_agency(credit: str | None) -> str | None:
    """Return the agency a credit line names, canonically spelt, or None for an empty credit.

    A credit naming no known agency gives its own cleaned text, so it can still be grouped.
    """
    if not credit or not credit.strip():
        return None
    text = clean_credit(credit)
    if not text:
        return None
    lowered = text.lower()
    if lowered in _ALIASES:
        return _ALIASES[lowered]
    # "AFP via Getty Images": the agency is the one named before the distributor.
    lowered = re.split(r"\s+via\s+", lowered)[0]
    parts = [p.strip() for p in re.split(r"\s*/\s*|\s*,\s*", lowered) if p.strip()]
    for part in reversed(parts):
        if part in _ALIASES:
            return _ALIASES[part]
        handle = part.lstrip("@")
        if handle in _ALIASES:
            return _ALIASES[handle]
    return text
