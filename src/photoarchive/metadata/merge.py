"""Merge desk, EXIF, IIM and XMP values into one record per the Metadata Working Group's rules."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from photoarchive.metadata.iptc import LIMITS, IimBlock, alternative_decodings
from photoarchive.metadata.xmp import XmpPacket
from photoarchive.record import DESCRIPTIVE_FIELDS

# Fields where a non-blank EXIF value outranks IIM and XMP (MWG Description, Creator,
# Copyright, DateTimeOriginal).
EXIF_FIRST = ("caption", "byline", "copyright", "date_created")
# Fields only EXIF carries.
EXIF_ONLY = ("camera_make", "camera_model", "lens", "orientation", "gps_lat", "gps_lon")
# Fields carried by IIM and XMP alike.
IIM_XMP = DESCRIPTIVE_FIELDS

# Text that cameras write into ImageDescription by default: not a caption.
_BOILERPLATE = re.compile(
    r"^(|(OLYMPUS|SONY|KONICA MINOLTA|MINOLTA|SAMSUNG|KODAK|NIKON|PENTAX|CASIO|SANYO)"
    r"( DIGITAL)? (CAMERA|DSC|CAMERA PICTURES)|DIGITAL CAMERA|SONY DSC|DEFAULT|"
    r"LEAD TECHNOLOGIES.*|MADE WITH.*|SCREENSHOT)$",
    re.IGNORECASE,
)


@dataclass
class Merged:
    """The merged values, the family each came from, and every family's own value."""

    values: dict[str, Any] = field(default_factory=dict)
    origin: dict[str, str] = field(default_factory=dict)
    sources: dict[str, dict[str, Any]] = field(default_factory=dict)


def is_blank(value: Any) -> bool:
    """Return True for missing values, whitespace and camera boilerplate captions."""
    if value is None:
        return True
    if isinstance(value, str):
        return bool(_BOILERPLATE.match(value.strip()))
    if isinstance(value, list):
        return not value
    return False


def merge(desk: dict[str, Any], exif: dict[str, Any], iim: IimBlock, xmp: XmpPacket) -> Merged:
    """Return one value per field: desk first, then MWG reconciliation of EXIF, IIM and XMP."""
    out = Merged()
    families = {"desk": desk, "exif": exif, "iim": iim.values, "xmp": xmp.values}
    for family, values in families.items():
        for name, value in values.items():
            out.sources.setdefault(name, {})[family] = value
    # MWG: XMP is trusted over IIM when there is no IIM, or when no digest says IIM was
    # edited after XMP was written.
    xmp_trusted = not iim.present or iim.digest in ("absent", "match")
    # GPS: EXIF's position first; XMP's exif:GPSLatitude/GPSLongitude only when EXIF has none.
    exif_gps = exif.get("gps_lat") is not None and exif.get("gps_lon") is not None
    for name in sorted(set(EXIF_ONLY) | set(IIM_XMP) | set(iim.values) | set(xmp.values)):
        if not is_blank(desk.get(name)):
            out.values[name], out.origin[name] = desk[name], "desk"
            continue
        if name in EXIF_FIRST or name in EXIF_ONLY:
            value = exif.get(name)
            if value is not None and not is_blank(value):
                out.values[name], out.origin[name] = value, "exif"
                continue
        if name in ("gps_lat", "gps_lon") and not exif_gps and xmp.values.get(name) is not None:
            out.values[name], out.origin[name] = xmp.values[name], "xmp"
            continue
        if name not in IIM_XMP:
            continue
        x, i = xmp.values.get(name), iim.values.get(name)
        if x is not None and (xmp_trusted or i is None):
            # Where IIM lacks a field the XMP value is kept even with a stale digest: an
            # editor is better served by XMP's value than by none.
            out.values[name], out.origin[name] = x, "xmp"
        elif i is not None:
            out.values[name], out.origin[name] = _recover(name, i, x, iim), "iim"
    return out


def _recover(name: str, iim_value: Any, xmp_value: Any, iim: IimBlock) -> Any:
    """Prefer XMP's text where IIM holds the same words truncated or in another charset."""
    if xmp_value is None or not isinstance(iim_value, str) or not isinstance(xmp_value, str):
        return iim_value
    limit = LIMITS.get(name)
    if limit and len(iim_value) == limit and xmp_value.startswith(iim_value):
        return xmp_value
    raw = iim.raw.get(name)
    if isinstance(raw, bytes) and not iim.utf8_declared and xmp_value in alternative_decodings(raw):
        return xmp_value
    return iim_value


@dataclass(frozen=True)
class TextLimits:
    """How much text one photo may bring (archive.toml: max_caption_chars and the rest)."""

    caption: int
    text: int
    keywords: int
    keyword: int


_FAMILY_NAMES = {"desk": "the desk's value", "exif": "EXIF", "iim": "IPTC-IIM", "xmp": "XMP"}


def cap_text(merged: Merged, limits: TextLimits) -> list[str]:
    """Cut over-long text and keyword lists in `merged` (values and every family's source)
    to the limits, in place; return one warning per field saying what was cut.

    A caption of 100,000 keywords in a 1 MB file would otherwise add tens of megabytes to
    the index and the catalog; professional values fit well inside the limits.
    """
    cuts: dict[str, list[tuple[str, int]]] = {}
    for name, by_family in merged.sources.items():
        for family, value in list(by_family.items()):
            capped, before = _cap(name, value, limits)
            if before:
                by_family[family] = capped
                cuts.setdefault(name, []).append((family, before))
    for name, value in list(merged.values.items()):
        capped, before = _cap(name, value, limits)
        if before:
            merged.values[name] = capped
            cuts.setdefault(name, []).append((merged.origin.get(name, ""), before))
    return [_describe(name, found, limits) for name, found in cuts.items()]


def _cap(name: str, value: Any, limits: TextLimits) -> tuple[Any, int]:
    """Return (the value within the limits, its size before if it was cut, else 0)."""
    if isinstance(value, list):
        if name != "keywords":
            return value, 0
        kept = [k[: limits.keyword] if isinstance(k, str) else k for k in value[: limits.keywords]]
        if len(value) > limits.keywords or kept != value[: limits.keywords]:
            return kept, len(value)
        return value, 0
    if isinstance(value, str):
        limit = limits.caption if name == "caption" else limits.text
        if len(value) > limit:
            return value[:limit], len(value)
    return value, 0


def _describe(name: str, found: list[tuple[str, int]], limits: TextLimits) -> str:
    families = sorted({_FAMILY_NAMES[f] for f, _ in found if f in _FAMILY_NAMES})
    where = f"{', '.join(families)}; " if families else ""
    largest = max(size for _, size in found)
    if name == "keywords":
        if largest > limits.keywords:
            return (
                f"kept the first {limits.keywords:,} of {largest:,} keywords, each at most "
                f"{limits.keyword} characters ({where}max_keywords, max_keyword_chars)"
            )
        return f"keywords cut to {limits.keyword} characters ({where}max_keyword_chars)"
    setting = "max_caption_chars" if name == "caption" else "max_text_chars"
    limit = limits.caption if name == "caption" else limits.text
    field_name = name.replace("_", " ")
    return f"{field_name} cut from {largest:,} to {limit:,} characters ({where}{setting})"
