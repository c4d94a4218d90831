"""Fidelity report: every corpus file ingested, each record field compared with exiftool.

The corpus beside the checkout (`../shared/corpus`) stores ExifTool 12.57's reading of every
file (`exiftool -j -G1 -n -struct`, family 1 groups). It holds no `-use MWG` composites, so
the Metadata Working Group's reconciliation is applied here to exiftool's per-family tags
the way ExifTool's MWG module does (test_the_reconciliation_here_is_exiftools_own checks
that against `exiftool -use MWG` on this corpus wherever exiftool is installed):

- Description, Creator, Copyright, DateTimeOriginal: EXIF first (non-empty), then XMP when
  there is no IIM, or no stored IPTCDigest, or the digest matches; else IIM.
- Keywords, City, State, Country, Location and the fields MWG does not list (headline,
  title, credit, source, instructions, transmission reference, country code, by-line
  title): the same XMP/IIM rule.
- Orientation, camera make and model, lens: EXIF. GPS: EXIF's composite, else XMP's
  exif:GPSLatitude/GPSLongitude.

Only non-empty exiftool values are compared (strings stripped; dates as ISO 8601 to the
second with the offset when exiftool has one; GPS to 1e-5 degrees). Where we differ on
purpose, or exiftool is wrong, the case is in JUDGED with its reason and agrees only when
our value is the one written there. Values we read where exiftool has none are listed, not
counted. Run with `pytest -s` to see the per-field table; it is also the failure message.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from photoarchive import Archive, init_archive
from photoarchive.ingest import IngestOptions
from tests.conftest import CORPUS

THRESHOLD = 0.99

# Files ingest refuses, and why: none is a complete image. Pillow (pillow-heif) cannot
# decode any of them, and `exiftool -validate` reports each but the HEIF (it checks boxes,
# not whether the picture's data is there).
DAMAGED = {
    "exiftool/t/images/QuickTime.heic": (
        "metadata-only HEIF test file (623 bytes): its mdat boxes hold two 18-byte metadata "
        "items and no coded 1596x1064 image (pillow-heif: 'Unexpected end of file')"
    ),
    "php-image-metadata-parser/tests/Fixtures/malformedchunks.png": (
        "every chunk's CRC is wrong, IHDR's included (exiftool -validate: 'Bad CRC' x5)"
    ),
    "pillow/Tests/images/truncated_jpeg.jpg": (
        "progressive scan cut short, no EOI (exiftool -validate: 'JPEG format error')"
    ),
    "pillow/Tests/images/ultrahdr.jpg": (
        "metadata-only sample: the scan header is followed by no entropy-coded data "
        "(exiftool -validate: 'JPEG format error')"
    ),
}


@dataclass(frozen=True)
class Judged:
    """A value where we deliberately differ from exiftool (or exiftool is wrong)."""

    value: Any
    reason: str


_BOILERPLATE = (
    "camera boilerplate in EXIF ImageDescription ({}) is no caption: we treat it as blank "
    "(exiftool's MWG takes any EXIF text), and the file has no IIM or XMP caption"
)
# (file, field) -> what our record must hold instead of exiftool's value, and why. Each
# counts as agreeing only when our value is this one.
JUDGED: dict[tuple[str, str], Judged] = {
    ("exif-samples/jpg/Konica_Minolta_DiMAGE_Z3.jpg", "caption"): Judged(
        None, _BOILERPLATE.format("'KONICA MINOLTA DIGITAL CAMERA'")
    ),
    ("exif-samples/jpg/corrupted.jpg", "caption"): Judged(
        None, _BOILERPLATE.format("'OLYMPUS DIGITAL CAMERA'")
    ),
    ("exiftool/t/images/Olympus.jpg", "caption"): Judged(
        None, _BOILERPLATE.format("'OLYMPUS DIGITAL CAMERA'")
    ),
    ("php-image-metadata-parser/tests/Fixtures/metapm.jpg", "caption"): Judged(
        "José Mourinho",
        "exiftool is wrong: the IIM caption is Mac Roman with no 1:90 record and exiftool "
        "decodes it as CP1252 ('JosŽ Mourinho'); the stale IPTCDigest makes MWG take IIM, "
        "and the XMP description holds the same words decoded right, which we show",
    ),
    ("exiftool/t/images/ExifTool.jpg", "transmission_reference"): Judged(
        "What is a transmission reference?",
        "IIM cut the reference at its 32-byte limit and the stale IPTCDigest makes MWG take "
        "IIM; XMP holds the whole text starting with the same 32 characters, which we restore",
    ),
}


# --- exiftool's values, reconciled as ExifTool's MWG module does --------------------------

# Record field -> (IIM tag, XMP tag), reconciled by MWG's IIM/XMP rule.
IIM_XMP = {
    "caption": ("IPTC:Caption-Abstract", "XMP-dc:Description"),
    "byline": ("IPTC:By-line", "XMP-dc:Creator"),
    "copyright": ("IPTC:CopyrightNotice", "XMP-dc:Rights"),
    "keywords": ("IPTC:Keywords", "XMP-dc:Subject"),
    "city": ("IPTC:City", "XMP-photoshop:City"),
    "province_state": ("IPTC:Province-State", "XMP-photoshop:State"),
    "country": ("IPTC:Country-PrimaryLocationName", "XMP-photoshop:Country"),
    "sublocation": ("IPTC:Sub-location", "XMP-iptcCore:Location"),
    "headline": ("IPTC:Headline", "XMP-photoshop:Headline"),
    "title": ("IPTC:ObjectName", "XMP-dc:Title"),
    "credit": ("IPTC:Credit", "XMP-photoshop:Credit"),
    "source": ("IPTC:Source", "XMP-photoshop:Source"),
    "byline_title": ("IPTC:By-lineTitle", "XMP-photoshop:AuthorsPosition"),
    "special_instructions": ("IPTC:SpecialInstructions", "XMP-photoshop:Instructions"),
    "transmission_reference": (
        "IPTC:OriginalTransmissionReference",
        "XMP-photoshop:TransmissionReference",
    ),
    "country_code": ("IPTC:Country-PrimaryLocationCode", "XMP-iptcCore:CountryCode"),
}
# Fields where EXIF's value comes first (MWG Description, Creator, Copyright).
EXIF_FIRST = {
    "caption": "IFD0:ImageDescription",
    "byline": "IFD0:Artist",
    "copyright": "IFD0:Copyright",
}
EXIF_ONLY = {
    "camera_make": "IFD0:Make",
    "camera_model": "IFD0:Model",
    "lens": "ExifIFD:LensModel",
    "orientation": "IFD0:Orientation",
}
FIELDS = (
    *IIM_XMP,
    "usage_terms",
    "date_created",
    *EXIF_ONLY,
    "gps_lat",
    "gps_lon",
)


def _clean(value: Any) -> Any:
    """exiftool's value as text (lists item by item), stripped; None when empty."""
    if value is None:
        return None
    if isinstance(value, list):
        items = [str(v).strip() for v in value]
        return [v for v in items if v] or None
    if isinstance(value, dict):  # a structure where a string was expected: not a value
        return None
    text = str(value).strip()
    return text or None


def mwg_values(tags: dict[str, Any]) -> dict[str, Any]:
    """Return exiftool's values under record field names, reconciled by MWG's rules."""
    current = tags.get("File:CurrentIPTCDigest")
    stored = tags.get("Photoshop:IPTCDigest")
    iim_present = current is not None
    xmp_trusted = not iim_present or stored is None or stored == current

    def iim_or_xmp(iim: Any, xmp: Any) -> Any:
        if xmp is not None and (xmp_trusted or iim is None):
            return xmp
        return iim

    out: dict[str, Any] = {}
    for name, (iim_tag, xmp_tag) in IIM_XMP.items():
        exif = _clean(tags.get(EXIF_FIRST[name])) if name in EXIF_FIRST else None
        value = (
            exif
            if exif is not None
            else iim_or_xmp(_clean(tags.get(iim_tag)), _clean(tags.get(xmp_tag)))
        )
        if name == "byline" and exif is not None:
            value = [part.strip() for part in exif.split(";") if part.strip()]
        if name == "keywords":
            value = value if isinstance(value, list) or value is None else [value]
        elif isinstance(value, list):
            value = "; ".join(value) if name == "byline" else value[0]
        out[name] = value
    out["usage_terms"] = _clean(tags.get("XMP-xmpRights:UsageTerms"))
    for name, tag in EXIF_ONLY.items():
        out[name] = _clean(tags.get(tag))
    if out["orientation"] is not None:
        out["orientation"] = int(out["orientation"])
    lat, lon = tags.get("Composite:GPSLatitude"), tags.get("Composite:GPSLongitude")
    if lat is None or lon is None:
        lat, lon = tags.get("XMP-exif:GPSLatitude"), tags.get("XMP-exif:GPSLongitude")
    if isinstance(lat, (int, float)) and isinstance(lon, (int, float)):
        out["gps_lat"], out["gps_lon"] = float(lat), float(lon)
    else:
        out["gps_lat"] = out["gps_lon"] = None
    out["date_created"] = _mwg_date(tags, iim_or_xmp)
    return out


def _mwg_date(tags: dict[str, Any], iim_or_xmp: Any) -> str | None:
    exif = _clean(tags.get("ExifIFD:DateTimeOriginal"))
    if exif is not None and not re.fullmatch(r"[0: ]*", exif):
        offset = _clean(tags.get("ExifIFD:OffsetTimeOriginal"))
        return normalise_date(exif + (offset or ""))
    iim = _clean(tags.get("IPTC:DateCreated"))
    if iim is not None:
        time = _clean(tags.get("IPTC:TimeCreated"))
        iim = f"{iim} {time}" if time else iim
    xmp = _clean(tags.get("XMP-photoshop:DateCreated"))
    value = iim_or_xmp(iim, xmp)
    return normalise_date(value) if value else None


def normalise_date(value: str) -> str:
    """ISO 8601 to the second, with the offset when there is one ("Z" as +00:00)."""
    m = re.match(
        r"^(\d{4})[:-](\d{2})[:-](\d{2})"
        r"(?:[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:\.\d+)?)?\s*(Z|[+-]\d{2}:?\d{2})?$",
        value.strip(),
    )
    if not m:
        return value.strip()
    y, mo, d, h, mi, s, tz = m.groups()
    out = f"{y}-{mo}-{d}"
    if h is not None:
        out += f"T{h}:{mi}:{s or '00'}"
        if tz:
            out += "+00:00" if tz == "Z" else f"{tz[:3]}:{tz[-2:]}"
    return out


# --- our values -----------------------------------------------------------------------


def record_values(record: dict[str, Any]) -> dict[str, Any]:
    out = {name: record.get(name) for name in FIELDS}
    if out["date_created"]:
        out["date_created"] = normalise_date(out["date_created"])
    return out


def agrees(name: str, ours: Any, theirs: Any) -> bool:
    if name in ("gps_lat", "gps_lon"):
        return isinstance(ours, float) and abs(ours - float(theirs)) <= 1e-5
    return bool(ours == theirs)


# --- the report -------------------------------------------------------------------------


@dataclass
class Tally:
    agreed: int = 0
    compared: int = 0
    misses: list[str] = field(default_factory=list)


@dataclass
class Report:
    fields: dict[str, Tally] = field(default_factory=lambda: {n: Tally() for n in FIELDS})
    extras: list[str] = field(default_factory=list)
    judged_seen: set[tuple[str, str]] = field(default_factory=set)

    @property
    def agreed(self) -> int:
        return sum(t.agreed for t in self.fields.values())

    @property
    def compared(self) -> int:
        return sum(t.compared for t in self.fields.values())

    def table(self) -> str:
        lines = ["field                   agreed/compared", "-" * 40]
        for name, t in self.fields.items():
            if t.compared:
                pct = 100.0 * t.agreed / t.compared
                lines.append(f"{name:<24}{t.agreed:>4}/{t.compared:<4} {pct:6.1f}%")
        total = self.compared
        pct = 100.0 * self.agreed / total if total else 100.0
        lines += ["-" * 40, f"{'overall':<24}{self.agreed:>4}/{total:<4} {pct:6.1f}%"]
        lines.append(f"({len(self.judged_seen)} judged cases included, each listed in JUDGED)")
        misses = [m for t in self.fields.values() for m in t.misses]
        if misses:
            lines += ["", "disagreements (file: field: ours != exiftool's):", *misses]
        if self.extras:
            lines += ["", "values exiftool does not have (not counted):", *self.extras]
        return "\n".join(lines)


def _truths() -> list[dict[str, Any]]:
    if not (CORPUS / "truth").is_dir():
        return []
    return [
        json.loads(p.read_text(encoding="utf-8")) for p in sorted((CORPUS / "truth").glob("*.json"))
    ]


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Archive, Any]]:
    if not (CORPUS / "truth").is_dir():
        pytest.skip(f"corpus not found at {CORPUS}: the shared folder is not beside the checkout")
    arc, _ = init_archive(tmp_path_factory.mktemp("fidelity") / "archive")
    report = arc.ingest([CORPUS], IngestOptions(jobs=2))
    yield arc, report
    arc.close()


def fidelity(arc: Archive, truths: list[dict[str, Any]]) -> Report:
    report = Report()
    for truth in truths:
        rel = str(truth["numeric"]["SourceFile"])
        if rel in DAMAGED:
            continue
        sha = hashlib.sha256((CORPUS / rel).read_bytes()).hexdigest()
        ours = record_values(arc.catalog.get(sha).record.to_dict())
        theirs = mwg_values(truth["numeric"])
        for name in FIELDS:
            want, got = theirs[name], ours[name]
            judged = JUDGED.get((rel, name))
            if judged is None and want is None:
                if got not in (None, []):
                    report.extras.append(f"  {rel}: {name}: {got!r}")
                continue
            tally = report.fields[name]
            tally.compared += 1
            if judged is not None:
                report.judged_seen.add((rel, name))
                ok = (
                    got == judged.value if judged.value is None else agrees(name, got, judged.value)
                )
                want = f"{judged.value!r} (judged; exiftool: {want!r})"
            else:
                ok = agrees(name, got, want)
                want = repr(want)
            if ok:
                tally.agreed += 1
            else:
                tally.misses.append(f"  {rel}: {name}: {got!r} != {want}")
    return report


def test_fidelity_with_exiftool(ingested: tuple[Archive, Any]) -> None:
    arc, _ = ingested
    report = fidelity(arc, _truths())
    table = report.table()
    print("\nFidelity with exiftool 12.57 (MWG reconciliation) over the corpus\n" + table)
    assert report.judged_seen == set(JUDGED), "judged cases that no longer apply"
    assert report.compared and report.agreed / report.compared >= THRESHOLD, table


def test_no_valid_corpus_image_is_rejected(ingested: tuple[Archive, Any]) -> None:
    _, ingest_report = ingested
    outcomes = {str(Path(o.path).relative_to(CORPUS)): o for o in ingest_report.outcomes}
    assert len(outcomes) == len(_truths())
    rejected = {p: o.reason for p, o in outcomes.items() if o.status == "rejected"}
    assert set(rejected) == set(DAMAGED), rejected


# Record field -> exiftool's MWG composite (`exiftool -use MWG`).
MWG_COMPOSITES = {
    "caption": "MWG:Description",
    "byline": "MWG:Creator",
    "copyright": "MWG:Copyright",
    "keywords": "MWG:Keywords",
    "city": "MWG:City",
    "province_state": "MWG:State",
    "country": "MWG:Country",
    "sublocation": "MWG:Location",
    "date_created": "MWG:DateTimeOriginal",
    "orientation": "MWG:Orientation",
}


def _composite(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name == "keywords":
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]
    if isinstance(value, list):
        value = "; ".join(str(v) for v in value)
    if name == "date_created":
        return normalise_date(str(value))
    return value.strip() or None if isinstance(value, str) else value


@pytest.mark.skipif(shutil.which("exiftool") is None, reason="exiftool is not installed")
def test_the_reconciliation_here_is_exiftools_own() -> None:
    """The MWG rules applied to the stored truth give what `exiftool -use MWG` gives."""
    truths = _truths()
    if not truths:
        pytest.skip(f"corpus not found at {CORPUS}")
    files = [str(t["numeric"]["SourceFile"]) for t in truths]
    out = subprocess.run(
        ["exiftool", "-use", "MWG", "-j", "-G1", "-n", "-struct", "-MWG:all", *files],
        cwd=CORPUS,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    live = {entry["SourceFile"]: entry for entry in json.loads(out)}
    differ = []
    for truth in truths:
        rel = str(truth["numeric"]["SourceFile"])
        ours = mwg_values(truth["numeric"])
        for name, tag in MWG_COMPOSITES.items():
            theirs = _composite(name, live[rel].get(tag))
            if theirs != ours[name]:
                differ.append(f"{rel}: {name}: {ours[name]!r} != exiftool's {theirs!r}")
    assert not differ, "\n".join(differ)
