#!/usr/bin/env python3
"""The object-storage section of scripts/bench.py: an archive whose originals and renditions
are on S3 (`init --storage s3://BUCKET/PREFIX`) beside one that keeps them in its folder,
measured in the same run, taking turns.

1. Ingest: the same --files JPEGs (noise, --size, quality 90: a few MB each, made once into
   a temporary folder) by `photoarchive ingest -j J` for each J in --jobs, into a fresh
   archive in the folder and into a fresh archive on a fresh bucket, --rounds rounds, each
   round starting with the other kind. Median seconds, photos/s, MB/s, S3 / folder.
2. Thumbnails on the desk: the archives of the last ingest round, served by a real
   `photoarchive serve` (gunicorn, --desk-workers processes, a free port) three ways: the
   folder archive through the desk; the S3 archive through the desk (it reads the object
   and sends it); the S3 archive with --renditions-by-link (the desk answers with a 302 to
   a presigned URL and the client fetches that from the store itself: both timed together,
   and the desk's redirect alone). Each way, in turns over --rounds rounds, a desk started
   afresh: every thumbnail once (first fetch from that desk), then --requests random
   thumbnails one at a time, then --clients threads for --seconds (after 2 s of the same
   load untimed, so that every worker process has served). The client is Python's
   http.client, one keep-alive connection per host per client thread (the desk's, and in
   the link way the store's too). Latency p50/p95/p99 and thumbnails per second; the CPU
   time the desk's processes, the S3 server (radosgw, when one runs on this machine) and
   the client used per thumbnail under load.

Run it through bench.py (`python scripts/bench.py --s3 [--files 60] [--rounds 3]
[--jobs 1,2] [--requests 300] [--clients 8] [--seconds 10] [--endpoint URL]`). The server
is --endpoint, else $PHOTOARCHIVE_TEST_S3 (what `bash scripts/ceph.sh start` prints, with
the credentials in AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY). Every bucket and folder it
makes is removed at the end, also on Ctrl-C or SIGTERM. Markdown on stdout, progress on
stderr.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# The test server's client and bucket emptying, shared with the tests.
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.objectstore import empty_bucket, s3_client

KINDS = ("folder", "s3")
# The desk's three ways: (name, archive kind, --renditions-by-link).
WAYS = (
    ("folder, through the desk", "folder", False),
    ("S3, through the desk", "s3", False),
    ("S3, by link (302 + store GET)", "s3", True),
)
# A fourth turn of each round, without a desk: the thumbnails' presigned URLs fetched from
# the store itself, on one kept-alive connection and on a new connection each.
STORE = "the store alone"
# Where the archive's files, catalog and index go is said on the command line only: not
# from the caller's environment (init would follow $PHOTOARCHIVE_STORAGE and the others).
ENV = {
    k: v
    for k, v in os.environ.items()
    if k not in ("PHOTOARCHIVE_STORAGE", "PHOTOARCHIVE_CATALOG", "PHOTOARCHIVE_SEARCH_ENGINE")
}
# Seconds a desk may take to start answering.
START_SECONDS = 60.0
# Seconds of untimed load before each measured one.
WARM_SECONDS = 2.0


def options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.py --s3")
    parser.add_argument("--s3", action="store_true")
    parser.add_argument("--files", type=int, default=60, help="photos ingested")
    parser.add_argument("--size", default="3000x2000", help="their size, WIDTHxHEIGHT")
    parser.add_argument("--rounds", type=int, default=3, help="rounds taking turns")
    parser.add_argument("--jobs", default="1,2", help="ingest -j values")
    parser.add_argument("--requests", type=int, default=300, help="sequential, per round")
    parser.add_argument("--clients", type=int, default=8, help="concurrent client threads")
    parser.add_argument("--seconds", type=float, default=10.0, help="of each concurrent load")
    # The desk's own default: one worker process per core, 2 to 8.
    parser.add_argument("--desk-workers", type=int, default=max(2, min(8, os.cpu_count() or 1)))
    parser.add_argument("--endpoint", default=os.environ.get("PHOTOARCHIVE_TEST_S3", ""))
    args = parser.parse_args(argv)
    try:
        width, height = (int(n) for n in args.size.lower().split("x"))
    except ValueError:
        parser.error("--size: WIDTHxHEIGHT, e.g. 3000x2000")
    args.width, args.height = width, height
    args.job_counts = [int(n) for n in args.jobs.split(",") if n.strip()]
    if args.files < 1 or args.rounds < 1 or args.requests < 1 or args.clients < 1:
        parser.error("--files, --rounds, --requests and --clients must be at least 1")
    return args


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def make_photos(folder: Path, count: int, width: int, height: int) -> list[Path]:
    """Distinct JPEGs of noise at quality 90: noise of half the size scaled up, which
    compresses like a detailed news photo (about 4.5 MB at 3000 x 2000)."""
    from PIL import Image

    folder.mkdir(parents=True)
    made = []
    half = (max(1, width // 2), max(1, height // 2))
    for n in range(count):
        rng = random.Random(n)
        noise = Image.frombytes("RGB", half, rng.randbytes(half[0] * half[1] * 3))
        path = folder / f"frame{n:03d}.jpg"
        noise.resize((width, height), Image.Resampling.BICUBIC).save(path, quality=90)
        made.append(path)
    return made


# -- buckets ---------------------------------------------------------------------------------
class Buckets:
    """The buckets this run makes on the server, each removed with its objects by drop();
    drop_all() removes whatever is left."""

    def __init__(self, endpoint: str) -> None:
        self.client: Any = s3_client(endpoint)
        self.made: list[str] = []

    def check(self) -> None:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            self.client.list_buckets()
        except (BotoCoreError, ClientError) as exc:
            raise SystemExit(
                f"the S3 server does not answer as it should: {exc}; run "
                "'eval \"$(bash scripts/ceph.sh start)\"' (it gives the credentials too)"
            ) from None

    def new(self) -> str:
        name = f"pa-bench-{secrets.token_hex(6)}"
        self.client.create_bucket(Bucket=name)
        self.made.append(name)
        return name

    def drop(self, name: str) -> None:
        empty_bucket(self.client, name)
        self.client.delete_bucket(Bucket=name)
        self.made.remove(name)

    def drop_all(self) -> None:
        for name in list(self.made):
            try:
                self.drop(name)
            except Exception as exc:  # the others are still to go
                say(f"could not remove bucket {name}: {exc}")


# -- ingest ----------------------------------------------------------------------------------
@dataclass
class Archive:
    root: Path
    bucket: str | None
    ids: list[str] = field(default_factory=list)


def photoarchive(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "photoarchive", "--archive", str(root), *args],
        capture_output=True,
        text=True,
        env=ENV,
    )
    if done.returncode:
        raise SystemExit(f"photoarchive {' '.join(args)} failed: {done.stderr.strip()}")
    return done


def ingest(
    where: Path, files: Path, count: int, jobs: int, kind: str, buckets: Buckets, endpoint: str
) -> tuple[float, Archive]:
    """Time `ingest -j jobs` of the folder `files` into a fresh archive: its files in its
    folder, or on a fresh bucket. The archive's init is not timed."""
    tag = secrets.token_hex(4)
    archive = Archive(where / f"archive-{kind}-{tag}", None)
    storage: tuple[str, ...] = ()
    if kind == "s3":
        archive.bucket = buckets.new()
        storage = ("--storage", f"s3://{archive.bucket}/desk", "--storage-endpoint", endpoint)
    photoarchive(archive.root, "init", *storage)
    started = time.perf_counter()
    done = photoarchive(archive.root, "ingest", str(files), "-j", str(jobs), "--json")
    took = time.perf_counter() - started
    outcomes = json.loads(done.stdout)
    archive.ids = [o["id"] for o in outcomes if o["status"] == "new"]
    if len(archive.ids) != count:
        odd = [o for o in outcomes if o["status"] != "new"][:3]
        raise SystemExit(f"ingest into {kind}: {len(archive.ids)} of {count} new: {odd}")
    return took, archive


def discard(archive: Archive, buckets: Buckets) -> None:
    if archive.bucket:
        buckets.drop(archive.bucket)
    shutil.rmtree(archive.root, ignore_errors=True)


# -- the desk --------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def children(pid: int) -> list[int]:
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


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU seconds the processes have used so far."""
    total = 0.0
    for pid in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return total


def radosgw_pids() -> list[int]:
    """The radosgw processes on this machine (the test server's gateway), if any."""
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                argv0 = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")[0]
            except OSError:
                continue
            if os.path.basename(argv0) == b"radosgw":
                found.append(int(entry))
    return found


class Desk:
    """`photoarchive serve` on a free port, its messages in a log file; stop() sends
    SIGTERM (SIGKILL if it has not ended in 15 s)."""

    def __init__(self, root: Path, workers: int, by_link: bool, log: Path) -> None:
        self.port = free_port()
        command = [sys.executable, "-m", "photoarchive", "--archive", str(root), "serve"]
        command += ["--port", str(self.port), "--workers", str(workers)]
        if by_link:
            command.append("--renditions-by-link")
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(command, stdout=out, stderr=out, env=ENV)
        try:
            self._wait(workers)
        except BaseException:  # Ctrl-C or SIGTERM while it starts too: stop it first
            self.stop()
            raise

    def _wait(self, workers: int) -> None:
        """Return once the desk answers and all its worker processes are up."""
        base = f"http://127.0.0.1:{self.port}"
        deadline = time.monotonic() + START_SECONDS
        while True:
            if self.proc.poll() is not None:
                raise SystemExit(f"the desk ended at start ({self.proc.returncode}): {self.tail()}")
            try:
                with urllib.request.urlopen(base + "/", timeout=10) as response:
                    if response.status == 200 and len(children(self.proc.pid)) >= workers:
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"the desk did not answer within {START_SECONDS:g} s")
            time.sleep(0.05)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-2000:]

    def pids(self) -> list[int]:
        return [self.proc.pid, *children(self.proc.pid)]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class Client:
    """One browser's view of thumbnails: a keep-alive connection to the desk and, for
    redirects, one to the store. get() returns (ms in all, ms of the desk's answer, ok)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.desk = self._connect("127.0.0.1", port)
        self.store: http.client.HTTPConnection | None = None
        self.store_at: tuple[str, int] | None = None

    @staticmethod
    def _connect(host: str, port: int) -> http.client.HTTPConnection:
        return http.client.HTTPConnection(host, port, timeout=60)

    def _fetch(self, which: str, path: str) -> tuple[int, str, bytes]:
        """GET path on a kept-alive connection and return (status, Location, body); once
        again on a new connection if the server closed the old one while it was idle (as
        a browser does)."""
        for attempt in (1, 2):
            conn = self.desk if which == "desk" else self.store
            assert conn is not None
            try:
                conn.request("GET", path)
                response = conn.getresponse()
                return response.status, response.getheader("Location", ""), response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                conn.close()  # http.client connects again on the next request
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def get(self, photo_id: str) -> tuple[float, float, bool]:
        started = time.perf_counter()
        desk_ms = 0.0
        try:
            status, location, body = self._fetch("desk", f"/photos/{photo_id}/thumb.jpg")
            desk_ms = (time.perf_counter() - started) * 1000
            if status == 302:
                target = urlsplit(location)
                at = (target.hostname or "", target.port or 80)
                if self.store is None or self.store_at != at:
                    if self.store is not None:
                        self.store.close()
                    self.store, self.store_at = self._connect(*at), at
                status, _, body = self._fetch("store", f"{target.path}?{target.query}")
            ok = status == 200 and body[:2] == b"\xff\xd8"
        except (OSError, http.client.HTTPException):
            desk_ms = desk_ms or (time.perf_counter() - started) * 1000
            ok = False
            self.close()
            self.desk = self._connect("127.0.0.1", self.port)
        return (time.perf_counter() - started) * 1000, desk_ms, ok

    def close(self) -> None:
        self.desk.close()
        if self.store is not None:
            self.store.close()
            self.store = None


@dataclass
class Figures:
    """Latencies (ms) of one way, over every round: the whole fetch and the desk's part."""

    first: list[float] = field(default_factory=list)
    first_desk: list[float] = field(default_factory=list)
    seq: list[float] = field(default_factory=list)
    seq_desk: list[float] = field(default_factory=list)
    seq_rates: list[float] = field(default_factory=list)
    load: list[float] = field(default_factory=list)
    load_desk: list[float] = field(default_factory=list)
    load_rates: list[float] = field(default_factory=list)
    errors: int = 0
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds under load, by who
    load_count: int = 0


def sequential(port: int, ids: list[str], figures: Figures, requests: int, seed: int) -> None:
    client = Client(port)
    try:
        # Every thumbnail once, in a random order: the first fetch of each from this desk.
        order = list(ids)
        random.Random(seed).shuffle(order)
        for photo_id in order:
            total, desk, ok = client.get(photo_id)
            figures.first.append(total)
            figures.first_desk.append(desk)
            figures.errors += not ok
        rng = random.Random(seed + 1)
        began = time.perf_counter()
        for _ in range(requests):
            total, desk, ok = client.get(rng.choice(ids))
            figures.seq.append(total)
            figures.seq_desk.append(desk)
            figures.errors += not ok
        figures.seq_rates.append(requests / (time.perf_counter() - began))
    finally:
        client.close()


def concurrent(
    desk: Desk, ids: list[str], figures: Figures, clients: int, seconds: float, seed: int
) -> None:
    lock = threading.Lock()
    start = threading.Barrier(clients + 1)
    deadline = 0.0

    def run_client(n: int) -> None:
        rng = random.Random(seed * 1000 + n)
        client = Client(desk.port)
        mine: list[tuple[float, float, bool]] = []
        start.wait()
        while time.monotonic() < deadline:
            mine.append(client.get(rng.choice(ids)))
        client.close()
        with lock:
            figures.load.extend(m[0] for m in mine)
            figures.load_desk.extend(m[1] for m in mine)
            figures.errors += sum(not m[2] for m in mine)

    threads = [threading.Thread(target=run_client, args=(n,), daemon=True) for n in range(clients)]
    for thread in threads:
        thread.start()
    gateways = radosgw_pids()
    before = {
        "desk": cpu_seconds(desk.pids()),
        "radosgw": cpu_seconds(gateways),
        "client": time.process_time(),
    }
    done_before = len(figures.load)
    began = time.monotonic()
    deadline = began + seconds
    start.wait()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - began
    count = len(figures.load) - done_before
    figures.load_rates.append(count / elapsed)
    figures.load_count += count
    after = {
        "desk": cpu_seconds(desk.pids()),
        "radosgw": cpu_seconds(gateways),
        "client": time.process_time(),
    }
    for who in before:
        if who == "radosgw" and not gateways:
            continue
        figures.cpu[who] = figures.cpu.get(who, 0.0) + after[who] - before[who]


# -- the run ---------------------------------------------------------------------------------
def pct(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0] if values else float("nan")
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def load_average() -> str:
    try:
        return " ".join(f"{v:.1f}" for v in os.getloadavg())
    except OSError:
        return "?"


def run(args: argparse.Namespace) -> None:
    if not args.endpoint:
        raise SystemExit(
            "no S3 server: give --endpoint URL or run 'eval \"$(bash scripts/ceph.sh start)\"'"
        )
    # SIGTERM ends the run as Ctrl-C does: through the finally clauses that clean up.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    buckets = Buckets(args.endpoint)
    buckets.check()
    started_load = load_average()
    try:
        try:
            with tempfile.TemporaryDirectory(prefix="pa-bench-s3-") as tmp:
                measure(args, Path(tmp), buckets)
        finally:
            buckets.drop_all()
    except KeyboardInterrupt:
        say("interrupted: its desks stopped, its buckets and temporary folder removed")
        raise SystemExit(130) from None
    say(f"done; load average at the start {started_load}, now {load_average()}")


def measure(args: argparse.Namespace, where: Path, buckets: Buckets) -> None:
    files = where / "incoming"
    say(f"making {args.files} photos ({args.width} x {args.height})")
    made = make_photos(files, args.files, args.width, args.height)
    megabytes = sum(p.stat().st_size for p in made) / 1e6
    say(f"  {megabytes:.0f} MB, {megabytes / args.files:.2f} MB each on average")
    times: dict[tuple[str, int], list[float]] = {}
    kept: dict[str, Archive] = {}
    for r in range(args.rounds):
        for jobs in args.job_counts:
            order = KINDS[r % 2 :] + KINDS[: r % 2]  # each round starting with the other
            for kind in order:
                say(f"round {r + 1}: ingest -j {jobs} into {kind}")
                took, archive = ingest(where, files, args.files, jobs, kind, buckets, args.endpoint)
                say(f"  {took:.1f} s")
                times.setdefault((kind, jobs), []).append(took)
                # The last archive of each kind stays for the desk; the others go at once
                # (the test server keeps its objects in memory).
                if kind in kept:
                    discard(kept[kind], buckets)
                kept[kind] = archive
    print_ingest(args, times, megabytes)
    desk_section(args, where, kept, buckets)


def print_ingest(
    args: argparse.Namespace, times: dict[tuple[str, int], list[float]], megabytes: float
) -> None:
    print(
        f"\n## Ingest, folder vs S3: {args.files} JPEGs ({args.width} x {args.height}, "
        f"quality 90, {megabytes / args.files:.1f} MB each, {megabytes:.0f} MB in all); "
        f"medians of {args.rounds} round(s) taking turns; {os.cpu_count()} cores\n"
    )
    print(f"S3: {args.endpoint}, a fresh bucket and archive for each measure.\n")
    print(
        "| ingest -j | folder s | photos/s | MB/s | S3 s | photos/s | MB/s | S3 / folder (time) |"
    )
    print("|---" * 8 + "|")
    for jobs in args.job_counts:
        folder = statistics.median(times[("folder", jobs)])
        s3 = statistics.median(times[("s3", jobs)])
        print(
            f"| {jobs} | {folder:.1f} | {args.files / folder:.1f} | {megabytes / folder:.1f} "
            f"| {s3:.1f} | {args.files / s3:.1f} | {megabytes / s3:.1f} | {s3 / folder:.2f} |"
        )
    print("\nEach measure (s), in run order:\n")
    for kind in KINDS:
        for jobs in args.job_counts:
            each = ", ".join(f"{t:.1f}" for t in times[(kind, jobs)])
            print(f"- {kind}, -j {jobs}: {each}")
    sys.stdout.flush()


def store_urls(buckets: Buckets, bucket: str) -> list[str]:
    """Presigned URLs (an hour) of the thumbnails in the bucket, as the desk would sign."""
    urls = []
    for page in buckets.client.get_paginator("list_objects_v2").paginate(Bucket=bucket):
        for item in page.get("Contents", []):
            if item["Key"].endswith("-thumb.jpg"):
                urls.append(
                    buckets.client.generate_presigned_url(
                        "get_object", Params={"Bucket": bucket, "Key": item["Key"]}, ExpiresIn=3600
                    )
                )
    return urls


@dataclass
class StoreFigures:
    kept: list[float] = field(default_factory=list)
    kept_rates: list[float] = field(default_factory=list)
    new: list[float] = field(default_factory=list)
    new_rates: list[float] = field(default_factory=list)
    errors: int = 0


def store_probe(urls: list[str], figures: StoreFigures, requests: int, seed: int) -> None:
    """GET random thumbnails from the store by their presigned URLs, `requests` on one
    kept-alive connection, then `requests` on a new connection each."""
    rng = random.Random(seed + 2)
    first = urlsplit(urls[0])
    host, port = first.hostname or "", first.port or 80
    for kept_alive, times, rates in (
        (True, figures.kept, figures.kept_rates),
        (False, figures.new, figures.new_rates),
    ):
        conn = http.client.HTTPConnection(host, port, timeout=60)
        began = time.perf_counter()
        for _ in range(requests):
            target = urlsplit(rng.choice(urls))
            started = time.perf_counter()
            try:
                if not kept_alive:
                    conn.close()
                conn.request("GET", f"{target.path}?{target.query}")
                response = conn.getresponse()
                body = response.read()
                ok = response.status == 200 and body[:2] == b"\xff\xd8"
            except (OSError, http.client.HTTPException):
                conn.close()
                ok = False
            times.append((time.perf_counter() - started) * 1000)
            figures.errors += not ok
        rates.append(requests / (time.perf_counter() - began))
        conn.close()


def desk_section(
    args: argparse.Namespace, where: Path, kept: dict[str, Archive], buckets: Buckets
) -> None:
    results = {name: Figures() for name, _, _ in WAYS}
    store = StoreFigures()
    bucket = kept["s3"].bucket
    assert bucket is not None
    urls = store_urls(buckets, bucket)
    if len(urls) != args.files:
        raise SystemExit(f"{len(urls)} thumbnails in {bucket}, not {args.files}")
    steps: list[tuple[str, str, bool]] = [*WAYS, (STORE, "s3", False)]
    for r in range(args.rounds):
        for name, kind, by_link in steps[r % len(steps) :] + steps[: r % len(steps)]:
            if name == STORE:
                say(f"round {r + 1}: {STORE}")
                store_probe(urls, store, args.requests, seed=r)
                say(
                    f"  kept-alive p50 {pct(store.kept[-args.requests :], 50):.1f} ms, "
                    f"a new connection each p50 {pct(store.new[-args.requests :], 50):.1f} ms"
                )
                continue
            say(f"round {r + 1}: desk, {name}")
            archive = kept[kind]
            desk = Desk(archive.root, args.desk_workers, by_link, where / "desk.log")
            try:
                figures = results[name]
                sequential(desk.port, archive.ids, figures, args.requests, seed=r)
                # Untimed, so that every worker process has served (one connection mostly
                # reaches one): a worker's first thumbnail on S3 waits for its S3 client.
                warm = min(WARM_SECONDS, args.seconds)
                concurrent(desk, archive.ids, Figures(), args.clients, warm, seed=r + 100)
                concurrent(desk, archive.ids, figures, args.clients, args.seconds, seed=r)
                say(
                    f"  sequential p50 {pct(figures.seq[-args.requests :], 50):.1f} ms, "
                    f"load {figures.load_rates[-1]:.0f}/s, errors so far {figures.errors}"
                )
            finally:
                desk.stop()
    print_desk(args, results, store)


def print_desk(args: argparse.Namespace, results: dict[str, Figures], store: StoreFigures) -> None:
    print(
        f"\n## Thumbnails on the desk: {args.files} photos, `serve --workers "
        f"{args.desk_workers}` (gthread, 4 threads each), {args.rounds} round(s) taking "
        f"turns, a desk started afresh for each; {os.cpu_count()} cores\n"
    )
    print(
        "Client: Python http.client in this process, one keep-alive connection per host per "
        "client (the desk's, and by link also the store's). A thumbnail by link is the "
        "desk's 302 and the GET of the presigned URL from the store, timed together; "
        '"redirect alone" is the desk\'s part of it. Every response is checked (200 and '
        "JPEG bytes, after the redirect).\n"
    )
    base = results[WAYS[0][0]]
    rows: list[tuple[str, Figures, str]] = []
    for name, _, by_link in WAYS:
        rows.append((name, results[name], "all"))
        if by_link:
            rows.append(("S3, by link: the redirect alone", results[name], "desk"))
    print(
        f"### One at a time: each thumbnail once (first fetch from a fresh desk, its first "
        f"request included), then {args.requests} random thumbnails (warm) per round\n"
    )
    print(
        "| way | first fetch p50 ms | p95 | p99 | warm p50 ms | p95 | p99 | thumbnails/s "
        "| warm p50 x folder |"
    )
    print("|---" * 9 + "|")
    for name, f, part in rows:
        first = f.first if part == "all" else f.first_desk
        warm = f.seq if part == "all" else f.seq_desk
        rate = f"{statistics.median(f.seq_rates):.0f}" if part == "all" else "-"
        print(
            f"| {name} | {pct(first, 50):.1f} | {pct(first, 95):.1f} | {pct(first, 99):.1f} "
            f"| {pct(warm, 50):.1f} | {pct(warm, 95):.1f} | {pct(warm, 99):.1f} | {rate} "
            f"| {pct(warm, 50) / pct(base.seq, 50):.2f} |"
        )
    for name, times, rates in (
        (f"{STORE}: presigned GET, one kept-alive connection", store.kept, store.kept_rates),
        (f"{STORE}: presigned GET, a new connection each", store.new, store.new_rates),
    ):
        print(
            f"| {name} | - | - | - | {pct(times, 50):.1f} | {pct(times, 95):.1f} "
            f"| {pct(times, 99):.1f} | {statistics.median(rates):.0f} "
            f"| {pct(times, 50) / pct(base.seq, 50):.2f} |"
        )
    print(
        f"\n### {args.clients} clients at once for {args.seconds:g} s per round (random "
        f"thumbnails; warm: after the above and {min(WARM_SECONDS, args.seconds):g} s of the "
        "same load untimed, so that every worker process has served)\n"
    )
    print(
        "| way | thumbnails | errors | thumbnails/s | p50 ms | p95 | p99 "
        "| CPU ms per thumbnail: desk / radosgw / client |"
    )
    print("|---" * 8 + "|")
    for name, f, part in rows:
        lat = f.load if part == "all" else f.load_desk
        if part == "all":
            n = max(1, f.load_count)
            cpu = " / ".join(
                f"{f.cpu[who] * 1000 / n:.1f}" if who in f.cpu else "-"
                for who in ("desk", "radosgw", "client")
            )
            count, errors = f"{f.load_count:,}", str(f.errors)
            rate = f"{statistics.median(f.load_rates):.0f}"
        else:
            count = errors = rate = cpu = "-"
        print(
            f"| {name} | {count} | {errors} | {rate} | {pct(lat, 50):.1f} | {pct(lat, 95):.1f} "
            f"| {pct(lat, 99):.1f} | {cpu} |"
        )
    print(
        "\nthumbnails/s: median of the rounds; percentiles over every round's requests; errors "
        "over the whole way (one at a time and under load). radosgw's CPU is the whole "
        f"gateway's, with whatever else used it at the time. {STORE.capitalize()}: the same "
        f"thumbnails' presigned URLs fetched without a desk ({store.errors} errors).\n"
    )
    print("Thumbnails/s under load, each round in run order:\n")
    for name, _, _ in WAYS:
        each = ", ".join(f"{v:.0f}" for v in results[name].load_rates)
        print(f"- {name}: {each}")
    sys.stdout.flush()


if __name__ == "__main__":
    run(options(sys.argv[1:]))
