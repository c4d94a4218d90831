"""The ingest queue in a PostgreSQL table: jobs claimed with FOR UPDATE SKIP LOCKED under a
lease; submissions and finished jobs announced with NOTIFY, so that waiting workers look again
at once."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from photoarchive.errors import PhotoArchiveError, QueueError
from photoarchive.postgres import first_line, psycopg_module, shown
from photoarchive.queue import LEASE_SECONDS, Job

TABLE = "photoarchive_ingest_jobs"
#: The channel submissions are announced on (the payload: the archive's id).
CHANNEL = "photoarchive_ingest_jobs"

_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    id bigserial PRIMARY KEY,
    archive_id text NOT NULL,
    path text NOT NULL,
    options jsonb NOT NULL DEFAULT '{{}}',
    state text NOT NULL DEFAULT 'waiting' CHECK (state IN ('waiting', 'running', 'done')),
    worker text,
    lease_until timestamptz,
    attempts integer NOT NULL DEFAULT 0,
    submitted_at timestamptz NOT NULL DEFAULT now(),
    finished_at timestamptz,
    outcome jsonb
);
CREATE INDEX IF NOT EXISTS {TABLE}_open ON {TABLE} (archive_id, id) WHERE state <> 'done'
"""

# The oldest job nobody holds: waiting, or claimed by a worker whose lease ran out. SKIP
# LOCKED lets workers claiming at the same moment each take a different one.
_CLAIM = f"""
UPDATE {TABLE} AS j
SET state = 'running', worker = %(worker)s, attempts = j.attempts + 1,
    lease_until = now() + make_interval(secs => %(lease)s)
WHERE j.id IN (
    SELECT id FROM {TABLE}
    WHERE archive_id = %(archive)s
      AND (state = 'waiting' OR (state = 'running' AND lease_until < now()))
    ORDER BY id
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
)
RETURNING j.id, j.path, j.options, j.attempts
"""


class PostgresQueue:
    """The jobs of one archive in a table shared by every archive on the server."""

    def __init__(self, url: str, archive_id: str) -> None:
        self.url = url
        self.archive_id = archive_id
        self._conn = _connect(url)
        self._listener: Any = None
        with self._guard("make the queue's table"), self._conn.transaction():
            # Workers starting together must not create the table twice.
            self._conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (TABLE,))
            for statement in _SCHEMA.split(";"):
                self._conn.execute(statement)

    def submit(self, paths: Sequence[str], options: Mapping[str, Any]) -> list[int]:
        from psycopg.types.json import Jsonb

        with self._guard("queue the files"), self._conn.transaction():
            rows = self._conn.execute(
                f"INSERT INTO {TABLE} (archive_id, path, options) "
                "SELECT %s, p, %s FROM unnest(%s::text[]) WITH ORDINALITY AS u(p, n) "
                "ORDER BY n RETURNING id",
                (self.archive_id, Jsonb(dict(options)), list(paths)),
            ).fetchall()
            # Delivered when the transaction commits: workers wake to jobs they can see.
            self._conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, self.archive_id))
        return sorted(int(r[0]) for r in rows)

    def claim(self, worker: str, lease: float = LEASE_SECONDS, limit: int = 1) -> list[Job]:
        with self._guard("claim jobs"):
            rows = self._conn.execute(
                _CLAIM,
                {"worker": worker, "lease": lease, "archive": self.archive_id, "limit": limit},
            ).fetchall()
        jobs = [Job(int(r[0]), str(r[1]), dict(r[2]), int(r[3])) for r in rows]
        return sorted(jobs, key=lambda job: job.id)

    def renew(self, jobs: Sequence[Job], worker: str, lease: float = LEASE_SECONDS) -> bool:
        with self._guard("renew a lease"):
            done = self._conn.execute(
                f"UPDATE {TABLE} SET lease_until = now() + make_interval(secs => %s) "
                "WHERE id = ANY(%s) AND state = 'running' AND worker = %s",
                (lease, [job.id for job in jobs], worker),
            )
        return bool(done.rowcount == len(jobs))

    def finish(self, job: Job, worker: str, outcome: Mapping[str, Any]) -> bool:
        from psycopg.types.json import Jsonb

        with self._guard("record an outcome"), self._conn.transaction():
            done = self._conn.execute(
                f"UPDATE {TABLE} SET state = 'done', outcome = %s, finished_at = now(), "
                "lease_until = NULL WHERE id = %s AND state = 'running' AND worker = %s",
                (Jsonb(dict(outcome)), job.id, worker),
            )
            # Workers waiting for the last jobs to end (--until-empty) look again.
            self._conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, self.archive_id))
        return bool(done.rowcount == 1)

    def wait(self, seconds: float) -> None:
        with self._guard("wait for jobs"):
            if self._listener is None:
                self._listener = _connect(self.url)
                self._listener.execute(f"LISTEN {CHANNEL}")
            for note in self._listener.notifies(timeout=seconds):
                if note.payload == self.archive_id:
                    break

    def counts(self) -> dict[str, int]:
        with self._guard("count the jobs"):
            rows = self._conn.execute(
                f"SELECT state, count(*) FROM {TABLE} WHERE archive_id = %s GROUP BY state",
                (self.archive_id,),
            ).fetchall()
        found = {"waiting": 0, "running": 0, "done": 0}
        found.update({str(state): int(n) for state, n in rows})
        return found

    def outcomes(self) -> list[dict[str, Any]]:
        with self._guard("read the outcomes"):
            rows = self._conn.execute(
                f"SELECT id, path, outcome, attempts FROM {TABLE} "
                "WHERE archive_id = %s AND state = 'done' ORDER BY id",
                (self.archive_id,),
            ).fetchall()
        return [{"job": i, "path": p, "attempts": a, **(o or {})} for i, p, o, a in rows]

    def close(self) -> None:
        for conn in (self._conn, self._listener):
            if conn is not None:
                conn.close()

    @contextmanager
    def _guard(self, what: str) -> Iterator[None]:
        """Turn the driver's errors into one QueueError line naming what was being done."""
        import psycopg

        try:
            yield
        except psycopg.Error as exc:
            raise QueueError(
                f"the ingest queue at {shown(self.url)} failed to {what}: {first_line(exc)}"
            ) from None


def _connect(url: str) -> Any:
    try:
        psycopg = psycopg_module("the ingest queue")
    except PhotoArchiveError as exc:
        raise QueueError(str(exc)) from None
    try:
        return psycopg.connect(url, autocommit=True, connect_timeout=10)
    except psycopg.Error as exc:
        raise QueueError(
            f"cannot reach the ingest queue at {shown(url)}: {first_line(exc)}"
        ) from None
