"""How a record's values read as text for people: lists, languages, places, provenance."""

from __future__ import annotations

from typing import Any

_PLACE_ORDER = ("name", "sublocation", "city", "province_state", "country", "country_code")


def field_text(name: str, value: Any) -> str:
    """Return a record field's value as one line of text for `show` and the desk."""
    if name == "c2pa" and isinstance(value, dict):
        return c2pa_text(value)
    if name == "digital_source_type" and isinstance(value, str):
        from photoarchive.provenance import source_type_words

        return f"{source_type_words(value)} ({value})"
    if isinstance(value, dict):
        if name.startswith("location"):
            return place_text(value)
        return "; ".join(f"{k}: {v}" for k, v in value.items())
    if isinstance(value, list):
        if value and isinstance(value[0], dict):
            return " | ".join(place_text(v) for v in value)
        return "; ".join(str(v) for v in value)
    return str(value)


def place_text(place: dict[str, Any]) -> str:
    """Return a place ("Izium, Kharkiv Oblast, Ukraine (49.21, 37.26)")."""
    text = ", ".join(str(place[k]) for k in _PLACE_ORDER if place.get(k))
    if place.get("gps_lat") is not None and place.get("gps_lon") is not None:
        text += f" ({place['gps_lat']}, {place['gps_lon']})"
    return text.strip()


def c2pa_text(report: dict[str, Any]) -> str:
    """Return a C2PA report in words ("valid, signed by Reuters on 2026-03-01; AI-generated")."""
    state = report.get("state") or "absent"
    words = {
        "valid": "valid",
        "untrusted": "intact, but the signer is not on a trust list",
        "invalid": "INVALID: the picture or its record changed after signing",
        "unreadable": "unreadable",
        "absent": "none",
    }.get(state, state)
    out = words
    if report.get("signer"):
        out += f", signed by {report['signer']}"
    if report.get("signed_at"):
        out += f" on {report['signed_at']}"
    if report.get("ai_generated"):
        out += "; says generative AI made it"
    problems = report.get("problems") or []
    if problems and state != "valid":
        out += f" ({'; '.join(str(p) for p in problems[:2])})"
    return out
