"""IPTC Extension, PLUS and every language of a caption, read from XMP into record fields."""

from __future__ import annotations

from typing import Any
from xml.etree.ElementTree import Element

from defusedxml import ElementTree as SafeET

from photoarchive.letters import CYRILLIC, LATIN, RUSSIAN_ONLY, UKRAINIAN_ONLY
from photoarchive.metadata.merge import Merged
from photoarchive.metadata.xmp import (
    CORE,
    DC,
    EXIF,
    MAX_PACKET,
    RDF,
    RIGHTS,
    XML_LANG,
    _packet_text,
    xmp_coordinate,
)

EXT = "http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
PLUS = "http://ns.useplus.org/ldf/xmp/1.0/"

#: Location fields of an IPTC Extension location structure, under record-style names.
LOCATION_PARTS = {
    "LocationName": "name",
    "Sublocation": "sublocation",
    "City": "city",
    "ProvinceState": "province_state",
    "CountryName": "country",
    "CountryCode": "country_code",
    "WorldRegion": "world_region",
    "GPSLatitude": "gps_lat",
    "GPSLongitude": "gps_lon",
}


def read_extension(packet: bytes) -> dict[str, Any]:
    """Return the record fields IPTC Extension, PLUS and language alternatives give; {} for
    a packet that cannot be read (parse_xmp has reported it already)."""
    if len(packet) > MAX_PACKET:
        return {}
    try:
        root = SafeET.fromstring(_packet_text(packet))
    except Exception:  # defusedxml forbids entities; expat rejects broken XML
        return {}
    out: dict[str, Any] = {}
    for desc in root.iter(f"{{{RDF}}}Description"):
        _read_description(desc, out)
    captions = out.get("caption_languages") or {}
    languages = sorted({_primary(lang) for lang in captions})
    detected = detect_language(next(iter(captions.values()), None) if captions else None)
    if detected and detected not in languages:
        languages.append(detected)
    if languages:
        out["languages"] = languages
    return {k: v for k, v in out.items() if v not in (None, "", [], {})}


def add_extension(merged: Merged, packet: bytes | None, desk: dict[str, Any]) -> None:
    """Merge the extension fields of `packet` into `merged` (XMP is their only family),
    and the caption's language detected from its script when XMP names none."""
    values = read_extension(packet) if packet else {}
    caption = merged.values.get("caption")
    if "languages" not in values and isinstance(caption, str):
        detected = detect_language(caption)
        if detected:
            values["languages"] = [detected]
    for name, value in values.items():
        merged.sources.setdefault(name, {})["xmp"] = value
        if name in desk and desk[name] not in (None, "", []):
            continue
        merged.values[name] = value
        merged.origin[name] = "xmp"


def detect_language(text: str | None) -> str | None:
    """Return "uk" or "ru" for Cyrillic text with letters only that language writes, "en"
    for Latin text, None when the script says nothing (a cheap guess, not a classifier)."""
    if not text:
        return None
    if CYRILLIC.search(text):
        if UKRAINIAN_ONLY.search(text):
            return "uk"
        if RUSSIAN_ONLY.search(text):
            return "ru"
        return None
    return "en" if LATIN.search(text) else None


def _read_description(desc: Element, out: dict[str, Any]) -> None:
    for child in desc:
        ns, _, name = child.tag[1:].partition("}")
        if ns == DC and name == "description":
            _languages(child, out, "caption_languages")
        elif ns == DC and name == "title":
            _languages(child, out, "title_languages")
        elif ns == CORE and name == "AltTextAccessibility":
            out.setdefault("alt_text", _default_text(child))
        elif ns == CORE and name == "ExtDescrAccessibility":
            out.setdefault("extended_description", _default_text(child))
        elif ns == EXT and name == "PersonInImage":
            _add(out, "persons_shown", _items(child))
        elif ns == EXT and name == "PersonInImageWDetails":
            _add(out, "persons_shown", _struct_texts(child, EXT, "PersonName"))
        elif ns == EXT and name == "OrganisationInImageName":
            _add(out, "organisations_shown", _items(child))
        elif ns == EXT and name == "Event":
            out.setdefault("event", _default_text(child))
        elif ns == EXT and name == "LocationShown":
            _add(out, "location_shown", _locations(child))
        elif ns == EXT and name == "LocationCreated":
            found = _locations(child)
            if found:
                out.setdefault("location_created", found[0])
        elif ns == EXT and name == "DigitalSourceType":
            out.setdefault("digital_source_type", _simple(child))
        elif ns == PLUS and name == "ImageSupplier":
            out.setdefault(
                "image_supplier", _first(_struct_texts(child, PLUS, "ImageSupplierName"))
            )
        elif ns == PLUS and name == "Licensor":
            out.setdefault("licensor", _first(_struct_texts(child, PLUS, "LicensorName")))
        elif ns == PLUS and name == "ModelReleaseStatus":
            out.setdefault("model_release_status", _release(_simple(child)))
        elif ns == PLUS and name == "PropertyReleaseStatus":
            out.setdefault("property_release_status", _release(_simple(child)))
        elif ns == RIGHTS and name == "WebStatement":
            out.setdefault("web_statement", _simple(child))
    # Simple properties may be written as attributes of rdf:Description.
    for key, value in desc.attrib.items():
        ns, _, name = key[1:].partition("}")
        text = value.strip() or None
        if ns == EXT and name == "DigitalSourceType":
            out.setdefault("digital_source_type", text)
        elif ns == RIGHTS and name == "WebStatement":
            out.setdefault("web_statement", text)
        elif ns == PLUS and name == "ModelReleaseStatus":
            out.setdefault("model_release_status", _release(text))
        elif ns == PLUS and name == "PropertyReleaseStatus":
            out.setdefault("property_release_status", _release(text))


def _languages(prop: Element, out: dict[str, Any], field: str) -> None:
    found: dict[str, str] = out.setdefault(field, {})
    for li in prop.iter(f"{{{RDF}}}li"):
        lang = (li.get(XML_LANG) or "x-default").strip()
        text = (li.text or "").strip()
        if text and lang.lower() != "x-default":
            found.setdefault(lang, text)


def _default_text(prop: Element) -> str | None:
    items = list(prop.iter(f"{{{RDF}}}li"))
    for li in items:
        if (li.get(XML_LANG) or "").lower() == "x-default" and (li.text or "").strip():
            return (li.text or "").strip()
    for li in items:
        if (li.text or "").strip():
            return (li.text or "").strip()
    return _simple(prop)


def _simple(prop: Element) -> str | None:
    resource = prop.get(f"{{{RDF}}}resource")
    text = (prop.text or "").strip() or (resource or "").strip()
    return text or None


def _items(prop: Element) -> list[str]:
    items = [(li.text or "").strip() for li in prop.iter(f"{{{RDF}}}li")]
    found = [i for i in items if i]
    if not found and _simple(prop):
        found = [str(_simple(prop))]
    return found


def _structs(prop: Element) -> list[Element]:
    """The structures of a bag or sequence of structures (rdf:li elements, whether written
    with rdf:parseType="Resource" or holding an rdf:Description)."""
    out = []
    for li in prop.iter(f"{{{RDF}}}li"):
        inner = li.find(f"{{{RDF}}}Description")
        out.append(inner if inner is not None else li)
    return out


def _struct_texts(prop: Element, ns: str, name: str) -> list[str]:
    texts = []
    for struct in _structs(prop):
        value = struct.get(f"{{{ns}}}{name}")
        if value is None:
            child = struct.find(f"{{{ns}}}{name}")
            value = _default_text(child) if child is not None else None
        if value and value.strip():
            texts.append(value.strip())
    return texts


def _locations(prop: Element) -> list[dict[str, Any]]:
    found = []
    for struct in _structs(prop):
        place: dict[str, Any] = {}
        for part, key in LOCATION_PARTS.items():
            value = struct.get(f"{{{EXT}}}{part}") or struct.get(f"{{{EXIF}}}{part}")
            if value is None:
                child = struct.find(f"{{{EXT}}}{part}")
                if child is None:
                    child = struct.find(f"{{{EXIF}}}{part}")
                value = _default_text(child) if child is not None else None
            if value and value.strip():
                place[key] = value.strip()
        # The same coordinate forms as the camera's position in XMP (DDD,MM.mmk or decimal).
        for key, hemispheres, limit in (("gps_lat", "NS", 90.0), ("gps_lon", "EW", 180.0)):
            if key in place:
                place[key] = xmp_coordinate(place[key], hemispheres, limit)
                if place[key] is None:
                    del place[key]
        if place:
            found.append(place)
    return found


def _release(value: str | None) -> str | None:
    """PLUS release status URIs to words: MR-NON "none", MR-UMR "unlimited", ..."""
    if not value:
        return None
    code = value.rstrip("/").rsplit("/", 1)[-1]
    words = {
        "MR-NON": "none",
        "MR-NAP": "not applicable",
        "MR-UMR": "unlimited model releases",
        "MR-LMR": "limited or incomplete model releases",
        "PR-NON": "none",
        "PR-NAP": "not applicable",
        "PR-UPR": "unlimited property releases",
        "PR-LPR": "limited or incomplete property releases",
    }
    return words.get(code.upper(), value)


def _add(out: dict[str, Any], name: str, values: list[Any]) -> None:
    current = out.setdefault(name, [])
    for value in values:
        if value not in current:
            current.append(value)


def _first(values: list[str]) -> str | None:
    return values[0] if values else None


def _primary(lang: str) -> str:
    return lang.split("-")[0].lower()
