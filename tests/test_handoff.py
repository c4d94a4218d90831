"""The hand-off: what export, web copies and the desk's download send a CMS, read back by
exiftool and Pillow; files made by exiftool and Pillow, not only by our own writer."""

from __future__ import annotations

import io
import json
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from photoarchive import init_archive
from photoarchive.editing import edit_photo
from photoarchive.export import ExportOptions, export_photos
from tests.conftest import FIXTURES

EXIFTOOL = shutil.which("exiftool")
pytestmark = pytest.mark.skipif(
    EXIFTOOL is None,
    reason="exiftool is not installed (scripts/test.sh installs Debian's libimage-exiftool-perl)",
)
CAPTION = "Новий підпис: soldiers rest in Balakliia — «Балаклія» & <co>"


def picture(seed: int = 1, size: tuple[int, int] = (320, 240)) -> Image.Image:
    im = Image.new("RGB", size, (30 + seed * 40 % 200, 80, 120))
    ImageDraw.Draw(im).ellipse([20, 20, size[0] - 40, size[1] - 30], fill=(220, 190, 30))
    return im


def jpeg(path: Path, seed: int = 1, **tags: str) -> Path:
    buf = io.BytesIO()
    picture(seed).save(buf, "JPEG", quality=90)
    path.write_bytes(buf.getvalue())
    return exiftool_write(path, **tags)


def exiftool_write(path: Path, **tags: str) -> Path:
    if tags:
        args = [f"-{k.replace('__', ':')}={v}" for k, v in tags.items()]
        subprocess.run(
            [EXIFTOOL or "exiftool", "-q", "-overwrite_original", *args, str(path)],
            check=True,
            capture_output=True,
        )
    return path


def read(path: Path, *tags: str) -> dict[str, Any]:
    out = subprocess.run(
        [EXIFTOOL or "exiftool", "-j", "-G1", "-a", *tags, str(path)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return json.loads(out)[0]  # type: ignore[no-any-return]


def ingest(run: Any, *paths: Path, extra: tuple[str, ...] = ()) -> list[str]:
    out = json.loads(run("ingest", *map(str, paths), *extra, "--json").stdout)
    return [o["id"] for o in out]


def one_error(result: Any, *words: str) -> None:
    assert result.exit_code == 1 and result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error:"), result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def test_an_untouched_photo_goes_out_byte_for_byte(run: Any, tmp_path: Path) -> None:
    src = jpeg(tmp_path / "a.jpg", **{"IPTC__Caption-Abstract": "As sent", "IPTC__Credit": "AFP"})
    (photo,) = ingest(run, src)
    out = json.loads(run("export", photo, "--to", str(tmp_path / "out"), "--json").stdout)
    [item] = out["exported"]
    assert item["how"] == "original" and item["changed"] == []
    assert Path(item["path"]).read_bytes() == src.read_bytes()


def test_killed_and_superseded_pictures_are_refused_unless_included(
    run: Any, tmp_path: Path
) -> None:
    first = jpeg(tmp_path / "v1.jpg", **{"IPTC__Caption-Abstract": "Ferry", "IPTC__Credit": "AFP"})
    refile = jpeg(
        tmp_path / "v2.jpg",
        **{"IPTC__Caption-Abstract": "CORRECTION - Ferry on the Dnipro", "IPTC__Credit": "AFP"},
    )
    old, new = ingest(run, first, refile)
    out = tmp_path / "out"
    one_error(run("export", old, new, "--to", str(out), code=1), old, "older version", "--include")
    assert not out.exists()
    run("export", old, "--to", str(out), "--include", "superseded")
    run("kill", new, "--reason", "wrong place", "--by", "desk")
    one_error(run("export", new, "--to", str(tmp_path / "k"), code=1), new, "killed")
    run("export", new, "--to", str(tmp_path / "k"), "--include", "killed")
    assert len(list((tmp_path / "k").iterdir())) == 1


def test_cleared_for_leaves_out_what_is_not_cleared_and_names_it(run: Any, tmp_path: Path) -> None:
    afp = jpeg(tmp_path / "a.jpg", 1, **{"IPTC__Caption-Abstract": "Pool", "IPTC__Credit": "AFP"})
    ig = jpeg(
        tmp_path / "b.jpg",
        2,
        **{"IPTC__Caption-Abstract": "Pool", "IPTC__Credit": "Instagram/@afp"},
    )
    afp_id, ig_id = ingest(run, afp, ig)
    out = tmp_path / "out"
    result = run(
        "export", afp_id, ig_id, "--to", str(out), "--cleared-for", "editorial", "--json", code=1
    )
    report = json.loads(result.stdout)
    assert [e["id"] for e in report["exported"]] == [afp_id]
    assert [e["id"] for e in report["left_out"]] == [ig_id]
    assert f"left out: {ig_id}" in result.stderr
    none = run(
        "export", ig_id, "--to", str(tmp_path / "none"), "--cleared-for", "editorial", code=1
    )
    one_error(none, "cleared for editorial")
    assert not (tmp_path / "none").exists()


def test_a_latin1_iim_block_becomes_utf8_with_its_other_values_kept(
    run: Any, tmp_path: Path
) -> None:
    src = tmp_path / "latin.jpg"
    shutil.copy(FIXTURES / "iim_latin1.jpg", src)
    before = read(src, "-IPTC:all")
    assert "IPTC:CodedCharacterSet" not in before
    (photo,) = ingest(run, src)
    run("edit", photo, "--caption", CAPTION, "--by", "desk")
    run("export", photo, "--to", str(tmp_path / "out"), "--name", "x")
    after = read(tmp_path / "out" / "x.jpg", "-IPTC:all")
    assert after["IPTC:Caption-Abstract"] == CAPTION
    assert after["IPTC:CodedCharacterSet"] == "UTF8"
    for tag, value in before.items():
        if tag.startswith("IPTC:") and tag != "IPTC:Caption-Abstract":
            assert after[tag] == value, tag


def test_embargo_and_other_iim_datasets_travel_untouched(run: Any, tmp_path: Path) -> None:
    src = jpeg(
        tmp_path / "e.jpg",
        **{
            "IPTC__Caption-Abstract": "Embargoed",
            "IPTC__Credit": "AFP",
            "IPTC__ReleaseDate": "2026:11:30",
            "IPTC__ReleaseTime": "14:00:00+00:00",
            "IPTC__Urgency": "2",
            "IPTC__Category": "WAR",
            "IPTC__Writer-Editor": "jd",
            "IPTC__TimeCreated": "10:11:12+02:00",
            "IPTC__DateCreated": "2022:09:11",
        },
    )
    (photo,) = ingest(run, src)
    run("edit", photo, "--caption", CAPTION, "--by", "desk")
    run("export", photo, "--to", str(tmp_path / "out"), "--name", "x")
    before, after = read(src, "-IPTC:all"), read(tmp_path / "out" / "x.jpg", "-IPTC:all")
    for tag in ("ReleaseDate", "ReleaseTime", "Urgency", "Category", "Writer-Editor"):
        assert after[f"IPTC:{tag}"] == before[f"IPTC:{tag}"], tag
    assert after["IPTC:TimeCreated"] == "10:11:12+02:00"


def test_fields_iim_cannot_hold_as_given_are_fitted_and_said(
    run: Any, cli: Any, tmp_path: Path
) -> None:
    from photoarchive import open_archive

    (photo,) = ingest(run, jpeg(tmp_path / "a.jpg"))
    with open_archive(cli.archive_dir) as arc:
        edit_photo(
            arc,
            photo,
            {
                "country_code": "UA",
                "date_created": "2022-09-11T10:00:00.5+03:00",
                "headline": "Ж" * 200,
                "caption": "tab\there, NUL\x00 and ESC\x1b gone",
            },
            "desk",
        )
    result = run("export", photo, "--to", str(tmp_path / "out"), "--name", "x")
    assert "IPTC-IIM: its headline cut to 256 bytes" in result.stderr
    tags = read(tmp_path / "out" / "x.jpg", "-IPTC:all", "-XMP:all", "-ExifTool:Warning")
    assert tags["IPTC:Country-PrimaryLocationCode"] == "UKR"
    assert tags["XMP-iptcCore:CountryCode"] == "UA"
    assert tags["IPTC:DateCreated"] == "2022:09:11"
    assert tags["IPTC:TimeCreated"] == "10:00:00+03:00"
    assert tags["XMP-photoshop:Headline"] == "Ж" * 200
    assert tags["IPTC:Headline"] == "Ж" * 128
    assert tags["XMP-dc:Description"] == "tab\there, NUL\ufffd and ESC\ufffd gone"
    assert "ExifTool:Warning" not in tags


def test_a_png_export_changes_its_exif_description_too(run: Any, tmp_path: Path) -> None:
    im = picture(3)
    exif = Image.Exif()
    exif[0x010E] = "Old caption in EXIF"
    exif[0x010F] = "Canon"
    src = tmp_path / "grab.png"
    im.save(src, "PNG", exif=exif.tobytes())
    (photo,) = ingest(run, src)
    run("edit", photo, "--caption", CAPTION, "--by", "desk")
    run("export", photo, "--to", str(tmp_path / "out"), "--name", "x")
    tags = read(tmp_path / "out" / "x.png", "-EXIF:all", "-XMP-dc:Description", "-Warning")
    assert tags["IFD0:ImageDescription"] == CAPTION and tags["IFD0:Make"] == "Canon"
    assert tags["XMP-dc:Description"] == CAPTION and "ExifTool:Warning" not in tags


def test_an_xmp_variant_segment_leaves_one_packet(run: Any, tmp_path: Path) -> None:
    src = jpeg(
        tmp_path / "v.jpg", **{"XMP-dc__Description": "Old caption", "XMP-dc__Creator": "Jo"}
    )
    data = src.read_bytes()
    signature = b"http://ns.adobe.com/xap/1.0/\x00"
    at = data.index(signature)
    # The segment header some agency systems write: "XMP\0" instead of Adobe's namespace.
    length = struct.unpack(">H", data[at - 2 : at])[0] - len(signature) + 4
    variant = data[: at - 2] + struct.pack(">H", length) + b"XMP\x00" + data[at + len(signature) :]
    src.write_bytes(variant)
    (photo,) = ingest(run, src)
    run("edit", photo, "--caption", CAPTION, "--by", "desk")
    run("export", photo, "--to", str(tmp_path / "out"), "--name", "x")
    out = (tmp_path / "out" / "x.jpg").read_bytes()
    assert out.count(b"<x:xmpmeta") == 1 and b"XMP\x00" not in out[:200_000].split(b"\xff\xda")[0]
    tags = read(tmp_path / "out" / "x.jpg", "-XMP-dc:all")
    assert tags["XMP-dc:Description"] == CAPTION and tags["XMP-dc:Creator"] == "Jo"


def test_a_multi_picture_file_keeps_its_second_image(run: Any, tmp_path: Path) -> None:
    src = tmp_path / "mpo.jpg"
    first, second = picture(4, (400, 300)), picture(5, (160, 120))
    first.save(src, "MPO", save_all=True, append_images=[second], quality=90)
    with Image.open(src) as im:
        assert getattr(im, "n_frames", 1) == 2
    (photo,) = ingest(run, src)
    run("edit", photo, "--caption", "A much longer caption " * 40, "--by", "desk")
    run("export", photo, "--to", str(tmp_path / "out"), "--name", "x")
    with Image.open(tmp_path / "out" / "x.jpg") as out, Image.open(src) as original:
        assert out.n_frames == 2
        out.seek(1)
        original.seek(1)
        assert out.tobytes() == original.tobytes()


def test_web_copies_are_smaller_and_carry_the_same_metadata(run: Any, tmp_path: Path) -> None:
    src = tmp_path / "big.jpg"
    buf = io.BytesIO()
    picture(6, (1600, 1200)).save(buf, "JPEG", quality=92)
    src.write_bytes(buf.getvalue())
    exiftool_write(
        src,
        **{
            "IPTC__Caption-Abstract": "As sent",
            "IPTC__Credit": "REUTERS/Gleb Garanich",
            "EXIF__Make": "Nikon",
            "EXIF__Orientation#": "6",
            "EXIF__GPSLatitude": "49.7",
            "EXIF__GPSLatitudeRef": "N",
            "XMP-iptcExt__PersonInImage": "Jane Doe",
        },
    )
    png = tmp_path / "grab.png"
    picture(7, (900, 600)).save(png, "PNG")
    photo, grab = ingest(run, src, png)
    run("edit", photo, "--caption", CAPTION, "--by", "desk")
    result = run(
        "export",
        photo,
        grab,
        "--to",
        str(tmp_path / "web"),
        "--max-size",
        "400",
        "--quality",
        "70",
        "--name",
        "{name}",
        "--json",
    )
    items = {Path(i["path"]).name: i for i in json.loads(result.stdout)["exported"]}
    assert set(items) == {"big.jpg", "grab.png"} and items["big.jpg"]["how"] == "web copy"
    with Image.open(tmp_path / "web" / "big.jpg") as im:
        assert max(im.size) == 400
    with Image.open(tmp_path / "web" / "grab.png") as im:
        assert im.format == "PNG" and max(im.size) == 400
    tags = read(tmp_path / "web" / "big.jpg", "-n", "-use", "MWG", "-MWG:Description", "-all")
    assert tags["MWG:Description"] == CAPTION
    assert tags["IPTC:Credit"] == "REUTERS/Gleb Garanich" and tags["IFD0:Make"] == "Nikon"
    assert tags["IFD0:Orientation"] == 6 and abs(tags["GPS:GPSLatitude"] - 49.7) < 1e-6
    assert tags["XMP-iptcExt:PersonInImage"] == "Jane Doe"


def test_the_desks_download_gives_the_current_caption(run: Any, cli: Any, tmp_path: Path) -> None:
    from photoarchive.web import create_app

    live = jpeg(tmp_path / "a.jpg", 1, **{"IPTC__Caption-Abstract": "Old", "IPTC__Credit": "AFP"})
    gone = jpeg(tmp_path / "b.jpg", 2, **{"IPTC__Caption-Abstract": "Gone", "IPTC__Credit": "AFP"})
    live_id, gone_id = ingest(run, live, gone)
    run("edit", live_id, "--caption", CAPTION, "--by", "desk")
    run("kill", gone_id, "--reason", "withdrawn", "--by", "desk")
    client = create_app(cli.archive_dir).test_client()
    response = client.get(f"/photos/{live_id}/download")
    assert response.status_code == 200
    assert "a.jpg" in response.headers["Content-Disposition"]
    (tmp_path / "got.jpg").write_bytes(response.get_data())
    assert read(tmp_path / "got.jpg", "-IPTC:Caption-Abstract")["IPTC:Caption-Abstract"] == CAPTION
    refused = client.get(f"/photos/{gone_id}/download")
    assert refused.status_code == 403 and "killed" in refused.get_data(as_text=True)
    page = client.get(f"/photos/{live_id}").get_data(as_text=True)
    assert f'href="/photos/{live_id}/download"' in page
    assert f'href="/photos/{gone_id}/download"' not in client.get(f"/photos/{gone_id}").get_data(
        as_text=True
    )


def test_api_export_report(tmp_path: Path) -> None:
    """The library reports what each file got, for scripts that hand files on."""
    archive, _ = init_archive(tmp_path / "archive")
    with archive:
        src = jpeg(tmp_path / "a.jpg", **{"IPTC__Caption-Abstract": "x", "IPTC__Credit": "AFP"})
        (outcome,) = archive.ingest([src]).outcomes
        edit_photo(archive, outcome.id or "", {"caption": CAPTION, "city": "Kharkiv"}, "desk")
        report = export_photos(
            archive, [archive.get(outcome.id or "")], tmp_path / "o", ExportOptions(pattern="{id}")
        )
    [done] = report.done
    assert done.how == "embedded" and set(done.changed) == {"caption", "city"}
    tags = read(done.path, "-IPTC:City", "-XMP-photoshop:City")
    assert tags["IPTC:City"] == tags["XMP-photoshop:City"] == "Kharkiv"


@pytest.mark.skipif(shutil.which("exiv2") is None, reason="exiv2 (Debian package) not installed")
@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "TIFF", "WEBP"])
def test_exiv2_reads_what_each_format_gets(run: Any, tmp_path: Path, fmt: str) -> None:
    ext = {"JPEG": "jpg", "PNG": "png", "TIFF": "tif", "WEBP": "webp"}[fmt]
    src = tmp_path / f"in.{ext}"
    picture(8).save(src, fmt)
    exiftool_write(src, **{"XMP-dc__Description": "As sent", "XMP-dc__Creator": "Jo"})
    (photo,) = ingest(run, src)
    run("edit", photo, "--caption", CAPTION, "--credit", "AFP", "--by", "desk")
    run("export", photo, "--to", str(tmp_path / "out"), "--name", "x")
    out = tmp_path / "out" / f"x.{ext}"
    shown = subprocess.run(
        ["exiv2", "-pa", "-K", "Xmp.dc.description", "-K", "Xmp.dc.creator", str(out)],
        capture_output=True,
        text=True,
    )
    assert shown.returncode == 0, shown.stderr
    assert CAPTION in shown.stdout and "Jo" in shown.stdout
    assert read(out, "-XMP-photoshop:Credit")["XMP-photoshop:Credit"] == "AFP"
    with Image.open(out) as exported, Image.open(src) as original:
        assert exported.tobytes() == original.tobytes()
