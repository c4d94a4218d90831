#!/usr/bin/env python3
"""Search speed of the PostgreSQL engine beside Whoosh and tantivy on one synthetic corpus.

    eval "$(bash scripts/postgres.sh start)"
    .venv/bin/python scripts/bench_pg_search.py --size 100000 [--engines postgresql,tantivy,whoosh]
        [--repeat 30] [--budget 20] [--rum] [--url URL] [--cache ~/.cache/photoarchive-bench]
        [--keep] [--rebuild] [--memory-limit-gb 12]

or the same through `python scripts/bench.py --postgresql [--size N] ...`.

The corpus is scripts/bench_scale.py's (news captions, credits, dates; record i the same at
any size); its index documents are made once (two processes) and kept under --cache. Each
engine is built by `rebuild` (timed, with the peak resident memory of this process and its
children sampled; a build passing --memory-limit-gb is stopped and that engine left out),
then each query is run once to warm up and --repeat times, in this process, for p50/p95
(fewer runs, at least 5, where the first timed run says --repeat would take over
--budget seconds: marked `(n=K)`).

Built indexes are kept for later runs: the Whoosh and tantivy folders under
--cache/pg-indexes-<corpus>/<engine>-<size> (with a .json of the build's time and memory),
and the PostgreSQL schema `bench_<size>` of the URL's database when --keep is given (its
COMMENT holds the same); each is reused when present, undamaged, of the engine's index
format and of the same corpus version and size, else rebuilt. --rebuild builds them all
anew. Without --keep the schema is dropped at the end (the folders stay in the cache).

With --rum, a RUM index is put beside the GIN index and plain SQL top-20 rankings are timed
through each (`ORDER BY ts_rank` over the GIN matches against RUM's `ORDER BY terms <=>
query` read from the index).
"""

from __future__ import annotations

import _thread
import argparse
import contextlib
import json
import os
import pickle
import shutil
import signal
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from functools import partial
from multiprocessing import Pool
from pathlib import Path
from typing import Any

SCRIPTS = Path(__file__).resolve().parent
sys.path.insert(0, str(SCRIPTS.parent / "src"))
sys.path.insert(0, str(SCRIPTS))

import bench_scale  # noqa: E402 - the corpus generator, from beside this script

QUERIES = {
    "one word (~2.5%)": "tank",
    "two words": "tank river",
    "phrase": '"special forces"',
    "credit: + word": "credit:reuters flag",
    "prefix": "aband*",
    "broad word (every photo)": "ukraine",
    "date range, 10 days": "date:[2023-03-01 to 2023-03-10]",
}


def say(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


# -- the documents ---------------------------------------------------------------------------
def _batch_documents(index: int) -> list[dict[str, Any]]:
    from photoarchive.search.documents import Entry, document

    return [document(Entry(r)) for r in bench_scale.batch_records(index)]


def documents(n: int, cache: Path) -> Iterator[dict[str, Any]]:
    """Yield the first n documents, made once per batch (in two processes) and cached."""
    from photoarchive.search.analysis import analysis_id

    folder = cache / f"pg-documents-{bench_scale.GEN_VERSION}-{analysis_id()}"
    folder.mkdir(parents=True, exist_ok=True)
    batches = (n + bench_scale.BATCH - 1) // bench_scale.BATCH
    todo = [i for i in range(batches) if not (folder / f"{i}.pickle").exists()]
    if todo:
        say(f"documents: making {len(todo)} batches of {bench_scale.BATCH:,} in {folder}")
        with Pool(min(2, os.cpu_count() or 1)) as pool:
            for i, docs in zip(todo, pool.imap(_batch_documents, todo), strict=True):
                tmp = folder / f"{i}.pickle.tmp"
                tmp.write_bytes(pickle.dumps(docs, protocol=pickle.HIGHEST_PROTOCOL))
                tmp.rename(folder / f"{i}.pickle")
                say(f"  batch {i + 1}/{batches}")
    for i in range(batches):
        docs = pickle.loads((folder / f"{i}.pickle").read_bytes())
        yield from docs[: n - i * bench_scale.BATCH]


# -- timing ----------------------------------------------------------------------------------
def timed(call: Callable[[], Any], repeat: int, budget: float = 0.0) -> list[float]:
    """Run `call` once to warm up, then `repeat` times (fewer, at least 5, where the first
    timed run says that would take over `budget` seconds); return each run's milliseconds."""
    call()  # warm up (the first call can be cold: it does not decide the count)
    out: list[float] = []
    while len(out) < repeat:
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1000)
        if budget and len(out) == 1 and out[0] / 1000 * repeat > budget:
            repeat = max(5, int(budget / (out[0] / 1000)))
    return out


def pct(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def cell(values: list[float], repeat: int = 0) -> str:
    fewer = f" (n={len(values)})" if repeat and len(values) < repeat else ""
    return f"{pct(values, 50):7.1f} / {pct(values, 95):7.1f}{fewer}"


def table(
    title: str, rows: dict[str, dict[str, list[float]]], labels: list[str], repeat: int = 0
) -> None:
    print(f"\n{title} (ms, p50 / p95)")
    width = max(len(k) for k in rows) + 2
    column = max(27 if repeat else 19, *(len(label) for label in labels)) + 3
    print(" " * width + "".join(f"{label:>{column}}" for label in labels))
    for name, by_label in rows.items():
        line = "".join(
            f"{cell(by_label[label], repeat) if label in by_label else '-':>{column}}"
            for label in labels
        )
        print(f"{name:<{width}}{line}")


# -- memory ----------------------------------------------------------------------------------
def _descendants(pid: int) -> list[int]:
    out, stack = [], [pid]
    while stack:
        current = stack.pop()
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                children = [int(c) for c in (task / "children").read_text().split()]
                out.extend(children)
                stack.extend(children)
        except OSError:
            continue
    return out


class MemoryLimitError(Exception):
    """A build passed --memory-limit-gb (its processes were killed)."""


class PeakMemory:
    """Sample the resident memory of this process and its children (KB) every 0.1 s while
    the block runs; past `limit_kb`, kill the children and interrupt the main thread."""

    def __init__(self, limit_kb: int = 0) -> None:
        self.limit_kb = limit_kb
        self.peak_kb = 0
        self.start_kb = bench_scale.tree_rss_kb(os.getpid())
        self.exceeded = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.1):
            rss = bench_scale.tree_rss_kb(os.getpid())
            self.peak_kb = max(self.peak_kb, rss)
            if self.limit_kb and rss > self.limit_kb and not self.exceeded:
                self.exceeded = True
                for child in _descendants(os.getpid()):
                    with contextlib.suppress(OSError):
                        os.kill(child, signal.SIGKILL)
                _thread.interrupt_main()

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


# -- the engines -----------------------------------------------------------------------------
def corpus_key() -> str:
    from photoarchive.search.analysis import analysis_id

    return f"{bench_scale.GEN_VERSION}-{analysis_id()}"


def build(engine: Any, n: int, cache: Path, limit_gb: float) -> dict[str, Any]:
    """Rebuild `engine` from the first n documents; return the build's figures."""
    limit_kb = int(limit_gb * 1024 * 1024)
    try:
        with PeakMemory(limit_kb) as memory:
            started = time.perf_counter()
            count = engine.rebuild(dict(d) for d in documents(n, cache))
            seconds = time.perf_counter() - started
    except KeyboardInterrupt:
        if memory.exceeded:
            raise MemoryLimitError(
                f"{engine.name}: over {limit_gb:g} GB resident after "
                f"{time.perf_counter() - started:.0f} s; stopped"
            ) from None
        raise
    assert count == n, (count, n)
    built = {
        "corpus": corpus_key(),
        "size": n,
        "engine": engine.name,
        "build_s": round(seconds, 1),
        "peak_mb": round(memory.peak_kb / 1024),
        "before_mb": round(memory.start_kb / 1024),
        "built_at": time.strftime("%Y-%m-%d %H:%M"),
        "cpus": os.cpu_count(),
    }
    say(
        f"built {engine.name} with {n:,} documents in {seconds:.1f} s, peak "
        f"{built['peak_mb']:,} MB resident (this process and its children; "
        f"{built['before_mb']:,} MB before)"
    )
    return built


def doc_count(engine: Any) -> int:
    """Return how many documents an engine's index holds."""
    if engine.name == "postgresql":
        with engine._connection() as conn:
            return int(conn.execute(engine._sql("SELECT count(*) FROM {docs}")).fetchone()[0])
    if engine.name == "tantivy":
        return int(engine._searcher().num_docs)
    return int(engine._open().doc_count())


def _cached_folder(engine: Any, n: int, marks: Path) -> dict[str, Any] | None:
    """Return the figures of a cached folder index fit to reuse, else None."""
    try:
        built = json.loads(marks.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if built.get("corpus") != corpus_key() or built.get("size") != n:
        return None
    try:
        engine.check()
        found = doc_count(engine)
    except Exception as exc:  # missing, damaged, of another format, ...
        say(f"{engine.name}: the cached index in {engine.folder} is not usable ({exc})")
        return None
    if found != n:
        say(f"{engine.name}: the cached index holds {found:,} documents, not {n:,}")
        return None
    return built


def folder_engine(name: str, n: int, cache: Path, rebuild: bool, limit_gb: float) -> Any:
    """Return (engine, build figures) for a folder engine, built or taken from the cache."""
    if name == "tantivy":
        from photoarchive.search.tantivy_engine import TantivyEngine as Engine
    else:
        from photoarchive.search.whoosh_engine import WhooshEngine as Engine
    where = cache / f"pg-indexes-{corpus_key()}"
    where.mkdir(parents=True, exist_ok=True)
    folder = where / f"{name}-{n}"
    marks = where / f"{name}-{n}.json"
    engine = Engine(folder)
    built = None if rebuild else _cached_folder(engine, n, marks)
    if built is not None:
        say(f"{name}: reusing {folder} (built {built['built_at']} in {built['build_s']} s)")
        return engine, {**built, "cached": True}
    engine.close()
    marks.unlink(missing_ok=True)
    built = build(engine, n, cache, limit_gb)
    marks.write_text(json.dumps(built, indent=1), encoding="utf-8")
    return engine, built


def postgresql_engine(
    url: str, n: int, cache: Path, work: Path, rebuild: bool, limit_gb: float
) -> Any:
    """Return (engine, build figures) for schema bench_<n>, reused if its COMMENT says it
    holds this corpus at this size (and the engine finds it usable), else rebuilt."""
    from photoarchive.search.postgresql_engine import PostgresEngine

    engine = PostgresEngine(url, f"bench_{n}", None, work / "index-pg")
    if not rebuild:
        with engine._connection() as conn:
            found = conn.execute(
                "SELECT obj_description(oid, 'pg_namespace') FROM pg_namespace WHERE nspname = %s",
                (engine.schema,),
            ).fetchone()
        try:
            built = json.loads(found[0]) if found and found[0] else None
        except ValueError:
            built = None
        if built and built.get("corpus") == corpus_key() and built.get("size") == n:
            try:
                engine.check()
                total = doc_count(engine)
            except Exception as exc:
                say(f"postgresql: schema {engine.schema} is not usable ({exc}); rebuilding")
            else:
                if total == n:
                    say(f"postgresql: reusing schema {engine.schema} (built {built['built_at']})")
                    return engine, {**built, "cached": True}
    built = build(engine, n, cache, limit_gb)
    built["note"] = "peak is this process only: the server's memory is not counted"
    with engine._connection() as conn:
        conn.execute(
            engine._sql("COMMENT ON SCHEMA {schema} IS ")
            + engine._sql("{v}", v=_literal(json.dumps(built)))
        )
    return engine, built


def _literal(text: str) -> Any:
    from psycopg import sql

    return sql.Literal(text)


def _fetch(conn: Any, statement: Any, tsq: str) -> Any:
    return conn.execute(statement, {"q": tsq}).fetchall()


def _analysed(word: str) -> str:
    """Return the index term of a word in `text` (as the query language reads it)."""
    from photoarchive.search.query import parse_query
    from photoarchive.search.tree import Term, leaves

    return next(
        leaf.text
        for leaf, _ in leaves(parse_query(word).tree)
        if isinstance(leaf, Term) and leaf.field == "text"
    )


def rum_figures(engine: Any, repeat: int) -> dict[str, dict[str, list[float]]]:
    """Time plain top-20 rankings through the GIN index and a RUM index beside it."""
    from photoarchive.search.postgresql_engine import _quoted, lexeme

    out: dict[str, dict[str, list[float]]] = {}
    with engine._connection() as conn:
        conn.execute("CREATE EXTENSION IF NOT EXISTS rum")
        started = time.perf_counter()
        conn.execute(
            engine._sql("CREATE INDEX bench_rum ON {docs} USING rum (terms rum_tsvector_ops)")
        )
        conn.execute(engine._sql("ANALYZE {docs}"))
        say(f"RUM index built in {time.perf_counter() - started:.1f} s")
        size = conn.execute(
            "SELECT pg_size_pretty(pg_relation_size(%s)), pg_size_pretty(pg_relation_size(%s))",
            (f'"{engine.schema}".search_documents_terms', f'"{engine.schema}".bench_rum'),
        ).fetchone()
        say(f"index sizes: GIN {size[0]}, RUM {size[1]}")
        words = {
            "one word (~2.5%)": ["tank"],
            "two words": ["tank", "river"],
            "broad word (every photo)": ["ukraine"],
        }
        for label, terms in words.items():
            tsq = " & ".join(_quoted(lexeme("text", _analysed(t))) for t in terms)
            gin = engine._sql(
                "SELECT sha256 FROM {docs} WHERE terms @@ %(q)s::tsquery "
                "ORDER BY ts_rank(terms, %(q)s::tsquery) DESC LIMIT 20"
            )
            rum = engine._sql(
                "SELECT sha256 FROM {docs} WHERE terms @@ %(q)s::tsquery "
                "ORDER BY terms <=> %(q)s::tsquery LIMIT 20"
            )
            with conn.transaction():
                # GIN alone: the RUM index is hidden from the planner in this transaction.
                conn.execute("SET LOCAL enable_indexscan = off")
                gin_ms = timed(partial(_fetch, conn, gin, tsq), repeat)
            rum_ms = timed(partial(_fetch, conn, rum, tsq), repeat)
            plan = conn.execute(engine._sql("EXPLAIN ") + rum, {"q": tsq}).fetchall()
            uses = "bench_rum" in " ".join(str(r[0]) for r in plan)
            out.setdefault("GIN, ORDER BY ts_rank", {})[label] = gin_ms
            out.setdefault("RUM, ORDER BY <=>" + ("" if uses else " (not used!)"), {})[label] = (
                rum_ms
            )
        conn.execute("DROP INDEX IF EXISTS " + f'"{engine.schema}".bench_rum')
    return out


def options(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="bench_pg_search.py", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--postgresql", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--engines", default="postgresql,tantivy,whoosh")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument(
        "--budget", type=float, default=20.0,
        help="seconds for one engine's one query class (fewer runs, at least 5, beyond it)",
    )  # fmt: skip
    parser.add_argument("--rum", action="store_true", help="also time a RUM index")
    parser.add_argument("--url", default=os.environ.get("PHOTOARCHIVE_TEST_POSTGRES", ""))
    parser.add_argument("--cache", default="~/.cache/photoarchive-bench")
    parser.add_argument("--keep", action="store_true", help="keep (and reuse) the schema")
    parser.add_argument("--rebuild", action="store_true", help="build every engine anew")
    parser.add_argument(
        "--memory-limit-gb", type=float, default=12.0,
        help="stop a build whose processes pass this resident memory",
    )  # fmt: skip
    args = parser.parse_args(argv)
    names = [e.strip() for e in args.engines.split(",") if e.strip()]
    if "postgresql" in names and not args.url:
        parser.error("no --url (or PHOTOARCHIVE_TEST_POSTGRES): start scripts/postgres.sh")
    return args


def run(args: argparse.Namespace) -> None:
    cache = Path(args.cache).expanduser()
    n = args.size
    names = [e.strip() for e in args.engines.split(",") if e.strip()]
    for _ in documents(n, cache):  # made (and cached) before anything is timed
        pass
    work = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    engines: dict[str, Any] = {}
    builds: dict[str, dict[str, Any]] = {}
    try:
        for name in names:
            try:
                if name == "postgresql":
                    engine, built = postgresql_engine(
                        args.url, n, cache, work, args.rebuild, args.memory_limit_gb
                    )
                else:
                    engine, built = folder_engine(
                        name, n, cache, args.rebuild, args.memory_limit_gb
                    )
            except MemoryLimitError as exc:
                say(str(exc))
                builds[name] = {"failed": str(exc)}
                continue
            builds[name] = built
            engines[name] = engine
        rows: dict[str, dict[str, list[float]]] = {}
        # Each query class in turn through every engine, so that a drift of the machine
        # over the run falls on all of them alike.
        for label, query in QUERIES.items():
            for name, engine in engines.items():
                say(f"{name}: {label}")
                rows.setdefault(name, {})[label] = timed(
                    partial(engine.search, query, limit=20), args.repeat, args.budget
                )
        for name, engine in engines.items():
            rows.setdefault(name + ", agency counts", {})["one word (~2.5%)"] = timed(
                partial(engine.search, "tank", limit=20, count_agencies=True),
                args.repeat,
                args.budget,
            )
            totals = {label: engine.search(q, limit=1).total for label, q in QUERIES.items()}
            say(f"{name} totals: {totals}")
        print(
            f"\n{n:,} documents, corpus {corpus_key()}, {os.cpu_count()} cores; build "
            "(rebuild, from cached documents; peak resident memory of the bench process "
            "and its children):"
        )
        for name, built in builds.items():
            if "failed" in built:
                print(f"  {name:<12} {built['failed']}")
                continue
            when = f"  (cached: built {built['built_at']})" if built.get("cached") else ""
            server = " (+ server)" if name == "postgresql" else ""
            print(
                f"  {name:<12} {built['build_s']:8.1f} s  peak {built['peak_mb']:>6,} MB"
                f"{server}{when}"
            )
        table(
            f"search, limit 20, {args.repeat} runs after one warm-up", rows, list(QUERIES),
            args.repeat,
        )  # fmt: skip
        if args.rum and "postgresql" in engines:
            figures = rum_figures(engines["postgresql"], args.repeat)
            table("plain top-20 rankings in SQL", figures, list(next(iter(figures.values()))))
    finally:
        for name, engine in engines.items():
            if name == "postgresql" and not args.keep:
                with engine._connection() as conn:
                    conn.execute(engine._sql("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            engine.close()
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    run(options())


if __name__ == "__main__":
    main()
