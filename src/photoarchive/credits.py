"""Credit lines: split them into agency, photographer and distributor; name the agency."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

# Canonical agency -> lower-case spellings that name it. The archive's rights.toml adds
# and overrides these; they let a credit be read even before a policy names the agency.
KNOWN_AGENCIES: dict[str, tuple[str, ...]] = {
    "Reuters": ("reuters", "thomson reuters"),
    "AFP": ("afp", "agence france-presse", "agence france presse"),
    "AP": ("ap", "associated press", "the associated press"),
    "Getty Images": ("getty images", "getty"),
    "EPA": ("epa", "epa-efe", "epa efe"),
    "PA": ("pa", "pa images", "pa wire", "press association"),
    "Channel 4": ("channel 4", "channel 4 news", "c4"),
    "Twitter": ("twitter", "x", "x (formerly twitter)", "x/twitter"),
    "Staff": ("staff", "staff photographer", "staff photo"),
}
_LABEL = re.compile(r"^\s*(credit|photo|photograph|picture|pic|image|source)\s*:\s*", re.I)
_COPYRIGHT = re.compile(r"^\s*(©|\(c\)|copyright)\s*", re.I)
_YEAR = re.compile(r"\s(?:19|20)\d\d$")
# A match may start only where a run of spaces starts: otherwise each position inside a long
# run would scan the rest of it again (quadratic on a credit of spaces).
_VIA = re.compile(r"(?<!\s)\s+via\s+", re.I)
_SPLIT = re.compile(r"(?:(?<!\s)\s+)?[/|]\s*")


@dataclass(frozen=True)
class CreditLine:
    """A credit line read into its parts; `agency` is canonical when an alias matched."""

    raw: str
    agency: str | None
    photographer: str | None = None
    distributor: str | None = None
    known: bool = False


def alias_table(
    agencies: Mapping[str, tuple[str, ...] | list[str]] | None = None,
) -> dict[str, str]:
    """Return {lower-case alias: canonical agency}: the built-in names plus `agencies`."""
    table = {alias: name for name, aliases in KNOWN_AGENCIES.items() for alias in aliases}
    for name, aliases in (agencies or {}).items():
        table[name.lower()] = name
        for alias in aliases:
            table[alias.strip().lower()] = name
    return table


def clean_credit(credit: str) -> str:
    """Return the credit without labels ('Credit:', 'Photo:', '©') or a trailing year."""
    text = _LABEL.sub("", credit.strip())
    text = _COPYRIGHT.sub("", text)
    return _without_year(text).strip()


def _without_year(text: str) -> str:
    """Drop a trailing year (", 2022", " 2022"), found from the end: a pattern searched
    from every position backtracked quadratically on long runs of spaces."""
    text = text.rstrip()
    if not _YEAR.search(text[-5:]):
        return text
    text = text[:-4].rstrip()
    return text[:-1] if text.endswith(",") else text


def parse_credit(credit: str | None, aliases: Mapping[str, str] | None = None) -> CreditLine | None:
    """Read a credit line; None for an empty one.

    "REUTERS/Gleb Garanich" and "Gleb Garanich/Reuters" give agency Reuters and the
    photographer; "AFP via Getty Images" gives AFP distributed by Getty Images. A credit
    naming no known agency keeps its cleaned text as the agency, with `known` False.
    """
    if credit is None or not credit.strip():
        return None
    table = aliases if aliases is not None else alias_table()
    text = clean_credit(credit)
    if not text:
        return None
    distributor = None
    via = _VIA.split(text, maxsplit=1)
    if len(via) == 2:
        text, distributor = via[0].strip(), via[1].strip()
        distributor = table.get(distributor.lower(), distributor)
    whole = table.get(text.lower())
    if whole:
        return CreditLine(credit, whole, None, distributor, True)
    parts = [p.strip() for p in _SPLIT.split(text) if p.strip()]
    for i, part in enumerate(parts):
        name = table.get(part.lower()) or table.get(part.lower().lstrip("@"))
        if name:
            others = [p for j, p in enumerate(parts) if j != i]
            photographer = " / ".join(others) or None
            return CreditLine(credit, name, photographer, distributor, True)
    return CreditLine(credit, text, None, distributor, False)


def normalise_agency(credit: str | None, aliases: Mapping[str, str] | None = None) -> str | None:
    """Return the agency a credit line names (canonically spelt), or None for no credit."""
    line = parse_credit(credit, aliases)
    return line.agency if line else None
