"""The search service (`photoarchive searchd` in a subprocess): `search --json` answered through
its socket says exactly what the command says by itself, follows the archive as it changes,
and steps aside (the command searching by itself) whenever it is not there."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from photoarchive.cli import main
from photoarchive.cli.quick import SOCKET_NAME
from tests.test_cli import QUICK_CASES


def photoarchive(
    root: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "photoarchive", "--archive", str(root), *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def start_service(root: Path) -> subprocess.Popen[str]:
    """Start `searchd` and wait for its ready line."""
    process = subprocess.Popen(
        [sys.executable, "-m", "photoarchive", "--archive", str(root), "searchd", "--threads", "2"],
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    line = process.stderr.readline()
    assert "Answering searches of" in line, line + process.stderr.read()
    return process


def stop(process: subprocess.Popen[str]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def timeless(stdout: str) -> str:
    # Each verdict names the moment it was judged for (now): the one part that differs.
    return re.sub(r'"at": "[^"]*"', '"at": ""', stdout)


def answered_by_service(root: Path, *args: str) -> bool:
    """True if `search ARGS` was answered without this process importing the archive."""
    done = subprocess.run(
        [
            sys.executable,
            "-X",
            "importtime",
            "-m",
            "photoarchive",
            "--archive",
            str(root),
            "search",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    return "photoarchive.archive" not in done.stderr


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory, demo_photos: Path) -> Path:
    root = tmp_path_factory.mktemp("searchd") / "archive"
    runner = CliRunner()
    assert runner.invoke(main, ["--archive", str(root), "init"]).exit_code == 0
    result = runner.invoke(main, ["--archive", str(root), "ingest", str(demo_photos)])
    assert result.exit_code == 0, result.stderr
    return root


@pytest.fixture
def service(seeded: Path) -> Iterator[subprocess.Popen[str]]:
    process = start_service(seeded)
    yield process
    stop(process)


@pytest.mark.parametrize("args", QUICK_CASES)
def test_the_service_answers_as_the_command_does_by_itself(seeded: Path, args: list[str]) -> None:
    alone = photoarchive(seeded, "search", *args)
    process = start_service(seeded)
    try:
        served = photoarchive(seeded, "search", *args)
        assert answered_by_service(seeded, *args)
    finally:
        stop(process)
    assert (served.returncode, timeless(served.stdout), served.stderr) == (
        alone.returncode,
        timeless(alone.stdout),
        alone.stderr,
    )


def test_the_socket_is_this_users_alone_and_goes_with_the_service(seeded: Path) -> None:
    process = start_service(seeded)
    path = seeded / SOCKET_NAME
    mode = stat.S_IMODE(os.stat(path).st_mode)
    assert stat.S_ISSOCK(os.stat(path).st_mode) and mode == 0o600
    stop(process)
    assert process.returncode == 0
    assert not path.exists()


def test_new_photos_edits_and_policy_changes_are_answered_at_once(
    tmp_path: Path, demo_photos: Path
) -> None:
    root = tmp_path / "archive"
    assert photoarchive(root, "init").returncode == 0
    first = sorted(demo_photos.iterdir())[0]
    assert photoarchive(root, "ingest", str(first)).returncode == 0
    process = start_service(root)
    try:
        before = json.loads(photoarchive(root, "search", "*", "--json").stdout)
        assert len(before) == 1
        assert photoarchive(root, "ingest", str(demo_photos)).returncode == 0
        after = json.loads(photoarchive(root, "search", "*", "--json").stdout)
        assert len(after) > 1
        assert answered_by_service(root, "*", "--json")

        photo = after[0]["id"]
        edited = photoarchive(root, "edit", photo, "--caption", "A zeppelin over the river")
        assert edited.returncode == 0, edited.stderr
        hits = json.loads(photoarchive(root, "search", "zeppelin", "--json").stdout)
        assert [h["id"] for h in hits] == [photo]

        # The desk blocks every agency: the next verdicts say so.
        policy = root / "rights.toml"
        text = policy.read_text(encoding="utf-8")
        policy.write_text(
            text.replace('status = "licensed"', 'status = "blocked"').replace(
                'status = "clearance-required"', 'status = "blocked"'
            ),
            encoding="utf-8",
        )
        judged = json.loads(photoarchive(root, "search", "*", "--json").stdout)
        assert {hit["rights"]["status"] for hit in judged} <= {"blocked", "unknown"}
        assert "blocked" in {hit["rights"]["status"] for hit in judged}
    finally:
        stop(process)


def test_a_killed_service_leaves_the_command_working_and_is_replaced(seeded: Path) -> None:
    alone = photoarchive(seeded, "search", "tank", "--json")
    process = start_service(seeded)
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert (seeded / SOCKET_NAME).exists()  # left behind, nobody listening
    searched = photoarchive(seeded, "search", "tank", "--json")
    assert (searched.returncode, timeless(searched.stdout)) == (0, timeless(alone.stdout))
    again = start_service(seeded)  # the stale socket is cleared
    try:
        assert answered_by_service(seeded, "tank", "--json")
    finally:
        stop(again)


def test_a_stopped_service_is_searched_around(seeded: Path) -> None:
    """A service that does not answer (stopped with SIGSTOP) is waited for no longer than
    the query's time budget and a grace, then the command searches by itself."""
    process = start_service(seeded)
    try:
        process.send_signal(signal.SIGSTOP)
        started = time.monotonic()
        searched = photoarchive(seeded, "search", "tank", "--json", "--query-seconds", "1")
        assert searched.returncode == 0 and json.loads(searched.stdout)
        assert time.monotonic() - started < 60
    finally:
        process.send_signal(signal.SIGCONT)
        stop(process)


def test_a_second_service_for_the_same_archive_is_refused(
    seeded: Path, service: subprocess.Popen[str]
) -> None:
    second = photoarchive(seeded, "searchd")
    assert second.returncode == 1
    assert second.stderr.startswith("Error: a search service already answers for this archive")
    assert "Traceback" not in second.stderr
    assert answered_by_service(seeded, "tank", "--json")


def test_no_archive_is_one_line_and_makes_no_socket(tmp_path: Path) -> None:
    result = photoarchive(tmp_path / "nowhere", "searchd")
    assert result.returncode == 1 and result.stderr.startswith("Error:")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "nowhere" / SOCKET_NAME).exists()


def test_something_else_at_the_sockets_path_is_named(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    assert photoarchive(root, "init").returncode == 0
    (root / SOCKET_NAME).write_text("not a socket")
    result = photoarchive(root, "searchd")
    assert result.returncode == 1
    assert "searchd.sock exists and is not a socket" in result.stderr
    # The command is not misled by it either.
    assert photoarchive(root, "search", "tank", "--json").returncode == 0


def test_a_switch_of_engine_is_followed(tmp_path: Path, demo_photos: Path) -> None:
    pytest.importorskip("tantivy", reason="the tantivy extra is not installed")
    root = tmp_path / "archive"
    shutil.rmtree(root, ignore_errors=True)
    assert photoarchive(root, "init").returncode == 0
    assert photoarchive(root, "ingest", str(demo_photos)).returncode == 0
    process = start_service(root)
    try:
        before = photoarchive(root, "search", "tank", "--json")
        current = (root / "archive.toml").read_text(encoding="utf-8")
        other = "whoosh" if 'search_engine = "tantivy"' in current else "tantivy"
        switched = photoarchive(root, "reindex", "--engine", other)
        assert switched.returncode == 0, switched.stderr
        after = photoarchive(root, "search", "tank", "--json")
        assert after.returncode == 0, after.stderr
        assert answered_by_service(root, "tank", "--json")
        ids = {h["id"] for h in json.loads(before.stdout)}
        assert {h["id"] for h in json.loads(after.stdout)} == ids
    finally:
        stop(process)
