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
    #: `width` and `height` are the stored pixel grid (as the image data holds it; for
    #: HEIF after the container's own rotation, as libheif decodes it). These are the size
    #: as shown, after the EXIF orientation (5 to 8 turn it a quarter).
    display_width: int | None = None
    display_height: int | None = None
    # IPTC Extension, PLUS and language alternatives (XMP), and provenance.
    #: Other languages of the caption and title: {"uk": "...", "en-GB": "..."}.
    caption_languages: dict[str, str] = field(default_factory=dict)
    title_languages: dict[str, str] = field(default_factory=dict)
    #: Languages of the caption (primary subtags): as XMP names them, or from its script.
    languages: list[str] = field(default_factory=list)
    persons_shown: list[str] = field(default_factory=list)
    organisations_shown: list[str] = field(default_factory=list)
    event: str | None = None
    alt_text: str | None = None
    extended_description: str | None = None
    #: Places shown: [{"name", "sublocation", "city", "province_state", "country",
    #: "country_code", "world_region", "gps_lat", "gps_lon"}] (the parts each has).
    location_shown: list[dict[str, Any]] = field(default_factory=list)
    location_created: dict[str, Any] = field(default_factory=dict)
    image_supplier: str | None = None
    licensor: str | None = None
    web_statement: str | None = None
    model_release_status: str | None = None
    property_release_status: str | None = None
    #: IPTC digital source type, its short code ("trainedAlgorithmicMedia"): what made it.
    digital_source_type: str | None = None
    #: C2PA Content Credentials: {"state": "absent" | "valid" | "untrusted" | "invalid" |
    #: "unreadable", "signer", "signed_at", "source_type", "ai_generated", "problems"}.
    c2pa: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the record as a JSON-ready dict with design.md's key names."""
        return asdict(self)

    @classmethod
    def structured_fields(cls) -> list[str]:
        """Return the fields holding lists or mappings (stored as JSON)."""
        return [f.name for f in fields(cls) if str(f.type).startswith(("list", "dict"))]

    @classmethod
    def list_fields(cls) -> list[str]:
        """Return the fields holding lists."""
        return [f.name for f in fields(cls) if str(f.type).startswith("list")]

    @classmethod
    def field_names(cls) -> list[str]:
        """Return every field name in record order."""
        return [f.name for f in fields(cls)]
