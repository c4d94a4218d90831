"""The ingest queue: files waiting to be ingested, claimed by workers on any machine.

`photoarchive ingest --queue` records a job per file; `photoarchive worker` claims them a few at
a time under a lease, ingests them and records each outcome. A worker that dies (killed, its
machine gone) stops renewing its lease, and its jobs are claimed again once the lease runs out;
the archive's content addressing makes a second ingest of the same file a duplicate, so no
photo is ingested twice.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple, Protocol

#: Seconds a claimed job is a worker's without it renewing the lease.
LEASE_SECONDS = 60.0


class Job(NamedTuple):
    """A file to ingest, with the desk's values for it (IngestOptions' fields)."""

    id: int
    path: str
    options: dict[str, Any]
    #: How many times it has been claimed, this time included.
    attempts: int


class JobQueue(Protocol):
    """Where ingest jobs wait for workers (one implementation per server kind)."""

    def submit(self, paths: Sequence[str], options: Mapping[str, Any]) -> list[int]:
        """Record a waiting job for each path (in one transaction); return their ids."""
        ...

    def claim(self, worker: str, lease: float = LEASE_SECONDS, limit: int = 1) -> list[Job]:
        """Take up to `limit` of the oldest jobs nobody holds (waiting, or whose lease ran
        out) for `worker`, oldest first; none if there are none."""
        ...

    def renew(self, jobs: Sequence[Job], worker: str, lease: float = LEASE_SECONDS) -> bool:
        """Extend the lease of jobs `worker` holds; False if one is no longer its own."""
        ...

    def finish(self, job: Job, worker: str, outcome: Mapping[str, Any]) -> bool:
        """Record the outcome of a job `worker` holds ("status": new, duplicate, rejected);
        False if the job was no longer its own (another worker took it after its lease)."""
        ...

    def wait(self, seconds: float) -> None:
        """Return when a job may be waiting or done (a submission or an outcome was
        announced), or after `seconds`."""
        ...

    def counts(self) -> dict[str, int]:
        """The number of jobs in each state: waiting, running, done."""
        ...

    def outcomes(self) -> list[dict[str, Any]]:
        """Every finished job's id ("job"), path, attempts and outcome, in the order
        submitted."""
        ...

    def close(self) -> None:
        """Let go of the server."""
        ...


def open_queue(url: str, archive_id: str) -> JobQueue:
    """Return the queue at `url` (a PostgreSQL URL) for the archive `archive_id`; its table
    is made if missing. Jobs of other archives sharing the server are not seen."""
    from photoarchive.queue.postgresql import PostgresQueue

    return PostgresQueue(url, archive_id)
