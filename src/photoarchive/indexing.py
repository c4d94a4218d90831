"""The catalog's photos as index entries and documents; for a large rebuild, made in worker
processes while the engine indexes."""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from datetime import tzinfo
from typing import Any

from photoarchive.catalog import Catalog, CatalogLocation, StoredPhoto
from photoarchive.record import PhotoRecord
from photoarchive.search.documents import Entry, document

#: Photos per batch read from the catalog (and per task of a worker process).
BATCH = 1000
#: Archives with at least this many photos are rebuilt with worker processes making the
#: documents: reading the catalog, judging rights facts and analysing the text took about
#: three quarters of a rebuild's time, in one process, while the engine waited.
PARALLEL_FROM = 20_000
#: Documents a worker process may have made ahead of the engine, per worker, in batches.
_AHEAD = 2


def entries_for(catalog: Catalog, zone: tzinfo, records: list[PhotoRecord]) -> list[Entry]:
    """Return the index entries of catalog records: with their states and rights facts
    (read in the rights policy's time zone `zone`)."""
    from photoarchive.rights import rights_facts

    shas = [r.sha256 for r in records]
    states = catalog.states(shas)
    sources = catalog.sources_many(shas)
    return [
        Entry(
            r,
            states.get(r.sha256, "live"),
            rights_facts(r, sources.get(r.sha256, {}), zone).status_key(),
        )
        for r in records
    ]


def index_documents(
    catalog: Catalog,
    zone: tzinfo,
    on_progress: Callable[[int], None] | None = None,
    workers: int | None = None,
) -> Iterator[dict[str, Any]]:
    """Yield the index document of every photo in the catalog, in sha256 order;
    `on_progress` is told how many are done. A large catalog's documents are made by
    `workers` processes (default: one per core, at most 4)."""
    count = workers if workers is not None else min(4, os.cpu_count() or 1)
    if count < 2 or catalog.count() < PARALLEL_FROM:
        photos = catalog.iter_photos(BATCH)
        yield from (document(e) for e in entries_in_batches(catalog, zone, photos, on_progress))
        return
    yield from _documents_by_workers(catalog, zone, on_progress, count)


def entries_in_batches(
    catalog: Catalog,
    zone: tzinfo,
    photos: Iterable[StoredPhoto],
    on_progress: Callable[[int], None] | None = None,
) -> Iterator[Entry]:
    """Yield the index entries of `photos`, made BATCH photos at a time; `on_progress` is
    told how many are done."""
    batch: list[PhotoRecord] = []
    done = 0
    for photo in photos:
        batch.append(photo.record)
        if len(batch) == BATCH:
            yield from entries_for(catalog, zone, batch)
            done += len(batch)
            batch = []
            if on_progress:
                on_progress(done)
    yield from entries_for(catalog, zone, batch)


def _documents_by_workers(
    catalog: Catalog, zone: tzinfo, on_progress: Callable[[int], None] | None, workers: int
) -> Iterator[dict[str, Any]]:
    import multiprocessing

    ranges = _ranges(catalog.conn.execute("SELECT sha256 FROM photos ORDER BY sha256"))
    # Workers are started afresh ("spawn"), not forked from a process holding SQLite
    # connections and an engine's threads.
    context = multiprocessing.get_context("spawn")
    done = 0
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_start_worker,
        initargs=(catalog.location, zone),
    ) as pool:
        pending: deque[Future[list[dict[str, Any]]]] = deque()
        tasks = iter(ranges)
        # A bounded number of batches in flight: the engine may index more slowly than
        # the workers make documents, and a million waiting would not fit in memory.
        for first, last in tasks:
            pending.append(pool.submit(_worker_documents, first, last))
            if len(pending) >= workers * _AHEAD:
                break
        while pending:
            docs = pending.popleft().result()
            following = next(tasks, None)
            if following is not None:
                pending.append(pool.submit(_worker_documents, *following))
            yield from docs
            done += len(docs)
            if on_progress:
                on_progress(done)


def _ranges(rows: Iterable[tuple[str]]) -> list[tuple[str, str | None]]:
    """Return (first, next batch's first or None) sha256 bounds of batches of BATCH photos."""
    starts = [row[0] for n, row in enumerate(rows) if n % BATCH == 0]
    return list(zip(starts, [*starts[1:], None], strict=True))


_worker: dict[str, Any] = {}


def _start_worker(location: CatalogLocation, zone: tzinfo) -> None:
    import gc

    _worker["catalog"] = Catalog(location, readonly=True)
    _worker["zone"] = zone
    # A worker makes a few thousand short-lived objects per photo, almost none in cycles:
    # with the default threshold (700) the collector ran every few photos, over the
    # analysis caches too, for 10-15% of the worker's time.
    gc.set_threshold(50_000, 20, 100)


def _worker_documents(first: str, last: str | None) -> list[dict[str, Any]]:
    catalog: Catalog = _worker["catalog"]
    records = [p.record for p in catalog.photos_between(first, last)]
    return [document(e) for e in entries_for(catalog, _worker["zone"], records)]
