"""IPTC Extension, PLUS, every language of a caption and the digital source type: read from
files exiftool writes, searchable, shown, and judged by the rights policy."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

EXIFTOOL = shutil.which("exiftool")
pytestmark = pytest.mark.skipif(
    EXIFTOOL is None,
    reason="exiftool is not installed (scripts/test.sh installs Debian's libimage-exiftool-perl)",
)
ENGLISH = "President Zelenskyy visits liberated Izium"
UKRAINIAN = "Президент Зеленський відвідав звільнений Ізюм"
AI = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def photo(path: Path, seed: int, *tags: str) -> Path:
    im = Image.new("RGB", (200, 150), (seed * 50 % 255, 90, 40))
    ImageDraw.Draw(im).rectangle([10 + seed, 20, 120, 100], fill=(230, 220, 10))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90)
    path.write_bytes(buf.getvalue())
    subprocess.run(
        [EXIFTOOL or "exiftool", "-q", "-overwrite_original", *tags, str(path)],
        check=True,
        capture_output=True,
    )
    return path


def extended(path: Path) -> Path:
    return photo(
        path,
        1,
        f"-XMP-dc:Description={ENGLISH}",
        f"-XMP-dc:Description-uk={UKRAINIAN}",
        "-XMP-dc:Title-uk=Ізюм",
        "-XMP-photoshop:Credit=AFP",
        "-XMP-iptcExt:PersonInImage=Volodymyr Zelenskyy",
        "-XMP-iptcExt:OrganisationInImageName=Armed Forces of Ukraine",
        "-XMP-iptcExt:Event=Liberation of Izium",
        "-XMP-iptcCore:AltTextAccessibility=A man in a green sweatshirt greets soldiers",
        "-XMP-iptcExt:LocationShown=[{City=Izium,ProvinceState=Kharkiv Oblast,"
        "CountryName=Ukraine,CountryCode=UKR,GPSLatitude=49.2103,GPSLongitude=37.2636}]",
        "-XMP-iptcExt:LocationCreated=[{City=Kharkiv,CountryName=Ukraine}]",
        "-XMP-plus:ImageSupplier=[{ImageSupplierName=Agence France-Presse}]",
        "-XMP-plus:Licensor=[{LicensorName=AFP Services}]",
        "-XMP-xmpRights:WebStatement=https://www.afp.com/terms",
        "-XMP-plus:ModelReleaseStatus=None",  # exiftool writes the PLUS URI (MR-NON)
        "-XMP-iptcExt:DigitalSourceType=http://cv.iptc.org/newscodes/digitalsourcetype/digitalCapture",
    )


def ids_of(run: Any, *args: str) -> list[str]:
    return [h["id"] for h in json.loads(run("search", *args, "--json").stdout)]


def test_iptc_extension_and_languages_are_read_searchable_and_shown(
    run: Any, cli: Any, tmp_path: Path
) -> None:
    out = json.loads(run("ingest", str(extended(tmp_path / "a.jpg")), "--json").stdout)
    photo_id = out[0]["id"]
    shown = json.loads(run("show", photo_id, "--json").stdout)
    assert shown["caption"] == ENGLISH
    assert shown["caption_languages"] == {"uk": UKRAINIAN}
    assert shown["title_languages"] == {"uk": "Ізюм"}
    assert shown["languages"] == ["uk"]
    assert shown["persons_shown"] == ["Volodymyr Zelenskyy"]
    assert shown["organisations_shown"] == ["Armed Forces of Ukraine"]
    assert shown["event"] == "Liberation of Izium"
    assert shown["alt_text"] == "A man in a green sweatshirt greets soldiers"
    [place] = shown["location_shown"]
    assert place["city"] == "Izium" and place["country_code"] == "UKR"
    assert abs(place["gps_lat"] - 49.2103) < 1e-6 and abs(place["gps_lon"] - 37.2636) < 1e-6
    assert shown["location_created"]["city"] == "Kharkiv"
    assert shown["image_supplier"] == "Agence France-Presse"
    assert shown["licensor"] == "AFP Services"
    assert shown["web_statement"] == "https://www.afp.com/terms"
    assert shown["model_release_status"] == "none"
    assert shown["digital_source_type"] == "digitalCapture"
    # Words of either language find it, and the new fields are searched by name.
    for query in (
        "izium zelenskyy",
        "Зеленський",
        "звільнений Ізюм",
        'person:"zelenskyy"',
        "event:liberation",
        "lang:uk",
        "organisation:armed",
        "source_type:digitalcapture",
    ):
        assert ids_of(run, query) == [photo_id], query
    assert ids_of(run, "lang:ru") == []
    text = run("show", photo_id).stdout
    assert "Izium, Kharkiv Oblast, Ukraine, UKR (49.2103, 37.2636)" in text
    assert "digital capture (digitalCapture)" in text
    from photoarchive.web import create_app

    page = create_app(cli.archive_dir).test_client().get(f"/photos/{photo_id}")
    body = page.get_data(as_text=True)
    assert "Volodymyr Zelenskyy" in body and "Liberation of Izium" in body
    assert "uk: " + UKRAINIAN in body


def test_an_ai_generated_picture_is_blocked_for_publishing_with_its_reason(
    run: Any, tmp_path: Path
) -> None:
    made = photo(
        tmp_path / "ai.jpg",
        2,
        "-XMP-dc:Description=An illustration of a tank column",
        "-XMP-photoshop:Credit=AFP",
        f"-XMP-iptcExt:DigitalSourceType={AI}",
    )
    grab = photo(
        tmp_path / "grab.jpg",
        3,
        "-XMP-dc:Description=A screenshot of the minister's post",
        "-XMP-photoshop:Credit=AFP",
        "-XMP-iptcExt:DigitalSourceType=screenCapture",
    )
    out = json.loads(run("ingest", str(made), str(grab), "--json").stdout)
    ai_id, grab_id = (o["id"] for o in out)
    [verdict] = json.loads(run("rights", "check", ai_id, "--json", code=1).stdout)
    assert verdict["status"] == "blocked"
    assert any(
        "AI-generated" in r and "blocks such pictures for editorial use" in r
        for r in verdict["reasons"]
    ), verdict["reasons"]
    archived = json.loads(run("rights", "check", ai_id, "--use", "archive", "--json").stdout)
    assert archived[0]["status"] == "cleared"
    [grabbed] = json.loads(run("rights", "check", grab_id, "--json", code=1).stdout)
    assert grabbed["status"] == "needs-clearance"
    assert any("screen capture" in r for r in grabbed["reasons"])
    assert ids_of(run, "source_type:ai") == [ai_id]
    assert ids_of(run, "source_type:screen") == [grab_id]
    assert ids_of(run, "tank", "--cleared-for", "editorial") == []
    assert "AI-generated (trainedAlgorithmicMedia)" in run("show", ai_id).stdout


def test_reindex_reread_fills_new_fields_of_photos_catalogued_before(
    run: Any, cli: Any, tmp_path: Path
) -> None:
    import sqlite3

    out = json.loads(run("ingest", str(extended(tmp_path / "a.jpg")), "--json").stdout)
    photo_id = out[0]["id"]
    run("edit", photo_id, "--caption", "Edited by the desk", "--by", "desk")
    with sqlite3.connect(Path(cli.archive_dir) / "catalog.sqlite") as db:
        # What a catalog from before schema 5 holds for these fields: nothing.
        db.execute("UPDATE photos SET persons_shown = NULL, caption_languages = NULL, event = NULL")
    assert json.loads(run("show", photo_id, "--json").stdout)["persons_shown"] == []
    run("reindex", "--reread")
    shown = json.loads(run("show", photo_id, "--json").stdout)
    assert shown["persons_shown"] == ["Volodymyr Zelenskyy"]
    assert shown["caption"] == "Edited by the desk"  # the desk's edit is kept
    assert ids_of(run, "person:zelenskyy") == [photo_id]


@pytest.mark.parametrize(
    ("orientation", "shown"), [(1, (200, 150)), (6, (150, 200)), (8, (150, 200))]
)
def test_width_and_height_are_the_stored_grid_and_the_display_size_is_beside_them(
    run: Any, tmp_path: Path, orientation: int, shown: tuple[int, int]
) -> None:
    src = photo(tmp_path / "o.jpg", 4, f"-EXIF:Orientation#={orientation}")
    out = json.loads(run("ingest", str(src), "--json").stdout)
    record = json.loads(run("show", out[0]["id"], "--json").stdout)
    assert (record["width"], record["height"]) == (200, 150)
    assert (record["display_width"], record["display_height"]) == shown


def test_content_credentials_show_are_searchable_and_judged(
    run: Any, cli: Any, tmp_path: Path
) -> None:
    from tests.test_provenance import created, make_image, make_pki, manifest_for, sign

    pki = make_pki()
    signed = sign(pki, make_image(), "image/jpeg", manifest_for(created("trainedAlgorithmicMedia")))
    (tmp_path / "signed.jpg").write_bytes(signed)
    tampered = bytearray(
        sign(
            pki,
            make_image(colour=(10, 200, 30)),
            "image/jpeg",
            manifest_for(created("digitalCapture")),
        )
    )
    tampered[-200] ^= 0xFF  # a byte of the image data, after signing
    (tmp_path / "tampered.jpg").write_bytes(bytes(tampered))
    out = json.loads(
        run("ingest", str(tmp_path / "signed.jpg"), str(tmp_path / "tampered.jpg"), "--json").stdout
    )
    ai_id, bad_id = (o["id"] for o in out)
    assert any("C2PA Content Credentials invalid" in w for w in out[1]["warnings"])
    ai = json.loads(run("show", ai_id, "--json").stdout)
    assert ai["c2pa"]["state"] == "untrusted" and ai["c2pa"]["ai_generated"] is True
    assert ai["digital_source_type"] == "trainedAlgorithmicMedia"
    bad = json.loads(run("show", bad_id, "--json").stdout)
    assert bad["c2pa"]["state"] == "invalid"
    assert any("dataHash.mismatch" in p for p in bad["c2pa"]["problems"])
    assert "INVALID" in run("show", bad_id).stdout
    # No credit either, so "unknown" (the worse verdict) wins; the reason is given too.
    [verdict] = json.loads(run("rights", "check", bad_id, "--json", code=1).stdout)
    assert verdict["status"] == "unknown"
    assert any("Content Credentials that fail validation" in r for r in verdict["reasons"])
    [verdict] = json.loads(run("rights", "check", ai_id, "--json", code=1).stdout)
    assert verdict["status"] == "blocked"
    assert ids_of(run, "c2pa:invalid") == [bad_id]
    assert ids_of(run, "c2pa:ai") == [ai_id]
    assert set(ids_of(run, "c2pa:present")) == {ai_id, bad_id}
    from photoarchive.web import create_app

    page = create_app(cli.archive_dir).test_client().get(f"/photos/{bad_id}")
    assert "INVALID" in page.get_data(as_text=True)


def test_signers_the_desk_trusts_are_valid(run: Any, cli: Any, tmp_path: Path) -> None:
    from tests.test_provenance import created, make_image, make_pki, manifest_for, sign

    pki = make_pki()
    (Path(cli.archive_dir) / "c2pa-trust.pem").write_text(pki.ca_pem)
    signed = sign(pki, make_image(), "image/jpeg", manifest_for(created("digitalCapture")))
    (tmp_path / "signed.jpg").write_bytes(signed)
    out = json.loads(run("ingest", str(tmp_path / "signed.jpg"), "--json").stdout)
    shown = json.loads(run("show", out[0]["id"], "--json").stdout)
    assert shown["c2pa"]["state"] == "valid" and shown["c2pa"]["problems"] == []
    assert ids_of(run, "c2pa:valid") == [out[0]["id"]]
