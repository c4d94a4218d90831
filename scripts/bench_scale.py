#!/usr/bin/env python3
"""The scale section of scripts/bench.py: search at 1,000,000 photos (issue 17, item 6).

Run it through bench.py (`python scripts/bench.py --scale`, options there); this module also
runs as a subprocess of itself for the parts that must be apart: building a cached archive
(`_build`, `_fts5`) and answering queries from one archive with a warm searcher (`_serve`),
which is how the code before this work (another checkout on PYTHONPATH) is measured beside
today's in the same run.

The corpus: synthetic news captions ("KYIV, UKRAINE:" and 17 to 53 words from a Zipf
vocabulary of 30,000 words, plus the query words planted at fixed rates: 38 on average),
several agencies' credits, dates over two years, entered through the library in batches
of 10,000 (record i is the same whatever the corpus size, so the first 300,000 of the
million are the 300,000). Archives and FTS5
databases are built once and kept under --cache, keyed by the generator version and size.
"""

from __future__ import annotations

import contextlib
import inspect
import json
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import tomllib
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

SCRIPTS = Path(__file__).resolve().parent
REPO = SCRIPTS.parent
#: Change when the corpus changes: cached archives of another version are not used.
GEN_VERSION = "scale-1"
BATCH = 10_000
VOCABULARY = 30_000
ZIPF_S = 1.0
BASELINE_COMMIT = "d8259f0"

# Function words head the Zipf ranking, as in real captions; the rest are pseudo-words.
FUNCTION_WORDS = (
    "the", "of", "in", "a", "and", "on", "at", "to", "near", "after", "with", "as", "by",
    "from", "during", "is", "are", "their", "his", "her",
)  # fmt: skip
# Planted words and the share of captions each is put into (once, at a random place).
PLANTED = {
    "tank": 0.025,
    "river": 0.025,
    "abandoned": 0.02,
    "flag": 0.02,
    "soldier": 0.03,
    "drone": 0.03,
    "special": 0.01,  # alone; the phrase below is planted apart
    "forces": 0.02,
}
PHRASE = (("special", "forces"), 0.01)
BROAD_IN_CAPTION = 0.6  # and every photo's country is Ukraine: "ukraine" finds them all
# (credit, share): wires, pictures agencies, staff, and two that need clearance per use.
CREDITS = (
    ("REUTERS/{p}", 0.24),
    ("AFP", 0.18),
    ("AP Photo/{p}", 0.18),
    ("{p}/Getty Images", 0.14),
    ("EPA-EFE/{p}", 0.06),
    ("Staff photographer", 0.08),
    ("Channel 4", 0.06),
    ("Twitter", 0.06),
)
PHOTOGRAPHERS = (
    "Gleb Garanich", "Efrem Lukatsky", "Sergey Bobok", "Genya Savilov", "Evgeniy Maloletka",
    "Vadim Ghirda", "Anatolii Stepanov", "Valentyn Ogirenko", "Alex Babenko", "Libkos",
    "Dimitar Dilkoff", "Aris Messinis", "Chris McGrath", "John Moore", "Oleg Petrasyuk",
)  # fmt: skip
CITIES = (
    ("Kyiv", 0.3), ("Kharkiv", 0.15), ("Izium", 0.05), ("Odesa", 0.1), ("Lviv", 0.1),
    ("Kherson", 0.08), ("Zaporizhzhia", 0.07), ("Dnipro", 0.08), ("Bakhmut", 0.07),
)  # fmt: skip
DAYS = 730
START = np.datetime64("2022-01-01T00:00:00")

# name: (library query, FTS5 match or None for the dates table, --cleared-for use, desk URL)
QUERIES: dict[str, tuple[str, str | None, str | None, str]] = {
    "one word (~2.5%)": ("tank", "tank", None, "/?q=tank"),
    "two words": ("tank river", "tank AND river", None, "/?q=tank+river"),
    "phrase": ('"special forces"', '"special forces"', None, "/?q=%22special+forces%22"),
    "credit: + word": (
        "credit:reuters flag",
        "credit:reuters AND flag",
        None,
        "/?q=credit%3Areuters+flag",
    ),
    "date range, 10 days": (
        "date:[2023-03-01 to 2023-03-10]",
        None,
        None,
        "/?q=date%3A%5B2023-03-01+to+2023-03-10%5D",
    ),
    "broad (every photo)": ("ukraine", "ukraine", None, "/?q=ukraine"),
    "word, cleared": (
        "tank",
        'tank NOT credit:twitter NOT credit:"channel 4" NOT credit:epa',
        "editorial",
        "/?q=tank&rights=cleared",
    ),
    "broad, cleared": (
        "ukraine",
        'ukraine NOT credit:twitter NOT credit:"channel 4" NOT credit:epa',
        "editorial",
        "/?q=ukraine&rights=cleared",
    ),
}
DATE_FROM, DATE_TO = "2023-03-01", "2023-03-10T99"


# -- the corpus ------------------------------------------------------------------------------
def vocabulary() -> list[str]:
    """Function words, then pseudo-words, in Zipf rank order; none is a planted word."""
    rng = np.random.default_rng(3)
    letters = np.array(list("abcdefghiklmnoprstuvwyz"))
    reserved = {*FUNCTION_WORDS, *PLANTED, "ukraine", "reuters", "afp", "ap", "getty"}
    reserved |= {c.lower() for c, _ in CITIES}
    words: list[str] = list(FUNCTION_WORDS)
    seen = set(words)
    while len(words) < VOCABULARY:
        word = "".join(rng.choice(letters, rng.integers(4, 11)))
        if word not in seen and word not in reserved:
            seen.add(word)
            words.append(word)
    return words


_VOCAB: list[str] = []
_CUM: Any = None


def _zipf() -> tuple[list[str], Any]:
    global _CUM
    if not _VOCAB:
        _VOCAB.extend(vocabulary())
        weights = 1.0 / np.arange(1, VOCABULARY + 1) ** ZIPF_S
        _CUM = np.cumsum(weights) / weights.sum()
    return _VOCAB, _CUM


def batch_records(index: int) -> list[Any]:
    """Records [index * BATCH, (index + 1) * BATCH): the same whatever the corpus size."""
    from photoarchive.credits import normalise_agency
    from photoarchive.record import PhotoRecord

    vocab, cum = _zipf()
    rng = np.random.default_rng([17, index])
    lengths = rng.integers(17, 54, BATCH)  # and "CITY, UKRAINE:" before them
    tokens = np.searchsorted(cum, rng.random(int(lengths.sum())), side="right")
    tokens = np.minimum(tokens, VOCABULARY - 1)
    credit_idx = rng.choice(len(CREDITS), BATCH, p=[w for _, w in CREDITS])
    city_idx = rng.choice(len(CITIES), BATCH, p=[w for _, w in CITIES])
    photographer = rng.integers(0, len(PHOTOGRAPHERS), BATCH)
    seconds = rng.integers(0, DAYS * 86400, BATCH)
    planted = {w: rng.random(BATCH) < rate for w, rate in PLANTED.items()}
    phrase = rng.random(BATCH) < PHRASE[1]
    broad = rng.random(BATCH) < BROAD_IN_CAPTION
    places = rng.random((BATCH, len(PLANTED) + 2))
    keywords = rng.integers(0, 300, (BATCH, 4))
    shas = rng.bytes(32 * BATCH).hex()
    records = []
    offset = 0
    for k in range(BATCH):
        words = [vocab[t] for t in tokens[offset : offset + lengths[k]]]
        offset += int(lengths[k])
        extra = [w for w in PLANTED if planted[w][k]]
        if broad[k]:
            extra.append("Ukraine")
        for j, w in enumerate(extra):
            words.insert(int(places[k, j] * len(words)), w)
        if phrase[k]:
            at = int(places[k, -1] * len(words))
            words[at:at] = list(PHRASE[0])
        city = CITIES[city_idx[k]][0]
        name = PHOTOGRAPHERS[photographer[k]]
        credit = CREDITS[credit_idx[k]][0].format(p=name)
        sha = shas[64 * k : 64 * (k + 1)]
        when = START + np.timedelta64(int(seconds[k]), "s")
        stamp = str(when) + "+00:00"
        records.append(
            PhotoRecord(
                id=sha[:12],
                sha256=sha,
                original_filename=f"p{index * BATCH + k}.jpg",
                format="JPEG",
                width=6000,
                height=4000,
                file_size=6_000_000,
                caption=f"{city.upper()}, UKRAINE: {' '.join(words).capitalize()}.",
                credit=credit,
                byline=name if "{p}" in CREDITS[credit_idx[k]][0] else None,
                keywords=sorted({vocab[20 + int(x)] for x in keywords[k]}),
                city=city,
                country="Ukraine",
                agency=normalise_agency(credit),
                date_created=stamp,
                ingested_at=stamp,
            )
        )
    return records


def corpus(n: int) -> Iterator[list[Any]]:
    """The first n records, a batch at a time (never all in memory)."""
    for index in range((n + BATCH - 1) // BATCH):
        records = batch_records(index)
        yield records[: n - index * BATCH]


# -- building the cache (subprocesses) ---------------------------------------------------------
def git_worktree(tree: Path, rev: str) -> Path:
    """Return a checkout of `rev` at `tree`, made with `git worktree add` once and kept."""
    if not (tree / "src" / "photoarchive" / "__init__.py").exists():
        say(f"cache: git worktree add {tree} {rev}")
        subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", str(tree), rev],
            check=True,
            capture_output=True,
        )
    return tree


def build_archive(root: Path, n: int, engine: str | None) -> dict[str, Any]:
    """Enter n records through the library and index them; return figures for the cache."""
    import photoarchive
    from photoarchive import init_archive
    from photoarchive.catalog import StoredPhoto

    # The code before this work has one engine; today's is told which (not the environment).
    kwargs = {"search_engine": engine or "whoosh"} if tantivy_available() else {}
    arc, _ = init_archive(root, **kwargs)
    words = 0
    started = time.perf_counter()
    with arc:
        done = 0
        for records in corpus(n):
            arc.catalog.add_many([(StoredPhoto(r, "jpg", []), {}) for r in records])
            words += sum(len(r.caption.split()) for r in records)
            done += len(records)
            if done % 100_000 == 0 or done == n:
                say(f"  {root.name}: catalogued {done:,}/{n:,}")
        catalog_s = time.perf_counter() - started
        say(f"  {root.name}: indexing {n:,} photos")
        started = time.perf_counter()
        arc.finish_pending_index()
        index_s = time.perf_counter() - started
        kind = type(arc.index).__module__ + "." + type(arc.index).__name__
    return {
        "catalog_s": catalog_s,
        "index_s": index_s,
        "caption_words": words / n,
        "engine": kind,
        "code": photoarchive.__file__,
    }


def build_fts5(path: Path, n: int) -> dict[str, Any]:
    conn = sqlite3.connect(path)
    conn.execute(
        "CREATE VIRTUAL TABLE docs USING fts5(sha, caption, keywords, place, credit, "
        "tokenize='porter')"
    )
    conn.execute("CREATE TABLE dates (rowid INTEGER PRIMARY KEY, date TEXT)")
    row = 0
    started = time.perf_counter()
    for records in corpus(n):
        conn.executemany(
            "INSERT INTO docs (rowid, sha, caption, keywords, place, credit) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [
                (row + i, r.sha256, r.caption, " ".join(r.keywords), f"{r.city} {r.country}",
                 r.credit)
                for i, r in enumerate(records)
            ],
        )  # fmt: skip
        conn.executemany(
            "INSERT INTO dates VALUES (?, ?)",
            [(row + i, r.date_created) for i, r in enumerate(records)],
        )
        row += len(records)
        conn.commit()
    conn.execute("CREATE INDEX dates_date ON dates (date)")
    conn.execute("INSERT INTO docs(docs) VALUES ('optimize')")
    conn.commit()
    conn.close()
    return {"index_s": time.perf_counter() - started}


def serve(root: Path) -> None:
    """Answer queries on stdin (JSON lines) from one archive, timing each call here."""
    import photoarchive
    from photoarchive import open_archive

    arc = open_archive(root, readonly=True)
    out = sys.stdout
    for line in sys.stdin:
        req = json.loads(line)
        if req["op"] == "hello":
            reply: dict[str, Any] = {
                "code": photoarchive.__file__,
                "index": type(arc.index).__module__ + "." + type(arc.index).__name__,
                "photos": arc.catalog.count(),
            }
        else:
            started = time.perf_counter()
            try:
                if req["api"] == "index":
                    total = arc.index.search(req["query"], limit=20).total
                else:
                    total = arc.search(
                        req["query"],
                        limit=20,
                        cleared_for=req.get("cleared_for"),
                        count_agencies=req.get("count_agencies", False),
                    ).total
            except Exception as exc:  # reported in the tables, the run goes on
                reply = {"error": f"{type(exc).__name__}: {exc}"}
            else:
                reply = {"ms": (time.perf_counter() - started) * 1000, "total": total}
        out.write(json.dumps(reply) + "\n")
        out.flush()
    arc.close()


# -- helpers -----------------------------------------------------------------------------------
#: (section, query, engine) -> what went wrong; a failed measurement is left out.
ERRORS: dict[tuple[str, str, str], list[str]] = {}


def failed(section: str, query: str, label: str, message: str) -> None:
    ERRORS.setdefault((section, query, label), []).append(message.strip()[-300:])


def say(text: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def pct(values: list[float], q: int) -> float:
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def fmt_ms(values: list[float], errors: int = 0) -> str:
    flag = f" ({errors} failed)" if errors else ""
    if not values:
        return "–" + flag
    p50, p95 = pct(values, 50), pct(values, 95)
    digits = 2 if p95 < 10 else 1 if p95 < 100 else 0
    return f"{p50:.{digits}f} / {p95:.{digits}f}{flag}"


def cells(section: str, times: dict[str, Row], labels: list[str]) -> list[list[str]]:
    return [
        [
            name,
            *(fmt_ms(row.get(lb, []), len(ERRORS.get((section, name, lb), []))) for lb in labels),
        ]
        for name, row in times.items()
    ]


def tree_rss_kb(pid: int) -> int:
    from bench import tree_rss_kb as measure

    return measure(pid)


def run_measured(
    args: list[str], env: dict[str, str] | None = None, quiet: bool = True
) -> tuple[float, int]:
    """Run a command; return its seconds and the peak memory of all its processes (KB).
    Its stderr goes to ours unless quiet (then it is shown only if the command fails)."""
    started = time.perf_counter()
    err = subprocess.PIPE if quiet else None
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=err, env=env, text=True)
    errors: list[str] = []
    if quiet:
        reader = threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True)
        reader.start()
    peak = 0
    while proc.poll() is None:
        peak = max(peak, tree_rss_kb(proc.pid))
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    if quiet:
        reader.join()
    if proc.returncode != 0:
        raise SystemExit(
            f"{' '.join(args)} failed with exit status {proc.returncode}\n{''.join(errors)[-3000:]}"
        )
    return elapsed, peak


def disk_mb(path: Path) -> float:
    if path.is_file():
        return path.stat().st_size / 1e6
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def photoarchive_exe() -> list[str]:
    # Not the venv's console script: it names the entry point of whichever checkout was
    # installed last, which need not be the code on PYTHONPATH (today's or the code before).
    return [sys.executable, "-m", "photoarchive"]


def tantivy_available() -> bool:
    from photoarchive import init_archive

    return "search_engine" in inspect.signature(init_archive).parameters


def archive_engine(root: Path) -> str:
    settings = tomllib.loads((root / "archive.toml").read_text())
    return str(settings.get("archive", {}).get("search_engine", "whoosh"))


# -- the cache ---------------------------------------------------------------------------------
@dataclass
class Built:
    """One cached archive or FTS5 database."""

    label: str  # as in the tables
    path: Path
    size: int
    kind: str  # tantivy, whoosh, baseline, fts5
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        if self.kind == "baseline":
            env["PYTHONPATH"] = str(self.path.parent.parent / "baseline-src" / "src")
        return env


class Cache:
    def __init__(self, root: Path) -> None:
        self.root = root.expanduser()
        self.dir = self.root / GEN_VERSION
        self.dir.mkdir(parents=True, exist_ok=True)
        stale = [p.name for p in self.root.iterdir() if p.is_dir() and p.name.startswith("scale-")]
        stale = [s for s in stale if s != GEN_VERSION]
        if stale:
            say(f"cache: other generator versions {stale} in {self.root} are not used (remove?)")

    @property
    def baseline_src(self) -> Path:
        return self.root / "baseline-src"

    def baseline_worktree(self) -> Path:
        """A checkout of the code before this work (made once, kept)."""
        return git_worktree(self.baseline_src, BASELINE_COMMIT)

    def get(self, kind: str, size: int) -> Built:
        name = f"{kind}-{size}" + (".sqlite" if kind == "fts5" else "")
        label = {"tantivy": "tantivy", "whoosh": "Whoosh", "baseline": "Whoosh before",
                 "fts5": "FTS5"}[kind] + f" {short(size)}"  # fmt: skip
        built = Built(label, self.dir / name, size, kind)
        meta_path = self.dir / f"{name}.json"
        if meta_path.exists() and built.path.exists():
            built.meta = json.loads(meta_path.read_text())
            return built
        if kind == "baseline":
            self.baseline_worktree()
        building = self.dir / f"{name}.building"
        if building.is_dir():
            shutil.rmtree(building)
        building.unlink(missing_ok=True)
        if built.path.is_dir():
            shutil.rmtree(built.path)
        built.path.unlink(missing_ok=True)
        say(f"cache: building {built.label} at {built.path}")
        sub = "_fts5" if kind == "fts5" else "_build"
        args = ["nice", "-n", "10", sys.executable, str(Path(__file__)), sub, str(building)]
        args += [str(size)]
        if kind == "tantivy":
            args.append("tantivy")
        result = building.with_suffix(".result")
        seconds, peak = run_measured([*args, str(result)], env=built.env, quiet=False)
        meta = json.loads(result.read_text())
        result.unlink()
        meta.update(
            generator=GEN_VERSION,
            size=size,
            build_s=seconds,
            build_peak_mb=peak / 1024,
            commit=code_commit(built.env),
            built_at=time.strftime("%Y-%m-%d %H:%M"),
        )
        building.rename(built.path)
        meta["disk_mb"] = disk_mb(built.path)
        meta_path.write_text(json.dumps(meta, indent=1))
        built.meta = meta
        say(f"cache: built {built.label} in {seconds:.0f} s, peak {peak / 1024:.0f} MB")
        return built


def code_commit(env: dict[str, str]) -> str:
    """The commit of the photoarchive that `env` imports (a checkout's HEAD, + if edited)."""
    out = subprocess.run(
        [sys.executable, "-c", "import photoarchive; print(photoarchive.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    )
    src = Path(out.stdout.strip()).parent
    dirty = subprocess.run(
        ["git", "-C", str(src), "status", "--porcelain", "--", "."], capture_output=True, text=True
    ).stdout.strip()
    return git_commit(src) + ("+" if dirty else "")


def git_commit(repo: Path) -> str:
    out = subprocess.run(
        ["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True, text=True
    )
    return out.stdout.strip()


def short(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1000 and n % 1000 == 0:
        return f"{n // 1000}k"
    return str(n)


# -- measuring ---------------------------------------------------------------------------------
class Worker:
    """An archive opened read-only in its own process (with its own code), timing queries."""

    def __init__(self, built: Built) -> None:
        self.built = built
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__)), "_serve", str(built.path)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            env=built.env,
        )
        self.hello = self.ask({"op": "hello"})

    def ask(self, request: dict[str, Any]) -> dict[str, Any]:
        assert self.proc.stdin and self.proc.stdout
        self.proc.stdin.write(json.dumps(request) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise SystemExit(f"query worker for {self.built.label} died")
        return dict(json.loads(line))

    def close(self) -> None:
        assert self.proc.stdin
        self.proc.stdin.close()
        self.proc.wait(timeout=60)


def fts5_query(conn: sqlite3.Connection, match: str | None) -> int:
    if match is None:
        rows = conn.execute(
            "SELECT rowid FROM dates WHERE date BETWEEN ? AND ? ORDER BY date DESC LIMIT 20",
            (DATE_FROM, DATE_TO),
        ).fetchall()
    else:
        rows = conn.execute(
            "SELECT sha FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT 20", (match,)
        ).fetchall()
    return len(rows)


def fts5_count(conn: sqlite3.Connection, match: str | None) -> int:
    if match is None:
        sql, args = "SELECT count(*) FROM dates WHERE date BETWEEN ? AND ?", (DATE_FROM, DATE_TO)
    else:
        sql, args = "SELECT count(*) FROM docs WHERE docs MATCH ?", (match,)
    return int(conn.execute(sql, args).fetchone()[0])


Row = dict[str, list[float]]


def in_process(
    engines: list[Built], peers: list[Built], repeat: int
) -> tuple[dict[str, Row], dict[str, dict[str, int]], dict[str, Any]]:
    """Every class round-robin over the engines (each in its own worker) and the FTS5 peers
    (here): p50/p95 and hits per cell. Also the broad query through index.search alone."""
    workers = {}
    for b in engines:
        say(f"in process: opening {b.label}")
        workers[b.label] = Worker(b)
        say(f"  {b.label}: {workers[b.label].hello}")
    conns = {p.label: sqlite3.connect(p.path) for p in peers}
    times: dict[str, Row] = {}
    hits: dict[str, dict[str, int]] = {}
    classes = [(name, q, m, use, "archive") for name, (q, m, use, _) in QUERIES.items()]
    broad = QUERIES["broad (every photo)"]
    classes.append(("broad, index.search only", broad[0], broad[1], None, "index"))
    for name, query, match, use, api in classes:
        say(f"in process: {name}")
        row: Row = {}
        counts: dict[str, int] = {}
        request = {"op": "search", "query": query, "cleared_for": use, "api": api}
        for label, w in workers.items():
            w.ask(request)  # warm
            counts[label] = int(w.ask(request).get("total", -1))
            row[label] = []
        for label, conn in conns.items():
            fts5_query(conn, match)
            counts[label] = fts5_count(conn, match)
            row[label] = []
        for _ in range(repeat):
            for label, w in workers.items():
                reply = w.ask(request)
                if "error" in reply:
                    failed("in process", name, label, reply["error"])
                else:
                    row[label].append(float(reply["ms"]))
            for label, conn in conns.items():
                started = time.perf_counter()
                fts5_query(conn, match)
                row[label].append((time.perf_counter() - started) * 1000)
        times[name], hits[name] = row, counts
    hellos = {label: w.hello for label, w in workers.items()}
    for w in workers.values():
        w.close()
    for conn in conns.values():
        conn.close()
    return times, hits, hellos


FTS5_CLI = (
    "import json, sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
    "print(json.dumps(c.execute('SELECT sha FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) "
    "LIMIT 20', (sys.argv[2],)).fetchall()) if sys.argv[2] else json.dumps(c.execute("
    "'SELECT rowid FROM dates WHERE date BETWEEN ? AND ? ORDER BY date DESC LIMIT 20', "
    f"({DATE_FROM!r}, {DATE_TO!r})).fetchall()))"
)


def cli(engines: list[Built], peers: list[Built], repeat: int) -> dict[str, Row]:
    """`photoarchive --archive A search Q --json` end to end, round-robin over the engines;
    the peer is a Python process running the FTS5 query and printing JSON."""
    exe = photoarchive_exe()
    times: dict[str, Row] = {}
    for name, (query, match, use, _) in QUERIES.items():
        say(f"CLI: {name}")
        commands = {}
        for b in engines:
            options = ["--cleared-for", use] if use else []
            commands[b.label] = (
                [*exe, "--archive", str(b.path), "search", query, *options, "--json"],
                b.env,
            )
        for p in peers:
            commands[p.label] = (
                [sys.executable, "-c", FTS5_CLI, str(p.path), match or ""],
                p.env,
            )
        row: Row = {label: [] for label in commands}
        for args, env in commands.values():  # compiled modules and page cache warm
            subprocess.run(args, capture_output=True, env=env)
        for _ in range(repeat):
            for label, (args, env) in commands.items():
                started = time.perf_counter()
                done = subprocess.run(args, capture_output=True, env=env, text=True)
                if done.returncode:
                    failed("CLI", name, label, f"exit {done.returncode}: {done.stderr}")
                else:
                    row[label].append((time.perf_counter() - started) * 1000)
        times[name] = row
    return times


def cli_served(engines: list[Built], repeat: int) -> dict[str, Row]:
    """The same commands with `photoarchive searchd` running for each archive: the command
    passes its question through the archive's socket (measured one archive at a time, each
    with its own service, stopped before the next starts)."""
    exe = photoarchive_exe()
    times: dict[str, Row] = {name: {} for name in QUERIES}
    for b in engines:
        say(f"CLI with searchd: {b.label}")
        service = subprocess.Popen(
            [*exe, "--archive", str(b.path), "searchd"],
            stderr=subprocess.PIPE,
            text=True,
            env=b.env,
        )
        assert service.stderr is not None
        ready = service.stderr.readline()
        if "Answering searches" not in ready:
            failed("CLI with searchd", "start", b.label, ready.strip() or "no ready line")
            service.kill()
            continue
        try:
            for name, (query, _, use, _) in QUERIES.items():
                options = ["--cleared-for", use] if use else []
                args = [*exe, "--archive", str(b.path), "search", query, *options, "--json"]
                subprocess.run(args, capture_output=True, env=b.env)
                row = times[name].setdefault(b.label, [])
                for _ in range(repeat):
                    started = time.perf_counter()
                    done = subprocess.run(args, capture_output=True, env=b.env, text=True)
                    if done.returncode:
                        failed("CLI with searchd", name, b.label, done.stderr.strip())
                    else:
                        row.append((time.perf_counter() - started) * 1000)
        finally:
            service.terminate()
            service.wait(timeout=60)
    return times


def desk_tools() -> tuple[Callable[..., Any], Callable[..., Any], Callable[..., Any], str]:
    """start_desk, stop_desk and load from scripts/bench_web.py, or stand-ins until it has
    them (gunicorn with N workers; threads fetching the paths in turn)."""
    sys.path.insert(0, str(SCRIPTS))
    try:
        from bench_web import load, start_desk, stop_desk

        return start_desk, stop_desk, load, "scripts/bench_web.py"
    except ImportError:
        return _start_desk, _stop_desk, _load, "stand-ins in bench_scale.py"


def _start_desk(root: Path, workers: int, port: int | None = None) -> tuple[Any, str]:
    if port is None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
    app = f"photoarchive.web.app:create_app({str(root)!r})"
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "-w", str(workers), "-b",
         f"127.0.0.1:{port}", "--log-level", "warning", app],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(base + "/static/desk.css", timeout=5).read()
            return proc, base
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise SystemExit(f"desk on {root} did not start")


def _stop_desk(proc: Any) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()


def _load(base_url: str, paths: list[str], clients: int = 8, seconds: float = 20.0) -> dict:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.monotonic() + seconds

    def client(n: int) -> None:
        k = n
        while time.monotonic() < stop:
            started = time.perf_counter()
            try:
                urllib.request.urlopen(base_url + paths[k % len(paths)], timeout=60).read()
                ms = (time.perf_counter() - started) * 1000
                with lock:
                    latencies.append(ms)
            except OSError:
                with lock:
                    errors[0] += 1
            k += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    done = len(latencies) + errors[0]
    return {
        "requests": done,
        "errors": errors[0],
        "per_second": done / elapsed,
        "p50": pct(latencies, 50) if latencies else None,
        "p95": pct(latencies, 95) if latencies else None,
        "p99": pct(latencies, 99) if latencies else None,
    }


def fetch(url: str) -> str | None:
    """GET a page; return None, or what went wrong."""
    try:
        with urllib.request.urlopen(url, timeout=120) as response:
            response.read()
    except OSError as exc:  # HTTPError, URLError, timeouts
        return f"{type(exc).__name__}: {exc}"
    return None


def desk(
    engines: list[Built],
    workers: int,
    repeat: int,
    loaded: list[Built],
    clients: int,
    seconds: float,
) -> tuple[dict[str, Row], dict[str, dict[str, Any]], str]:
    start_desk, stop_desk, load, source = desk_tools()
    say(f"desk: start_desk/load from {source}")
    desks = {}
    try:
        for b in engines:
            say(f"desk: starting {b.label} with {workers} workers")
            try:
                desks[b.label] = start_desk(b.path, workers)
            except (RuntimeError, SystemExit, OSError) as exc:
                failed("desk", "start", b.label, str(exc))
        times: dict[str, Row] = {}
        for name, (*_, path) in QUERIES.items():
            say(f"desk: {name}")
            row: Row = {label: [] for label in desks}
            for _, base in desks.values():
                for _ in range(workers):  # every worker warm
                    fetch(base + path)
            for _ in range(repeat):
                for label, (_, base) in desks.items():
                    started = time.perf_counter()
                    error = fetch(base + path)
                    if error:
                        failed("desk", name, label, error)
                    else:
                        row[label].append((time.perf_counter() - started) * 1000)
            times[name] = row
        paths = [path for *_, path in QUERIES.values()]
        loads = {}
        for b in loaded:
            if b.label not in desks:
                continue
            say(f"desk: {clients} clients for {seconds:.0f} s on {b.label}")
            loads[b.label] = load(desks[b.label][1], paths, clients=clients, seconds=seconds)
    finally:
        for proc, _ in desks.values():
            stop_desk(proc)
    return times, loads, source


def reindex(built: Built) -> tuple[float, int]:
    say(f"reindex: {built.label}")
    args = [*photoarchive_exe(), "--archive", str(built.path), "reindex"]
    return run_measured(args, env=built.env)


FTS5_REBUILD = (
    "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
    "c.execute(\"INSERT INTO docs(docs) VALUES ('rebuild')\"); "
    "c.execute(\"INSERT INTO docs(docs) VALUES ('optimize')\"); c.commit()"
)


def startup(env: dict[str, str], rounds: int = 11) -> dict[str, float]:
    """What a search by the command itself imports, `photoarchive.cli` and the archive
    (-X importtime, cumulative, each top-level import once), and `photoarchive --help` wall
    time, against a bare Python start, interleaved: medians in ms."""
    imports, helps, bare = [], [], []
    for _ in range(rounds):
        out = subprocess.run(
            [sys.executable, "-X", "importtime", "-c",
             "import photoarchive.cli; import photoarchive.archive"],
            capture_output=True,
            text=True,
            env=env,
            check=True,
        )  # fmt: skip
        total = 0
        for line in out.stderr.splitlines():
            parts = line.split("|")
            # Top-level imports only: their cumulative times hold the nested ones.
            if len(parts) == 3 and parts[2].startswith(" photoarchive"):
                total += int(parts[1])
        imports.append(total / 1000)
        for into, args in (
            (helps, [sys.executable, "-m", "photoarchive", "--help"]),
            (bare, [sys.executable, "-c", "pass"]),
        ):
            started = time.perf_counter()
            subprocess.run(args, check=True, capture_output=True, env=env)
            into.append((time.perf_counter() - started) * 1000)
    return {
        "import": statistics.median(imports),
        "help": statistics.median(helps),
        "bare": statistics.median(bare),
    }


# -- the section -----------------------------------------------------------------------------
def table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def run(options: Any) -> None:
    """The scale section; `options` from bench.py's arguments."""
    wall = time.perf_counter()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    large, small = options.scale_size, options.scale_small
    cache = Cache(Path(options.cache))
    tantivy = tantivy_available()
    if not tantivy:
        say("this checkout has no tantivy engine (init_archive(search_engine=)): Whoosh only")
    # Build what the cache lacks: the peers and the code before first (they need nothing
    # new), then today's archives.
    fts_large = cache.get("fts5", large)
    fts_small = cache.get("fts5", small)
    before = cache.get("baseline", small) if not options.no_baseline else None
    whoosh = cache.get("whoosh", small)
    t_large = cache.get("tantivy", large) if tantivy else None
    t_small = cache.get("tantivy", small) if tantivy and options.tantivy_small else None
    if before:
        before.label = f"Whoosh {short(small)} before ({BASELINE_COMMIT})"
    for b in (whoosh, t_large, t_small):
        if b and archive_engine(b.path) != b.kind:
            raise SystemExit(f"{b.path} has engine {archive_engine(b.path)}, not {b.kind}")

    current = [b for b in (t_large, whoosh, t_small) if b]
    engines = [b for b in (t_large, whoosh, before, t_small) if b]
    print(f"\n## Search at scale: {large:,} photos (generator {GEN_VERSION})\n")
    print(
        f"Captions of {fts_meta_words(whoosh):.1f} words on average (a dateline and 17 to 53 "
        f"words from a Zipf vocabulary of {VOCABULARY:,} words, s={ZIPF_S}, plus planted "
        "query words), "
        f"{len(CREDITS)} credits, dates over {DAYS} days; {os.cpu_count()} cores. Archives "
        f"cached in {cache.dir}. Today's code: {code_commit(whoosh.env)}; before: "
        f"{BASELINE_COMMIT}.\n"
    )
    rows = []
    for b in (*engines, fts_large, fts_small):
        m = b.meta
        rows.append(
            [
                b.label,
                f"{b.size:,}",
                "–" if b.kind == "fts5" else m.get("commit", "?"),
                f"{m.get('catalog_s', 0):.0f}" if "catalog_s" in m else "–",
                f"{m['index_s']:.0f}",
                f"{m['build_s']:.0f}",
                f"{m['build_peak_mb']:.0f}",
                f"{m['disk_mb']:.0f}",
                m.get("built_at", ""),
            ]
        )
    print("### Cached corpora (built once; figures from the build)\n")
    print(
        table(
            [
                "archive",
                "photos",
                "code",
                "catalog s",
                "index s",
                "build s",
                "peak MB",
                "disk MB",
                "built",
            ],
            rows,
        )
    )

    if not options.skip_reindex:
        print(
            "\n### `python -m photoarchive --archive A reindex` (peer: FTS5 'rebuild' of the "
            "same size)\n"
        )
        rows = []
        for b, peer, target in (
            (t_large, fts_large, "≤ 120 s, ≤ 1.5 GB"),
            (whoosh, fts_small, "–"),
            (t_small, fts_small, "–"),
        ):
            if b is None:
                continue
            try:
                seconds, peak = reindex(b)
            except SystemExit as exc:
                failed("reindex", "reindex", b.label, str(exc))
                rows.append([b.label, "failed", "–", target, "–", "–"])
                continue
            say(f"reindex: FTS5 rebuild {peer.label}")
            peer_s, peer_peak = run_measured(
                [sys.executable, "-c", FTS5_REBUILD, str(peer.path)], env=peer.env
            )
            rows.append(
                [b.label, f"{seconds:.1f}", f"{peak / 1024:.0f}", target,
                 f"{peer_s:.1f}", f"{peer_peak / 1024:.0f}"]
            )  # fmt: skip
        print(table(["archive", "s", "peak MB", "target", "FTS5 s", "FTS5 peak MB"], rows))

    # Each engine beside its peer of the same size.
    order = (t_large, fts_large, t_small, whoosh, before, fts_small)
    labels = [b.label for b in order if b]
    times, hits, hellos = in_process(engines, [fts_large, fts_small], options.repeat)
    for label, hello in hellos.items():
        say(f"{label}: {hello}")
    print(
        f"\n### In process, warm: `archive.search(q, limit=20)` p50 / p95 ms, "
        f"{options.repeat} rounds round-robin (target p95 ≤ 30 ms)\n"
    )
    print(table(["query", *labels], cells("in process", times, labels)))
    print("\n### Hits (total)\n")
    print(
        table(
            ["query", "library query", *labels],
            [
                [n, f"`{QUERIES.get(n, QUERIES['broad (every photo)'])[0]}`"]
                + [f"{h[lb]:,}" for lb in labels]
                for n, h in hits.items()
            ],
        )
    )

    cli_times = cli(engines, [fts_large, fts_small], options.cli_repeat)
    print(
        f"\n### CLI end to end: `python -m photoarchive --archive A search Q --json` p50 / p95 ms, "
        f"{options.cli_repeat} rounds (target p95 ≤ 60 ms; peer: python -c running the FTS5 "
        "query)\n"
    )
    print(table(["query", *labels], cells("CLI", cli_times, labels)))
    service_module = SCRIPTS.parent / "src/photoarchive/cli/search_service.py"
    served = [b for b in current if service_module.exists()]
    if served:
        served_times = cli_served(served, options.cli_repeat)
        served_labels = [b.label for b in served]
        print(
            "\n### CLI end to end with `photoarchive searchd` running: the same commands, "
            f"p50 / p95 ms, {options.cli_repeat} rounds\n"
        )
        print(table(["query", *served_labels], cells("CLI", served_times, served_labels)))

    loaded = [b for b in (t_large, whoosh) if b]
    desk_times, loads, source = desk(
        current, options.desk_workers, options.desk_repeat, loaded, options.load_clients,
        options.load_seconds,
    )  # fmt: skip
    desk_labels = [b.label for b in current]
    print(
        f"\n### Desk page `GET /?q=...`, {options.desk_workers} workers, one request at a time: "
        f"p50 / p95 ms, {options.desk_repeat} rounds (desk from {source})\n"
    )
    print(table(["query", *desk_labels], cells("desk", desk_times, desk_labels)))
    print(
        f"\n### Desk under load: {options.load_clients} clients for {options.load_seconds:.0f} s "
        f"over the {len(QUERIES)} queries above, {options.desk_workers} workers "
        "(target p95 ≤ 150 ms tantivy 1M, ≤ 1 s Whoosh 300k)\n"
    )
    rows = []
    for label, r in loads.items():
        rows.append(
            [label, f"{r['requests']:,}", f"{r['errors']:,}", f"{r['per_second']:.1f}"]
            + [f"{r[k]:.0f}" if r[k] is not None else "–" for k in ("p50", "p95", "p99")]
        )
    print(table(["desk", "requests", "errors", "req/s", "p50 ms", "p95 ms", "p99 ms"], rows))

    if before:
        print(
            f"\n### Whoosh at {short(small)}: today's code against {BASELINE_COMMIT} (the code "
            "before this work), same run; the issue wants ≥ 2× on the every-photo query\n"
        )
        rows = []
        for name in ("broad (every photo)", "broad, index.search only", "broad, cleared"):
            now = statistics.median(times[name][whoosh.label])
            then = statistics.median(times[name][before.label])
            rows.append([name, f"{then:.1f}", f"{now:.1f}", f"{then / now:.2f}×"])
        print(table(["query (in process, median ms)", "before", "now", "before / now"], rows))
        say("start-up: today's code and the code before")
        now_s, then_s = startup(whoosh.env), startup(before.env)
        print("\n### CLI start-up (medians of 11, ms)\n")
        print(
            table(
                ["code", "import photoarchive.cli and .archive (-X importtime)",
                 "photoarchive --help",
                 "bare python -c pass"],
                [
                    [f"today ({code_commit(whoosh.env)})", f"{now_s['import']:.0f}",
                     f"{now_s['help']:.0f}", f"{now_s['bare']:.0f}"],
                    [f"before ({BASELINE_COMMIT})", f"{then_s['import']:.0f}",
                     f"{then_s['help']:.0f}", f"{then_s['bare']:.0f}"],
                ],
            )
        )  # fmt: skip
    if ERRORS:
        print("\n### Failures (left out of the figures above)\n")
        for (section, name, label), messages in ERRORS.items():
            print(f"- {section}, {name}, {label}: {len(messages)}× {messages[0]}")
    print(
        f"\nScale section: {(time.perf_counter() - wall) / 60:.1f} min; cache "
        f"{disk_mb(cache.root) / 1000:.1f} GB"
    )


def fts_meta_words(b: Built) -> float:
    return float(b.meta.get("caption_words", 0.0))


def main(argv: list[str]) -> int:
    command, target = argv[0], Path(argv[1])
    if command == "_serve":
        serve(target)
        return 0
    size = int(argv[2])
    result_path = Path(argv[-1])
    if command == "_fts5":
        meta = build_fts5(target, size)
    elif command == "_build":
        meta = build_archive(target, size, argv[3] if len(argv) > 4 else None)
    else:
        raise SystemExit(f"unknown command {command}")
    result_path.write_text(json.dumps(meta))
    return 0


if __name__ == "__main__":
    with contextlib.suppress(BrokenPipeError):
        sys.exit(main(sys.argv[1:]))
