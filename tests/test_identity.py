"""Which picture is which: versions, copies of a frame from other suppliers, Job Ids, kill
notices, the desk's kills, and gates that fail closed. Files are written by exiftool."""

from __future__ import annotations

import io
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from photoarchive import open_archive
from photoarchive.catalog import MIGRATIONS
from photoarchive.record import PhotoRecord
from tests.engines import index_dir

EXIFTOOL = shutil.which("exiftool")
pytestmark = pytest.mark.skipif(
    EXIFTOOL is None,
    reason="exiftool is not installed (scripts/test.sh installs Debian's libimage-exiftool-perl)",
)


def frame(seed: int, quality: int = 90) -> bytes:
    """A JPEG with no metadata whose pixels differ for each seed."""
    im = Image.new("RGB", (240, 160), (20 + seed * 37 % 200, 60, 90))
    draw = ImageDraw.Draw(im)
    draw.rectangle([10 + seed * 13 % 120, 20, 90 + seed * 13 % 120, 120], fill=(230, 200, 40))
    draw.ellipse([150 - seed * 7 % 60, 30, 220, 140], fill=(40, 160 + seed % 80, 220))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def tagged(path: Path, pixels: bytes, **tags: str) -> Path:
    """Write `pixels` to `path` and let exiftool add IPTC-IIM (and XMP) metadata."""
    path.write_bytes(pixels)
    names = {
        "caption": ["-IPTC:Caption-Abstract", "-XMP-dc:Description"],
        "headline": ["-IPTC:Headline"],
        "credit": ["-IPTC:Credit", "-XMP-photoshop:Credit"],
        "reference": ["-IPTC:OriginalTransmissionReference"],
        "instructions": ["-IPTC:SpecialInstructions"],
        "action": ["-IPTC:ActionAdvised#"],  # the raw value: 01 kill, 02 replace
        "edit_status": ["-IPTC:EditStatus"],
        "object_name": ["-IPTC:ObjectName"],
    }
    args = [EXIFTOOL or "exiftool", "-q", "-overwrite_original", "-IPTC:CodedCharacterSet=UTF8"]
    for key, value in tags.items():
        args += [f"{name}={value}" for name in names[key]]
    subprocess.run([*args, str(path)], check=True, capture_output=True)
    return path


def ingest(run: Any, *paths: Path) -> list[str]:
    out = json.loads(run("ingest", *map(str, paths), "--json").stdout)
    return [o["id"] for o in out]


def search(run: Any, *args: str) -> list[dict[str, Any]]:
    return json.loads(run("search", *args, "--json").stdout)  # type: ignore[no-any-return]


def test_a_pool_photo_from_two_agencies_is_two_pictures_each_with_its_verdict(
    run: Any, tmp_path: Path
) -> None:
    pixels = frame(1)
    caption = "Queen's coffin leaves Westminster Hall"
    afp = tagged(tmp_path / "afp.jpg", pixels, caption=caption, credit="POOL/AFP", reference="P1")
    epa = tagged(tmp_path / "epa.jpg", pixels, caption=caption, credit="POOL/EPA", reference="P1")
    afp_id, epa_id = ingest(run, afp, epa)
    hits = search(run, "coffin westminster")
    assert {h["id"]: h["rights"]["status"] for h in hits} == {
        afp_id: "cleared",
        epa_id: "unknown",
    }
    assert all(h["state"] == "live" for h in hits)
    # The cleared copy is found, whichever arrived last.
    assert [h["id"] for h in search(run, "coffin", "--cleared-for", "editorial")] == [afp_id]
    shown = json.loads(run("show", epa_id, "--json").stdout)
    assert shown["copies"] == [
        {"id": afp_id, "credit": "POOL/AFP", "agency": "AFP", "state": "live", "rights": "cleared"}
    ]
    assert "Copies of the same frame" in run("show", afp_id).stdout
    similar = json.loads(run("similar", afp_id, "--json").stdout)
    assert [(s["id"], s["same_pixels"], s["rights"]) for s in similar] == [
        (epa_id, True, "unknown")
    ]


def test_a_same_agency_refile_of_the_same_pixels_is_one_picture_in_two_versions(
    run: Any, tmp_path: Path
) -> None:
    pixels = frame(2)
    first = tagged(
        tmp_path / "v1.jpg",
        pixels,
        caption="Soldiers rest in Balakliia",
        credit="REUTERS/Vyacheslav Madiyevskyy",
        reference="BAL-7",
    )
    refile = tagged(
        tmp_path / "v2.jpg",
        pixels,
        caption="REFILE - CORRECTING SPELLING Soldiers rest in Balakliia, Kharkiv region",
        credit="REUTERS/Vyacheslav Madiyevskyy",
        reference="BAL-7",
    )
    old, new = ingest(run, first, refile)
    assert [h["id"] for h in search(run, "balakliia")] == [new]
    older = json.loads(run("show", old, "--json").stdout)
    assert older["state"] == "superseded" and older["superseded_by"] == new
    assert older["rights"]["status"] == "blocked"
    assert any(f"superseded by {new}" in r for r in older["rights"]["reasons"])
    assert run("show", old).stdout.startswith(f"SUPERSEDED by {new}")
    # A publishing check on the old id says no; asked explicitly, it is judged on its own.
    run("rights", "check", old, code=1)
    allowed = json.loads(run("rights", "check", old, "--allow-superseded", "--json").stdout)
    assert allowed[0]["status"] == "cleared" and allowed[0]["state"] == "superseded"
    history = run("show", new, "--history").stdout
    assert "version 1: " + old in history and "version 2 (current): " + new in history


def test_frames_sharing_a_job_id_are_separate_pictures_and_a_refile_finds_its_frame(
    run: Any, tmp_path: Path
) -> None:
    frames = [
        tagged(
            tmp_path / f"frame{n}.jpg",
            frame(10 + n),
            caption=f"Frame {n} of the convoy near Izium",
            credit="Juan BARRETO/AFP",
            reference="UKR-JOB-0911",
        )
        for n in range(3)
    ]
    ids = ingest(run, *frames)
    assert len(search(run, "convoy izium")) == 3
    # A refile of the second frame, recompressed by the agency's system: not the same bytes
    # of image data, but the same frame.
    refile = tagged(
        tmp_path / "refile.jpg",
        frame(11, quality=70),
        caption="REFILE - ADDING LOCATION Frame 1 of the convoy near Izium, Kharkiv region",
        credit="Juan BARRETO/AFP",
        reference="UKR-JOB-0911",
    )
    (refiled,) = ingest(run, refile)
    history = json.loads(run("show", refiled, "--history", "--json").stdout)["history"]
    assert [v["id"] for v in history["versions"]] == [ids[1], refiled]
    live = {h["id"] for h in search(run, "convoy izium")}
    assert live == {ids[0], refiled, ids[2]}
    # Another frame under the same Job Id with no notice is a new picture.
    fourth = tagged(
        tmp_path / "frame3.jpg",
        frame(13),
        caption="Frame 3 of the convoy near Izium",
        credit="Juan BARRETO/AFP",
        reference="UKR-JOB-0911",
    )
    ingest(run, fourth)
    assert len(search(run, "convoy izium")) == 4


def test_an_iim_replace_action_makes_a_version(run: Any, tmp_path: Path) -> None:
    pixels = frame(3)
    one = tagged(tmp_path / "a.jpg", pixels, caption="Flooded street", credit="AP", reference="R9")
    two = tagged(
        tmp_path / "b.jpg",
        frame(3, quality=75),
        caption="Flooded street in Kherson",
        credit="AP",
        reference="R9",
        action="02",
    )
    first, second = ingest(run, one, two)
    assert [h["id"] for h in search(run, "flooded street")] == [second]
    assert json.loads(run("show", first, "--json").stdout)["state"] == "superseded"


def reuters_picture(
    tmp_path: Path,
    name: str = "pic.jpg",
    caption: str = "A firefighter at a burning building in Kharkiv",
) -> Path:
    return tagged(
        tmp_path / name,
        frame(4),
        caption=caption,
        credit="REUTERS/Sofiia Gatilova",
        reference="RC2ABC9XYZ12",
    )


def kill_notice(tmp_path: Path) -> Path:
    # A slate with no reference of its own: only its text names the picture.
    return tagged(
        tmp_path / "kill.jpg",
        frame(5),
        caption="MANDATORY KILL - PICTURE RC2ABC9XYZ12 HAS BEEN WITHDRAWN. "
        "The picture was digitally altered.",
        headline="MANDATORY KILL",
        credit="REUTERS",
    )


@pytest.mark.parametrize("notice_first", [False, True], ids=["picture first", "notice first"])
def test_a_text_only_kill_notice_blocks_the_picture_it_names(
    run: Any, tmp_path: Path, notice_first: bool
) -> None:
    files = [reuters_picture(tmp_path), kill_notice(tmp_path)]
    if notice_first:
        files.reverse()
    ids = dict(zip([f.name for f in files], ingest(run, *files), strict=True))
    picture, notice = ids["pic.jpg"], ids["kill.jpg"]
    assert search(run, "firefighter") == []
    assert search(run, "withdrawn") == []  # the notice is not a photo to publish
    verdict = json.loads(run("rights", "check", picture, "--json", code=1).stdout)[0]
    assert verdict["status"] == "blocked" and verdict["state"] == "killed"
    assert any("KILLED" in r for r in verdict["reasons"])
    notice_verdict = json.loads(run("rights", "check", notice, "--json", code=1).stdout)[0]
    assert notice_verdict["status"] == "blocked" and notice_verdict["state"] == "notice"
    shown = json.loads(run("show", notice, "--json").stdout)
    assert shown["state"] == "notice" and shown["kills"]["names"] == ["rc2abc9xyz12"]
    assert run("show", notice).stdout.startswith("KILL NOTICE, not a picture")
    assert [h["id"] for h in search(run, "withdrawn", "--include", "notice")] == [notice]
    assert [h["id"] for h in search(run, "firefighter", "--include", "killed")] == [picture]
    # A later repeat of the killed picture stays killed.
    repeat = reuters_picture(tmp_path, "repeat.jpg", "REPEAT - A firefighter in Kharkiv")
    ingest(run, repeat)
    assert search(run, "firefighter") == []


def test_a_kill_notice_from_another_supplier_does_not_kill(run: Any, tmp_path: Path) -> None:
    (picture,) = ingest(run, reuters_picture(tmp_path))
    spoof = tagged(
        tmp_path / "spoof.jpg",
        frame(6),
        caption="MANDATORY KILL - PICTURE RC2ABC9XYZ12 HAS BEEN WITHDRAWN",
        credit="Instagram/@reuters",
    )
    ingest(run, spoof)
    assert [h["id"] for h in search(run, "firefighter")] == [picture]


def test_the_desk_kills_and_restores_a_picture(run: Any, tmp_path: Path) -> None:
    (picture,) = ingest(run, reuters_picture(tmp_path))
    run("kill", picture, "--reason", "doubts about the location", "--by", "night desk")
    assert search(run, "firefighter") == []
    verdict = json.loads(run("rights", "check", picture, "--json", code=1).stdout)[0]
    assert any("night desk" in r and "doubts" in r for r in verdict["reasons"])
    again = json.loads(run("kill", picture, "--reason", "x", "--json").stdout)
    assert again["changed"] is False and again["state"] == "killed"
    run("unkill", picture, "--reason", "location confirmed by Reuters", "--by", "duty editor")
    assert [h["id"] for h in search(run, "firefighter")] == [picture]
    history = run("show", picture, "--history").stdout
    assert "kill " in history and "by night desk: doubts about the location" in history
    assert "unkill " in history and "by duty editor: location confirmed by Reuters" in history
    # Restored by the desk after an agency's kill, a repeat does not kill it again.
    ingest(run, kill_notice(tmp_path))
    assert search(run, "firefighter") == []
    run("unkill", picture, "--reason", "Reuters withdrew the kill")
    repeat = reuters_picture(tmp_path, "repeat.jpg", "REPEAT - A firefighter in Kharkiv")
    ingest(run, repeat)
    assert len(search(run, "firefighter")) == 1
    bad = run("kill", picture, "--reason", "  ", code=1)
    assert bad.stderr.startswith("Error:") and len(bad.stderr.strip().splitlines()) == 1


def test_a_social_media_handle_is_never_cleared_as_the_agency(run: Any, tmp_path: Path) -> None:
    photo = tagged(
        tmp_path / "ig.jpg", frame(7), caption="Smoke over Kherson", credit="Instagram/@reuters"
    )
    (photo_id,) = ingest(run, photo)
    verdict = json.loads(run("rights", "check", photo_id, "--json", code=1).stdout)[0]
    assert verdict["agency"] != "Reuters" and verdict["status"] != "cleared"
    assert search(run, "smoke", "--cleared-for", "editorial") == []


@pytest.mark.parametrize(
    "args",
    [
        ("rights", "check", "0123456789ab"),
        ("rights", "check", "no such words anywhere"),
        ("export", "no such words anywhere", "--to", "{tmp}/out"),
        ("export", "0123456789ab", "--to", "{tmp}/out"),
        ("contact-sheet", "no such words anywhere", "-o", "{tmp}/sheet.pdf"),
    ],
)
def test_every_gate_on_nothing_exits_1_with_one_line(
    run: Any, tmp_path: Path, args: tuple[str, ...]
) -> None:
    ingest(run, reuters_picture(tmp_path))
    result = run(*(a.format(tmp=tmp_path) for a in args), code=1)
    assert result.stdout == ""
    assert result.stderr.startswith("Error:") and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() and not (tmp_path / "sheet.pdf").exists()


def test_rights_check_on_an_empty_archive_exits_1(run: Any) -> None:
    result = run("rights", "check", code=1)
    assert "has no photos" in result.stderr


def as_schema_3(catalog: Path, merge: tuple[str, str] | None = None) -> dict[str, str]:
    """Turn a catalog back into what schema 3 kept; with `merge` (two ids), link the second
    as version 2 of the first's picture, as schema 3 did for the same pixels. Return
    {id: sha256}."""
    with sqlite3.connect(catalog) as db:
        full = dict(db.execute("SELECT id, sha256 FROM photos"))
        if merge:
            first, later = merge
            db.execute(
                "UPDATE photos SET picture_id = ?, version = 2 WHERE id = ?", (full[first], later)
            )
            db.execute("DELETE FROM pictures WHERE picture_id = ?", (full[later],))
            db.execute(
                "UPDATE pictures SET current_sha256 = ? WHERE picture_id = ?",
                (full[later], full[first]),
            )
        db.execute("DROP INDEX IF EXISTS photos_source_type")
        # What schema 8 added: accounts, selections, the audit log and their indexes.
        for table in ("selection_photos", "selections", "users", "audit"):
            db.execute(f"DROP TABLE {table}")
        db.execute("DROP INDEX edits_at")
        for column in PhotoRecord.field_names()[
            PhotoRecord.field_names().index("ingested_at") + 1 :
        ]:
            db.execute(f"ALTER TABLE photos DROP COLUMN {column}")
        for table in ("refs", "standing_kills", "picture_events"):
            db.execute(f"DROP TABLE {table}")
        for column in ("supplier", "notice", "notice_reason"):
            db.execute(f"ALTER TABLE photos DROP COLUMN {column}")
        db.execute("ALTER TABLE pictures DROP COLUMN killed_by")
        db.execute("DELETE FROM meta WHERE key = 'relink'")
        db.execute("PRAGMA user_version = 3")
    return full


@pytest.mark.sqlite_file
def test_an_older_archive_on_a_read_only_disk_is_one_clear_error(
    run: Any, cli: Any, tmp_path: Path
) -> None:
    from tests.test_writers import _mount, one_error
    from tests.test_writers import run as run_process

    ingest(run, reuters_picture(tmp_path))
    as_schema_3(Path(cli.archive_dir) / "catalog.sqlite")
    view = tmp_path / "ro"
    view.mkdir()
    _mount("bind", view, "", source=cli.archive_dir)
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], check=True)
        one_error(run_process(view, "search", "firefighter"), "older photoarchive", "upgraded")
    finally:
        subprocess.run(["umount", "-l", str(view)], check=False)
    # Where it can be written, the same command upgrades it and answers.
    assert len(search(run, "firefighter")) == 1


@pytest.mark.sqlite_file
def test_an_older_archive_is_linked_again_by_the_rules(run: Any, cli: Any, tmp_path: Path) -> None:
    """A catalog from before the rules (schema 3) had the pool copies as two versions of one
    picture and the kill notice as a version of its picture: opening it fixes both."""
    pixels = frame(8)
    afp = tagged(tmp_path / "afp.jpg", pixels, caption="Pool frame", credit="POOL/AFP")
    epa = tagged(tmp_path / "epa.jpg", pixels, caption="Pool frame", credit="POOL/EPA")
    afp_id, epa_id = ingest(run, afp, epa)
    run("edit", afp_id, "--caption", "Pool frame of the summit", "--by", "desk")
    catalog = Path(cli.archive_dir) / "catalog.sqlite"
    full = as_schema_3(catalog, merge=(afp_id, epa_id))
    # ...and its index has the fields of then (no person:, lang:, c2pa: ...).
    from whoosh import fields as wf
    from whoosh import index as wi

    old_index = index_dir(Path(cli.archive_dir))
    archive_id = (old_index / "archive-id").read_text()
    shutil.rmtree(old_index)
    old_index.mkdir()
    (old_index / "archive-id").write_text(archive_id)
    wi.create_in(str(old_index), wf.Schema(sha256=wf.ID(stored=True), text=wf.TEXT()), "photos")
    # A read-only command upgrades it (it can write here): the pictures are linked again,
    # the index rebuilt, and both copies found.
    hits = search(run, "pool frame")
    assert {h["id"] for h in hits} == {afp_id, epa_id}
    with open_archive(cli.archive_dir, readonly=True) as archive:
        assert archive.catalog.schema_version() == len(MIGRATIONS)
        assert not archive.catalog.relink_pending()
        assert archive.get(afp_id).caption == "Pool frame of the summit"
        assert archive.catalog.edits(full[afp_id])[0]["by"] == "desk"


def test_the_desk_shows_where_each_photo_stands(run: Any, cli: Any, tmp_path: Path) -> None:
    from photoarchive.web import create_app

    pixels = frame(9)
    first = tagged(
        tmp_path / "v1.jpg", pixels, caption="Ferry at dawn", credit="AFP", reference="F1"
    )
    refile = tagged(
        tmp_path / "v2.jpg",
        pixels,
        caption="CORRECTION - Ferry at dawn on the Dnipro",
        credit="AFP",
        reference="F1",
    )
    copy = tagged(tmp_path / "copy.jpg", pixels, caption="Ferry at dawn", credit="Channel 4")
    old, new, other = ingest(run, first, refile, copy)
    picture = reuters_picture(tmp_path)
    (killed,) = ingest(run, picture)
    (notice,) = ingest(run, kill_notice(tmp_path))
    client = create_app(cli.archive_dir).test_client()
    page = client.get(f"/photos/{old}").get_data(as_text=True)
    assert "Superseded." in page and f'href="/photos/{new}"' in page
    page = client.get(f"/photos/{new}").get_data(as_text=True)
    assert "Copies of the same frame" in page and f'href="/photos/{other}"' in page
    assert "needs-clearance" in page  # the Channel 4 copy's own verdict
    page = client.get(f"/photos/{killed}").get_data(as_text=True)
    assert "Killed</b>" in page and "Do not publish" in page
    page = client.get(f"/photos/{notice}").get_data(as_text=True)
    assert "Kill notice, not a picture." in page and f'href="/photos/{killed}"' in page
    api = client.get(f"/api/photos/{old}").get_json()
    assert api["state"] == "superseded" and api["superseded_by"] == new
    latest = client.get("/").get_data(as_text=True)
    assert f'href="/photos/{new}"' in latest and f'href="/photos/{other}"' in latest
    for hidden in (old, killed, notice):
        assert f'href="/photos/{hidden}"' not in latest


def test_the_original_arriving_after_its_correction_does_not_undo_it(
    run: Any, tmp_path: Path
) -> None:
    pixels = frame(14)
    original = tagged(tmp_path / "o.jpg", pixels, caption="Bridge at Kupiansk", credit="AFP")
    correction = tagged(
        tmp_path / "c.jpg", pixels, caption="CORRECTION - Bridge at Kupiansk, Oskil", credit="AFP"
    )
    (corrected,) = ingest(run, correction)
    (late,) = ingest(run, original)
    assert [h["id"] for h in search(run, "bridge kupiansk")] == [corrected]
    assert json.loads(run("show", late, "--json").stdout)["superseded_by"] == corrected


def _record(**fields: Any) -> Any:
    from photoarchive.record import PhotoRecord

    return PhotoRecord(
        id="0" * 12,
        sha256="0" * 64,
        original_filename=fields.pop("original_filename", "a.jpg"),
        format="JPEG",
        width=1,
        height=1,
        file_size=1,
        **fields,
    )


@pytest.mark.parametrize(
    ("fields", "sources", "kind"),
    [
        ({"caption": "REFILE - CORRECTING NAME Soldiers in Izium"}, {}, "refile"),
        ({"caption": "UPDATE 1-Soldiers in Izium"}, {}, "update"),
        ({"headline": "CORRECTED-Ukraine-Crisis"}, {}, "correction"),
        ({"special_instructions": "REPEAT: for clients who missed it"}, {}, "repeat"),
        ({"caption": "Soldiers"}, {"edit_status": {"iim": "correction"}}, "correction"),
        ({"caption": "Soldiers"}, {"action_advised": {"iim": "02"}}, "replace"),
        ({"caption": "Soldiers"}, {"action_advised": {"iim": "01"}}, "kill"),
        ({"caption": "MANDATORY KILL - PICTURE RC2ABC9XYZ12 HAS BEEN WITHDRAWN"}, {}, "kill"),
        ({"headline": "PICTURE WITHDRAWN"}, {}, "kill"),
        ({"caption": "ELIMINATION - photo retirée"}, {}, "kill"),
        ({"special_instructions": "ADVISORY KILL: wrong date"}, {}, "kill"),
        # A kill in the head of the text outranks a refile word opening it.
        ({"caption": "REPEAT - THIS PICTURE HAS BEEN WITHDRAWN by the sender"}, {}, "kill"),
        ({"caption": "Killed soldiers lie in a field near Izium"}, {}, None),
        ({"caption": "Russian strikes kill two in Kharkiv"}, {}, None),
        ({"caption": "Update on the front: soldiers rest"}, {}, None),
        ({"caption": "Soldiers"}, {"edit_status": {"iim": "EDITED"}}, None),
    ],
)
def test_notices_are_read_from_agency_wording(
    fields: dict[str, str], sources: dict[str, Any], kind: str | None
) -> None:
    from photoarchive.notices import read_notice

    notice = read_notice(_record(**fields), sources)
    assert (notice.kind if notice else None) == kind


def test_the_ids_a_notice_and_a_photo_are_named_by() -> None:
    from photoarchive.notices import photo_refs, picture_ids_in

    named = picture_ids_in(["MANDATORY KILL - PICTURE RC2ABC9XYZ12 HAS BEEN WITHDRAWN 20220911"])
    assert named == ["rc2abc9xyz12"]  # a date is not an id
    refs = photo_refs(
        _record(
            transmission_reference=" RC2ABC9XYZ12 ",
            original_filename="2022-09-11T101010Z_1_LYNXMPEI8A0AB_RTRMADP_3_UKRAINE-CRISIS.JPG",
        )
    )
    assert refs == ["rc2abc9xyz12", "lynxmpei8a0ab"]
