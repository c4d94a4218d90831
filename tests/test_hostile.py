"""Hostile files: each is ingested with what could be read or rejected with one line; the
rest of the batch is unaffected. The corpus is made by scripts/make_hostile.py."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from photoarchive import Archive, init_archive
from photoarchive.ingest import IngestOptions
from tests.conftest import FIXTURES, load_script

HOSTILE = FIXTURES / "hostile"
EXPECTED = {k: v["expect"] for k, v in json.loads((HOSTILE / "expected.json").read_text()).items()}


@pytest.fixture(scope="module")
def hostile_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Archive, Any, dict]]:
    folder = tmp_path_factory.mktemp("hostile") / "incoming"
    shutil.copytree(HOSTILE, folder)
    (folder / "expected.json").unlink()
    special = load_script("make_hostile").make_special(folder)
    shutil.copy(FIXTURES / "iim_utf8.jpg", folder / "good-neighbour.jpg")
    arc, _ = init_archive(folder.parent / "archive")
    report = arc.ingest([folder], IngestOptions(jobs=2))
    yield arc, report, {**EXPECTED, **special, "good-neighbour.jpg": "ingest"}
    arc.close()
    (folder / "unreadable.jpg").chmod(0o644)


def test_corpus_has_at_least_25_kinds() -> None:
    assert len(EXPECTED) >= 25
    assert sorted(p.name for p in HOSTILE.iterdir() if p.name != "expected.json") == sorted(
        EXPECTED
    )


def test_each_file_is_ingested_or_rejected_as_expected(hostile_run: Any) -> None:
    _, report, expected = hostile_run
    outcomes = {Path(o.path).name: o for o in report.outcomes}
    for name, expect in expected.items():
        outcome = outcomes.get(name)
        assert outcome is not None, f"{name!r} was not reported"
        if expect == "ingest":
            assert outcome.status in ("new", "duplicate"), (name, outcome.reason)
        else:
            assert outcome.status == "rejected", (name, outcome)
            reason = outcome.reason or ""
            assert reason and "\n" not in reason and "Traceback" not in reason, name


def test_the_rest_of_the_batch_is_unaffected(hostile_run: Any) -> None:
    arc, report, _ = hostile_run
    good = next(o for o in report.outcomes if o.path.endswith("good-neighbour.jpg"))
    assert good.status == "new"
    assert arc.get(good.id or "").credit == "REUTERS/Gleb Garanich"
    assert arc.verify().ok


def test_what_could_be_read_is_kept(hostile_run: Any) -> None:
    arc, report, _ = hostile_run
    by_name = {Path(o.path).name: o for o in report.outcomes}

    def record(name: str) -> Any:
        return arc.get(by_name[name].id or "")

    # Cut to the archive's max_caption_chars, with a warning saying so.
    assert len(record("caption-100k.png").caption or "") == 10_000
    assert "caption cut from 100,000 to 10,000 characters (XMP; max_caption_chars)" in " ".join(
        by_name["caption-100k.png"].warnings
    )
    assert arc.search("silos harbour smoke").total == 1
    assert "\ufffd" in (record("iim-invalid-utf8.jpg").caption or "")
    assert record("iim-invalid-cp1252.jpg").caption == "\x81\x8d\x8f\x90\x9dok"
    assert record("xmp-deeply-nested.jpg").caption == "Nested caption"
    assert record("gps-impossible.jpg").gps_lat is None
    assert record("gps-zero-denominator.jpg").gps_lat is None
    assert record("date-zero.jpg").date_created is None
    assert record("png-named.jpg").format == "PNG"
    assert record("polyglot-jpeg-then-png.jpg").format == "JPEG"
    assert any("XMP unreadable" in w for w in by_name["xmp-billion-laughs.jpg"].warnings)


def test_odd_file_names_stay_on_one_line(cli: Any, tmp_path: Path) -> None:
    folder = tmp_path / "names"
    load_script("make_hostile").make_special(folder)
    cli("init")
    result = cli("ingest", str(folder))
    (folder / "unreadable.jpg").chmod(0o644)
    lines = [line for line in result.stderr.splitlines() if line.startswith("rejected:")]
    assert any("pipe.jpg: not a regular file" in line for line in lines)
    assert any("loop-a.jpg" in line for line in lines)
    # A newline in a name is shown escaped, not as a line break.
    assert "Traceback" not in result.stderr
    assert not any(line.strip() == "break.jpg" for line in result.stderr.splitlines())


def test_a_slow_file_is_bounded_in_time(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    from photoarchive import ingest

    settings = archive.root / "archive.toml"
    settings.write_text(
        settings.read_text().replace("max_seconds_per_file = 60", "max_seconds_per_file = 1")
    )
    real = ingest._prepare_file

    def slow(job: Any) -> Any:
        if job.path.endswith("slow.jpg"):
            time.sleep(30)
        return real(job)

    monkeypatch.setattr(ingest, "_prepare_file", slow)
    shutil.copy(FIXTURES / "xmp_only.jpg", tmp_path / "slow.jpg")
    shutil.copy(FIXTURES / "xmp.png", tmp_path / "fine.png")
    from photoarchive import open_archive

    started = time.monotonic()
    with open_archive(archive.root) as arc:
        report = arc.ingest([tmp_path / "slow.jpg", tmp_path / "fine.png"])
    assert time.monotonic() - started < 10
    statuses = {Path(o.path).name: (o.status, o.reason) for o in report.outcomes}
    assert statuses["slow.jpg"] == ("rejected", "took longer than 1 s to read")
    assert statuses["fine.png"][0] == "new"
