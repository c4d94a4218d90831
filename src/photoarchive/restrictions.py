"""Restrictions a photo carries: EDITORIAL USE ONLY, NO ARCHIVES, embargoes, expiry, credits."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, tzinfo
from typing import Any

from photoarchive.datetimes import DateParseError, parse_iim_moment, parse_moment
from photoarchive.record import PhotoRecord

_END = r"(?=[.;\n]\s|[;\n]|\.$|$)"
_EDITORIAL = re.compile(r"\b(?:FOR\s+)?EDITORIAL\s+USE\s+ONLY\b", re.I)
_NO_ARCHIVE = re.compile(r"\bNO\s+ARCHIV(?:E|ES|ING)\b", re.I)
_NO_SALES = re.compile(r"\bNO\s+(?:RE)?SALES?\b", re.I)
_MANDATORY = re.compile(
    rf"\bMANDATORY\s+(?:CREDIT|BY-?LINE)\b(?:\s*[:\-]\s*(?P<text>.+?){_END})?", re.I
)
_EMBARGO = re.compile(
    rf"\b(?:EMBARGOED|EMBARGO|HOLD\s+FOR\s+RELEASE)\b(?:\s+(?:UNTIL|TILL|TO))?\s*:?\s*"
    rf"(?P<when>.+?){_END}",
    re.I,
)
_NO_USE_AFTER = re.compile(rf"\bNO\s+USE\s+AFTER\b\s*:?\s*(?P<when>.+?){_END}", re.I)
# A word each of the patterns above needs: most captions hold none, and are then read once
# rather than six times (a rebuild reads every photo's caption).
# (Matched in the lowercased text: an alternation with re.I took 16 µs a caption, this 3.)
_ANY = re.compile(r"editorial|archiv|sale|mandatory|embargo|hold\s+for|use\s+after")


@dataclass
class Restrictions:
    """What a photo's own metadata restricts; `problems` lists what could not be read."""

    editorial_only: bool = False
    no_archive: bool = False
    no_sales: bool = False
    mandatory_credit: str | None = None
    embargo_until: datetime | None = None
    expires_after: datetime | None = None
    problems: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)


def read_restrictions(
    record: PhotoRecord, sources: Mapping[str, Mapping[str, Any]], zone: tzinfo
) -> Restrictions:
    """Return the restrictions in a photo's instructions, usage terms, caption and IIM dates.

    Instructions and usage terms are read in any case; in the caption only the capitalised
    notices agencies prefix count (a caption may say "embargo" in its story).
    """
    found = Restrictions()
    texts = [(t, True) for t in (record.special_instructions, record.usage_terms) if t]
    if record.caption:
        texts.append((record.caption, False))
    for text, any_case in texts:
        _scan(text, any_case, zone, found)
    _iim_moment(sources, "release", found)
    _iim_moment(sources, "expiration", found)
    return found


def _scan(text: str, any_case: bool, zone: tzinfo, found: Restrictions) -> None:
    if not _ANY.search(text.lower()):
        return

    def hits(pattern: re.Pattern[str]) -> list[re.Match[str]]:
        return [
            m
            for m in pattern.finditer(text)
            if any_case or m.group(0).isupper() or m.group(0).split()[0].isupper()
        ]

    if hits(_EDITORIAL):
        found.editorial_only = True
        found.notices.append("EDITORIAL USE ONLY")
    if hits(_NO_ARCHIVE):
        found.no_archive = True
        found.notices.append("NO ARCHIVES")
    if hits(_NO_SALES):
        found.no_sales = True
        found.notices.append("NO SALES")
    for m in hits(_MANDATORY):
        found.mandatory_credit = (m.group("text") or "").strip() or found.mandatory_credit or ""
    for m in hits(_EMBARGO):
        when = _moment(m.group("when"), zone, False, found, "embargo")
        if when and (found.embargo_until is None or when > found.embargo_until):
            found.embargo_until = when
    for m in hits(_NO_USE_AFTER):
        when = _moment(m.group("when"), zone, True, found, "NO USE AFTER")
        if when and (found.expires_after is None or when < found.expires_after):
            found.expires_after = when


def _moment(
    text: str | None, zone: tzinfo, end_of_day: bool, found: Restrictions, label: str
) -> datetime | None:
    if not text or not text.strip():
        found.problems.append(f"{label} gives no date")
        return None
    try:
        return parse_moment(text, zone, end_of_day=end_of_day)
    except DateParseError as exc:
        found.problems.append(f"{label} date unreadable: {exc}")
        return None


def _iim_moment(sources: Mapping[str, Mapping[str, Any]], kind: str, found: Restrictions) -> None:
    date_text = sources.get(f"{kind}_date", {}).get("iim")
    if not date_text:
        return
    time_text = sources.get(f"{kind}_time", {}).get("iim")
    label = "IIM release date" if kind == "release" else "IIM expiration date"
    try:
        when = parse_iim_moment(
            str(date_text),
            str(time_text) if time_text else None,
            end_of_day=kind == "expiration" and not time_text,
        )
    except DateParseError as exc:
        found.problems.append(f"{label} unreadable: {exc}")
        return
    if kind == "release":
        if found.embargo_until is None or when > found.embargo_until:
            found.embargo_until = when
    elif found.expires_after is None or when < found.expires_after:
        found.expires_after = when
