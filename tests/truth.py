"""Expected record values derived from exiftool's JSON by the Metadata Working Group's rules.

The corpus beside the checkout stores what exiftool 12.57 reads from each file, family by
family. This applies MWG's reconciliation to those values, so our readers' decoding is
checked against an independent reader.
"""

from __future__ import annotations

import re
from typing import Any

BOILERPLATE = re.compile(
    r"^(|(OLYMPUS|SONY|KONICA MINOLTA|MINOLTA|SAMSUNG|KODAK|NIKON|PENTAX|CASIO|SANYO)"
    r"( DIGITAL)? (CAMERA|DSC|CAMERA PICTURES)|DIGITAL CAMERA|SONY DSC|DEFAULT)$",
    re.IGNORECASE,
)


# Fields outside MWG's list, carried by IIM and XMP alike: (IIM tag, XMP tag).
IIM_XMP_PAIRS = {
    "headline": ("IPTC:Headline", "XMP-photoshop:Headline"),
    "title": ("IPTC:ObjectName", "XMP-dc:Title"),
    "source": ("IPTC:Source", "XMP-photoshop:Source"),
    "byline_title": ("IPTC:By-lineTitle", "XMP-photoshop:AuthorsPosition"),
    "special_instructions": ("IPTC:SpecialInstructions", "XMP-photoshop:Instructions"),
    "transmission_reference": (
        "IPTC:OriginalTransmissionReference",
        "XMP-photoshop:TransmissionReference",
    ),
    "city": ("IPTC:City", "XMP-photoshop:City"),
    "sublocation": ("IPTC:Sub-location", "XMP-iptcCore:Location"),
    "province_state": ("IPTC:Province-State", "XMP-photoshop:State"),
    "country": ("IPTC:Country-PrimaryLocationName", "XMP-photoshop:Country"),
    "country_code": ("IPTC:Country-PrimaryLocationCode", "XMP-iptcCore:CountryCode"),
}


def _s(value: Any) -> Any:
    if value is None:
        return None
    if isinstance(value, list):
        return [str(v).strip() for v in value if str(v).strip()]
    text = str(value).strip()
    return text or None


def _first(tags: dict[str, Any], *names: str) -> Any:
    for name in names:
        if name in tags and _s(tags[name]) not in (None, []):
            return _s(tags[name])
    return None


def expected(tags: dict[str, Any]) -> dict[str, Any]:
    """Return caption, credit, byline, keywords, date, camera and GPS as MWG reads them."""
    iim_present = "File:CurrentIPTCDigest" in tags
    stored = tags.get("Photoshop:IPTCDigest")
    xmp_trusted = not iim_present or stored is None or stored == tags["File:CurrentIPTCDigest"]

    def reconcile(exif: Any, iim: Any, xmp: Any) -> Any:
        if exif is not None and not (isinstance(exif, str) and BOILERPLATE.match(exif)):
            return exif
        if xmp is not None and (xmp_trusted or iim is None):
            return xmp
        return iim

    def as_list(v: Any) -> Any:
        return v if isinstance(v, list) or v is None else [v]

    def joined(v: Any) -> Any:
        return "; ".join(v) if isinstance(v, list) else v

    out: dict[str, Any] = {}
    out["caption"] = reconcile(
        _first(tags, "IFD0:ImageDescription"),
        _first(tags, "IPTC:Caption-Abstract"),
        _first(tags, "XMP-dc:Description"),
    )
    out["credit"] = reconcile(
        None, _first(tags, "IPTC:Credit"), _first(tags, "XMP-photoshop:Credit")
    )
    out["byline"] = joined(
        reconcile(
            _first(tags, "IFD0:Artist"),
            as_list(_first(tags, "IPTC:By-line")),
            as_list(_first(tags, "XMP-dc:Creator")),
        )
    )
    out["keywords"] = (
        reconcile(
            None, as_list(_first(tags, "IPTC:Keywords")), as_list(_first(tags, "XMP-dc:Subject"))
        )
        or []
    )
    out["copyright"] = reconcile(
        _first(tags, "IFD0:Copyright"),
        _first(tags, "IPTC:CopyrightNotice"),
        _first(tags, "XMP-dc:Rights"),
    )
    for field, (iim_tag, xmp_tag) in IIM_XMP_PAIRS.items():
        out[field] = reconcile(None, _first(tags, iim_tag), _first(tags, xmp_tag))
    out["usage_terms"] = _first(tags, "XMP-xmpRights:UsageTerms")
    out["camera_make"] = _first(tags, "IFD0:Make")
    out["camera_model"] = _first(tags, "IFD0:Model")
    lat, lon = tags.get("Composite:GPSLatitude"), tags.get("Composite:GPSLongitude")
    out["gps"] = (
        (round(float(lat), 5), round(float(lon), 5))
        if lat is not None and lon is not None
        else None
    )
    out["date"] = _date(tags, reconcile)
    return out


def _date(tags: dict[str, Any], reconcile: Any) -> str | None:
    exif = _first(tags, "ExifIFD:DateTimeOriginal")
    if exif and not re.match(r"^[0: ]*$", exif):
        exif_iso = exif[:10].replace(":", "-") + "T" + exif[11:19]
    else:
        exif_iso = None
    iim_date = _first(tags, "IPTC:DateCreated")
    iim = iim_date.replace(":", "-") if iim_date else None
    iim_time = _first(tags, "IPTC:TimeCreated")
    if iim and iim_time:
        iim += "T" + iim_time[:8]
    xmp = _first(tags, "XMP-photoshop:DateCreated")
    xmp = xmp.replace(":", "-", 2).replace(" ", "T") if isinstance(xmp, str) else None
    value = reconcile(exif_iso, iim, xmp)
    # Compare on the calendar date and, when present, the time to the second.
    return value[:19] if value else None
