#!/usr/bin/env python3
"""Benchmark photoarchive at newsroom scale and print the figures, each beside a baseline
measured in the same run.

1. Ingest of a corpus it makes (24 MP and 10 MP JPEGs with IIM/XMP captions) with 1 and 2
   jobs, against the floor: the same renditions made from the same files in a tight loop with
   the same number of processes, plus hashing. Peak memory (all processes) of the ingest.
2. Search latency at 10,000 and 100,000 synthetic catalog entries (entered through the
   library, no image files): one word, two words, a phrase, credit: plus a word, a date range;
   through the library with a warm searcher and through the CLI end to end; the same queries
   on SQLite FTS5 over the same documents as a peer figure.
3. reindex time at the largest size, and `photoarchive --help` start-up time.
4. `duplicates` at each size, and at 10,000 the same grouping with every pair compared.
5. With --scale, instead of the above: search at 1,000,000 photos (scripts/bench_scale.py).
   A corpus of news-style captions (38 words on average, Zipf vocabulary of 30,000 words,
   planted query words, eight credits, dates over two years) entered through the library
   and cached in --cache (keyed by generator version and size; built once, niced): tantivy
   at --scale-size (1,000,000) and at --scale-small (300,000), Whoosh at --scale-small, the
   code before this work (commit d8259f0, a git worktree in the cache) with its own Whoosh
   index at --scale-small, SQLite FTS5 (porter) at both sizes as the peer. Measured, every
   engine in turn per query class: reindex time and peak memory; each query class in
   process (warm), through the CLI (and again with `photoarchive searchd` running) and on
   the desk page; the desk under load (--load-clients for --load-seconds); the every-photo
   query before and after; CLI start-up before and after. Markdown tables on stdout,
   progress on stderr. The first run builds the cache (hours at full size); later runs take
   about 20 minutes.
6. With --analysis, instead of the above: the search analysis, the code before it against
   today's at 100,000 photos, taking turns (scripts/bench_analysis.py; options there).
7. With --queue, instead of the above: ingest through the PostgreSQL queue by 1, 2 and 3
   workers beside `ingest -j N`, taking turns; the catalog in the folder, then also on the
   server (scripts/bench_queue.py; options there).
8. With --postgresql, instead of the above: search p50/p95 of the PostgreSQL engine beside
   Whoosh and tantivy at --size photos in one run, the built indexes cached for later runs
   (scripts/bench_pg_search.py; options there).
9. With --s3, instead of the above: an archive's files on S3-compatible object storage beside
   the folder, taking turns: ingest -j 1 and 2 of the same JPEGs, and thumbnail latency on the
   desk (the folder, S3 through the desk, S3 by presigned link) one at a time and under load
   (scripts/bench_s3.py; options there).

    python scripts/bench.py [--large 20 --medium 20] [--entries 10000,100000] [--repeat 30]
    python scripts/bench.py --scale [--cache ~/.cache/photoarchive-bench]
        [--scale-size 1000000 --scale-small 300000] [--repeat 30 --cli-repeat 7]
        [--desk-workers CORES --desk-repeat 20 --load-clients 8 --load-seconds 20]
        [--no-tantivy-small] [--no-baseline] [--skip-reindex]
    python scripts/bench.py --queue [--files 60] [--rounds 3] [--workers 1,2,3]
        [--ways direct,queue,server] [--postgres URL]
    python scripts/bench.py --postgresql [--size 100000] [--engines postgresql,tantivy,whoosh]
        [--repeat 30] [--budget 20] [--keep] [--rebuild] [--memory-limit-gb 12] [--url URL]
    python scripts/bench.py --analysis [--before 9a70973] [--size 100000] [--files 300]
        [--documents 20000] [--rounds 3] [--repeat 30] [--cli-repeat 7] [--cache DIR] [--rebuild]
    python scripts/bench.py --s3 [--files 60] [--size 3000x2000] [--rounds 3] [--jobs 1,2]
        [--requests 300] [--clients 8] [--seconds 10] [--desk-workers N] [--endpoint URL]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

from PIL import Image, ImageDraw

from photoarchive import init_archive, open_archive
from photoarchive.catalog import StoredPhoto
from photoarchive.credits import normalise_agency
from photoarchive.metadata.iptc_writer import embed_in_jpeg, encode_iim, photoshop_resources
from photoarchive.metadata.xmp_writer import build_xmp
from photoarchive.record import PhotoRecord
from photoarchive.renditions import make_renditions

SIZES = {"24MP": (6000, 4000), "10MP": (3872, 2592), "2MP": (1600, 1067)}
WORDS = [
    "tank",
    "river",
    "abandoned",
    "flag",
    "soldier",
    "Izium",
    "Kupiansk",
    "Kharkiv",
    "munitions",
    "lunch",
    "turret",
    "destroyed",
    "forces",
    "village",
    "bridge",
    "convoy",
    "artillery",
    "refugees",
    "train",
    "station",
    "shelling",
    "counteroffensive",
    "drone",
    "trench",
    "volunteers",
    "mayor",
    "hospital",
    "school",
    "market",
    "winter",
]
CREDITS = (
    "REUTERS/Gleb Garanich",
    "AFP",
    "Channel 4",
    "Twitter",
    "AP Photo/Efrem Lukatsky",
    "Getty Images",
    "Staff photographer",
)
# name: (query, the same on FTS5, --cleared-for use). Cleared for editorial use under the
# starter policy: every credit but Channel 4 and Twitter, which need clearance.
QUERIES: dict[str, tuple[str, str | None, str | None]] = {
    "one word": ("tank", "tank", None),
    "two words": ("tank river", "tank AND river", None),
    "phrase": ('"special forces"', '"special forces"', None),
    "credit: + word": ("credit:reuters flag", "credit:reuters AND flag", None),
    "date range": ("date:[2022-01-10 to 2022-01-20]", None, None),
    "word, cleared": ("tank", 'tank NOT credit:twitter NOT credit:"channel 4"', "editorial"),
    "every record": ("ukraine", "ukraine", None),
    "every, cleared": ("ukraine", 'ukraine NOT credit:twitter NOT credit:"channel 4"', "editorial"),
}


# -- corpus ----------------------------------------------------------------------------------
def make_photo(args: tuple[Path, str, int]) -> int:
    path, size_name, n = args
    w, h = SIZES[size_name]
    rng = random.Random(n)
    noise = Image.effect_noise((w, h), 28)
    ramp = Image.linear_gradient("L").resize((w, h))
    im = Image.merge("RGB", (noise, ramp, noise.transpose(Image.Transpose.FLIP_LEFT_RIGHT)))
    draw = ImageDraw.Draw(im)
    for _ in range(30):
        x, y = rng.randrange(w - 400), rng.randrange(h - 300)
        draw.rectangle(
            [x, y, x + rng.randrange(80, 400), y + rng.randrange(60, 300)],
            fill=(rng.randrange(256), rng.randrange(256), rng.randrange(256)),
        )
    values = {
        "caption": f"{' '.join(rng.sample(WORDS, 10))} ({size_name} photo {n})",
        "credit": CREDITS[n % len(CREDITS)],
        "keywords": rng.sample(WORDS, 4),
        "city": "Izium",
        "country": "Ukraine",
        "date_created": "2022-09-11T10:00:00+03:00",
    }
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=90, xmp=build_xmp(values))
    path.write_bytes(embed_in_jpeg(buf.getvalue(), photoshop_resources(encode_iim(values))))
    return path.stat().st_size


def make_corpus(folder: Path, large: int, medium: int) -> list[Path]:
    folder.mkdir(parents=True)
    jobs = [(folder / f"l{n:04}.jpg", "24MP", n) for n in range(large)]
    jobs += [(folder / f"m{n:04}.jpg", "10MP", n) for n in range(medium)]
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(make_photo, jobs))
    return [j[0] for j in jobs]


# -- ingest against the floor -----------------------------------------------------------------
def floor_one(path: Path) -> int:
    data = path.read_bytes()
    hashlib.sha256(data).hexdigest()
    with Image.open(io.BytesIO(data)) as im:
        make_renditions(im, 1280, 320, 85)
    return len(data)


def floor(files: list[Path], jobs: int) -> float:
    started = time.perf_counter()
    if jobs == 1:
        for f in files:
            floor_one(f)
    else:
        with ProcessPoolExecutor(jobs) as pool:
            list(pool.map(floor_one, files, chunksize=1))
    return time.perf_counter() - started


def tree_rss_kb(pid: int) -> int:
    """Resident memory of a process and all its descendants, from /proc."""
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        try:
            status = Path(f"/proc/{current}/status").read_text()
            total += int(
                next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS:"))
            )
            for task in Path(f"/proc/{current}/task").iterdir():
                stack.extend(int(c) for c in (task / "children").read_text().split())
        except (OSError, StopIteration):
            continue
    return total


def run_measured(args: list[str]) -> tuple[float, int]:
    """Run a command; return its seconds and the peak memory of all its processes (KB)."""
    started = time.perf_counter()
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss_kb(proc.pid))
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(args[3:5])} failed with exit status {proc.returncode}")
    return elapsed, peak


def ingest_cli(files_dir: Path, root: Path, jobs: int) -> tuple[float, int]:
    """Time a CLI ingest; return seconds and the peak memory of all its processes (KB)."""
    exe = [sys.executable, "-m", "photoarchive", "--archive", str(root)]
    subprocess.run([*exe, "init"], check=True, capture_output=True)
    return run_measured([*exe, "ingest", str(files_dir), "--jobs", str(jobs)])


# -- search at scale --------------------------------------------------------------------------
def vocabulary(size: int = 3000) -> list[str]:
    """Pseudo-words for captions: news captions draw on thousands of words."""
    rng = random.Random(3)
    letters = "abcdefghiklmnoprstuvwyz"
    words: set[str] = set()
    while len(words) < size:
        words.add("".join(rng.choice(letters) for _ in range(rng.randint(4, 9))))
    return sorted(words)


# Query words and how often each appears in a caption: common news words, not stop words.
PLANTED = {"tank": 0.03, "abandoned": 0.02, "river": 0.03, "flag": 0.025}
BROAD = ("ukraine", 0.3)


def synthetic(n: int) -> list[PhotoRecord]:
    """Records whose captions follow a Zipf distribution over 3,000 words, with the queried
    words planted at realistic rates (a few per cent of captions; one broad word in 30%)."""
    rng = random.Random(11)
    vocab = vocabulary()
    weights = [1 / (rank + 1) ** 1.1 for rank in range(len(vocab))]
    start = datetime(2022, 1, 1, tzinfo=UTC)
    records = []
    for i in range(n):
        sha = f"{rng.getrandbits(256):064x}"
        words = rng.choices(vocab, weights, k=14)
        words += [w for w, rate in PLANTED.items() if rng.random() < rate]
        if rng.random() < BROAD[1]:
            words.append(BROAD[0])
        if i % 50 == 0:
            words += ["special", "forces"]
        rng.shuffle(words)
        credit = CREDITS[i % len(CREDITS)]
        records.append(
            PhotoRecord(
                id=sha[:12],
                sha256=sha,
                original_filename=f"p{i}.jpg",
                format="JPEG",
                width=6000,
                height=4000,
                file_size=6_000_000,
                caption=" ".join(words).capitalize(),
                credit=credit,
                keywords=rng.sample(vocab[:200], 3),
                city=rng.choice(["Izium", "Kyiv", "Kharkiv"]),
                country="Ukraine",
                agency=normalise_agency(credit),
                date_created=(start + timedelta(minutes=7 * i)).isoformat(timespec="seconds"),
                ingested_at=start.isoformat(),
            )
        )
    return records


def fingerprints(n: int) -> list[str]:
    """Difference hashes: random, but one photo in 25 is a near copy (up to 6 bits changed)
    of the one before, as another feed's resize of the same frame."""
    rng = random.Random(5)
    values = [rng.getrandbits(64) for _ in range(n)]
    for k in range(1, n, 25):
        values[k] = values[k - 1]
        for bit in rng.sample(range(64), rng.randint(0, 6)):
            values[k] ^= 1 << bit
    return [f"{v:016x}" for v in values]


def enter(root: Path, records: list[PhotoRecord]) -> float:
    """Enter records through the library; return the seconds the index took."""
    arc, _ = init_archive(root)
    dhashes = fingerprints(len(records))
    with arc:
        for s in range(0, len(records), 2000):
            arc.catalog.add_many(
                [
                    (StoredPhoto(r, "jpg", [], dhash=dhashes[s + k]), {})
                    for k, r in enumerate(records[s : s + 2000])
                ]
            )
        started = time.perf_counter()
        arc.finish_pending_index()
        return time.perf_counter() - started


def fts5(path: Path, records: list[PhotoRecord]) -> sqlite3.Connection:
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE VIRTUAL TABLE docs USING fts5(sha, caption, keywords, place, credit, "
        "tokenize='porter')"
    )
    conn.execute("CREATE TABLE dates (rowid INTEGER PRIMARY KEY, date TEXT)")
    conn.executemany(
        "INSERT INTO docs (rowid, sha, caption, keywords, place, credit) VALUES (?, ?, ?, ?, ?, ?)",
        [
            (i, r.sha256, r.caption, " ".join(r.keywords), f"{r.city} {r.country}", r.credit)
            for i, r in enumerate(records)
        ],
    )
    conn.executemany(
        "INSERT INTO dates VALUES (?, ?)", [(i, r.date_created) for i, r in enumerate(records)]
    )
    conn.execute("CREATE INDEX dates_date ON dates (date)")
    conn.commit()
    return conn


def fts5_query(conn: sqlite3.Connection, match: str | None) -> list[str]:
    if match is None:
        rows = conn.execute(
            "SELECT rowid FROM dates WHERE date BETWEEN '2022-01-10' AND "
            "'2022-01-20T99' ORDER BY date DESC LIMIT 20"
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT sha FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT 20", (match,)
        ).fetchall()
    return [r[0] for r in rows]


def timed(fn: Callable[[], object], repeat: int) -> list[float]:
    fn()
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        out.append((time.perf_counter() - started) * 1000)
    return out


def pct(values: list[float], q: int) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--large", type=int, default=20, help="24 MP photos in the corpus")
    parser.add_argument("--medium", type=int, default=20, help="10 MP photos in the corpus")
    parser.add_argument("--entries", default="10000,100000", help="synthetic catalog sizes")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--cli-repeat", type=int, default=7)
    parser.add_argument(
        "--memory-photos", type=int, default=1000, help="photos (2 MP) in the peak-memory run"
    )
    parser.add_argument("--rounds", type=int, default=3, help="ingest rounds (medians)")
    parser.add_argument("--skip-ingest", action="store_true")
    scale = parser.add_argument_group("search at scale (--scale; the sections above are skipped)")
    scale.add_argument("--scale", action="store_true", help="search at 1,000,000 photos")
    scale.add_argument("--cache", default="~/.cache/photoarchive-bench", help="corpus cache")
    scale.add_argument("--scale-size", type=int, default=1_000_000, help="tantivy, FTS5")
    scale.add_argument(
        "--scale-small", type=int, default=300_000, help="Whoosh, before, tantivy, FTS5"
    )
    scale.add_argument(
        "--no-tantivy-small", dest="tantivy_small", action="store_false",
        help="no tantivy archive at --scale-small",
    )  # fmt: skip
    scale.add_argument("--no-baseline", action="store_true", help="no code-before figures")
    scale.add_argument("--skip-reindex", action="store_true")
    # The desk's own default: one worker process per core, 2 to 8.
    scale.add_argument("--desk-workers", type=int, default=max(2, min(8, os.cpu_count() or 1)))
    scale.add_argument("--desk-repeat", type=int, default=20)
    scale.add_argument("--load-clients", type=int, default=8)
    scale.add_argument("--load-seconds", type=float, default=20.0)
    parser.add_argument(
        "--analysis", action="store_true",
        help="instead: the search analysis before and after (--analysis --help for its options)",
    )  # fmt: skip
    parser.add_argument(
        "--queue", action="store_true",
        help="instead: ingest through the PostgreSQL queue by 1-3 workers beside ingest -j N "
        "(--queue --help for its options)",
    )  # fmt: skip
    parser.add_argument(
        "--postgresql", action="store_true",
        help="instead: search on the PostgreSQL engine beside Whoosh and tantivy "
        "(--postgresql --help for its options)",
    )  # fmt: skip
    parser.add_argument(
        "--s3", action="store_true",
        help="instead: ingest and desk thumbnails with the files on S3 beside the folder "
        "(--s3 --help for its options)",
    )  # fmt: skip
    if "--postgresql" in sys.argv[1:]:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import bench_pg_search

        bench_pg_search.run(bench_pg_search.options(sys.argv[1:]))
        return 0
    if "--s3" in sys.argv[1:]:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import bench_s3

        bench_s3.run(bench_s3.options(sys.argv[1:]))
        return 0
    if "--queue" in sys.argv[1:]:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import bench_queue

        bench_queue.run(bench_queue.options(sys.argv[1:]))
        return 0
    if "--analysis" in sys.argv[1:]:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import bench_analysis

        bench_analysis.run(bench_analysis.options(sys.argv[1:]))
        return 0
    args = parser.parse_args()
    if args.scale:
        sys.path.insert(0, str(Path(__file__).resolve().parent))
        import bench_scale

        bench_scale.run(args)
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        if not args.skip_ingest:
            bench_ingest(work, args.large, args.medium, args.rounds)
            bench_memory(work, args.memory_photos)
        sizes = [int(s) for s in args.entries.split(",") if s]
        for n in sizes:
            bench_search(
                work / f"search{n}", n, args.repeat, args.cli_repeat, reindex=n == max(sizes)
            )
        bench_startup()
    return 0


def bench_ingest(work: Path, large: int, medium: int, rounds: int) -> None:
    files = make_corpus(work / "corpus", large, medium)
    megabytes = sum(f.stat().st_size for f in files) / 1e6
    print(
        f"\n## Ingest: {len(files)} photos ({large} x 24 MP, {medium} x 10 MP), "
        f"{megabytes:.0f} MB, {os.cpu_count()} cores; median of {rounds} alternating rounds"
    )
    print(
        f"{'jobs':>4} {'floor s':>8} {'ingest s':>9} {'photos/s':>9} {'MB/s':>6} "
        f"{'x floor':>8} {'peak MB':>8}"
    )
    for jobs in (1, 2):
        # Floor and ingest take turns, so a slow spell of a shared machine weighs on both.
        floors, ingests, peaks = [], [], []
        for n in range(rounds):
            floors.append(floor(files, jobs))
            seconds, peak_kb = ingest_cli(work / "corpus", work / f"archive{jobs}-{n}", jobs)
            ingests.append(seconds)
            peaks.append(peak_kb)
        floor_s, ingest_s = statistics.median(floors), statistics.median(ingests)
        print(
            f"{jobs:>4} {floor_s:8.1f} {ingest_s:9.1f} {len(files) / ingest_s:9.2f} "
            f"{megabytes / ingest_s:6.1f} {floor_s / ingest_s:8.2f} {max(peaks) / 1024:8.0f}"
        )


def bench_memory(work: Path, count: int) -> None:
    folder = work / "many"
    folder.mkdir()
    with ProcessPoolExecutor(2) as pool:
        list(
            pool.map(
                make_photo,
                [(folder / f"s{n:05}.jpg", "2MP", n) for n in range(count)],
                chunksize=20,
            )
        )
    seconds, peak_kb = ingest_cli(folder, work / "archive-many", 2)
    print(
        f"\n## Memory: ingest of {count} photos (2 MP) with 2 jobs: {seconds:.1f} s, "
        f"peak {peak_kb / 1024:.0f} MB for all processes"
    )


def bench_search(root: Path, n: int, repeat: int, cli_repeat: int, reindex: bool) -> None:
    records = synthetic(n)
    index_s = enter(root, records)
    conn = fts5(root.parent / f"fts{n}.sqlite", records)
    print(
        f"\n## Search at {n:,} entries (indexed in {index_s:.1f} s, {n / index_s:.0f} documents/s)"
    )
    print(
        f"{'query':<16} {'library p50/p95 ms':>19} {'CLI p50/p95 ms':>16} "
        f"{'FTS5 p50/p95 ms':>16} {'hits':>6}"
    )
    exe = [sys.executable, "-m", "photoarchive", "--archive", str(root), "search"]
    # As on a desk's machine, Python keeps compiled modules between runs.
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    with open_archive(root, readonly=True) as arc:
        for name, (query, match, use) in QUERIES.items():
            lib = timed(lambda q=query, u=use: arc.search(q, limit=20, cleared_for=u), repeat)
            hits = arc.search(query, limit=20, cleared_for=use).total
            options = ["--cleared-for", use] if use else []
            cli = timed(
                lambda q=query, o=options: subprocess.run(
                    [*exe, q, *o, "--json"], check=True, capture_output=True, env=env
                ),
                cli_repeat,
            )
            peer = timed(lambda m=match: fts5_query(conn, m), repeat)
            print(
                f"{name:<18} {pct(lib, 50):9.1f}/{pct(lib, 95):<9.1f} "
                f"{pct(cli, 50):7.0f}/{pct(cli, 95):<8.0f} {pct(peer, 50):7.2f}/"
                f"{pct(peer, 95):<8.2f} {hits:>6}"
            )
    conn.close()
    bench_duplicates(root, n)
    if reindex:
        seconds, peak = run_measured(
            [sys.executable, "-m", "photoarchive", "--archive", str(root), "reindex"]
        )
        print(
            f"`photoarchive reindex` of {n:,} photos: {seconds:.1f} s, "
            f"peak {peak / 1024:.0f} MB (all processes)"
        )


def every_pair_groups(hashes: list[str], max_distance: int) -> int:
    """The peer: every pair of fingerprints compared in Python; return the group count."""
    values = [int(h, 16) for h in hashes]
    parent = list(range(len(values)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(values):
        for j in range(i + 1, len(values)):
            if (a ^ values[j]).bit_count() <= max_distance:
                parent[root(i)] = root(j)
    return sum(1 for c in Counter(root(i) for i in range(len(values))).values() if c > 1)


def bench_duplicates(root: Path, n: int) -> None:
    from photoarchive.similarity import DEFAULT_DISTANCE, duplicate_groups

    with open_archive(root, readonly=True) as arc:
        started = time.perf_counter()
        found = duplicate_groups(arc)
        library_s = time.perf_counter() - started
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "photoarchive", "--archive", str(root), "duplicates", "--json"],
        check=True,
        capture_output=True,
    )
    cli_s = time.perf_counter() - started
    line = (
        f"`duplicates` (distance {DEFAULT_DISTANCE}): {len(found):,} groups, library "
        f"{library_s:.2f} s, CLI {cli_s:.2f} s"
    )
    if n <= 20_000:  # every pair in Python takes minutes beyond
        started = time.perf_counter()
        peer = every_pair_groups(fingerprints(n), DEFAULT_DISTANCE)
        line += f"; every pair compared in Python: {time.perf_counter() - started:.2f} s"
        line += f" ({peer:,} groups)"
    print(line)


def bench_startup() -> None:
    runs = []
    for _ in range(11):
        started = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "photoarchive", "--help"], check=True, capture_output=True
        )
        runs.append(time.perf_counter() - started)
    bare = []
    for _ in range(11):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        bare.append(time.perf_counter() - started)
    print(
        f"\n`photoarchive --help`: median {statistics.median(runs):.3f} s "
        f"(bare Python start: {statistics.median(bare):.3f} s)"
    )


if __name__ == "__main__":
    threading.stack_size(0)
    sys.exit(main())
