"""One archive served by several processes against one PostgreSQL server: the catalog,
the search index and the ingest queue there, workers and desk processes killed with SIGKILL
while files come in, and nothing lost or ingested twice."""

from __future__ import annotations

import http.client
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from photoarchive import open_archive
from photoarchive.archive import STORAGE_VARIABLE
from tests.objectstore import fresh_bucket, s3_endpoint
from tests.test_desk_workers import get, poll, serving, total
from tests.test_ingest_queue import catalogued, photoarchive, photos

KILLS = 10


def server_archive(root: Path, url: str) -> Path:
    """An archive whose catalog, search index and queue are all on the server at `url`."""
    made = photoarchive(root, "init", "--catalog", url, "--catalog-schema", "desk")
    assert made.returncode == 0, made.stderr
    settings = root / "archive.toml"
    text = settings.read_text(encoding="utf-8")
    settings.write_text(text.replace("[archive]\n", f'[archive]\nqueue = "{url}"\n', 1))
    return root


def test_the_archive_lives_on_the_server(tmp_path: Path, postgresql_url: str) -> None:
    root = server_archive(tmp_path / "archive", postgresql_url)
    assert not (root / "catalog.sqlite").exists()
    with open_archive(root, readonly=True) as arc:
        assert arc.catalog.on_server and arc.index.name == "postgresql"
    files = photos(tmp_path / "in", 3, side=200)
    assert photoarchive(root, "ingest", *map(str, files)).returncode == 0
    with open_archive(root, readonly=True) as arc:
        assert arc.catalog.count() == 3
        assert arc.search("*:*").total == 3


@pytest.fixture(params=["folder", "s3"])
def files_kept(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Where the archive's files are: the shared folder, or a bucket of the S3 test server
    (the one store of every machine, as the catalog's server is)."""
    if request.param == "folder":
        monkeypatch.delenv(STORAGE_VARIABLE, raising=False)
        yield "folder"
        return
    endpoint = s3_endpoint()
    with fresh_bucket(endpoint) as bucket:
        monkeypatch.setenv(STORAGE_VARIABLE, f"s3://{bucket}")
        monkeypatch.setenv("AWS_ENDPOINT_URL", endpoint)
        yield "s3"


def test_ten_kills_of_workers_and_desk_lose_and_duplicate_nothing(
    tmp_path: Path, postgresql_url: str, files_kept: str
) -> None:
    files = photos(tmp_path / "incoming", 90, side=500)
    root = server_archive(tmp_path / "archive", postgresql_url)
    queued = photoarchive(root, "ingest", str(tmp_path / "incoming"), "--queue")
    assert queued.returncode == 0, queued.stderr

    # Three machines, each mounting the archive folder at its own path.
    mounts = []
    for n in range(3):
        mount = tmp_path / f"machine{n}" / "photos"
        mount.parent.mkdir()
        mount.symlink_to(root, target_is_directory=True)
        mounts.append(mount)
    started = 0

    def start_worker() -> subprocess.Popen[str]:
        nonlocal started
        started += 1
        mount = mounts[started % len(mounts)]
        return subprocess.Popen(
            [sys.executable, "-m", "photoarchive", "--archive", str(mount), "worker",
             "--until-empty", "--name", f"w{started}", "--lease-seconds", "3", "--batch", "2"],
            stderr=subprocess.DEVNULL, text=True,
        )  # fmt: skip

    def holding(
        workers: dict[str, subprocess.Popen[str]],
    ) -> tuple[subprocess.Popen[str], str] | None:
        """A live worker that holds jobs now, if any."""
        import psycopg

        with psycopg.connect(postgresql_url) as conn:
            rows = conn.execute(
                "SELECT DISTINCT worker FROM photoarchive_ingest_jobs WHERE state = 'running'"
            ).fetchall()
        for (name,) in rows:
            worker = workers.get(name)
            if worker is not None and worker.poll() is None:
                return worker, name
        return None

    failures: list[str] = []
    stop = threading.Event()

    with serving(root, workers=2) as desk:

        def editors() -> None:
            # Searches all along, as the desk's editors would make them; a request cut by a
            # killed desk process is tried again (a browser's reload), once.
            while not stop.is_set():
                for _attempt in range(2):
                    try:
                        status = get(desk.port, "/?q=frame")[0]
                    except (OSError, http.client.HTTPException):  # cut mid-answer
                        status = 0
                    if status == 200:
                        break
                    time.sleep(0.5)
                else:
                    failures.append(f"status {status}")

        searching = threading.Thread(target=editors)
        searching.start()
        workers = {}
        for _ in range(3):
            worker = start_worker()
            workers[f"w{started}"] = worker
        rng = random.Random(20)
        kills = {"worker": 0, "desk": 0}
        try:
            for n in range(KILLS):
                time.sleep(rng.uniform(0.1, 0.5))
                if n % 3 == 2:  # every third kill is a desk process, the rest ingest workers
                    victims = desk.workers()
                    assert victims, "the desk has no worker process"
                    os.kill(rng.choice(victims), signal.SIGKILL)
                    kills["desk"] += 1
                    continue
                # A worker killed while it holds jobs: mid-ingest, not between files.
                found = poll(lambda: holding(workers), 60, "a worker holding jobs")
                assert found is not None
                victim, name = found
                os.kill(victim.pid, signal.SIGKILL)
                victim.wait()
                kills["worker"] += 1
                del workers[name]
                replacement = start_worker()  # the machine's supervisor starts another
                workers[f"w{started}"] = replacement
            last = start_worker()  # one more, to take what was held at the last kill
            workers[f"w{started}"] = last
            for worker in workers.values():
                worker.wait(timeout=300)
        finally:
            for worker in workers.values():
                if worker.poll() is None:
                    worker.kill()
            stop.set()
            searching.join(30)
        assert sum(kills.values()) == KILLS, kills
        assert kills["desk"] >= 3 and kills["worker"] >= 6, kills

        # Every photo once, every job done; the desk (with replaced processes) finds them all.
        assert catalogued(root) == sorted(p.name for p in files)
        poll(lambda: total(desk.port, "*:*") == len(files), 30, "the desk finding every photo")
        assert len(desk.workers()) == 2
    assert not failures, failures
    with open_archive(root, readonly=True) as arc:
        from photoarchive.ingest_worker import queue_of

        queue = queue_of(arc)
        try:
            assert queue.counts() == {"waiting": 0, "running": 0, "done": len(files)}
        finally:
            queue.close()
    verified = photoarchive(root, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_photo_and_its_index_entry_are_one_transaction(
    tmp_path: Path, postgresql_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from photoarchive.errors import IndexUnavailableError
    from photoarchive.search.postgresql_engine import PostgresEngine

    root = server_archive(tmp_path / "archive", postgresql_url)
    first, second = photos(tmp_path / "in", 2, side=200)
    with open_archive(root) as arc:
        assert arc.index_in_catalog
        arc.ingest([first])
        assert arc.catalog.pending_index() == []  # indexed in the same commit
        assert arc.search("*:*").total == 1

        def fail(self: PostgresEngine, *args: object, **kwargs: object) -> int:
            raise IndexUnavailableError("the index went away mid-write")

        monkeypatch.setattr(PostgresEngine, "add", fail)
        with pytest.raises(IndexUnavailableError):
            arc.ingest([second])
        monkeypatch.undo()
        # Neither the row nor its entry: the catalog did not keep a photo its index lacks.
        assert arc.catalog.count() == 1 and arc.search("*:*").total == 1
    again = photoarchive(root, "ingest", str(second))
    assert again.returncode == 0 and "1 new" in again.stderr, again.stderr
    with open_archive(root, readonly=True) as arc:
        assert arc.catalog.count() == 2 and arc.search("*:*").total == 2
