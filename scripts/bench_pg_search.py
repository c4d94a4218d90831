#!/usr/bin/env python3
"""Search speed of the PostgreSQL engine beside Whoosh and tantivy on one synthetic corpus.

    eval "$(bash scripts/postgres.sh start)"
    .venv/bin/python scripts/bench_pg_search.py --size 100000 [--engines postgresql,tantivy,whoosh]
        [--repeat 30] [--rum] [--url URL] [--cache ~/.cache/photoarchive-bench]

The corpus is scripts/bench_scale.py's (news captions, credits, dates; record i the same at
any size); its index documents are made once (two processes) and kept under --cache. Each
engine is built by `rebuild` (timed), then each query is run once to warm up and --repeat
times, in this process, for p50/p95. With --rum, a RUM index is put beside the GIN index
and plain SQL top-20 rankings are timed through each (`ORDER BY ts_rank` over the GIN
matches against RUM's `ORDER BY terms <=> query` read from the index). The URL's database
gets a schema `bench_<size>`, dropped at the end (--keep to leave it).
"""

from __future__ import annotations

import argparse
import os
import pickle
import shutil
import statistics
import sys
import tempfile
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
def timed(call: Callable[[], Any], repeat: int) -> list[float]:
    call()  # warm up
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        call()
        out.append((time.perf_counter() - started) * 1000)
    return out


def pct(values: list[float], q: int) -> float:
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def cell(values: list[float]) -> str:
    return f"{pct(values, 50):7.1f} / {pct(values, 95):7.1f}"


def table(title: str, rows: dict[str, dict[str, list[float]]], labels: list[str]) -> None:
    print(f"\n{title} (ms, p50 / p95)")
    width = max(len(k) for k in rows) + 2
    column = max(19, *(len(label) for label in labels)) + 3
    print(" " * width + "".join(f"{label:>{column}}" for label in labels))
    for name, by_label in rows.items():
        line = "".join(
            f"{cell(by_label[label]) if label in by_label else '-':>{column}}" for label in labels
        )
        print(f"{name:<{width}}{line}")


# -- the engines -----------------------------------------------------------------------------
def build(engine: Any, n: int, cache: Path) -> float:
    started = time.perf_counter()
    count = engine.rebuild(dict(d) for d in documents(n, cache))
    seconds = time.perf_counter() - started
    assert count == n, (count, n)
    say(f"built {engine.name} with {n:,} documents in {seconds:.1f} s")
    return seconds


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--engines", default="postgresql,tantivy,whoosh")
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--rum", action="store_true", help="also time a RUM index")
    parser.add_argument("--url", default=os.environ.get("PHOTOARCHIVE_TEST_POSTGRES", ""))
    parser.add_argument("--cache", default="~/.cache/photoarchive-bench")
    parser.add_argument("--keep", action="store_true", help="keep the schema and folders")
    args = parser.parse_args()
    cache = Path(args.cache).expanduser()
    n = args.size
    names = [e.strip() for e in args.engines.split(",") if e.strip()]
    if "postgresql" in names and not args.url:
        parser.error("no --url (or PHOTOARCHIVE_TEST_POSTGRES): start scripts/postgres.sh")
    for _ in documents(n, cache):  # made (and cached) before anything is timed
        pass
    work = Path(tempfile.mkdtemp(prefix="bench-pg-"))
    engines: dict[str, Any] = {}
    builds: dict[str, float] = {}
    try:
        for name in names:
            if name == "postgresql":
                from photoarchive.search.postgresql_engine import PostgresEngine

                engine: Any = PostgresEngine(args.url, f"bench_{n}", None, work / "index-pg")
            elif name == "tantivy":
                from photoarchive.search.tantivy_engine import TantivyEngine

                engine = TantivyEngine(work / "index-tantivy")
            else:
                from photoarchive.search.whoosh_engine import WhooshEngine

                engine = WhooshEngine(work / "index")
            builds[name] = build(engine, n, cache)
            engines[name] = engine
        rows: dict[str, dict[str, list[float]]] = {}
        for name, engine in engines.items():
            for label, query in QUERIES.items():
                rows.setdefault(name, {})[label] = timed(
                    partial(engine.search, query, limit=20), args.repeat
                )
            rows.setdefault(name + ", agency counts", {})["one word (~2.5%)"] = timed(
                partial(engine.search, "tank", limit=20, count_agencies=True), args.repeat
            )
            totals = {label: engine.search(q, limit=1).total for label, q in QUERIES.items()}
            say(f"{name} totals: {totals}")
        print(f"\n{n:,} documents; build (rebuild, from documents in memory):")
        for name, seconds in builds.items():
            print(f"  {name:<12} {seconds:8.1f} s")
        table(f"search, limit 20, {args.repeat} runs after one warm-up", rows, list(QUERIES))
        if args.rum and "postgresql" in engines:
            figures = rum_figures(engines["postgresql"], args.repeat)
            table("plain top-20 rankings in SQL", figures, list(next(iter(figures.values()))))
    finally:
        for name, engine in engines.items():
            if name == "postgresql" and not args.keep:
                with engine._connection() as conn:
                    conn.execute(engine._sql("DROP SCHEMA IF EXISTS {schema} CASCADE"))
            engine.close()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
