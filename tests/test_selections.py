"""Selections in the library and on the command line: made, filled, renamed and deleted with
every change in the audit log; `selection:NAME` as the target of search, rights check,
export and contact-sheet, on whichever search engine the archive uses."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from photoarchive import init_archive, open_archive
from photoarchive.audit import audit_log
from photoarchive.batch_edits import batch_change, new_value
from photoarchive.cli import main
from photoarchive.errors import (
    PhotoNotFoundError,
    QueryError,
    SelectionError,
    SelectionNotFoundError,
)
from photoarchive.ingest import IngestOptions
from photoarchive.kills import set_killed
from photoarchive.record import PhotoRecord
from photoarchive.selections import (
    add,
    create,
    delete,
    get_selection,
    list_selections,
    photos,
    remove,
    rename,
    split_query,
)
from tests.hostile import good_jpeg

#: (caption, credit) of the archive's photos, in the order of their ids in `Photos.ids`.
PHOTOS = [
    ("Tank abandoned in the river near Izium", "REUTERS/Gleb Garanich"),
    ("Flag raised over the town hall", "AFP via Getty Images"),
    ("Tank column on the road to Kupiansk", "REUTERS/Vyacheslav Madiyevskyy"),
    ("Market reopens in Kharkiv", "AP Photo/Evgeniy Maloletka"),
]


class Photos:
    """An archive holding PHOTOS, and a command line run on it."""

    def __init__(self, root: Path, ids: list[str]) -> None:
        self.root = root
        self.ids = ids
        self.runner = CliRunner()

    def run(self, *args: str, code: int = 0) -> Result:
        result = self.runner.invoke(main, ["--archive", str(self.root), *args])
        assert result.exit_code == code, (args, result.stdout, result.stderr)
        return result

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args, "--json").stdout)


@pytest.fixture
def arc(tmp_path: Path) -> Iterator[Photos]:
    root = tmp_path / "archive"
    archive, _ = init_archive(root)
    ids = []
    with archive:
        for n, (caption, credit) in enumerate(PHOTOS):
            path = tmp_path / f"photo{n}.jpg"
            path.write_bytes(good_jpeg((40 * n, 200 - 40 * n, 90)))
            report = archive.ingest([path], IngestOptions(caption=caption, credit=credit))
            ids.append(report.outcomes[0].id)
    yield Photos(root, ids)


def test_a_selection_is_made_filled_renamed_and_deleted_with_each_change_audited(
    arc: Photos,
) -> None:
    with open_archive(arc.root) as archive:
        made = create(archive, "  front-page ", "anna")
        assert (made.name, made.count, made.created_by) == ("front-page", 0, "anna")
        # Ids or unique prefixes, in the order given; a photo held already stays where it is.
        assert add(archive, "front-page", [arc.ids[2], arc.ids[0][:6]], "anna") == 2
        assert add(archive, "FRONT-PAGE", [arc.ids[0], arc.ids[1]], "bob") == 1
        assert add(archive, "front-page", [arc.ids[1]], "bob") == 0
        full = [archive.resolve(i) for i in (arc.ids[2], arc.ids[0], arc.ids[1])]
        assert photos(archive, "front-page") == full
        assert remove(archive, "front-page", [arc.ids[0], arc.ids[3]], "carl") == 1
        assert photos(archive, "Front-Page") == [full[0], full[2]]
        renamed = rename(archive, "front-page", "Front page Friday", "dora")
        assert (renamed.name, renamed.count) == ("Front page Friday", 2)
        assert [s.name for s in list_selections(archive)] == ["Front page Friday"]
        # A change of case alone is a rename too.
        assert rename(archive, "front page friday", "FRONT PAGE FRIDAY", "dora").count == 2
        assert delete(archive, "front page friday", "erik") == 2
        assert list_selections(archive) == []
        entries = audit_log(archive)
    assert [(e.by, e.action, e.target) for e in entries] == [
        ("erik", "selection delete", "FRONT PAGE FRIDAY"),
        ("dora", "selection rename", "FRONT PAGE FRIDAY"),
        ("dora", "selection rename", "Front page Friday"),
        ("carl", "selection remove", "front-page"),
        ("bob", "selection add", "front-page"),
        ("anna", "selection add", "front-page"),
        ("anna", "selection create", "front-page"),
    ]
    # What was added, taken out and held is kept: the photos' ids.
    assert entries[5].new == [arc.ids[2], arc.ids[0]] and entries[4].new == [arc.ids[1]]
    assert entries[3].old == [arc.ids[0]]
    assert entries[2].old == "front-page" and entries[2].new == "Front page Friday"
    assert entries[0].old == [arc.ids[2], arc.ids[1]]


def test_names_are_checked_and_told_apart_without_case(arc: Photos) -> None:
    with open_archive(arc.root) as archive:
        create(archive, "Київ вечір", "anna")
        assert get_selection(archive, "КИЇВ ВЕЧІР").name == "Київ вечір"
        for bad in ("", "   ", "a/b", "..", "-dash first", "<script>", "x" * 65, "tab\there"):
            with pytest.raises(SelectionError, match="is not valid"):
                create(archive, bad, "anna")
        with pytest.raises(SelectionError, match="exists already"):
            create(archive, "київ ВЕЧІР", "anna")
        create(archive, "other", "anna")
        with pytest.raises(SelectionError, match="exists already"):
            rename(archive, "other", "Київ вечір", "anna")
        with pytest.raises(SelectionNotFoundError, match="no selection named 'nope'"):
            add(archive, "nope", [arc.ids[0]], "anna")
        with pytest.raises(PhotoNotFoundError):
            add(archive, "other", [arc.ids[0], "fffffffffff0"], "anna")
        with pytest.raises(SelectionError, match="who"):
            add(archive, "other", [arc.ids[0]], " ")
        # Nothing was half done.
        assert photos(archive, "other") == []
        assert [s.name for s in list_selections(archive)] == ["other", "Київ вечір"]


@pytest.mark.parametrize(
    ("query", "rest", "names"),
    [
        ("selection:front-page", "", ["front-page"]),
        ('selection:"front page" credit:reuters', "credit:reuters", ["front page"]),
        ("tank Selection:a AND selection:b river", "tank river", ["a", "b"]),
        ("tank AND selection:a", "tank", ["a"]),
        ('"selection:not a target" tank', '"selection:not a target" tank', []),
        ("credit:reuters", "credit:reuters", []),
    ],
)
def test_selection_targets_are_taken_out_of_the_query(
    query: str, rest: str, names: list[str]
) -> None:
    assert split_query(query) == (rest, names)


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("tank OR selection:a", "not joined to them by OR or NOT"),
        ("NOT selection:a", "not joined to them by OR or NOT"),
        ("(tank selection:a)", "outside brackets"),
        ("selection: tank", "name the selection"),
        ('selection:"front page', "no closing quote"),
    ],
)
def test_a_selection_target_that_cannot_narrow_the_search_is_refused(
    query: str, words: str
) -> None:
    with pytest.raises(QueryError, match=words):
        split_query(query)


def test_the_selection_command_lists_shows_and_changes_selections(arc: Photos) -> None:
    arc.run("selection", "create", "front page", "--by", "anna")
    arc.run("selection", "add", "front page", arc.ids[3], arc.ids[1], "--by", "bob")
    added = arc.run("selection", "add", "Front Page", arc.ids[1], "--by", "bob")
    assert "Added 0 photos" in added.stderr and "held already" in added.stderr
    listed = arc.json("selection", "list")
    assert [(s["name"], s["count"], s["created_by"]) for s in listed] == [("front page", 2, "anna")]
    assert listed[0]["changed_at"] >= listed[0]["created_at"]
    shown = arc.json("selection", "show", "FRONT PAGE")
    assert shown["name"] == "front page"
    assert [p["id"] for p in shown["photos"]] == [arc.ids[3], arc.ids[1]]
    assert {p["state"] for p in shown["photos"]} == {"live"}
    assert all("status" in p["rights"] for p in shown["photos"])
    table = arc.run("selection", "show", "front page")
    assert arc.ids[3] in table.stdout and "Market reopens" in table.stdout
    arc.run("selection", "remove", "front page", arc.ids[3], "--by", "carl")
    arc.run("selection", "rename", "front page", "page one", "--by", "dora")
    assert "page one" in arc.run("selection", "list").stdout
    arc.run("selection", "delete", "page one", "--by", "erik")
    assert arc.json("selection", "list") == []
    assert "No selections" in arc.run("selection", "list").stderr
    audit = arc.json("audit")
    assert [(e["by"], e["action"]) for e in audit] == [
        ("erik", "selection delete"),
        ("dora", "selection rename"),
        ("carl", "selection remove"),
        ("bob", "selection add"),
        ("anna", "selection create"),
    ]
    assert audit[3]["target"] == "front page" and audit[3]["new"] == [arc.ids[3], arc.ids[1]]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("selection", "create", "a/b"), "is not valid"),
        (("selection", "create", "Front-Page"), "exists already"),
        (("selection", "rename", "nope", "other"), "no selection named 'nope'"),
        (("selection", "delete", "nope"), "no selection named 'nope'"),
        (("selection", "show", "nope"), "no selection named 'nope'"),
        (("selection", "add", "nope", "abcdef"), "no selection named 'nope'"),
        (("selection", "add", "front-page", "fffffffffff0"), "no photo with id fffffffffff0"),
        (("selection", "remove", "front-page", "zz"), "not a photo id"),
        (("search", "selection:nope"), "no selection named 'nope'"),
        (("search", "tank OR selection:front-page"), "not joined to them by OR or NOT"),
        (("rights", "check", "selection:nope"), "no selection named 'nope'"),
        (("export", "selection:nope", "--to", "out"), "no selection named 'nope'"),
        (("contact-sheet", "selection:nope", "-o", "x.pdf"), "no selection named 'nope'"),
        (("export", "selection:front-page", "--to", "out"), "no photos match"),
    ],
)
def test_selection_errors_are_one_line(arc: Photos, args: tuple[str, ...], words: str) -> None:
    arc.run("selection", "create", "front-page", "--by", "anna")
    result = arc.run(*args, code=1)
    assert words in result.stderr, result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert result.stderr.startswith("Error: ")


def test_a_selection_is_a_search_target_alone_or_with_other_words(arc: Photos) -> None:
    arc.run("selection", "create", "front page", "--by", "anna")
    arc.run("selection", "add", "front page", arc.ids[1], arc.ids[0], arc.ids[3], "--by", "anna")
    found = arc.json("search", 'selection:"front page"')
    assert {r["id"] for r in found} == {arc.ids[0], arc.ids[1], arc.ids[3]}
    reuters = arc.json("search", 'selection:"front page" credit:reuters')
    assert [r["id"] for r in reuters] == [arc.ids[0]]
    assert [r["id"] for r in arc.json("search", 'tank selection:"front page"')] == [arc.ids[0]]
    # Without --json too (the quick path and click answer alike).
    table = arc.run("search", 'selection:"front page" credit:reuters')
    assert arc.ids[0] in table.stdout and arc.ids[2] not in table.stdout
    # An empty selection finds nothing, and says so.
    arc.run("selection", "create", "empty", "--by", "anna")
    assert arc.json("search", "selection:empty") == []


def test_rights_check_export_and_contact_sheet_take_a_selection(
    arc: Photos, tmp_path: Path
) -> None:
    arc.run("selection", "create", "front page", "--by", "anna")
    arc.run("selection", "add", "front page", arc.ids[2], arc.ids[0], arc.ids[3], "--by", "anna")
    arc.run("edit", arc.ids[0], "--caption", "Corrected: tank in the Donets river", "--by", "ed")
    with open_archive(arc.root) as archive:
        set_killed(archive, arc.ids[3], True, "wrong picture", "ed")
    # The killed photo is reported, blocked, not hidden; a selection's order is kept.
    checked = json.loads(
        arc.run("rights", "check", "selection:front page", "--json", code=1).stdout
    )
    assert [c["id"] for c in checked] == [arc.ids[2], arc.ids[0], arc.ids[3]]
    assert checked[2]["status"] == "blocked" and checked[2]["state"] == "killed"
    # Export refuses it, as it refuses a killed photo named by its id; nothing is written.
    out = tmp_path / "out"
    refused = arc.run("export", "selection:front page", "--to", str(out), code=1)
    assert f"{arc.ids[3]} is killed" in refused.stderr and not out.exists()
    arc.run("selection", "remove", "front page", arc.ids[3], "--by", "anna")
    exported = json.loads(
        arc.run("export", "selection:front page", "--to", str(out), "--json").stdout
    )
    assert [e["id"] for e in exported["exported"]] == [arc.ids[2], arc.ids[0]]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        Path(e["path"]).name for e in exported["exported"]
    )
    if shutil.which("exiftool"):
        path = next(e["path"] for e in exported["exported"] if e["id"] == arc.ids[0])
        read = subprocess.run(
            ["exiftool", "-j", "-XMP-dc:Description", "-IPTC:Caption-Abstract", path],
            capture_output=True,
            text=True,
            check=True,
        )
        tags = json.loads(read.stdout)[0]
        assert tags["Description"] == "Corrected: tank in the Donets river"
        assert tags["Caption-Abstract"] == "Corrected: tank in the Donets river"
    # Other words narrow it, as in a search.
    reuters = json.loads(
        arc.run("rights", "check", 'selection:"front page"', "credit:reuters", "--json").stdout
    )
    assert {c["id"] for c in reuters} == {arc.ids[0], arc.ids[2]}
    sheet = tmp_path / "sheet.pdf"
    written = arc.run("contact-sheet", 'selection:"front page"', "-o", str(sheet))
    assert "Wrote 2 photos" in written.stderr
    pdf = sheet.read_bytes()
    assert pdf.startswith(b"%PDF-") and len(pdf) > 1000


@pytest.mark.parametrize(
    ("field", "op", "typed", "old", "new"),
    [
        ("caption", "set", "  Two lines\r\nof caption ", "Old", "Two lines\nof caption"),
        ("headline", "set", " Match\r\n day ", None, "Match day"),
        ("credit", "set", "   ", "REUTERS", None),
        (
            "keywords",
            "add",
            "flag, Front page ,flag",
            ["Flag", "town"],
            ["Flag", "town", "Front page"],
        ),
        ("keywords", "remove", "FLAG, nothing", ["Flag", "town"], ["town"]),
    ],
)
def test_a_batch_change_gives_each_photo_its_new_value(
    field: str, op: str, typed: str, old: Any, new: Any
) -> None:
    record = PhotoRecord(
        id="0" * 12, sha256="0" * 64, original_filename="x.jpg", format="JPEG", width=1,
        height=1, file_size=1, **{field: old},
    )  # fmt: skip
    assert new_value(record, batch_change(field, op, typed)) == new
