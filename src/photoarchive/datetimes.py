"""Strict parsing of the dates and times wire services write (embargoes, expiry, --at)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo

from photoarchive.errors import PhotoArchiveError


class DateParseError(PhotoArchiveError):
    """A date or time that cannot be read without guessing."""


# Abbreviations wire services use, with fixed offsets: an abbreviation names one offset.
ZONE_ABBREVIATIONS = {
    "UTC": 0,
    "GMT": 0,
    "Z": 0,
    "BST": 1,
    "CET": 1,
    "CEST": 2,
    "EET": 2,
    "EEST": 3,
    "MSK": 3,
    "EST": -5,
    "EDT": -4,
    "CST": -6,
    "CDT": -5,
    "MST": -7,
    "MDT": -6,
    "PST": -8,
    "PDT": -7,
}
MONTHS = {
    name: number
    for number, names in enumerate(
        [
            ("JAN", "JANUARY"),
            ("FEB", "FEBRUARY"),
            ("MAR", "MARCH"),
            ("APR", "APRIL"),
            ("MAY",),
            ("JUN", "JUNE"),
            ("JUL", "JULY"),
            ("AUG", "AUGUST"),
            ("SEP", "SEPT", "SEPTEMBER"),
            ("OCT", "OCTOBER"),
            ("NOV", "NOVEMBER"),
            ("DEC", "DECEMBER"),
        ],
        start=1,
    )
    for name in names
}
# The longest wire date ("HOLD FOR RELEASE UNTIL 1400 GMT ON WEDNESDAY, 12 SEPTEMBER 2022"
# leaves about 40 characters to read) with room to spare.
MAX_DATE_TEXT = 200
_ZONE = r"(?P<zone>Z|[+-]\d{2}:?\d{2}|[A-Z]{1,4})?"
_TIME = r"(?P<hour>\d{1,2}):?(?P<minute>\d{2})(?::(?P<second>\d{2}))?"
_PATTERNS = [
    # 2022-09-12, 2022-09-12 14:00, 2022-09-12T14:00:00+03:00, 2022-09-12 1400 GMT
    re.compile(
        rf"^(?P<year>\d{{4}})-(?P<month>\d{{2}})-(?P<day>\d{{2}})(?:[T ]+{_TIME})?\s*{_ZONE}$"
    ),
    # 12 September 2022, 12 SEPT 2022 1400 GMT, 12 Sep 2022 14:00 BST
    re.compile(
        rf"^(?P<day>\d{{1,2}})\s+(?P<mname>[A-Z]+)\.?,?\s+(?P<year>\d{{4}})"
        rf"(?:,?\s+{_TIME})?\s*{_ZONE}$"
    ),
    # September 12, 2022 14:00 GMT
    re.compile(
        rf"^(?P<mname>[A-Z]+)\.?\s+(?P<day>\d{{1,2}}),?\s+(?P<year>\d{{4}})"
        rf"(?:,?\s+{_TIME})?\s*{_ZONE}$"
    ),
    # 1400 GMT 12 SEPTEMBER 2022 (the agencies' "time first" form)
    re.compile(
        rf"^{_TIME}\s*(?P<zone>Z|[+-]\d{{2}}:?\d{{2}}|[A-Z]{{1,4}})\s*(?:ON\s+)?"
        rf"(?P<day>\d{{1,2}})\s+(?P<mname>[A-Z]+)\.?,?\s+(?P<year>\d{{4}})$"
    ),
]


def parse_moment(
    text: str, default_zone: tzinfo | None = None, end_of_day: bool = False
) -> datetime:
    """Return an aware datetime for a wire-style date and time.

    A date without a time means the start of that day (or its last instant with
    `end_of_day`, as for "NO USE AFTER 30 SEPTEMBER 2022"). A time without a zone takes
    `default_zone`; without one, DateParseError is raised rather than a zone guessed.
    """
    if len(text) > MAX_DATE_TEXT:
        # Read from untrusted captions and instructions: nothing this long is a date, and
        # no pattern is run over it.
        raise DateParseError(f"cannot read the date '{_shown(text)}' (too long for a date)")
    cleaned = " ".join(text.strip().upper().replace(",", ", ").split()).rstrip(".")
    cleaned = cleaned.replace(" ,", ",")
    for pattern in _PATTERNS:
        match = pattern.match(cleaned)
        if match:
            return _build(match, text, default_zone, end_of_day)
    raise DateParseError(f"cannot read the date '{_shown(text)}'")


def _shown(text: str) -> str:
    """The text as quoted in an error: stripped and at most 60 characters."""
    text = text.strip()
    return text if len(text) <= 60 else text[:57] + "..."


def _build(
    match: re.Match[str], text: str, default_zone: tzinfo | None, end_of_day: bool
) -> datetime:
    parts = match.groupdict()
    month = int(parts["month"]) if parts.get("month") else MONTHS.get(parts.get("mname") or "")
    if month is None:
        raise DateParseError(f"cannot read the month in '{_shown(text)}'")
    try:
        day = date(int(parts["year"]), month, int(parts["day"]))
        if parts.get("hour") is not None:
            clock = time(int(parts["hour"]), int(parts["minute"]), int(parts.get("second") or 0))
        else:
            clock = time.max if end_of_day else time.min
    except ValueError:
        raise DateParseError(f"'{_shown(text)}' is not a real date or time") from None
    zone = _zone(parts.get("zone"), text) or default_zone
    if zone is None:
        raise DateParseError(f"'{_shown(text)}' gives no time zone")
    return datetime.combine(day, clock, tzinfo=zone)


def _zone(name: str | None, text: str) -> tzinfo | None:
    if not name:
        return None
    if name[0] in "+-":
        digits = name[1:].replace(":", "")
        offset = timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
        return timezone(offset if name[0] == "+" else -offset)
    if name in ZONE_ABBREVIATIONS:
        hours = ZONE_ABBREVIATIONS[name]
        return UTC if hours == 0 else timezone(timedelta(hours=hours), name)
    raise DateParseError(f"unknown time zone '{name}' in '{_shown(text)}'")


def parse_iim_moment(date_text: str, time_text: str | None, end_of_day: bool = False) -> datetime:
    """Return an aware datetime from IIM's CCYYMMDD and HHMMSS±HHMM fields."""
    d = date_text.strip()
    if not re.fullmatch(r"\d{8}", d):
        raise DateParseError(f"IIM date '{d}' is not CCYYMMDD")
    iso = f"{d[:4]}-{d[4:6]}-{d[6:]}"
    if time_text:
        t = time_text.strip()
        m = re.fullmatch(r"(\d{2})(\d{2})(\d{2})([+-]\d{4})?", t)
        if not m:
            raise DateParseError(f"IIM time '{t}' is not HHMMSS±HHMM")
        iso += f" {m.group(1)}:{m.group(2)}:{m.group(3)}{m.group(4) or '+0000'}"
    else:
        iso += " UTC"
    return parse_moment(iso, end_of_day=end_of_day)
