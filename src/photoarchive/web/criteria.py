"""What a desk page asks for in its query string: words, filters, the order and a time of
arrival; read and checked, run as a search, and kept in the links the page makes."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from photoarchive.archive import Archive, SearchPage
from photoarchive.errors import QueryError
from photoarchive.provenance import DIGITAL_SOURCE_TYPES, normalise_source_type, source_type_words
from photoarchive.rights import VERDICTS
from photoarchive.search import SearchFilters
from photoarchive.search.query import since_moment
from photoarchive.search.results import SORTS

#: The orders offered, as `sort=` names them.
SORT_CHOICES = (
    ("relevance", "Best match"),
    ("date", "Newest taken"),
    ("ingested", "Newest arrivals"),
)
#: Arrival spans offered; any span or date since_moment reads may be typed in the URL.
SINCE_CHOICES = (
    ("", "Any time"),
    ("1h", "Last hour"),
    ("24h", "Last 24 hours"),
    ("7d", "Last 7 days"),
    ("30d", "Last 30 days"),
)


def _capital(words: str) -> str:
    return words[:1].upper() + words[1:]


# IPTC digital source types a desk asks for; the rest may still be typed in the URL.
_OFFERED_CODES = (
    "digitalCapture",
    "computationalCapture",
    "negativeFilm",
    "positiveFilm",
    "print",
    "humanEdits",
    "algorithmicallyEnhanced",
    "digitalCreation",
    "composite",
)
#: Source types offered, as `source_type=` names them (codes lowercased, as indexed).
SOURCE_TYPE_CHOICES = (
    ("", "Any"),
    ("screen", "Screen grab"),
    ("ai", "AI-generated, in whole or part"),
    *((code.lower(), _capital(DIGITAL_SOURCE_TYPES[code])) for code in _OFFERED_CODES),
)
_SOURCE_GROUPS = {"screen": "screen grabs", "ai": "AI-generated"}
# A value longer than this is not a span, a date or a code: it is refused without echoing it.
_MAX_SHORT = 40
#: Refresh interval of the incoming view, in seconds: the default and the bounds of `every=`.
EVERY_DEFAULT, EVERY_MIN, EVERY_MAX = 30, 2, 3600


@dataclass(frozen=True)
class DeskQuery:
    """One desk request's search: words, filters, order, page; `path` is the page it is for."""

    path: str = "/"
    q: str = ""
    agency: str = ""
    date_from: str = ""
    date_to: str = ""
    rights: str = ""
    source_type: str = ""
    since: str = ""
    #: The order asked for; "" for the default (best match with words, newest arrivals
    #: without).
    sort: str = ""
    page: int = 1
    #: Seconds between refreshes of the incoming view; 0 for its default.
    every: int = 0

    @property
    def filtered(self) -> bool:
        """True when anything but the words narrows or orders the list."""
        return bool(
            self.agency
            or self.date_from
            or self.date_to
            or self.rights
            or self.source_type
            or self.since
            or self.sort
        )

    @property
    def order(self) -> str:
        """Return the order the results come in: one of SORTS."""
        return self.sort or _default_sort(self.q)

    @property
    def refresh_seconds(self) -> int:
        """Return how often the incoming view refreshes itself."""
        return self.every or EVERY_DEFAULT

    def params(self, **changes: Any) -> dict[str, str | int]:
        """Return the query string's parameters (with `changes`), leaving out defaults."""
        q = replace(self, **changes) if changes else self
        params: dict[str, str | int] = {
            "q": q.q,
            "agency": q.agency,
            "from": q.date_from,
            "to": q.date_to,
            "rights": q.rights,
            "source_type": q.source_type,
            "since": q.since,
            "sort": q.sort,
            "every": q.every,
            "page": q.page if q.page != 1 else 0,
        }
        return {k: v for k, v in params.items() if v}

    def link(self, path: str | None = None, **changes: Any) -> str:
        """Return a link to this page (or `path`) with the same search and `changes`."""
        query = urlencode(self.params(**changes))
        return f"{path or self.path}?{query}" if query else (path or self.path)

    def labels(self) -> list[str]:
        """Return the filters in words, for the summary and a contact sheet's title."""
        out = []
        if self.agency:
            out.append(self.agency)
        if self.source_type:
            out.append(source_type_label(self.source_type))
        if self.rights:
            out.append(f"rights {self.rights}")
        if self.date_from or self.date_to:
            out.append(f"taken {self.date_from or '…'} to {self.date_to or '…'}")
        if self.since:
            out.append(since_label(self.since))
        return out

    def title(self) -> str:
        """Return what the search is in a line: its words and filters."""
        parts = [f"“{self.q}”"] if self.q else []
        return " · ".join([*parts, *self.labels()]) or "every photo"


def _default_sort(q: str) -> str:
    return "relevance" if q else "ingested"


def since_label(since: str) -> str:
    """Return an arrival span or date in words."""
    for value, label in SINCE_CHOICES:
        if value and value == since:
            return f"arrived in the {label.lower()}"
    return f"arrived since {since}"


def source_type_label(source_type: str) -> str:
    """Return a source type filter in words."""
    if source_type in _SOURCE_GROUPS:
        return _SOURCE_GROUPS[source_type]
    return source_type_words(source_type)


_TEXT_PARAMS = ("q", "agency", "from", "to", "rights", "source_type", "since", "sort")


def read_query(args: Any, path: str = "/", incoming: bool = False) -> DeskQuery:
    """Return the search the query string `args` asks for, checked. For the `incoming` view
    words and order are left out (every arrival, newest first) and `every` is read.
    Raise QueryError for a value the desk cannot search by."""
    text = {name: str(args.get(name, "")).strip() for name in _TEXT_PARAMS}
    q = "" if incoming else text["q"]
    rights = text["rights"]
    if rights and rights not in VERDICTS:
        raise QueryError(f"unknown rights verdict '{rights[:_MAX_SHORT]}'")
    source_type = text["source_type"].lower()
    if source_type and not _known_source_type(source_type):
        raise QueryError(
            f"unknown source type '{source_type[:_MAX_SHORT]}': choose screen, ai or an "
            "IPTC digital source type such as digitalCapture"
        )
    since = text["since"]
    if len(since) > _MAX_SHORT:
        raise QueryError("since: give a span such as 24h, 7d or 90m, or a date such as 2022-09-11")
    order = "" if incoming else text["sort"]
    if order and order not in SORTS:
        raise QueryError(f"unknown order '{order[:_MAX_SHORT]}': choose {', '.join(SORTS)}")
    if order == _default_sort(q) or (not q and order == "relevance"):
        order = ""  # the default, which links leave out
    every = (args.get("every", 0, type=int) or 0) if incoming else 0
    return DeskQuery(
        path=path,
        q=q,
        agency=text["agency"],
        date_from=text["from"],
        date_to=text["to"],
        rights=rights,
        source_type=source_type,
        since=since,
        sort=order,
        page=max(1, args.get("page", 1, type=int) or 1),
        every=min(max(every, EVERY_MIN), EVERY_MAX) if every else 0,
    )


def _known_source_type(value: str) -> bool:
    if value in _SOURCE_GROUPS:
        return True
    return len(value) <= _MAX_SHORT and normalise_source_type(value) is not None


def _date(value: str, field: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise QueryError(f"{field} '{value}' is not a date such as 2022-09-11") from None


def run_search(
    archive: Archive,
    query: DeskQuery,
    limit: int,
    seconds: float,
    now: datetime | None = None,
) -> SearchPage:
    """Return the page of results `query` asks for, with the total and agency counts; a
    query without words lists the photos its filters let through. The search stops with
    QueryTimeoutError after `seconds`; a bad date or span raises QueryError."""
    date_to = _date(query.date_to, "to")
    since = None
    if query.since:
        since = since_moment(query.since, now or datetime.now(UTC), archive.policy.timezone)
    filters = SearchFilters(
        agency=query.agency or None,
        date_from=_date(query.date_from, "from"),
        date_to=date_to.replace(hour=23, minute=59, second=59) if date_to else None,
        ingested_from=since,
        source_type=query.source_type or None,
    )
    return archive.search(
        query.q,
        limit=limit,
        page=query.page,
        filters=filters,
        verdicts=[query.rights] if query.rights else None,
        count_agencies=True,
        seconds=seconds,
        sort=query.order,
    )
