"""Manifest rows matched to files exactly: by path relative to the ingested folder, or by a
file name that only one file of the batch has; ambiguity stops the ingest before it starts."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from photoarchive import Archive, init_archive
from photoarchive.cli import main
from photoarchive.ingest import IngestOptions
from photoarchive.manifest import ManifestError, match_files, parse_csv_manifest
from photoarchive.store import ORIGINALS
from tests.hostile import good_jpeg
from tests.stores import stored_keys


@pytest.fixture
def days(tmp_path: Path) -> Path:
    """in/day1/a.jpg, in/day2/a.jpg (the same name twice), in/day2/b.jpg, in/IMG_7.jpg."""
    root = tmp_path / "in"
    for n, name in enumerate(["day1/a.jpg", "day2/a.jpg", "day2/b.jpg", "IMG_7.jpg"]):
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(good_jpeg((40 * n, 200 - 40 * n, 90)))
    return root


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    arc, _ = init_archive(tmp_path / "archive")
    yield arc
    arc.close()


def run(archive: Archive, *args: str) -> Result:
    return CliRunner().invoke(main, ["--archive", str(archive.root), *args], catch_exceptions=False)


def nothing_ingested(archive: Archive) -> bool:
    return archive.catalog.count() == 0 and not stored_keys(archive, ORIGINALS)


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_rows_with_paths_match_files_of_the_same_name_in_different_folders(
    archive: Archive, days: Path
) -> None:
    manifest = parse_csv_manifest(
        "file,caption\nday1/a.jpg,First day\nday2/a.jpg,Second day\nb.jpg,Only one b\n"
    )
    report = archive.ingest([days], IngestOptions(manifest=manifest))
    assert report.unmatched_rows == ()
    captions = {Path(o.path).relative_to(days).as_posix(): o.id for o in report.outcomes}
    assert archive.get(captions["day1/a.jpg"] or "").caption == "First day"
    assert archive.get(captions["day2/a.jpg"] or "").caption == "Second day"
    assert archive.get(captions["day2/b.jpg"] or "").caption == "Only one b"
    warned = {Path(o.path).name: o.warnings for o in report.outcomes}
    assert warned["IMG_7.jpg"] == ("no row in the manifest",)


def test_a_bare_name_two_files_share_stops_before_anything_is_done(
    archive: Archive, days: Path, tmp_path: Path
) -> None:
    manifest = write(tmp_path / "m.csv", "file,caption\nb.jpg,Fine\na.jpg,Which one?\n")
    result = run(archive, "ingest", str(days), "--manifest", str(manifest))
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and len(result.stderr.splitlines()) == 1, result.stderr
    assert f"{manifest}, line 3: 'a.jpg' fits 2 files of the batch" in errors[0]
    assert str(days / "day1" / "a.jpg") in errors[0] and str(days / "day2" / "a.jpg") in errors[0]
    assert "Nothing was ingested" in errors[0]
    assert nothing_ingested(archive)


def test_two_rows_for_one_file_are_named_by_both_lines(
    archive: Archive, days: Path, tmp_path: Path
) -> None:
    manifest = write(
        tmp_path / "m.csv", "file,caption\nday2/b.jpg,One\nIMG_7.jpg,x\nb.jpg,The other\n"
    )
    result = run(archive, "ingest", str(days), "--manifest", str(manifest))
    assert result.exit_code == 1
    line = result.stderr.strip()
    assert line.startswith(f"Error: {manifest}, line 2 and {manifest}, line 4 both name ")
    assert str(days / "day2" / "b.jpg") in line
    assert nothing_ingested(archive)


def test_the_same_name_listed_twice_names_both_lines(tmp_path: Path) -> None:
    with pytest.raises(
        ManifestError,
        match=r"m.csv, line 3: 'a.jpg' is listed twice \(also at "
        r"m.csv, line 2\)",
    ):
        parse_csv_manifest("file,caption\na.jpg,x\na.jpg,y\n", "m.csv")
    with pytest.raises(ManifestError, match=r"line 3: 'day1/a\.jpg' is listed twice"):
        # The same path written two ways is the same row.
        parse_csv_manifest("file,caption\nday1/a.jpg,x\n./day1//a.jpg,y\n")


def test_a_unique_name_matches_in_any_folder_and_in_another_case(
    archive: Archive, days: Path
) -> None:
    manifest = parse_csv_manifest("file,caption\nB.JPG,Upper case b\nimg_7.jpg,Seven\n")
    report = archive.ingest([days], IngestOptions(manifest=manifest))
    assert report.unmatched_rows == ()
    ids = {Path(o.path).name: o.id or "" for o in report.outcomes}
    assert archive.get(ids["b.jpg"]).caption == "Upper case b"
    assert archive.get(ids["IMG_7.jpg"]).caption == "Seven"


def test_the_exact_spelling_wins_over_another_case(tmp_path: Path) -> None:
    folder = tmp_path / "f"
    (folder / "x").mkdir(parents=True)
    (folder / "x" / "a.jpg").write_bytes(b"")
    (folder / "A.jpg").write_bytes(b"")
    files = sorted(folder.rglob("*.jpg"))
    assert match_files({"a.jpg": {}}, files, [folder]) == {str(folder / "x" / "a.jpg"): "a.jpg"}


def test_paths_relative_to_each_given_folder_and_as_given(days: Path) -> None:
    files = [days / "day1" / "a.jpg", days / "day2" / "a.jpg"]
    # Folders given one by one: each file's path relative to its own folder is its name.
    with pytest.raises(ManifestError, match="fits 2 files"):
        match_files({"a.jpg": {}}, files, [days / "day1", days / "day2"])
    # A file given by itself matches by its name, and by the path it was given as.
    alone = [days / "day2" / "a.jpg"]
    assert match_files({"a.jpg": {}}, alone, alone) == {str(alone[0]): "a.jpg"}
    assert match_files({str(alone[0].relative_to(days.parent)): {}}, alone, alone) == {}
    given = [Path("in/day2/a.jpg")]
    assert match_files({"in/day2/a.jpg": {}}, given, given) == {"in/day2/a.jpg": "in/day2/a.jpg"}


def test_a_row_whose_path_names_no_file_is_reported_with_its_line(
    archive: Archive, days: Path, tmp_path: Path
) -> None:
    manifest = write(tmp_path / "m.csv", "file,caption\nday1/a.jpg,Here\nday3/a.jpg,Not here\n")
    result = run(archive, "ingest", str(days), "--manifest", str(manifest))
    assert result.exit_code == 1
    assert f"manifest row without a file: day3/a.jpg ({manifest}, line 3)" in result.stderr
    assert "4 new" in result.stderr


def test_windows_paths_and_paths_outside_the_folder(archive: Archive, days: Path) -> None:
    manifest = parse_csv_manifest("file,caption\nday1\\a.jpg,Typed on Windows\n")
    report = archive.ingest([days], IngestOptions(manifest=manifest))
    first = next(o for o in report.outcomes if o.path.endswith("day1/a.jpg"))
    assert archive.get(first.id or "").caption == "Typed on Windows"
    for outside in ("/srv/in/a.jpg", "../a.jpg", "C:\\in\\a.jpg"):
        with pytest.raises(ManifestError, match=r"line 2: .* is not inside the ingested folder"):
            parse_csv_manifest(f"file,caption\n{outside},x\n")


def test_json_manifests_match_the_same_way(archive: Archive, days: Path, tmp_path: Path) -> None:
    manifest = write(
        tmp_path / "m.json",
        json.dumps([{"file": "day1/a.jpg", "caption": "One"}, {"file": "a.jpg", "caption": "?"}]),
    )
    result = run(archive, "ingest", str(days), "--manifest", str(manifest))
    assert result.exit_code == 1
    assert f"{manifest}, item 2: 'a.jpg' fits 2 files" in result.stderr
    assert nothing_ingested(archive)


def test_a_plain_dict_manifest_from_a_program_is_matched_too(archive: Archive, days: Path) -> None:
    with pytest.raises(ManifestError, match=r"the row for 'a\.jpg': 'a\.jpg' fits 2 files"):
        archive.ingest([days], IngestOptions(manifest={"a.jpg": {"caption": "x"}}))
    assert nothing_ingested(archive)
    report = archive.ingest([days], IngestOptions(manifest={"day2/a.jpg": {"caption": "Two"}}))
    second = next(o for o in report.outcomes if o.path.endswith("day2/a.jpg"))
    assert archive.get(second.id or "").caption == "Two"
