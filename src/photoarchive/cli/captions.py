"""The captions commands: find captions and credits in article text."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from photoarchive.cli.output import print_json, say


@click.group()
def captions() -> None:
    """Work with captions that arrive as text rather than inside the files.

    Example:

    \b
        photoarchive captions extract article.txt --format csv > manifest.csv
    """


@captions.command("extract")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "json"]),
    default="csv",
    show_default=True,
    help="Output format; the columns a manifest takes.",
)
def extract(file: Path, fmt: str) -> None:
    """Find picture captions and their credits in article text.

    Credits glued to the caption ("...didn't finish lunchCredit: Channel 4") are split
    off; navigation and advertising lines are left out. The output has the columns of an
    ingest manifest (file, caption, credit): fill in each file name, then use it with
    `ingest --manifest`.

    Example:

    \b
        photoarchive captions extract article.txt --format json
    """
    from photoarchive.captions import extract_captions
    from photoarchive.errors import PhotoArchiveError
    from photoarchive.manifest import write_csv

    try:
        text = file.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise PhotoArchiveError(f"cannot read {file}: {exc.strerror}") from None
    found = extract_captions(text)
    rows = [{"file": "", "caption": e.caption, "credit": e.credit or ""} for e in found]
    if fmt == "json":
        print_json(rows)
    else:
        # Cells a spreadsheet would run as formulas get a leading quote, which the manifest
        # reader takes off again: the CSV goes back in through `ingest --manifest` unchanged.
        write_csv(rows, ["file", "caption", "credit"], sys.stdout)
    credited = sum(1 for e in found if e.credit)
    say(f"{len(found)} captions found ({credited} with a credit).")


COMMANDS = [captions]
