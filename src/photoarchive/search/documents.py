"""What the index holds of a photo: an engine-neutral document of analysed terms."""

from __future__ import annotations

from datetime import datetime
from typing import Any, NamedTuple

from photoarchive.record import PhotoRecord
from photoarchive.search.analysis import analyse, text_analysis

#: Fields holding analysed terms, joined by spaces (engines split them on spaces only).
TERM_FIELDS = (
    "text",
    "headline",
    "keywords",
    "byline",
    "credit",
    "agency",
    "source",
    "city",
    "country",
    "format",
    "person",
    "organisation",
    "event",
    "lang",
    "source_type",
    "c2pa",
    # Not named in queries: what else the words of `text` may be found by (analysis.py).
    "spelling",
)
#: Fields holding one exact value: the agency as one key (for counts and the agency
#: filter), the version's state ("live", "superseded", "killed", "notice") and what the
#: photo's verdict depends on (rights.RightsFacts.status_key()).
KEY_FIELDS = ("agency_key", "state", "rights")
DATE_FIELDS = ("date_created", "ingested_at")
# Fields analysed as parts of `text`, with their language.
TEXT_PARTS = frozenset({"headline", "keywords", "byline", "event"})


class Entry(NamedTuple):
    """What the index holds of one photo: its record, its state and its rights facts."""

    record: PhotoRecord
    #: "live", "superseded", "killed" or "notice"
    state: str = "live"
    #: rights.RightsFacts.status_key() of the photo
    rights: str | None = None


def document(entry: Entry) -> dict[str, Any]:
    """Return the index document of a catalog entry: `sha256`; each of TERM_FIELDS as its
    terms joined by spaces; KEY_FIELDS as strings; DATE_FIELDS as naive datetimes; `digest`.
    Empty fields are left out."""
    record, state = entry.record, entry.state
    place = " ".join(
        v
        for v in (
            record.sublocation,
            record.city,
            record.province_state,
            record.country,
            record.country_code,
        )
        if v
    )
    keywords = "\n".join(record.keywords)
    shown = [
        str(p.get(k))
        for p in record.location_shown
        for k in ("name", "sublocation", "city", "province_state", "country")
        if p.get(k)
    ]
    texts: dict[str, str | None] = {
        "headline": record.headline,
        "keywords": keywords,
        "byline": record.byline,
        "credit": record.credit,
        "agency": record.agency,
        "source": record.source,
        "city": record.city,
        "country": " ".join(v for v in (record.country, record.country_code) if v),
        "format": record.format,
        "person": "\n".join(record.persons_shown),
        "organisation": "\n".join(record.organisations_shown),
        "event": record.event,
        "lang": " ".join(record.languages),
        "source_type": source_type_terms(record.digital_source_type),
        "c2pa": c2pa_terms(record.c2pa),
    }
    terms: dict[str, list[str]] = {
        name: analyse(name, value)
        for name, value in texts.items()
        if value and name not in TEXT_PARTS
    }
    # `text` holds all of these, in this order, each analysed in its language where the
    # metadata names it; names give every word spelling keys (see analysis.py).
    caption_lang = next((lang for lang in record.languages if lang in ("uk", "ru")), None)
    parts: list[tuple[str | None, str | None, str | None, bool]] = [
        (None, record.caption, caption_lang, False),
        ("headline", record.headline, caption_lang, False),
        (None, record.title, caption_lang, False),
        ("keywords", keywords, None, True),
        (None, place, None, True),
        ("byline", record.byline, None, True),
        (None, record.credit, None, True),
        # Every language of the caption and title is searched by its words.
        *((None, v, lang, False) for lang, v in record.caption_languages.items()),
        *((None, v, lang, False) for lang, v in record.title_languages.items()),
        (None, record.alt_text, caption_lang, False),
        ("event", record.event, None, False),
        *((None, v, None, True) for v in record.persons_shown),
        *((None, v, None, True) for v in record.organisations_shown),
        *((None, v, None, True) for v in shown),
    ]
    text: list[str] = []
    spelling: list[str] = []
    for name, value, lang, names in parts:
        if value:
            words, more = text_analysis(value, lang, names)
            if name:
                terms[name] = words
            text += words
            spelling += more
    terms["text"] = text
    terms["spelling"] = spelling
    doc: dict[str, Any] = {"sha256": record.sha256}
    for name in TERM_FIELDS:
        if terms.get(name):
            doc[name] = " ".join(terms[name])
    for name, key in (("agency_key", record.agency), ("state", state), ("rights", entry.rights)):
        if key:
            doc[name] = key
    for name in DATE_FIELDS:
        when = parse_datetime(getattr(record, name))
        if when is not None:
            doc[name] = when
    doc["digest"] = document_digest(doc)
    return doc


def source_type_terms(code: str | None) -> str:
    """Return what `source_type:` finds a picture by: its digital source type's code, and
    "ai" or "screen" for pictures made by generative AI or captured from a screen."""
    from photoarchive.provenance import is_ai, is_screen_capture

    if not code:
        return ""
    terms = [code.lower()]
    if is_ai(code):
        terms.append("ai")
    if is_screen_capture(code):
        terms.append("screen")
    return " ".join(terms)


def c2pa_terms(report: dict[str, Any]) -> str:
    """Return what `c2pa:` finds a picture by: its state, "present" with any manifest, and
    "ai" when the manifest says generative AI made it."""
    state = report.get("state")
    if not state or state == "absent":
        return "absent"
    terms = [str(state), "present"]
    if report.get("ai_generated"):
        terms.append("ai")
    return " ".join(terms)


def document_digest(doc: dict[str, Any]) -> str:
    """Return a digest of an index document's content (its `digest` field left out)."""
    import hashlib

    parts = []
    for name in sorted(doc):
        if name != "digest":
            parts.append(f"{name}\x1f{doc[name]}")
    canonical = "\x1e".join(parts)
    return hashlib.blake2b(canonical.encode("utf-8"), digest_size=16).hexdigest()


def parse_datetime(value: str | None) -> datetime | None:
    """Return a record's ISO date as a naive datetime (its wall-clock time, which editors
    search by), or None."""
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when.replace(tzinfo=None)


def field_terms(doc: dict[str, Any], name: str) -> list[str]:
    """Return the index terms of a document's field (for checking an index's postings)."""
    value = doc.get(name)
    if value is None or name in DATE_FIELDS or name in ("sha256", "digest"):
        return []
    return str(value).split() if name in TERM_FIELDS else [str(value)]
