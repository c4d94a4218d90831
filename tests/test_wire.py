"""The wire workflow: refiles and kills, near-duplicates, edits with history, the hot folder,
and export with the current captions embedded."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from photoarchive import Archive, open_archive
from photoarchive.fingerprints import pixel_digest
from photoarchive.metadata.iptc_writer import embed_in_jpeg, encode_iim, photoshop_resources
from photoarchive.search import SearchFilters

EXIFTOOL = shutil.which("exiftool")


def wire_photo(path: Path, colour: int = 40, **iim: Any) -> Path:
    im = Image.new("RGB", (160, 120), (colour, 90, 60))
    ImageDraw.Draw(im).ellipse([20, 20, 100, 90], fill=(200, 180, colour))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85)
    path.write_bytes(embed_in_jpeg(buf.getvalue(), photoshop_resources(encode_iim(iim))))
    return path


def test_a_refile_becomes_the_new_version_of_the_picture(archive: Archive, tmp_path: Path) -> None:
    first = wire_photo(
        tmp_path / "a.jpg",
        caption="Ukrainian special forces in Kupyansk",
        credit="REUTERS/Gleb Garanich",
        transmission_reference="KUP-0910-7",
    )
    refile = wire_photo(
        tmp_path / "b.jpg",
        colour=41,
        caption="REFILE - CORRECTING SPELLING OF TOWN Ukrainian special forces in Kupiansk",
        credit="REUTERS/Gleb Garanich",
        transmission_reference="KUP-0910-7",
    )
    original = archive.ingest([first]).outcomes[0]
    second = archive.ingest([refile]).outcomes[0]
    hits = archive.search("special forces").results
    assert len(hits) == 1 and hits[0].record.id == second.id
    assert "Kupiansk" in (hits[0].record.caption or "")
    from photoarchive.history import picture_history

    history = picture_history(archive, second.id or "")
    assert [v["version"] for v in history["versions"]] == [1, 2]
    assert history["versions"][1]["current"] and not history["versions"][0]["current"]
    change = history["versions"][1]["changes"]["caption"]
    assert change["old"] == "Ukrainian special forces in Kupyansk"
    assert change["new"].startswith("REFILE")
    # Both spellings of the town find both versions (spelling keys); of the current
    # versions, only the refile.
    older = archive.search("Kupyansk", filters=SearchFilters(states=("live", "superseded")))
    assert {r.record.id for r in older.results} == {original.id, second.id}
    assert [r.record.id for r in archive.search("Kupyansk").results] == [second.id]


def test_same_pixels_under_new_metadata_is_a_new_version(archive: Archive, tmp_path: Path) -> None:
    a = wire_photo(tmp_path / "a.jpg", caption="Tanks abandoned in a river", credit="AFP")
    b = wire_photo(
        tmp_path / "b.jpg", caption="CORRECTION Tanks abandoned in the Oskil river", credit="AFP"
    )
    assert pixel_digest(a.read_bytes(), "JPEG") == pixel_digest(b.read_bytes(), "JPEG")
    archive.ingest([a, b])
    assert archive.search("tanks").total == 1
    assert archive.search("oskil").total == 1
    assert archive.catalog.count() == 2


def test_a_kill_removes_the_picture_from_search_and_blocks_it(cli: Any, tmp_path: Path) -> None:
    cli("init")
    wire_photo(
        tmp_path / "a.jpg", caption="Flag over Izium", credit="AFP", transmission_reference="IZI-1"
    )
    wire_photo(
        tmp_path / "kill.jpg",
        colour=99,
        caption="KILL - this picture has been withdrawn",
        credit="AFP",
        transmission_reference="IZI-1",
        action_advised="01",
        special_instructions="MANDATORY KILL: picture manipulated",
    )
    first = json.loads(cli("ingest", str(tmp_path / "a.jpg"), "--json").stdout)[0]["id"]
    assert len(json.loads(cli("search", "izium", "--json").stdout)) == 1
    cli("ingest", str(tmp_path / "kill.jpg"))
    assert json.loads(cli("search", "izium", "--json").stdout) == []
    killed = json.loads(
        cli("search", "izium", "--include", "killed", "--include", "superseded", "--json").stdout
    )
    assert {h["id"] for h in killed} >= {first}
    verdict = json.loads(cli("rights", "check", first, "--json").stdout)[0]
    assert verdict["status"] == "blocked"
    assert any("KILLED" in r and "must not be published" in r for r in verdict["reasons"])
    shown = cli("show", first, "--history")
    # The notice is not a version of the picture: a notice of its own that killed it.
    assert "KILLED" in shown.stdout and "version 1 (current)" in shown.stdout
    assert "version 2" not in shown.stdout


def test_a_resized_copy_is_a_near_duplicate(cli: Any, demo_photos: Path, tmp_path: Path) -> None:
    cli("init")
    cli("ingest", str(demo_photos))
    with Image.open(demo_photos / "seed1.jpg") as im:
        im.resize((600, 400), Image.Resampling.LANCZOS).save(tmp_path / "small.jpg", quality=70)
    copy = json.loads(cli("ingest", str(tmp_path / "small.jpg"), "--json").stdout)[0]["id"]
    original = hashlib.sha256((demo_photos / "seed1.jpg").read_bytes()).hexdigest()[:12]
    similar = json.loads(cli("similar", copy, "--json").stdout)
    assert [s["id"] for s in similar] == [original]
    groups = json.loads(cli("duplicates", "--json").stdout)
    assert [sorted(p["id"] for p in g) for g in groups] == [sorted([copy, original])]


def test_edits_are_recorded_and_the_index_follows(cli: Any, tmp_path: Path) -> None:
    cli("init")
    wire_photo(tmp_path / "a.jpg", caption="Special forces in Kupyansk", credit="AFP")
    rec_id = json.loads(cli("ingest", str(tmp_path / "a.jpg"), "--json").stdout)[0]["id"]
    edited = cli(
        "edit",
        rec_id,
        "--caption",
        "Special forces in Kupiansk",
        "--credit",
        "REUTERS/Gleb Garanich",
        "--keyword",
        "Kupiansk",
        "--by",
        "jsmith",
    )
    assert edited.exit_code == 0, edited.stderr
    cli("edit", rec_id, "--caption", "Ukrainian special forces in Kupiansk", "--by", "akhan")
    hit = json.loads(cli("search", "kupiansk", "--json").stdout)
    assert [h["id"] for h in hit] == [rec_id] and hit[0]["agency"] == "Reuters"
    # The index follows the last edit: its new word is found, the older spelling finds
    # the new one.
    assert [h["id"] for h in json.loads(cli("search", "ukrainian", "--json").stdout)] == [rec_id]
    found = json.loads(cli("search", "kupyansk", "--json").stdout)
    assert found[0]["caption"] == "Ukrainian special forces in Kupiansk"
    history = json.loads(cli("show", rec_id, "--json", "--history").stdout)["history"]
    edits = history["versions"][0]["edits"]
    assert [(e["by"], e["field"]) for e in edits] == [
        ("jsmith", "caption"),
        ("jsmith", "credit"),
        ("jsmith", "keywords"),
        ("jsmith", "agency"),
        ("akhan", "caption"),
    ]
    assert edits[0]["old"] == "Special forces in Kupyansk"
    assert edits[-1]["old"] == "Special forces in Kupiansk"
    nothing = cli("edit", rec_id)
    assert nothing.exit_code == 1 and "nothing to change" in nothing.stderr


def test_the_hot_folder_takes_a_slowly_copied_file_once(archive: Archive, tmp_path: Path) -> None:
    from photoarchive.watch import watch_folder

    hot = tmp_path / "hot"
    hot.mkdir()
    data = wire_photo(tmp_path / "source.jpg", caption="Slow wire photo", credit="AFP").read_bytes()
    (hot / "letter.jpg").write_text("not a picture")
    stop = threading.Event()
    seen: list[tuple[str, str]] = []

    def copy_slowly() -> None:
        with (hot / "slow.jpg").open("wb") as fh:
            for start in range(0, len(data), len(data) // 6 + 1):
                fh.write(data[start : start + len(data) // 6 + 1])
                fh.flush()
                time.sleep(0.3)

    # The archive's connections belong to this thread: run the watcher here, copy there.
    copier = threading.Thread(target=copy_slowly)
    copier.start()
    deadline = time.monotonic() + 3.5
    with open_archive(archive.root) as arc:
        timer = threading.Timer(3.5, stop.set)
        timer.start()
        watch_folder(
            arc,
            hot,
            settle=0.6,
            poll=0.1,
            patience=1.0,
            stop=stop,
            on_outcome=lambda o, p: seen.append((p.name, o.status)),
        )
        copier.join()
        assert time.monotonic() >= deadline - 0.1
        assert sorted(seen) == [("letter.jpg", "rejected"), ("slow.jpg", "new")]
        stored = arc.search("slow").results
        assert len(stored) == 1
        original = arc.store.read(arc.original_key(stored[0].record.id))
        assert original == data  # complete, not a half-copied file
    assert (hot / "done" / "slow.jpg").exists()
    assert (hot / "rejected" / "letter.jpg").exists()
    assert "not a recognised image" in (hot / "rejected" / "letter.jpg.reason.txt").read_text()
    # A restart finds nothing to do, and the same file dropped again is only a duplicate.
    shutil.copy(hot / "done" / "slow.jpg", hot / "again.jpg")
    seen.clear()
    with open_archive(archive.root) as arc:
        watch_folder(
            arc,
            hot,
            settle=0.2,
            poll=0.05,
            once=True,
            on_outcome=lambda o, p: seen.append((p.name, o.status)),
        )
        assert seen == [("again.jpg", "duplicate")]
        assert arc.catalog.count() == 1


@pytest.mark.skipif(
    EXIFTOOL is None,
    reason="exiftool is not installed (scripts/test.sh installs Debian's libimage-exiftool-perl)",
)
def test_export_embeds_the_edited_caption_without_touching_pixels(cli: Any, tmp_path: Path) -> None:
    from tests.conftest import FIXTURES

    cli("init")
    src = tmp_path / "in"
    src.mkdir()
    wire_photo(src / "wire.jpg", caption="Old caption", credit="AFP", keywords=["old"])
    shutil.copy(FIXTURES / "exif_gps_orientation.jpg", src / "exif.jpg")
    shutil.copy(FIXTURES / "xmp.png", src / "grab.png")
    shutil.copy(FIXTURES / "xmp.webp", src / "social.webp")
    ids = {
        Path(o["path"]).name: o["id"] for o in json.loads(cli("ingest", str(src), "--json").stdout)
    }
    caption = "Ukrainian special forces in Kupiansk — «Купʼянськ» & <friends>"
    for name in ("wire.jpg", "exif.jpg", "grab.png", "social.webp"):
        cli(
            "edit",
            ids[name],
            "--caption",
            caption,
            "--credit",
            "REUTERS/Gleb Garanich",
            "--keyword",
            "Kupiansk",
            "--keyword",
            "special forces",
            "--by",
            "desk",
        )
    out = tmp_path / "out"
    result = cli("export", *ids.values(), "--to", str(out), "--name", "{agency}_{name}_{id}")
    assert result.exit_code == 0, result.stderr
    files = {p.name: p for p in out.iterdir()}
    for name in ("wire", "exif", "grab"):
        exported = next(p for n, p in files.items() if f"_{name}_" in n and not n.endswith(".xmp"))
        tags = json.loads(
            subprocess.run(
                [
                    EXIFTOOL,
                    "-j",
                    "-use",
                    "MWG",
                    "-MWG:Description",
                    "-MWG:Keywords",
                    "-XMP-photoshop:Credit",
                    "-IPTC:Credit",
                    "-IPTC:Caption-Abstract",
                    str(exported),
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
        )[0]
        assert tags["Description"] == caption, name
        assert tags["Keywords"] == ["Kupiansk", "special forces"], name
        assert tags["Credit"] == "REUTERS/Gleb Garanich", name
        fmt = "PNG" if exported.suffix == ".png" else "JPEG"
        source = source_bytes(cli, ids[name + (".png" if fmt == "PNG" else ".jpg")])
        assert pixel_digest(exported.read_bytes(), fmt) == pixel_digest(source, fmt)
        if fmt == "JPEG":
            assert tags["Caption-Abstract"] == caption
    # WebP takes the metadata in the file too (exiv2 writes its chunks).
    webp = next(p for n, p in files.items() if n.endswith(".webp"))
    tags = json.loads(
        subprocess.run(
            [EXIFTOOL, "-j", "-XMP-dc:Description", str(webp)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )[0]
    assert tags["Description"] == caption
    with_sidecars = cli("export", ids["wire.jpg"], "--to", str(tmp_path / "side"), "--sidecar")
    assert with_sidecars.exit_code == 0
    copied = next((tmp_path / "side").glob("*.jpg"))
    assert copied.read_bytes() == source_bytes(cli, ids["wire.jpg"])


def source_bytes(cli: Any, rec_id: str) -> bytes:
    """The stored original of a photo of the CLI's archive."""
    with open_archive(Path(cli.archive_dir)) as arc:
        return arc.store.read(arc.original_key(rec_id))
