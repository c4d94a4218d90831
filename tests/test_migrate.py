"""`photoarchive migrate --to postgresql://...`: an embedded archive's catalog moved to the
server whole, checked, named in archive.toml; the same photos found for the same queries
after; catalog.sqlite left byte for byte as it was; failures change nothing."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from photoarchive import init_archive, open_archive
from photoarchive.catalog import StoredPhoto
from photoarchive.editing import edit_photo
from photoarchive.kills import set_killed
from tests.conftest import load_script

# Queries of every kind the query language has: words, phrases, fields, boolean, wildcards,
# dates, Cyrillic, the every-photo query.
QUERIES = [
    "*:*",
    "tank",
    "Ukraine",
    "soldiers OR residents",
    '"kharkiv region"',
    "credit:reuters",
    "agency:afp",
    "kupiansk AND NOT tank",
    "sold*",
    "date:2022-09",
    "Харків",
    "city:izium",
]


def _digest(path: Path) -> str:
    """The catalog's content (SQLite may fold its write-ahead log into the file meanwhile)."""
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
        return hashlib.sha256("\n".join(db.iterdump()).encode()).hexdigest()


def _found(root: Path) -> dict[str, tuple[int, list[str]]]:
    """Each query's total and the set of photos it finds (the order may differ where the
    engines rank differently)."""
    out = {}
    with open_archive(root, readonly=True) as arc:
        for query in QUERIES:
            page = arc.search(query, limit=20_000)
            out[query] = (page.total, sorted(r.record.sha256 for r in page.results))
    return out


def _cli(root: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "photoarchive", "--archive", str(root), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Archives made here keep their catalog in the folder, whatever the test run's backend."""
    monkeypatch.delenv("PHOTOARCHIVE_CATALOG", raising=False)
    return tmp_path


def test_the_demo_archive_moves_with_the_same_search_results(
    embedded: Path, demo_photos: Path, postgresql_url: str
) -> None:
    root = embedded / "demo"
    arc, _ = init_archive(root)
    with arc:
        arc.ingest(sorted(demo_photos.iterdir()))
        first = arc.search("*:*", limit=1).results[0].record.sha256
        edit_photo(arc, first, {"caption": "Edited on the desk: soldiers near Kupiansk"}, "ed")
        killed = arc.search("tank", limit=1).results[0].record.sha256
        set_killed(arc, killed, True, "withdrawn by the agency", "ed")
    before = _found(root)
    sqlite_before = _digest(root / "catalog.sqlite")

    moved = _cli(root, "migrate", "--to", postgresql_url, "--schema", "desk_one", "--json")
    assert moved.returncode == 0, moved.stderr
    report = json.loads(moved.stdout)
    assert report["schema"] == "desk_one"
    assert report["rows"]["photos"] == 8 and report["rows"]["edits"] == 1
    assert report["photos_compared"] == 8
    assert report["search_engine"] == "postgresql"
    assert "copied" in moved.stderr  # progress on stderr, JSON alone on stdout

    assert _digest(root / "catalog.sqlite") == sqlite_before
    settings = (root / "archive.toml").read_text()
    assert 'catalog_schema = "desk_one"' in settings
    with open_archive(root, readonly=True) as arc:
        assert arc.catalog.on_server
        history = arc.catalog.edits(first)
        assert [h["new"] for h in history if h["field"] == "caption"] == [
            "Edited on the desk: soldiers near Kupiansk"
        ]
        assert arc.states([killed])[killed].state == "killed"
    assert _found(root) == before
    checked = _cli(root, "verify")
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # Ingest goes on against the server.
    more = _cli(root, "ingest", str(Path(__file__).parent / "fixtures" / "xmp.png"))
    assert more.returncode == 0, more.stderr
    with open_archive(root, readonly=True) as arc:
        assert arc.catalog.count() == 9


def test_ten_thousand_photos_move_with_the_same_search_results(
    embedded: Path, postgresql_url: str
) -> None:
    bench = load_script("bench_scale")
    root = embedded / "big"
    arc, _ = init_archive(root)
    with arc:
        for records in bench.corpus(10_000):
            arc.catalog.add_many([(StoredPhoto(r, "jpg", []), {}) for r in records])
        arc.finish_pending_index()
    before = _found(root)
    assert before["Ukraine"][0] > 1000  # the queries do find photos
    sqlite_before = _digest(root / "catalog.sqlite")

    with open_archive(root) as arc:
        report = arc.move_catalog(postgresql_url, "big")
        arc.reindex(engine="postgresql")
    assert report.rows["photos"] == 10_000
    assert report.compared >= 200
    assert _digest(root / "catalog.sqlite") == sqlite_before
    assert _found(root) == before


def test_an_unreachable_server_is_one_line_and_changes_nothing(embedded: Path) -> None:
    root = embedded / "a"
    init_archive(root)[0].close()
    settings = (root / "archive.toml").read_bytes()
    moved = _cli(root, "migrate", "--to", "postgresql://desk:secret@127.0.0.1:9/photos")
    assert moved.returncode == 1
    lines = moved.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: cannot reach the catalog"), lines
    assert "secret" not in moved.stderr
    assert (root / "archive.toml").read_bytes() == settings


def test_bad_targets_are_refused(embedded: Path, postgresql_url: str) -> None:
    root = embedded / "a"
    init_archive(root)[0].close()
    settings = (root / "archive.toml").read_bytes()
    for args, says in (
        (["--to", "/srv/elsewhere"], "is not a PostgreSQL URL"),
        (["--to", postgresql_url, "--schema", "Bad-Name"], "catalog_schema must be"),
    ):
        moved = _cli(root, "migrate", *args)
        assert moved.returncode == 1 and says in moved.stderr, moved.stderr
    assert _cli(root, "migrate", "--to", postgresql_url, "--schema", "taken").returncode == 0
    other = embedded / "b"
    init_archive(other)[0].close()
    untouched = (other / "archive.toml").read_bytes()
    again = _cli(other, "migrate", "--to", postgresql_url, "--schema", "taken")
    assert again.returncode == 1 and "already holds an archive's catalog" in again.stderr
    assert (other / "archive.toml").read_bytes() == untouched
    twice = _cli(root, "migrate", "--to", postgresql_url, "--schema", "other")
    assert twice.returncode == 1 and "on a server already" in twice.stderr
    assert settings != (root / "archive.toml").read_bytes()


def test_a_move_killed_mid_copy_leaves_nothing_behind(embedded: Path, postgresql_url: str) -> None:
    import psycopg

    bench = load_script("bench_scale")
    root = embedded / "big"
    arc, _ = init_archive(root)
    with arc:
        for records in bench.corpus(20_000):
            arc.catalog.add_many([(StoredPhoto(r, "jpg", []), {}) for r in records])
    settings = (root / "archive.toml").read_bytes()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "photoarchive",
            "--archive",
            str(root),
            "migrate",
            "--to",
            postgresql_url,
            "--schema",
            "killed",
        ],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if "rows of photos" in line:  # mid-copy: the photos are being written
            break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    time.sleep(0.5)
    with psycopg.connect(postgresql_url) as conn:
        schemas = conn.execute(
            "SELECT count(*) FROM information_schema.schemata WHERE schema_name = 'killed'"
        ).fetchone()
    assert schemas == (0,)
    assert (root / "archive.toml").read_bytes() == settings
    # The move runs again to the end.
    assert _cli(root, "migrate", "--to", postgresql_url, "--schema", "killed").returncode == 0
