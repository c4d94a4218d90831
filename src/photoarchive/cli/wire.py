"""The wire workflow commands: edit, kill, unkill, similar, duplicates, export, watch."""

from __future__ import annotations

import getpass
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from photoarchive.cli.output import cell, echo, open_from_context, print_json, say
from photoarchive.policy import USES


@click.command()
@click.argument("photo_id")
@click.option("--caption")
@click.option("--headline")
@click.option("--credit")
@click.option("--byline")
@click.option("--city")
@click.option("--country")
@click.option("--instructions", "special_instructions", help="Special instructions.")
@click.option(
    "--keyword",
    "keywords",
    multiple=True,
    help="Keywords (repeatable); they replace the current ones.",
)
@click.option("--by", "editor", default=None, help="Who edits (default: your login name).")
@click.option(
    "--revision",
    type=click.IntRange(0),
    default=None,
    help="The photo's revision when you read it (show --json): the edit is refused if "
    "anyone has changed the photo since.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the edited record as JSON.")
@click.pass_context
def edit(
    ctx: click.Context,
    /,
    photo_id: str,
    editor: str | None,
    keywords: tuple[str, ...],
    revision: int | None,
    as_json: bool,
    **fields: str | None,
) -> None:
    """Correct a photo's caption, credit or other fields; every change is kept in its history.

    With --revision the edit applies only if nobody changed the photo since you read it;
    otherwise it is refused with their value and yours. Edits wait for other writers.

    Example:

    \b
        photoarchive show 3f9a2c --json      # "revision": 2
        photoarchive edit 3f9a2c --caption "Ukrainian special forces in Kupiansk" \\
            --by jsmith --revision 2
    """
    from photoarchive.editing import edit_photo
    from photoarchive.errors import PhotoArchiveError

    values: dict[str, object] = {k: v for k, v in fields.items() if v is not None}
    if keywords:
        values["keywords"] = [k.strip() for k in keywords if k.strip()]
    if not values:
        raise PhotoArchiveError("nothing to change: give --caption, --credit, --keyword, ...")
    with open_from_context(ctx, write=True) as archive:
        result = edit_photo(
            archive, photo_id, values, editor or getpass.getuser(), revision=revision
        )
    if as_json:
        print_json({**result.record.to_dict(), "revision": result.revision})
    elif result.changed:
        say(f"Edited {result.record.id}: {', '.join(sorted(result.changed))}.")
    else:
        say(f"Nothing to change in {result.record.id}: it already says that.")
    if result.index_pending:
        say(f"warning: the edit is saved, but search does not show it yet: {result.index_pending}")


def _decision_options(command: Any) -> Any:
    options: list[Callable[[Any], Any]] = [
        click.argument("photo_id"),
        click.option("--reason", required=True, help="Why: kept in the picture's history."),
        click.option(
            "--by", "editor", default=None, help="Who decides (default: your login name)."
        ),
        click.option("--json", "as_json", is_flag=True, help="Print the outcome as JSON."),
        click.pass_context,
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.command()
@_decision_options
def kill(ctx: click.Context, photo_id: str, reason: str, editor: str | None, as_json: bool) -> None:
    """Kill a picture as the desk's decision: every version is blocked for every use and
    hidden from search. Recorded in its history (show --history) with who, when and why.

    Example:

    \b
        photoarchive kill 3f9a2c --reason "picture manipulated, per AFP"
    """
    _decide(ctx, photo_id, True, reason, editor, as_json)


@click.command()
@_decision_options
def unkill(
    ctx: click.Context, photo_id: str, reason: str, editor: str | None, as_json: bool
) -> None:
    """Restore a killed picture (killed by the desk or by an agency's notice). Recorded in
    its history (show --history) with who, when and why.

    Example:

    \b
        photoarchive unkill 3f9a2c --reason "AFP withdrew the kill at 14:05"
    """
    _decide(ctx, photo_id, False, reason, editor, as_json)


def _decide(
    ctx: click.Context, photo_id: str, killed: bool, reason: str, editor: str | None, as_json: bool
) -> None:
    from photoarchive.kills import set_killed

    with open_from_context(ctx, write=True) as archive:
        result = set_killed(archive, photo_id, killed, reason, editor or getpass.getuser())
    if as_json:
        print_json(
            {
                "id": result.id,
                "picture": result.picture,
                "changed": result.changed,
                "state": result.state,
            }
        )
    elif not result.changed:
        say(f"{result.id} is already {'killed' if killed else 'not killed'}.")
    elif killed:
        say(
            f"Killed {result.id} and every version of its picture ({result.picture}): "
            "blocked for every use."
        )
    else:
        say(f"Restored {result.id} (picture {result.picture}): it is {result.state} again.")
    if result.index_pending:
        say(f"warning: saved, but search does not show it yet: {result.index_pending}")


@click.command()
@click.argument("photo_id")
@click.option(
    "--distance",
    type=click.IntRange(0, 64),
    default=8,
    show_default=True,
    help="Most differing bits (of 64) of the fingerprints.",
)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def similar(ctx: click.Context, photo_id: str, distance: int, as_json: bool) -> None:
    """List photos of the same frame: resized, recompressed or refiled by another feed.

    Example:

    \b
        photoarchive similar 3f9a2c
    """
    from photoarchive.similarity import similar_photos

    with open_from_context(ctx) as archive:
        me = archive.stored(photo_id)
        found = similar_photos(archive, photo_id, distance)
        photos = archive.catalog.get_many(s for s, _ in found)
        judged = {r.sha256: v for r, v in archive.verdicts(p.record for p in photos.values())}
        states = archive.states(photos)
    rows: list[dict[str, Any]] = [
        {
            "id": sha[:12],
            "distance": d,
            # The same pixels: the same frame from another supplier (or a version).
            "same_pixels": bool(me.pixel_digest) and photos[sha].pixel_digest == me.pixel_digest,
            "credit": photos[sha].record.credit,
            "state": states[sha].state,
            "rights": judged[sha].status,
            "caption": photos[sha].record.caption,
        }
        for sha, d in found
    ]
    if as_json:
        print_json(rows)
        return
    for row in rows:
        mark = "=" if row["same_pixels"] else " "
        echo(
            f"{row['id']}  {row['distance']:>2}{mark} {cell(row['credit'], 16):<16}  "
            f"{row['rights']:<15}  {row['state']:<10}  {cell(row['caption'], 50)}"
        )
    say(f"{len(rows)} similar photos ('=' the same pixels).")


@click.command()
@click.option("--distance", type=click.IntRange(0, 64), default=8, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@click.pass_context
def duplicates(ctx: click.Context, distance: int, as_json: bool) -> None:
    """Group photos that show the same frame (near-duplicates across feeds).

    Example:

    \b
        photoarchive duplicates --json
    """
    from photoarchive.similarity import duplicate_groups

    with open_from_context(ctx) as archive:
        groups = duplicate_groups(archive, distance)
        photos = archive.catalog.get_many(s for g in groups for s in g)
    data = [
        [
            {"id": s[:12], "credit": photos[s].record.credit, "caption": photos[s].record.caption}
            for s in group
        ]
        for group in groups
    ]
    if as_json:
        print_json(data)
        return
    for n, group in enumerate(data, 1):
        echo(f"Group {n}:")
        for row in group:
            echo(f"  {row['id']}  {cell(row['credit'], 16):<16}  {cell(row['caption'], 70)}")
    say(f"{len(data)} groups of near-duplicates.")


@click.command()
@click.argument("targets", nargs=-1, required=True)
@click.option(
    "--to",
    "to",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder to write the files to.",
)
@click.option(
    "--sidecar",
    is_flag=True,
    help="Copy originals untouched and write the metadata to NAME.xmp beside them.",
)
@click.option(
    "--name",
    "pattern",
    default="{date}_{agency}_{id}",
    show_default=True,
    help="File name pattern: {id} {date} {agency} {credit} {name}.",
)
@click.option(
    "--overwrite",
    is_flag=True,
    help="Replace files of the same name in the folder (by default nothing is replaced).",
)
@click.option(
    "--include",
    type=click.Choice(["superseded", "killed"]),
    multiple=True,
    help="Export older versions of refiled pictures, or killed pictures, too (refused otherwise).",
)
@click.option(
    "--cleared-for",
    type=click.Choice(USES),
    default=None,
    help="Export only photos cleared for this use now; the others are named and left out.",
)
@click.option(
    "--max-size",
    type=click.IntRange(16, 20000),
    default=None,
    metavar="PX",
    help="Web copies: the long edge at most PX pixels (JPEG; PNG stays PNG), with the same "
    "metadata.",
)
@click.option(
    "--quality",
    type=click.IntRange(1, 95),
    default=85,
    show_default=True,
    help="JPEG quality of web copies.",
)
@click.option("--json", "as_json", is_flag=True, help="List what was written as JSON.")
@click.pass_context
def export(
    ctx: click.Context,
    targets: tuple[str, ...],
    to: Path,
    sidecar: bool,
    pattern: str,
    overwrite: bool,
    include: tuple[str, ...],
    cleared_for: str | None,
    max_size: int | None,
    quality: int,
    as_json: bool,
) -> None:
    """Export photos (by ids or a search) for a CMS, with the desk's changes in their metadata.

    Only what the desk changed (edits, values given at ingest) is written, into XMP,
    IPTC-IIM and EXIF wherever the file carries them; everything else in the file, and its
    image data, stays as it was. A photo the desk never changed goes out byte for byte.
    JPEG, PNG, TIFF and WebP take the metadata in the file; HEIC, and everything with
    --sidecar, get NAME.xmp beside an untouched copy. Killed and superseded pictures are
    refused unless --include; --cleared-for leaves out what is not cleared (exit 1).
    Each file appears whole or not at all; if a name is taken in the folder, nothing is
    exported unless --overwrite.

    Example:

    \b
        photoarchive export "credit:reuters date:2022-09" --to ~/cms --cleared-for editorial
        photoarchive export 3f9a2c --to ~/web --max-size 1600 --json
        photoarchive export selection:front-page --to ~/cms
    """
    from photoarchive.cli.rights import parse_at, targets_of
    from photoarchive.export import ExportOptions, export_photos

    with open_from_context(ctx) as archive:
        records = targets_of(archive, targets)
        options = ExportOptions(
            sidecar=sidecar,
            pattern=pattern,
            overwrite=overwrite,
            include=include,
            cleared_for=cleared_for,
            at=parse_at(archive, None),
            max_size=max_size,
            quality=quality,
        )
        report = export_photos(archive, records, to, options)
    if as_json:
        print_json(
            {
                "exported": [item.to_dict() for item in report.done],
                "left_out": [{"id": i, "why": why} for i, why in report.left_out],
            }
        )
    else:
        for item in report.done:
            extra = f" + {item.sidecar.name}" if item.sidecar else ""
            say(f"{item.id} -> {item.path}{extra} ({item.how})")
    for item in report.done:
        for warning in item.warnings:
            say(f"warning: {item.path}: {warning}")
    for photo_id, why in report.left_out:
        say(f"left out: {photo_id}: {why}")
    say(f"Exported {len(report.done)} photos to {to}.")
    if report.left_out:
        raise SystemExit(1)


@click.command()
@click.argument("folder", type=click.Path(path_type=Path))
@click.option(
    "--settle",
    type=click.FloatRange(0.1),
    default=2.0,
    show_default=True,
    help="Seconds a file must stop growing before it is read.",
)
@click.option(
    "--patience",
    type=click.FloatRange(0),
    default=30.0,
    show_default=True,
    help="Seconds a file that cannot be read is tried again before it goes to rejected/.",
)
@click.option(
    "--poll",
    type=click.FloatRange(0.1),
    default=1.0,
    show_default=True,
    help="Seconds between looks at the folder.",
)
@click.option("--once", is_flag=True, help="Handle what is there, then stop.")
@click.option("--jobs", "-j", type=click.IntRange(1, 64), default=1, show_default=True)
@click.pass_context
def watch(
    ctx: click.Context,
    folder: Path,
    settle: float,
    patience: float,
    poll: float,
    once: bool,
    jobs: int,
) -> None:
    """Watch a hot folder: ingest files as they arrive, then move them to done/ or
    rejected/ (with a .reason.txt). Stop with Ctrl-C; a restart ingests nothing twice.

    Files still being copied (.part, .crdownload, ~$name, ...) are left alone; a file that
    cannot be read is tried again for --patience seconds before it is rejected.

    Example:

    \b
        photoarchive watch /srv/incoming/wires
    """
    from photoarchive.ingest import FileOutcome, IngestOptions
    from photoarchive.watch import require_folder, watch_folder

    def report(outcome: FileOutcome, path: Path) -> None:
        detail = outcome.reason if outcome.status == "rejected" else outcome.id
        say(f"{outcome.status}: {path.name} ({detail})")

    def problem(path: Path, message: str) -> None:
        say(f"Warning: {message}")

    # The folder is the drop point others copy into: a typo must not start an empty watch.
    require_folder(folder)
    stop = threading.Event()
    with open_from_context(ctx, write=True) as archive:
        say(f"Watching {folder} (Ctrl-C to stop)")
        try:
            handled = watch_folder(
                archive,
                folder,
                IngestOptions(jobs=jobs),
                settle=settle,
                poll=poll,
                stop=stop,
                once=once,
                on_outcome=report,
                patience=patience,
                on_problem=problem,
            )
        except KeyboardInterrupt:
            stop.set()
            say("Stopped.")
            return
    say(f"Handled {handled} files.")


COMMANDS = [edit, kill, unkill, similar, duplicates, export, watch]
