"""The one merged record per photo: field names as stored, indexed and printed as JSON."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

#: The descriptive fields IPTC-IIM and XMP both carry, in display order.
DESCRIPTIVE_FIELDS: tuple[str, ...] = (
    "caption",
    "headline",
    "title",
    "credit",
    "byline",
    "byline_title",
    "source",
    "copyright",
    "usage_terms",
    "special_instructions",
    "keywords",
    "city",
    "sublocation",
    "province_state",
    "country",
    "country_code",
    "date_created",
    "transmission_reference",
)
#: What the desk may supply (manifests) or correct (edits): the agency's reference is not.
DESK_FIELDS: tuple[str, ...] = DESCRIPTIVE_FIELDS[:-1]


@dataclass
class PhotoRecord:
    """One photo as the catalog keeps it; `to_dict` gives design.md's JSON keys."""

    id: str
    sha256: str
    original_filename: str
    format: str
    width: int
    height: int
    file_size: int
    caption: str | None = None
    headline: str | None = None
    title: str | None = None
    credit: str | None = None
    byline: str | None = None
    byline_title: str | None = None
    source: str | None = None
    copyright: str | None = None
    usage_terms: str | None = None
    special_instructions: str | None = None
    keywords: list[str] = field(default_factory=list)
    city: str | None = None
    sublocation: str | None = None
    province_state: str | None = None
    country: str | None = None
    country_code: str | None = None
    date_created: str | None = None
    camera_make: str | None = None
    camera_model: str | None = None
    lens: str | None = None
    gps_lat: float | None = None
    gps_lon: float | None = None
    orientation: int | None = None
    transmission_reference: str | None = None
    agency: str | None = None
    ingested_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a JSON-ready dict with design.md's key names."""
        return asdict(self)

    @classmethod
    def field_names(cls) -> list[str]:
        """Return every field name in record order."""
        return [f.name for f in fields(cls)]
