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

    Example:

    \b
        photoarchive ingest ~/wires/reuters --credit "REUTERS" --keyword Ukraine
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
        print_json(
            [
                {
                    "path": o.path,
                    "status": o.status,
                    "id": o.id,
                    "reason": o.reason,
                    "warnings": list(o.warnings),
                }
                for o in report.outcomes
            ]
        )
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


def _clear(bar: object) -> None:
    if bar is not None:
        click.echo("\r\033[K", nl=False, err=True)


COMMANDS = [ingest]
