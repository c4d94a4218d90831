"""What a search is asked and answers, whichever engine runs it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

#: The states of photos that are never published: left out of searches unless asked for.
WITHHELD = ("superseded", "killed", "notice")
#: A query matching more than this share of the photos is listed newest first by every
#: engine: its words say little about relevance (BM25 gives a word in every photo almost no
#: weight), and scoring every match is what made such a search the slowest.
BROAD_SHARE = 0.5
#: How results may be ordered: by score, or newest first by date taken or ingested.
SORTS = ("relevance", "date", "ingested")


@dataclass(frozen=True)
class SearchFilters:
    """Restrictions on results that do not affect ranking: agency, date taken, arrival,
    source type, versions, rights verdict and a set of photos."""

    agency: str | None = None
    date_from: datetime | None = None
    date_to: datetime | None = None
    #: Only photos ingested at or after this moment (naive, UTC: as ingested_at is kept).
    ingested_from: datetime | None = None
    #: Only photos of this digital source type: its code, or "ai" or "screen".
    source_type: str | None = None
    #: Which versions: the current one of each live picture by default; add "killed"
    #: for killed pictures, "superseded" for older versions, "notice" for kill notices.
    states: tuple[str, ...] = ("live",)
    #: Only photos with one of these RightsFacts.status_key() values, None for any; killed,
    #: superseded and notice photos are then kept only if `killed_passes` (their verdict is
    #: always blocked).
    rights: frozenset[str] | None = None
    killed_passes: bool = False
    #: Only these photos (a selection's), None for any.
    sha256s: frozenset[str] | None = None

    def hidden_states(self) -> list[str]:
        """Return the withheld states left out of the results."""
        return [s for s in WITHHELD if s not in self.states]


class Hit(NamedTuple):
    """One search result: which photo and its score."""

    sha256: str
    score: float


class IndexResults(NamedTuple):
    """A page of hits, the total number of matches and, if asked, matches per agency."""

    hits: list[Hit]
    total: int
    agency_counts: dict[str, int] = {}  # noqa: RUF012 - never changed once made
    #: The query's words as they stand in the index, for marking them in captions.
    terms: frozenset[str] = frozenset()
