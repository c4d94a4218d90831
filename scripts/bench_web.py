#!/usr/bin/env python3
"""Measure the web desk on a synthetic archive of N photos (default 10,000).

Photos are entered through the library (catalog and index; no image files), the desk is
started as editors start it (`photoarchive serve`, in its own processes on 127.0.0.1), and
pages are fetched over HTTP as a browser would.

Default: the search page (20 results, agency counts, rights badges) one request at a time,
against two baselines measured in the same run: a static file from the same server, and the
library search alone.

With --clients: the desk under load. `clients` threads fetch a mix of search pages (the
broad `ukraine`, in 30% of the photos, among them) and a photo page round-robin over
keep-alive connections for --seconds, against a desk of one worker process and then one of
--workers processes (default: one per core, 2 to 8), in the same run: throughput, p50, p95
and p99, and the CPU time each worker process used.

    python scripts/bench_web.py [--photos 10000] [--repeat 40]
    python scripts/bench_web.py --clients 8 --seconds 20 [--workers N] [--photos 10000]

`load`, `start_desk` and `stop_desk` are for other benchmarks to import (with scripts/ on
sys.path); importing this module does nothing else.
"""

from __future__ import annotations

import argparse
import http.client
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote, urlsplit

# (query, rights verdict filter or "")
QUERIES = (
    ("tank", ""),
    ("tank river", ""),
    ('"special forces"', ""),
    ("credit:reuters flag", ""),
    ("date:[2022-01-10 to 2022-01-20]", ""),
    ("tank", "cleared"),
    ("tank", "needs-clearance"),
    ("ukraine", "needs-clearance"),
)
# The search pages of the mixed load: everyday queries and the broad one.
LOAD_QUERIES = ("tank", "tank river", '"special forces"', "credit:reuters flag", "ukraine")
# Seconds a desk may take to start answering.
START_SECONDS = 60.0


def fill(root: Path, n: int) -> None:
    """Enter n synthetic photos through the library (the same records as scripts/bench.py)."""
    from bench import enter, synthetic

    enter(root, synthetic(n))


def free_port() -> int:
    """Return a TCP port free on 127.0.0.1 (free when asked)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _children(pid: int) -> list[int]:
    """The processes whose parent is `pid` (the desk's workers), from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                found.append(int(entry))
    return sorted(found)


def _cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds the process has used so far (0 once it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def start_desk(
    root: Path, workers: int, port: int | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `photoarchive serve --workers N` on the archive at `root` (on 127.0.0.1, `port`
    or a free one) and return the process and the desk's base URL once it answers and all
    its worker processes are up. Its messages go to this process's stderr.

    Raises RuntimeError if it ends or does not answer within START_SECONDS.
    """
    port = port or free_port()
    command = [sys.executable, "-m", "photoarchive", "--archive", str(root), "serve"]
    command += ["--port", str(port), "--workers", str(workers)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_SECONDS
    while True:
        if proc.poll() is not None:
            raise RuntimeError(f"the desk ended at start with status {proc.returncode}")
        try:
            with urllib.request.urlopen(base + "/", timeout=10) as response:
                if response.status == 200 and len(_children(proc.pid)) >= workers:
                    return proc, base
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop_desk(proc)
            raise RuntimeError(f"the desk did not answer at {base} within {START_SECONDS} s")
        time.sleep(0.05)


def stop_desk(proc: subprocess.Popen[bytes]) -> None:
    """Stop a desk started by start_desk (SIGTERM; SIGKILL if it has not ended in 15 s)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _percentile(values: list[float], q: int) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def load(
    base_url: str, paths: list[str], clients: int = 8, seconds: float = 20.0
) -> dict[str, float]:
    """Fetch `paths` from the desk at `base_url` with `clients` threads for `seconds`,
    each thread on its own keep-alive connection going round the paths from its own
    starting point, and return {"requests", "errors", "per_second", "p50", "p95", "p99"}:
    requests answered or failed, errors among them (a status other than 200, or no
    answer), requests per second, and latency percentiles in milliseconds.
    """
    parts = urlsplit(base_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    prefix = parts.path.rstrip("/")
    latencies: list[float] = []
    errors = 0
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    deadline = 0.0

    def fetch(conn: http.client.HTTPConnection, path: str) -> int:
        conn.request("GET", prefix + path)
        response = conn.getresponse()
        response.read()
        return response.status

    def client(offset: int) -> None:
        nonlocal errors
        mine: list[float] = []
        failed = 0
        conn = http.client.HTTPConnection(host, port, timeout=60)
        reused = False
        i = offset
        start.wait()
        while time.monotonic() < deadline:
            path = paths[i % len(paths)]
            i += 1
            t0 = time.perf_counter()
            try:
                try:
                    status = fetch(conn, path)
                except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                    if not reused:
                        raise
                    # The desk closed an idle kept-alive connection: a browser reconnects.
                    conn.close()
                    conn = http.client.HTTPConnection(host, port, timeout=60)
                    status = fetch(conn, path)
                reused = True
            except (OSError, http.client.HTTPException):
                status = 0
                conn.close()
                conn = http.client.HTTPConnection(host, port, timeout=60)
                reused = False
            mine.append((time.perf_counter() - t0) * 1000)
            failed += status != 200
        conn.close()
        with lock:
            latencies.extend(mine)
            errors += failed

    threads = [
        threading.Thread(target=client, args=(n * len(paths) // clients,)) for n in range(clients)
    ]
    for thread in threads:
        thread.start()
    began = time.monotonic()
    deadline = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    return {
        "requests": len(latencies),
        "errors": errors,
        "per_second": len(latencies) / elapsed,
        "p50": _percentile(latencies, 50),
        "p95": _percentile(latencies, 95),
        "p99": _percentile(latencies, 99),
    }


def timings(fetch: Callable[[], object], repeat: int) -> list[float]:
    fetch()  # warm: searcher open, templates compiled
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fetch()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def p(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


def bench_pages(root: Path, repeat: int) -> None:
    """Each search page one request at a time, beside a static file and the library."""
    from photoarchive import open_archive

    proc, base = start_desk(root, workers=1)
    try:

        def get(path: str) -> Callable[[], bytes]:
            return lambda: urllib.request.urlopen(base + path).read()

        static = timings(get("/static/desk.css"), repeat)
        print(f"{'request':<48} {'p50 ms':>8} {'p95 ms':>8} {'x static':>9}")
        print(
            f"{'static file (server floor)':<48} {p(static, 50):8.1f} {p(static, 95):8.1f} "
            f"{1.0:9.1f}"
        )
        with open_archive(root, readonly=True) as arc:
            for query, rights in QUERIES:
                verdicts = [rights] if rights else None

                def search(q: str = query, v: list[str] | None = verdicts) -> object:
                    return arc.search(q, limit=20, verdicts=v)

                lib = timings(search, repeat)
                url = f"/?q={quote(query)}" + (f"&rights={rights}" if rights else "")
                page = timings(get(url), repeat)
                hits = arc.search(query, limit=20, verdicts=verdicts).total
                label = query + (f" [{rights}]" if rights else "")
                print(
                    f"{'library search ' + label:<48} {p(lib, 50):8.1f} {p(lib, 95):8.1f} "
                    f"{p(lib, 50) / p(static, 50):9.1f}"
                )
                print(
                    f"{'search page /?q=' + label + f' ({hits} hits)':<48} "
                    f"{p(page, 50):8.1f} {p(page, 95):8.1f} {p(page, 50) / p(static, 50):9.1f}"
                )
    finally:
        stop_desk(proc)


def load_paths(root: Path) -> list[str]:
    """The mixed load: a search page for each of LOAD_QUERIES and one photo's page."""
    from photoarchive import open_archive

    with open_archive(root, readonly=True) as arc:
        photo = arc.search("tank", limit=1).results[0].record.id
    return [f"/?q={quote(q)}" for q in LOAD_QUERIES] + [f"/photos/{photo}"]


def bench_load(root: Path, workers: int, clients: int, seconds: float) -> None:
    """The mixed load against a desk of one worker process, then one of `workers`."""
    paths = load_paths(root)
    print(f"{clients} clients for {seconds:g} s each, round-robin over: {' '.join(paths)}")
    print(
        f"{'desk':<22} {'requests':>9} {'errors':>7} {'per s':>7} {'p50 ms':>8} {'p95 ms':>8} "
        f"{'p99 ms':>8}  CPU s per worker"
    )
    rows = []
    for count in dict.fromkeys((1, workers)):
        proc, base = start_desk(root, workers=count)
        try:
            load(base, paths, clients=clients, seconds=min(3.0, seconds))  # warm each worker
            pids = _children(proc.pid)
            before = {pid: _cpu_seconds(pid) for pid in pids}
            figures = load(base, paths, clients=clients, seconds=seconds)
            cpu = " ".join(f"{_cpu_seconds(pid) - before[pid]:.1f}" for pid in pids)
        finally:
            stop_desk(proc)
        rows.append(figures)
        name = f"--workers {count}" + (" (one process)" if count == 1 else "")
        print(
            f"{name:<22} {figures['requests']:>9,} {figures['errors']:>7,} "
            f"{figures['per_second']:>7.1f} {figures['p50']:>8.1f} {figures['p95']:>8.1f} "
            f"{figures['p99']:>8.1f}  {cpu}",
            flush=True,
        )
    if len(rows) == 2:
        one, many = rows
        ratio = many["per_second"] / one["per_second"]
        print(
            f"--workers {workers} against 1: throughput x{ratio:.2f}, "
            f"p95 x{many['p95'] / one['p95']:.2f}, p99 x{many['p99'] / one['p99']:.2f}"
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--clients", type=int, help="measure the desk under load instead")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--workers", type=int, help="worker processes against one (under load)")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent))  # scripts/bench.py

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "archive"
        t0 = time.perf_counter()
        fill(root, args.photos)
        print(
            f"entered {args.photos:,} photos in {time.perf_counter() - t0:.1f} s", file=sys.stderr
        )
        if args.clients:
            from photoarchive.web.server import default_workers

            workers = args.workers or default_workers()
            bench_load(root, workers, args.clients, args.seconds)
        else:
            bench_pages(root, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main())
