#!/usr/bin/env python3
"""Measure the web desk's search page on a synthetic archive of N photos (default 10,000).

Photos are entered through the library (catalog and index; no image files), the desk is
served by waitress on 127.0.0.1, and each page is fetched over HTTP as a browser would.
Figures: the search page (20 results, agency counts, rights badges) against two baselines
measured in the same run: a static file from the same server, and the library search alone.

    python scripts/bench_web.py [--photos 10000] [--repeat 40]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import enter, synthetic

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


def fill(root: Path, n: int) -> None:
    """Enter n synthetic photos through the library (the same records as scripts/bench.py)."""
    enter(root, synthetic(n))


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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=40)
    args = parser.parse_args()
    from waitress.server import create_server

    from photoarchive import open_archive
    from photoarchive.web import create_app

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "archive"
        t0 = time.perf_counter()
        fill(root, args.photos)
        print(
            f"entered {args.photos:,} photos in {time.perf_counter() - t0:.1f} s", file=sys.stderr
        )
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            port = probe.getsockname()[1]
        server = create_server(create_app(root), host="127.0.0.1", port=port, threads=4)
        threading.Thread(target=server.run, daemon=True).start()
        base = f"http://127.0.0.1:{port}"

        def get(path: str) -> Callable[[], bytes]:
            return lambda: urllib.request.urlopen(base + path).read()

        static = timings(get("/static/desk.css"), args.repeat)
        print(f"{'request':<48} {'p50 ms':>8} {'p95 ms':>8} {'x static':>9}")
        print(
            f"{'static file (server floor)':<48} {p(static, 50):8.1f} {p(static, 95):8.1f} "
            f"{1.0:9.1f}"
        )
        with open_archive(root, readonly=True) as arc:
            for query, rights in QUERIES:
                from urllib.parse import quote

                verdicts = [rights] if rights else None
                lib = timings(
                    lambda q=query, v=verdicts: arc.search(q, limit=20, verdicts=v), args.repeat
                )
                url = f"/?q={quote(query)}" + (f"&rights={rights}" if rights else "")
                page = timings(get(url), args.repeat)
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
        server.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
