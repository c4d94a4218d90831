"""Listing a running story from the command line: newest first, since a time, and filters
without query words (agency, verdict, date taken, source type)."""

from __future__ import annotations

import json
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from photoarchive.errors import QueryError
from photoarchive.search.query import since_moment


@pytest.fixture
def desk(run: Any, demo_photos: Path, tmp_path: Path) -> Any:
    run("ingest", str(demo_photos))
    # A screen grab, as a broadcaster's tool marks it (IPTC digital source type).
    grab = tmp_path / "grab.jpg"
    shutil.copy(demo_photos / "seed1.jpg", grab)
    with grab.open("ab") as fh:
        fh.write(b"\0")  # another file, the same picture
    exiftool = shutil.which("exiftool")
    if exiftool is None:
        pytest.skip("exiftool is not installed")
    subprocess.run(
        [
            exiftool,
            "-q",
            "-overwrite_original",
            "-XMP-iptcExt:DigitalSourceType=http://cv.iptc.org/newscodes/digitalsourcetype/"
            "screenCapture",
            "-IPTC:Caption-Abstract=A screen grab of the evening news",
            "-IPTC:DateCreated=2022:09:14",
            str(grab),
        ],
        check=True,
    )
    run("ingest", str(grab))
    return run


def listed(run: Any, *args: str) -> list[dict[str, Any]]:
    return json.loads(run("search", *args, "--json", "-n", "100").stdout)  # type: ignore[no-any-return]


def test_no_words_lists_the_newest_arrivals(desk: Any) -> None:
    photos = listed(desk)
    assert len(photos) == 9
    arrived = [p["ingested_at"] for p in photos]
    assert arrived == sorted(arrived, reverse=True)
    grab = next(p for p in photos if p["caption"] == "A screen grab of the evening news")
    assert grab["ingested_at"] == arrived[0]
    # The table says the same, and a total.
    table = desk("search")
    assert "1-9 of 9" in table.stderr


def test_sort_date_lists_newest_taken_first(desk: Any) -> None:
    photos = listed(desk, "--sort", "date")
    taken = [p["date_created"] or "" for p in photos]
    assert taken == sorted(taken, reverse=True) and len(set(taken)) > 1
    assert photos[0]["caption"] == "A screen grab of the evening news"
    words = [p["date_created"] or "" for p in listed(desk, "tank OR flag", "--sort", "date")]
    assert words == sorted(words, reverse=True)
    by_arrival = [p["ingested_at"] for p in listed(desk, "tank OR flag", "--sort", "ingested")]
    assert by_arrival == sorted(by_arrival, reverse=True)
    bad = desk("search", "tank", "--sort", "oldest", code=2)
    assert "oldest" in bad.stderr


def test_since_keeps_what_arrived_since(desk: Any) -> None:
    assert len(listed(desk, "--since", "24h")) == 9
    assert len(listed(desk, "--since", "90m")) == 9
    assert len(listed(desk, "tank", "--since", "7d")) >= 1
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    assert listed(desk, "--since", tomorrow) == []
    nothing = desk("search", "--since", tomorrow)
    assert "No photos" in nothing.stderr
    for bad in ("yesterday", "24x", "2022-13-01"):
        result = desk("search", "--since", bad, code=1)
        assert result.stdout == "" and len(result.stderr.strip().splitlines()) == 1
        assert bad in result.stderr


def test_filters_work_without_words(desk: Any) -> None:
    reuters = listed(desk, "--agency", "Reuters")
    assert reuters and all(p["agency"] == "Reuters" for p in reuters)
    assert len(reuters) < 9
    screens = listed(desk, "--source-type", "screen")
    assert [p["caption"] for p in screens] == ["A screen grab of the evening news"]
    blocked = listed(desk, "--verdict", "unknown")
    assert blocked and all(p["rights"]["status"] == "unknown" for p in blocked)
    taken = listed(desk, "--from", "2022-09-11", "--to", "2022-09-11")
    assert len(taken) == 8 and all(p["date_created"].startswith("2022-09-11") for p in taken)
    assert len(listed(desk, "--from", "2022-09-12")) == 1
    # Words and filters together narrow each other.
    both = listed(desk, "tank", "--agency", "Reuters")
    assert all(p["agency"] == "Reuters" for p in both)
    bad = desk("search", "--from", "last week", code=1)
    assert "--from" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_since_moment_reads_spans_and_dates() -> None:
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    assert since_moment("24h", now) == datetime(2026, 11, 25, 12, 0)
    assert since_moment("7d", now) == datetime(2026, 11, 19, 12, 0)
    assert since_moment("90m", now) == datetime(2026, 11, 26, 10, 30)
    assert since_moment("2w", now) == datetime(2026, 11, 12, 12, 0)
    assert since_moment("2022-09-11", now) == datetime(2022, 9, 11)
    from zoneinfo import ZoneInfo

    # A date is midnight where the desk is: Kyiv is two hours ahead of UTC in winter.
    assert since_moment("2026-11-26", now, ZoneInfo("Europe/Kyiv")) == datetime(2026, 11, 25, 22)
    with pytest.raises(QueryError):
        since_moment("99999999999d", now)
