"""An ingest worker: claims jobs from the archive's queue a few at a time, ingests their files
under a lease it keeps renewing, and records each outcome."""

from __future__ import annotations

import os
import socket
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from photoarchive.archive import Archive
from photoarchive.errors import QueueError
from photoarchive.ingest import FileOutcome, IngestOptions
from photoarchive.queue import LEASE_SECONDS, Job, JobQueue, open_queue

#: The desk's values a job may carry (IngestOptions' fields, less the process count).
JOB_OPTIONS = ("caption", "headline", "credit", "byline", "keywords")
#: Jobs a worker claims at a time: ingested together, one commit of the catalog and the
#: index serves them all (one job at a time cost 25-40% of the throughput of a direct ingest).
BATCH = 8


def worker_name() -> str:
    """A name no other worker has: this machine, this process and a random part."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def queue_of(archive: Archive) -> JobQueue:
    """The archive's ingest queue (QueueError if archive.toml names none)."""
    url = archive.settings.queue
    if not url:
        raise QueueError(
            'this archive has no ingest queue: set queue = "postgresql://USER@HOST/DATABASE" '
            "under [archive] in archive.toml"
        )
    return open_queue(url, archive.catalog.archive_id() or str(archive.root.resolve()))


def job_options(options: IngestOptions) -> dict[str, Any]:
    """The desk's values of an ingest as a job carries them."""
    found: dict[str, Any] = {}
    for name in JOB_OPTIONS:
        value = getattr(options, name)
        if value:
            found[name] = list(value) if name == "keywords" else value
    return found


@dataclass
class Worked:
    """What a worker did: outcomes by status, and jobs it lost to another worker."""

    counts: dict[str, int]
    lost: int = 0


def work(
    archive: Archive,
    queue: JobQueue,
    name: str,
    *,
    until_empty: bool = False,
    lease: float = LEASE_SECONDS,
    batch: int = BATCH,
    stop: threading.Event | None = None,
    on_outcome: Callable[[Job, dict[str, Any]], None] | None = None,
) -> Worked:
    """Claim jobs (up to `batch` at a time) and ingest them until `stop` is set (or,
    `until_empty`, until no job is waiting or held by anyone); return what was done."""
    stop = stop or threading.Event()
    worked = Worked(counts={})
    while not stop.is_set():
        jobs = queue.claim(name, lease, batch)
        if not jobs:
            if until_empty:
                counts = queue.counts()
                if not counts["waiting"] and not counts["running"]:
                    break
            # Woken by a submission or an outcome; a job held by a worker that died becomes
            # claimable when its lease runs out, so look again well within one.
            queue.wait(min(5.0, lease / 2))
            continue
        for job, outcome in _ingest(archive, queue, jobs, name, lease):
            status = str(outcome["status"])
            worked.counts[status] = worked.counts.get(status, 0) + 1
            if not queue.finish(job, name, outcome):
                worked.lost += 1  # its lease ran out and another worker took it meanwhile
            if on_outcome is not None:
                on_outcome(job, outcome)
    return worked


def _ingest(
    archive: Archive, queue: JobQueue, jobs: list[Job], name: str, lease: float
) -> list[tuple[Job, dict[str, Any]]]:
    """Ingest the jobs' files, those with the same desk values in one batch (one catalog
    and index commit for many photos), while a thread renews their lease."""
    done = threading.Event()

    def renew() -> None:
        while not done.wait(lease / 3):
            try:
                if not queue.renew(jobs, name, lease):
                    return
            except QueueError:
                return  # the server away for a moment: the lease may run out, no harm

    renewer = threading.Thread(target=renew, name="lease", daemon=True)
    renewer.start()
    results: list[tuple[Job, dict[str, Any]]] = []
    try:
        groups: dict[str, list[Job]] = {}
        for job in jobs:
            groups.setdefault(repr(sorted(job.options.items())), []).append(job)
        for group in groups.values():
            results += _ingest_group(archive, group)
    finally:
        done.set()
        renewer.join()
    return results


def _ingest_group(archive: Archive, jobs: list[Job]) -> list[tuple[Job, dict[str, Any]]]:
    values = {k: v for k, v in jobs[0].options.items() if k in JOB_OPTIONS}
    if "keywords" in values:
        values["keywords"] = tuple(values["keywords"])
    report = archive.ingest([job.path for job in jobs], IngestOptions(**values, jobs=1))
    by_path: dict[str, list[FileOutcome]] = {}
    for outcome in report.outcomes:
        by_path.setdefault(str(outcome.path), []).append(outcome)
    results: list[tuple[Job, dict[str, Any]]] = []
    for job in jobs:
        found = by_path.get(job.path)
        if not found:
            gone = FileOutcome(job.path, "rejected", reason="the file is gone")
            results.append((job, gone.to_dict()))
            continue
        results.append((job, found.pop(0).to_dict()))
    return results
