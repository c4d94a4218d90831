"""Output helpers shared by commands: JSON to stdout, messages to stderr, opening the archive."""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from photoarchive.archive import Archive


def open_from_context(ctx: click.Context, write: bool = False) -> Archive:
    """Open the archive named by the global --archive option: read-only (searches work on
    a read-only or full disk) unless the command writes; a writer that must wait for
    another says so on stderr."""
    from photoarchive.archive import open_archive

    return open_archive(ctx.obj, readonly=not write, on_wait=say)


def print_json(data: Any) -> None:
    """Print data as indented JSON on stdout (and nothing else there)."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


def say(message: str) -> None:
    """Print a message for people on stderr."""
    click.echo(message, err=True)


def excerpt(text: str | None, width: int) -> str:
    """Return text on one line, cut to `width` characters with an ellipsis."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def stderr_is_terminal() -> bool:
    """True when stderr is a terminal, so a live progress bar is worth drawing."""
    return sys.stderr.isatty()
