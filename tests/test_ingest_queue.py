"""The ingest queue on a real PostgreSQL server: `ingest --queue` records jobs, `photoarchive
worker` processes claim and ingest them; workers killed mid-job lose and duplicate nothing."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from photoarchive import open_archive


def photoarchive(root: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "photoarchive", "--archive", str(root), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def queued_archive(tmp_path: Path, url: str) -> Path:
    root = tmp_path / "archive"
    assert photoarchive(root, "init").returncode == 0
    settings = root / "archive.toml"
    settings.write_text(
        settings.read_text(encoding="utf-8").replace(
            "[archive]\n", f'[archive]\nqueue = "{url}"\n', 1
        ),
        encoding="utf-8",
    )
    return root


def photos(folder: Path, count: int, side: int = 900) -> list[Path]:
    """`count` JPEGs of distinct noise (each a different photo), big enough to take a moment."""
    folder.mkdir(parents=True, exist_ok=True)
    made = []
    for n in range(count):
        rng = random.Random(n)
        image = Image.frombytes("RGB", (side, side), rng.randbytes(side * side * 3))
        path = folder / f"frame{n:03d}.jpg"
        image.save(path, quality=90)
        made.append(path)
    return made


def catalogued(root: Path) -> list[str]:
    with open_archive(root, readonly=True) as archive:
        return sorted(
            r[0] for r in archive.catalog.conn.execute("SELECT original_filename FROM photos")
        )


def test_queued_files_are_ingested_by_a_worker(
    tmp_path: Path, postgresql_url: str, demo_photos: Path
) -> None:
    root = queued_archive(tmp_path, postgresql_url)
    queued = photoarchive(root, "ingest", str(demo_photos), "--queue", "--credit", "AFP", "--json")
    assert queued.returncode == 0, queued.stderr
    jobs = json.loads(queued.stdout)
    assert len(jobs) == 8 and "8 files queued" in queued.stderr
    assert catalogued(root) == []  # nothing is ingested until a worker takes the jobs

    worked = photoarchive(root, "worker", "--until-empty")
    assert worked.returncode == 0, worked.stderr
    assert "8 new" in worked.stderr.splitlines()[-1]
    assert len(catalogued(root)) == 8
    # The desk's values travelled with the jobs.
    hits = json.loads(photoarchive(root, "search", "*", "--json").stdout)
    assert {h["credit"] for h in hits} == {"AFP"}

    # The same files queued again are found to be in the archive already.
    assert photoarchive(root, "ingest", str(demo_photos), "--queue").returncode == 0
    again = photoarchive(root, "worker", "--until-empty")
    assert "8 duplicate" in again.stderr.splitlines()[-1]
    assert len(catalogued(root)) == 8


def test_three_workers_share_the_jobs(tmp_path: Path, postgresql_url: str) -> None:
    files = photos(tmp_path / "incoming", 24, side=400)
    root = queued_archive(tmp_path, postgresql_url)
    assert photoarchive(root, "ingest", str(tmp_path / "incoming"), "--queue").returncode == 0
    command = [sys.executable, "-m", "photoarchive", "--archive", str(root), "worker"]
    workers = [
        subprocess.Popen(
            [*command, "--until-empty", "--name", f"w{n}"], stderr=subprocess.PIPE, text=True
        )
        for n in range(3)
    ]
    logs = [w.communicate(timeout=300)[1] for w in workers]
    assert all(w.returncode == 0 for w in workers), logs
    assert catalogued(root) == sorted(p.name for p in files)
    taken = [sum(line.startswith("new: ") for line in log.splitlines()) for log in logs]
    assert sum(taken) == len(files)


def test_killed_workers_lose_and_duplicate_nothing(tmp_path: Path, postgresql_url: str) -> None:
    """Three workers with short leases; two are killed with SIGKILL while they work. The
    third takes their jobs once the leases run out: every photo is in the archive once, every
    job is done, and the archive verifies."""
    files = photos(tmp_path / "incoming", 40)
    root = queued_archive(tmp_path, postgresql_url)
    assert photoarchive(root, "ingest", str(tmp_path / "incoming"), "--queue").returncode == 0

    def start(n: int) -> subprocess.Popen[str]:
        return subprocess.Popen(
            [sys.executable, "-m", "photoarchive", "--archive", str(root), "worker",
             "--until-empty", "--name", f"w{n}", "--lease-seconds", "3", "--batch", "2"],
            stderr=subprocess.PIPE, text=True,
        )  # fmt: skip

    def held_by(worker: str) -> set[int]:
        import psycopg

        with psycopg.connect(postgresql_url) as conn:
            rows = conn.execute(
                "SELECT id FROM photoarchive_ingest_jobs WHERE worker = %s AND state = 'running'",
                (worker,),
            ).fetchall()
        return {row[0] for row in rows}

    workers = [start(n) for n in range(3)]
    # Kill two while each holds jobs, once it has ingested something (mid-way through the
    # batch); the jobs they held then are the ones another worker must take over.
    held: set[int] = set()
    for n, victim in enumerate(workers[:2]):
        assert victim.stderr is not None
        while True:
            line = victim.stderr.readline()
            assert line, "the worker ended before it ingested anything"
            if line.startswith("new: "):
                break
        deadline = time.monotonic() + 30
        while not held_by(f"w{n}") and time.monotonic() < deadline:
            time.sleep(0.005)
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(timeout=30)
        held |= held_by(f"w{n}")  # still running when it died
    survivor = workers[2]
    log = survivor.communicate(timeout=300)[1]
    assert survivor.returncode == 0, log

    assert catalogued(root) == sorted(p.name for p in files)
    with open_archive(root, readonly=True) as archive:
        from photoarchive.ingest_worker import queue_of

        queue = queue_of(archive)
        try:
            counts = queue.counts()
            outcomes = queue.outcomes()
        finally:
            queue.close()
    assert counts == {"waiting": 0, "running": 0, "done": len(files)}
    assert {o["status"] for o in outcomes} <= {"new", "duplicate"}
    # The jobs the killed workers held were taken again when their leases ran out.
    assert held, "neither worker held a job when it was killed"
    retaken = [o for o in outcomes if o["job"] in held]
    assert len(retaken) == len(held) and all(o["attempts"] > 1 for o in retaken), outcomes
    assert sum(o["status"] == "new" for o in outcomes) <= len(files)
    verified = photoarchive(root, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_an_archive_without_a_queue_says_so(tmp_path: Path, demo_photos: Path) -> None:
    root = tmp_path / "archive"
    assert photoarchive(root, "init").returncode == 0
    for args in (["ingest", str(demo_photos), "--queue"], ["worker", "--until-empty"]):
        result = photoarchive(root, *args)
        assert result.returncode == 1
        assert (
            result.stderr.strip()
            .splitlines()[-1]
            .startswith("Error: this archive has no ingest queue")
        )
        assert "Traceback" not in result.stderr


def test_a_queue_server_that_does_not_answer_is_one_line(tmp_path: Path, demo_photos: Path) -> None:
    pytest.importorskip("psycopg", reason="the postgresql extra is not installed")
    root = queued_archive(tmp_path, "postgresql://nobody:secret@127.0.0.1:1/none")
    result = photoarchive(root, "ingest", str(demo_photos), "--queue")
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: cannot reach the ingest queue at postgresql://nobody:***@")
    assert "secret" not in result.stderr and "Traceback" not in result.stderr


def test_a_queue_setting_that_is_not_a_url_is_named(tmp_path: Path) -> None:
    root = queued_archive(tmp_path, "mysql://somewhere")
    result = photoarchive(root, "stats")
    assert result.returncode == 1
    assert "queue must be a PostgreSQL URL" in result.stderr


def test_a_manifest_is_not_queued(tmp_path: Path, postgresql_url: str, demo_photos: Path) -> None:
    root = queued_archive(tmp_path, postgresql_url)
    manifest = tmp_path / "m.csv"
    manifest.write_text("file,caption\nseed1.jpg,A caption\n", encoding="utf-8")
    result = photoarchive(root, "ingest", str(demo_photos), "--queue", "--manifest", str(manifest))
    assert result.returncode == 1 and "--manifest is not taken with --queue" in result.stderr
    started = time.monotonic()
    assert photoarchive(root, "worker", "--until-empty").returncode == 0
    assert time.monotonic() - started < 60
    assert catalogued(root) == []
