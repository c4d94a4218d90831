"""The ingest command: files and folders in, a progress bar and a summary out."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from photoarchive.cli.output import open_from_context, print_json, say, stderr_is_terminal

LOG_EVERY = 100


@click.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("--caption", help="Caption for every file in this batch (outranks embedded ones).")
@click.option("--headline", help="Headline for every file in this batch.")
@click.option("--credit", help="Credit line for every file, e.g. 'Channel 4'.")
@click.option("--byline", help="Photographer for every file.")
@click.option("--keyword", "keywords", multiple=True, help="Keyword for every file (repeatable).")
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(1, 64),
    default=None,
    help="Worker processes (default: the number of cores).",
)
@click.option(
    "--manifest",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="CSV or JSON of per-file captions, credits, places (by file name, or by path "
    "relative to the folder given).",
)
@click.option(
    "--queue",
    "queued",
    is_flag=True,
    help="Record a job per file in the archive's ingest queue (archive.toml's queue) for "
    "`photoarchive worker` on any machine, instead of ingesting here.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print each file's outcome as JSON on stdout."
)
@click.pass_context
def ingest(
    ctx: click.Context,
    paths: tuple[str, ...],
    caption: str | None,
    headline: str | None,
    credit: str | None,
    byline: str | None,
    keywords: tuple[str, ...],
    jobs: int | None,
    manifest: Path | None,
    queued: bool,
    as_json: bool,
) -> None:
    """Ingest photos from files and folders (recursively).

    Each photo's original is stored once (by content), its metadata read and merged,
    thumbnails made and the catalog and index updated. Values given as options are the
    desk's and outrank what the files say; a --manifest row outranks them in turn. A row
    names its file by the path relative to the folder given (day1/a.jpg) or by a name only
    one file of the batch has; a name that fits two files, or two rows for one file, stop
    the ingest before it starts. Files without a row are named with a warning; rows without
    a file are named too and make the exit status 1. Files that cannot be ingested are named on
    stderr with a reason and the exit status is 1; the rest of the batch goes in.

    With --queue the files are not ingested here: a job for each is recorded in the
    archive's ingest queue (a PostgreSQL server named by archive.toml's queue), and
    `photoarchive worker` processes, on this machine or others that see the same files and
    archive, ingest them.

    Example:

    \b
        photoarchive ingest ~/wires/reuters --credit "REUTERS" --keyword Ukraine
        photoarchive ingest /shared/incoming --queue
    """
    from photoarchive.ingest import FileOutcome, IngestOptions
    from photoarchive.manifest import load_manifest, place_of

    rows = load_manifest(manifest) if manifest is not None else None
    options = IngestOptions(
        caption=caption,
        headline=headline,
        credit=credit,
        byline=byline,
        keywords=keywords,
        jobs=jobs or os.cpu_count() or 1,
        manifest=rows,
    )
    if queued:
        _queue(ctx, paths, options, as_json)
        return
    with open_from_context(ctx, write=True) as archive:
        bar: Any = None

        def progress(outcome: FileOutcome, done: int, total: int) -> None:
            nonlocal bar
            if bar is None and stderr_is_terminal():
                bar = click.progressbar(
                    length=total, label="Ingesting", file=sys.stderr, show_pos=True
                )
            if outcome.status == "rejected":
                _clear(bar)
                say(f"rejected: {outcome.path}: {outcome.reason}")
            for warning in outcome.warnings:
                _clear(bar)
                say(f"warning: {outcome.path}: {warning}")
            if bar is not None:
                bar.update(1)
            elif done % LOG_EVERY == 0:
                # Not a terminal (a log file, a pipe): a plain line now and then.
                say(f"ingested {done}/{total} files")

        report = archive.ingest(paths, options, on_progress=progress)
        if bar is not None:
            bar.render_finish()
    if as_json:
        print_json([o.to_dict() for o in report.outcomes])
    summary = (
        f"{report.count('new')} new, {report.count('duplicate')} duplicate, "
        f"{report.count('rejected')} rejected"
    )
    for row in report.unmatched_rows:
        say(f"manifest row without a file: {row} ({place_of(rows or {}, row)})")
    if report.unmatched_rows:
        summary += f", {len(report.unmatched_rows)} manifest rows without a file"
    if report.skipped:
        summary += f" ({len(report.skipped)} non-image files skipped)"
    say(summary)
    if not report.ok:
        raise SystemExit(1)


def _queue(ctx: click.Context, paths: tuple[str, ...], options: Any, as_json: bool) -> None:
    """Record a job for each file found under `paths` in the archive's ingest queue."""
    from photoarchive.errors import QueueError
    from photoarchive.ingest import discover
    from photoarchive.ingest_worker import job_options, queue_of

    if options.manifest is not None:
        raise QueueError("--manifest is not taken with --queue: ingest such a batch here")
    found, missing, skipped = discover(paths)
    for path in missing:
        say(f"not found: {path}")
    # Absolute paths: a worker may run in another folder, or on another machine that
    # mounts the files at the same place.
    files = [str(p.resolve()) for p in found]
    with open_from_context(ctx) as archive:
        queue = queue_of(archive)
        try:
            ids = queue.submit(files, job_options(options))
        finally:
            queue.close()
    if as_json:
        print_json([{"path": f, "job": i} for f, i in zip(files, ids, strict=True)])
    summary = f"{len(ids)} files queued for the workers (photoarchive worker)"
    if skipped:
        summary += f" ({len(skipped)} non-image files skipped)"
    say(summary)
    if missing:
        raise SystemExit(1)


@click.command()
@click.option(
    "--name", default=None, help="This worker's name in the queue [default: host:pid:random]."
)
@click.option(
    "--until-empty",
    is_flag=True,
    help="Stop when no job is waiting or held by another worker (else wait for more).",
)
@click.option(
    "--lease-seconds",
    type=click.FloatRange(1, 3600),
    default=60.0,
    show_default=True,
    help="How long a job stays this worker's without word from it (renewed while it works).",
)
@click.option(
    "--batch",
    type=click.IntRange(1, 1000),
    default=8,
    show_default=True,
    help="Jobs claimed at a time and ingested together (one catalog and index commit).",
)
@click.pass_context
def worker(
    ctx: click.Context, name: str | None, until_empty: bool, lease_seconds: float, batch: int
) -> None:
    """Ingest the files waiting in the archive's ingest queue (see ingest --queue).

    Jobs are claimed a few at a time (--batch) under a lease the worker renews while it
    ingests them together; a worker that dies (killed, its machine gone) lets its jobs go
    when the lease runs out, and another worker takes them. A file ingested before its
    worker died is found to be a duplicate the second time, so no photo is ingested twice.
    Run as many workers as the machines have cores; Ctrl-C or SIGTERM stops one after its
    current batch.

    Example:

    \b
        photoarchive worker
        photoarchive worker --until-empty
    """
    import signal
    import threading

    from photoarchive.ingest_worker import queue_of, work, worker_name

    who = name or worker_name()
    stop = threading.Event()

    def stopping(signum: int, frame: object) -> None:
        stop.set()

    previous = {s: signal.signal(s, stopping) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        with open_from_context(ctx, write=True) as archive:
            queue = queue_of(archive)
            say(f"Worker {who} taking jobs for {ctx.obj} (Ctrl-C to stop)")

            def told(job: Any, outcome: dict[str, Any]) -> None:
                if outcome["status"] == "rejected":
                    say(f"rejected: {job.path}: {outcome.get('reason')}")
                else:
                    say(f"{outcome['status']}: {job.path} ({outcome.get('id')})")

            try:
                done = work(
                    archive, queue, who, until_empty=until_empty, lease=lease_seconds, batch=batch,
                    stop=stop, on_outcome=told,
                )  # fmt: skip
            finally:
                queue.close()
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)
    counts = ", ".join(f"{n} {status}" for status, n in sorted(done.counts.items())) or "nothing"
    say(f"Worker {who} done: {counts}")


def _clear(bar: object) -> None:
    if bar is not None:
        click.echo("\r\033[K", nl=False, err=True)


COMMANDS = [ingest, worker]
