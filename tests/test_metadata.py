"""Metadata readers against exiftool's reading of the committed fixtures."""

from __future__ import annotations

import json
from typing import Any

import pytest
from PIL import Image

from photoarchive.metadata import extract_metadata
from photoarchive.metadata.iptc import decode_iim_text
from photoarchive.metadata.xmp import parse_xmp
from tests.conftest import CORPUS, FIXTURES
from tests.truth import IIM_XMP_PAIRS, expected

EXIFTOOL = json.loads((FIXTURES / "exiftool.json").read_text(encoding="utf-8"))


def extract(name: str, desk: dict[str, Any] | None = None) -> tuple[dict[str, Any], dict[str, str]]:
    data = (FIXTURES / name).read_bytes()
    with Image.open(FIXTURES / name) as im:
        merged = extract_metadata(im, data, desk).merged
    return merged.values, merged.origin


def _mwg_text(value: Any) -> Any:
    return "; ".join(value) if isinstance(value, list) else value


def _mwg_list(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def _mwg_date(value: str) -> str:
    return value[:10].replace(":", "-") + ("T" + value[11:] if len(value) > 10 else "")


@pytest.mark.parametrize("name", sorted(EXIFTOOL))
def test_fields_equal_exiftool_mwg(name: str) -> None:
    tags = EXIFTOOL[name]
    values, _ = extract(name)
    mwg = {
        "caption": "MWG:Description",
        "byline": "MWG:Creator",
        "copyright": "MWG:Copyright",
        "city": "MWG:City",
        "province_state": "MWG:State",
        "country": "MWG:Country",
        "sublocation": "MWG:Location",
    }
    for field, tag in mwg.items():
        want = _mwg_text(tags.get(tag))
        if name == "camera_boilerplate.jpg" and field == "caption":
            # Deliberate difference: camera boilerplate counts as blank, so IIM's caption shows.
            assert want == "OLYMPUS DIGITAL CAMERA"
            want = _mwg_text(tags["IPTC:Caption-Abstract"])
        assert values.get(field) == want, (name, field)
    if "MWG:Keywords" in tags:
        assert values["keywords"] == _mwg_list(tags["MWG:Keywords"])
    else:
        assert "keywords" not in values
    if "MWG:DateTimeOriginal" in tags:
        assert values["date_created"] == _mwg_date(tags["MWG:DateTimeOriginal"])
    else:
        assert "date_created" not in values
    # Fields MWG does not reconcile follow the same IIM/XMP digest rule.
    want_all = expected(tags)
    for field in ("credit", *IIM_XMP_PAIRS, "usage_terms"):
        if field in mwg.values() or field in ("city", "province_state", "country", "sublocation"):
            continue
        assert values.get(field) == want_all[field], (name, field)
    if "Composite:GPSLatitude" in tags:
        assert values["gps_lat"] == pytest.approx(tags["Composite:GPSLatitude"], abs=1e-6)
        assert values["gps_lon"] == pytest.approx(tags["Composite:GPSLongitude"], abs=1e-6)
    assert values.get("orientation", 1) == tags.get("MWG:Orientation", 1)
    assert values.get("camera_make") == tags.get("IFD0:Make")
    assert values.get("lens") == tags.get("ExifIFD:LensModel")


def test_utf8_iim_fields() -> None:
    values, origin = extract("iim_utf8.jpg")
    assert values["caption"].startswith("Українські спецпризначенці")
    assert values["keywords"] == ["Ukraine", "Kupiansk", "special forces", "війна"]
    assert values["credit"] == "REUTERS/Gleb Garanich"
    assert values["headline"] == "Ukrainian forces enter Kupiansk"
    assert values["title"] == "UKRAINE-CRISIS/KUPIANSK"
    assert values["country_code"] == "UKR"
    assert values["transmission_reference"] == "KUP-20220910-001"
    assert values["special_instructions"].startswith("EDITORIAL USE ONLY")
    assert values["date_created"] == "2022-09-10T14:30:00+03:00"
    assert origin["caption"] == "iim"


def test_latin1_iim_without_charset_is_not_mojibake() -> None:
    values, _ = extract("iim_latin1.jpg")
    assert values["caption"] == "José Mourinho à Zürich, façade du stade"
    assert values["byline"] == "Jérôme Dupré"


@pytest.mark.parametrize(
    ("name", "winner"),
    [
        ("conflict_stale_digest.jpg", "iim"),
        ("conflict_synced_digest.jpg", "xmp"),
        ("conflict_no_digest.jpg", "xmp"),
    ],
)
def test_iim_xmp_conflict_follows_digest(name: str, winner: str) -> None:
    values, origin = extract(name)
    assert origin["caption"] == winner
    assert values["caption"].startswith(winner.upper())
    assert values["credit"] == f"{winner.upper()} credit"


def test_exif_description_outranks_iim_and_xmp_and_gps_is_signed() -> None:
    values, origin = extract("exif_gps_orientation.jpg")
    assert (values["caption"], origin["caption"]) == ("Tank turret near Kupiansk", "exif")
    assert values["orientation"] == 6
    assert values["gps_lat"] == pytest.approx(49.71)
    assert values["gps_lon"] == pytest.approx(37.615)
    assert values["lens"].startswith("AF-S NIKKOR")


def test_desk_values_outrank_everything() -> None:
    values, origin = extract(
        "exif_gps_orientation.jpg", {"caption": "Desk caption", "keywords": ["desk"]}
    )
    assert (values["caption"], origin["caption"]) == ("Desk caption", "desk")
    assert values["keywords"] == ["desk"]


def test_sources_keep_every_family() -> None:
    data = (FIXTURES / "conflict_stale_digest.jpg").read_bytes()
    with Image.open(FIXTURES / "conflict_stale_digest.jpg") as im:
        sources = extract_metadata(im, data).merged.sources
    assert sources["caption"]["iim"].startswith("IIM")
    assert sources["caption"]["xmp"].startswith("XMP")


@pytest.mark.parametrize(
    ("raw", "utf8", "text"),
    [
        (b"Caf\xc3\xa9", False, "Café"),
        (b"Caf\xe9", False, "Café"),
        (b"\x93quoted\x94", False, "\u201cquoted\u201d"),
        (b"\x81\x8d", False, "\x81\x8d"),
        (b"bad \xff utf8", True, "bad \ufffd utf8"),
    ],
)
def test_iim_text_decoding_never_fails(raw: bytes, utf8: bool, text: str) -> None:
    assert decode_iim_text(raw, utf8) == text


@pytest.mark.parametrize(
    "packet",
    [
        b"<x:xmpmeta",
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><x>&a;</x>',
        b"\x00\x01\x02",
        b"",
    ],
)
def test_broken_xmp_gives_a_warning_not_an_exception(packet: bytes) -> None:
    result = parse_xmp(packet)
    assert result.values == {}
    assert result.warnings


def test_utf16_xmp_is_read() -> None:
    corpus_file = CORPUS / "exiftool/t/images/XMP.jpg"
    if not corpus_file.exists():
        pytest.skip(f"corpus not found at {CORPUS}: the shared folder is not beside the checkout")
    with Image.open(corpus_file) as im:
        sources = extract_metadata(im, corpus_file.read_bytes()).merged.sources
    assert sources["caption"]["xmp"] == "UTF-16 (big-endian) encoded XMP"
