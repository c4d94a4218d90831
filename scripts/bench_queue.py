#!/usr/bin/env python3
"""The queue section of scripts/bench.py: ingest through the PostgreSQL queue by 1, 2 and 3
`photoarchive worker` processes, beside the direct `photoarchive ingest -j N` of the same files
with as many processes, taking turns in the same run. Three ways for each count of processes:

- direct: `ingest -j N`, the catalog in the folder (catalog.sqlite) and the Whoosh index;
- queue: `ingest --queue` + N workers, the catalog and index in the folder as above;
- server: `ingest --queue` + N workers, the catalog and so the search index (the PostgreSQL
  engine) also on the server, in the measure's database beside the queue (init --catalog).

Run it through bench.py (`python scripts/bench.py --queue [--files 60] [--rounds 3]
[--postgres URL]`). The server is --postgres, else $PHOTOARCHIVE_TEST_POSTGRES (what
`bash scripts/postgres.sh start` prints); each measure gets a fresh database and a fresh
archive. The files are JPEGs of noise (distinct photos, 1600 x 1200), made once into a
temporary folder. Markdown on stdout, progress on stderr.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WAYS = ("direct", "queue", "server")
HEADS = {
    "direct": "`ingest -j N`, catalog in the folder",
    "queue": "`ingest --queue` + N workers, catalog in the folder",
    "server": "`ingest --queue` + N workers, catalog and index on PostgreSQL",
}
# Where the archive's catalog goes is said on the command line only: not from the caller's
# environment (init would put the catalog on $PHOTOARCHIVE_CATALOG's server).
ENV = {
    k: v
    for k, v in os.environ.items()
    if k not in ("PHOTOARCHIVE_CATALOG", "PHOTOARCHIVE_SEARCH_ENGINE")
}


def options(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="bench.py --queue")
    parser.add_argument("--queue", action="store_true")
    parser.add_argument("--files", type=int, default=60)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", default="1,2,3")
    parser.add_argument("--ways", default=",".join(WAYS), help="which of " + ", ".join(WAYS))
    parser.add_argument("--postgres", default=os.environ.get("PHOTOARCHIVE_TEST_POSTGRES", ""))
    return parser.parse_args(argv)


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def make_photos(folder: Path, count: int) -> None:
    from PIL import Image

    folder.mkdir(parents=True)
    for n in range(count):
        rng = random.Random(n)
        Image.frombytes("RGB", (1600, 1200), rng.randbytes(1600 * 1200 * 3)).save(
            folder / f"frame{n:03d}.jpg", quality=90
        )


@contextmanager
def fresh_database(base: str) -> Iterator[str]:
    import psycopg

    name = f"pa_bench_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    try:
        yield base.rsplit("/", 1)[0] + "/" + name
    finally:
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


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


def new_archive(where: Path, queue: str | None = None, catalog: str | None = None) -> Path:
    root = where / f"archive-{uuid.uuid4().hex[:8]}"
    photoarchive(root, "init", *(("--catalog", catalog) if catalog else ()))
    if queue:
        settings = root / "archive.toml"
        text = settings.read_text(encoding="utf-8")
        settings.write_text(text.replace("[archive]\n", f'[archive]\nqueue = "{queue}"\n', 1))
    return root


def direct(where: Path, files: Path, jobs: int) -> float:
    root = new_archive(where)
    started = time.perf_counter()
    photoarchive(root, "ingest", str(files), "-j", str(jobs))
    return time.perf_counter() - started


def queued(where: Path, files: Path, workers: int, base: str, on_server: bool) -> float:
    """Time `ingest --queue` and `workers` workers until the queue is empty; the catalog
    (and index) on the measure's database too if on_server, else in the folder."""
    with fresh_database(base) as url:
        root = new_archive(where, url, url if on_server else None)
        started = time.perf_counter()
        photoarchive(root, "ingest", str(files), "--queue")
        command = [sys.executable, "-m", "photoarchive", "--archive", str(root), "worker"]
        running = [
            subprocess.Popen([*command, "--until-empty"], stderr=subprocess.DEVNULL, env=ENV)
            for _ in range(workers)
        ]
        for process in running:
            if process.wait():
                raise SystemExit(f"a worker failed (exit {process.returncode})")
        return time.perf_counter() - started


def run(args: argparse.Namespace) -> None:
    if not args.postgres:
        raise SystemExit(
            "no PostgreSQL server: give --postgres URL or run 'bash scripts/postgres.sh start' "
            "and export what it prints"
        )
    counts = [int(n) for n in args.workers.split(",")]
    ways = [w.strip() for w in args.ways.split(",") if w.strip()]
    if not ways or any(w not in WAYS for w in ways):
        raise SystemExit(f"--ways: some of {', '.join(WAYS)}")
    with tempfile.TemporaryDirectory(prefix="pa-bench-queue-") as tmp:
        where = Path(tmp)
        files = where / "incoming"
        say(f"making {args.files} photos")
        make_photos(files, args.files)
        times: dict[tuple[str, int], list[float]] = {}
        for r in range(args.rounds):
            for n in counts:
                # Taking turns, each round starting with the next way.
                order = ways[r % len(ways) :] + ways[: r % len(ways)]
                for kind in order:
                    say(f"round {r + 1}: {kind}, {n} process(es)")
                    took = (
                        direct(where, files, n)
                        if kind == "direct"
                        else queued(where, files, n, args.postgres, kind == "server")
                    )
                    say(f"  {took:.1f} s")
                    times.setdefault((kind, n), []).append(took)
    print(
        f"\n## Ingest through the queue: {args.files} JPEGs (1600 x 1200), medians of "
        f"{args.rounds} rounds taking turns; {os.cpu_count()} cores\n"
    )
    base = "direct" if "direct" in ways else None
    head = "| processes |" + "".join(f" {HEADS[w]} s | photos/s |" for w in ways)
    ratios = [w for w in ways if base and w != base]
    head += "".join(f" {w} / direct |" for w in ratios)
    print(head)
    print("|---" * (1 + 2 * len(ways) + len(ratios)) + "|")
    for n in counts:
        med = {w: statistics.median(times[(w, n)]) for w in ways}
        line = f"| {n} |" + "".join(f" {med[w]:.1f} | {args.files / med[w]:.1f} |" for w in ways)
        line += "".join(f" {med[w] / med['direct']:.2f} |" for w in ratios)
        print(line)
    print("\nEach measure (s), in run order by round:\n")
    for w in ways:
        for n in counts:
            each = ", ".join(f"{t:.1f}" for t in times[(w, n)])
            print(f"- {w}, {n}: {each}")


if __name__ == "__main__":
    run(options(sys.argv[1:]))
