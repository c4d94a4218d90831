"""The desk in worker processes (`photoarchive serve --workers N` in a subprocess): each
worker answers on its own, the load spreads over them, each follows ingests and a reindex,
a port in use is one line, a hung worker is replaced, and a stop ends them all."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar
from urllib.parse import quote

import pytest
from click.testing import CliRunner

from photoarchive import open_archive
from photoarchive.cli import main
from tests.conftest import FIXTURES
from tests.hostile import good_jpeg

CAPTION = "Flood barrier on the river Tyne"  # every photo of the desk's archive
T = TypeVar("T")


@dataclass
class Desk:
    process: subprocess.Popen[bytes]
    port: int
    root: Path
    log: Path

    def workers(self) -> list[int]:
        return children(self.process.pid)

    def stderr(self) -> str:
        return self.log.read_text(errors="replace")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def serve(root: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "photoarchive", "--archive", str(root), "serve", *args]


def cli(root: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["--archive", str(root), *args], catch_exceptions=False)
    assert result.exit_code == 0, (args, result.stdout, result.stderr)
    return result.stdout


def make_archive(root: Path, engine: str) -> Path:
    cli(root, "init", "--engine", engine)
    photos = sorted(str(p) for p in FIXTURES.glob("*.jpg"))
    cli(root, "ingest", "-j", "1", "--caption", CAPTION, *photos)
    return root


def found(root: Path, query: str) -> int:
    """How many photos the library finds (some fixtures' photos are not searchable)."""
    with open_archive(root, readonly=True) as arc:
        return arc.search(query).total


def stat_fields(pid: int) -> list[str]:
    """The fields of /proc/PID/stat after the command name (field 3, the state, first)."""
    text = Path(f"/proc/{pid}/stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if int(stat_fields(int(entry.name))[1]) == pid:
                    found.append(int(entry.name))
            except (OSError, ValueError):
                continue  # ended meanwhile
    return sorted(found)


def cpu_seconds(pid: int) -> float:
    fields = stat_fields(pid)
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def alive(pid: int) -> bool:
    """True if the process exists and is not a zombie."""
    try:
        return stat_fields(pid)[0] != "Z"
    except OSError:
        return False


def poll(check: Callable[[], T], seconds: float, what: str) -> T:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {seconds} s")
        time.sleep(0.05)


def get(port: int, path: str) -> tuple[int, bytes]:
    """GET on a new connection, closed after the answer (none lingers in a worker)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def total(port: int, query: str) -> int:
    status, body = get(port, f"/api/search?q={quote(query)}")
    assert status == 200, body[:300]
    return int(json.loads(body)["total"])


@contextlib.contextmanager
def paused(pid: int) -> Iterator[None]:
    """Hold a process stopped (SIGSTOP): it can answer nothing until the block ends."""
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def each_worker_alone(desk: Desk, ask: Callable[[], T]) -> dict[int, T]:
    """Return what `ask` gets from each worker while the others are held stopped."""
    workers = desk.workers()
    answers = {}
    for worker in workers:
        others = [w for w in workers if w != worker]
        for other in others:
            os.kill(other, signal.SIGSTOP)
        try:
            answers[worker] = ask()
        finally:
            for other in others:
                os.kill(other, signal.SIGCONT)
    return answers


@contextlib.contextmanager
def serving(root: Path, *args: str, workers: int = 2, group: bool = False) -> Iterator[Desk]:
    """Run `photoarchive serve` on a free port until it answers with `workers` workers."""
    port = free_port()
    log = root.parent / f"desk-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            serve(root, "--port", str(port), "--workers", str(workers), *args),
            stdout=out,
            stderr=out,
            start_new_session=group,  # its own process group, for a Ctrl-C to it alone
        )
    desk = Desk(process, port, root, log)
    try:

        def ready() -> bool:
            if process.poll() is not None:
                raise AssertionError(f"the desk ended at start: {desk.stderr()}")
            try:
                # 302: an archive with accounts sends the front page to its sign-in page.
                return get(port, "/")[0] in (200, 302) and len(desk.workers()) == workers
            except OSError:
                return False

        poll(ready, 30, "the desk answering")
        yield desk
    finally:
        for worker in children(process.pid):  # none is left stopped by a failed test
            os.kill(worker, signal.SIGCONT)
        process.terminate()
        try:
            process.wait(15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_archive(tmp_path_factory.mktemp("workers") / "archive", "whoosh")


#: The engines whose index is in the archive folder (the PostgreSQL engine's desk is the
#: third behavioural run's and tests/test_many_machines.py's).
FOLDER_ENGINES = ("whoosh", "tantivy")


@pytest.fixture(scope="module", params=FOLDER_ENGINES)
def desk(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Desk]:
    """A desk of two workers over an archive of each search engine."""
    folder = tmp_path_factory.mktemp(f"workers-{request.param}")
    with serving(make_archive(folder / "archive", request.param), "--threads", "2") as running:
        yield running


def test_the_desk_runs_in_two_worker_processes_each_with_its_own_archive(desk: Desk) -> None:
    workers = desk.workers()
    assert len(workers) == 2 and desk.process.pid not in workers
    assert "with 2 worker processes" in desk.stderr()
    assert f"at http://127.0.0.1:{desk.port}/" in desk.stderr()
    tyne = found(desk.root, "tyne")
    assert tyne > 0
    assert set(each_worker_alone(desk, lambda: total(desk.port, "tyne")).values()) == {tyne}

    def catalog_open(pid: int) -> bool:
        links = []
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(FileNotFoundError):  # closed since it was listed
                links.append(os.readlink(fd))
        if (desk.root / "catalog.sqlite").exists():
            return str(desk.root / "catalog.sqlite") in links
        return any(link.startswith("socket:") for link in links)  # to the catalog's server

    assert all(catalog_open(w) for w in workers)  # opened after the fork, in each
    if (desk.root / "catalog.sqlite").exists():
        assert not catalog_open(desk.process.pid)  # the master serves nothing itself


def test_each_worker_answers_while_the_other_is_held(desk: Desk) -> None:
    answers = each_worker_alone(desk, lambda: get(desk.port, "/?q=tyne"))
    assert len(answers) == 2
    for status, body in answers.values():
        assert status == 200
        assert body.count(b'class="card"') == found(desk.root, "tyne")


def test_concurrent_searches_keep_every_worker_busy(desk: Desk) -> None:
    workers = desk.workers()
    before = {w: cpu_seconds(w) for w in workers}
    idle = {w: cpu_seconds(w) - before[w] for w in workers}
    paths = [f"/?q={q}" for q in ("tyne", "river", "flood%20barrier", "tyne&rights=cleared")]
    rounds = 0

    def grown() -> dict[int, float]:
        return {w: cpu_seconds(w) - before[w] for w in workers}

    with ThreadPoolExecutor(8) as pool:
        while rounds < 10 and min(grown().values()) < 0.1:
            rounds += 1
            codes = list(pool.map(lambda i: get(desk.port, paths[i % len(paths)])[0], range(40)))
            assert codes == [200] * 40
    used = grown()
    print(f"\nCPU seconds per worker after {rounds} x 40 searches: {used} (idle: {idle})")
    assert min(used.values()) >= 0.1, f"a worker did almost nothing: {used}"


def test_an_ingest_and_a_reindex_reach_every_worker(desk: Desk, tmp_path: Path) -> None:
    # Each worker's searcher is open before the archive changes under it.
    assert set(each_worker_alone(desk, lambda: total(desk.port, "quokka")).values()) == {0}
    picture = tmp_path / "quokka.jpg"
    picture.write_bytes(good_jpeg((30, 160, 90)))
    cli(desk.root, "ingest", "-j", "1", "--caption", "A quokka on Rottnest", str(picture))
    assert set(each_worker_alone(desk, lambda: total(desk.port, "quokka")).values()) == {1}
    page = each_worker_alone(desk, lambda: get(desk.port, "/?q=quokka"))
    assert all(b"<mark>quokka</mark>" in body for _, body in page.values())
    cli(desk.root, "reindex")  # a new index folder swapped in
    after = each_worker_alone(desk, lambda: (total(desk.port, "quokka"), total(desk.port, "tyne")))
    assert set(after.values()) == {(1, found(desk.root, "tyne"))}


def test_the_request_line_is_read_up_to_256_kb(desk: Desk) -> None:
    # Up to 256 KB the desk's own limits answer; beyond, gunicorn refuses the line at once
    # (the line is not ended: with no limit it would wait, reading on).
    status, body = get(desk.port, "/?q=" + "a" * 250_000)
    assert status == 400 and b"query too long: 250,000 characters" in body
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", desk.port), timeout=30) as conn:
        conn.sendall(b"GET /?q=" + b"a" * (256 * 1024 + 100))  # read whole: no reset
        answer = conn.makefile("rb").readline()
    assert answer.startswith(b"HTTP/1.1 414 "), answer
    assert time.monotonic() - started < 5


def test_a_port_in_use_is_one_line_and_status_1(archive: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        done = subprocess.run(
            serve(archive, "--port", str(port), "--workers", "2"),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert done.stderr.splitlines() == [
        f"Error: cannot listen on 127.0.0.1:{port}: the port is in use (is the desk already "
        "running?); choose another with --port"
    ]
    assert done.stdout == ""
    assert time.monotonic() - started < 10  # said at once, not after gunicorn's retries


@pytest.mark.parametrize(
    ("how", "workers"),
    [("SIGTERM", 2), ("Ctrl-C", 1), ("a closed terminal", 2)],
)
def test_a_stop_ends_every_worker(archive: Path, how: str, workers: int) -> None:
    with serving(archive, workers=workers, group=True) as desk:
        pids = desk.workers()
        assert len(pids) == workers
        get(desk.port, "/?q=tyne")
        started = time.monotonic()
        if how == "SIGTERM":
            desk.process.send_signal(signal.SIGTERM)
        else:  # the terminal signals the whole foreground group
            os.killpg(desk.process.pid, signal.SIGINT if how == "Ctrl-C" else signal.SIGHUP)
        code = desk.process.wait(15)
        poll(lambda: not any(alive(pid) for pid in pids), 5, "the workers ending")
        took = time.monotonic() - started
        assert code == 0, desk.stderr()
        assert took < 5, f"stopping took {took:.1f} s"
        assert desk.stderr().splitlines() == [
            f"Serving {archive} at http://127.0.0.1:{desk.port}/ with {workers} worker "
            + ("processes" if workers > 1 else "process")
            + " (Ctrl-C to stop)"
        ]


def test_a_worker_stuck_as_a_whole_is_replaced(archive: Path) -> None:
    # A worker silent for the search time limit + 10 s (11 s, the shortest) is replaced.
    with serving(archive, "--query-seconds", "1") as desk:
        stuck, other = desk.workers()
        os.kill(stuck, signal.SIGSTOP)  # held until gunicorn kills it (serving() resumes)

        def replaced() -> list[int]:
            now = desk.workers()
            return [w for w in now if w != other] if stuck not in now and len(now) == 2 else []

        (fresh,) = poll(replaced, 30, "the stuck worker replaced")
        assert "WORKER TIMEOUT" in desk.stderr()
        assert not alive(stuck)
        with paused(other):  # the new worker answers on its own
            assert total(desk.port, "tyne") == found(archive, "tyne")
        assert fresh in desk.workers()
