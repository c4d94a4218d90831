"""The `photoarchive` command group, its global options and the error edge."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from photoarchive.errors import PhotoArchiveError


class ArchiveGroup(click.Group):
    """A group that turns library errors into 'Error: ...' and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except PhotoArchiveError as exc:
            raise click.ClickException(str(exc)) from None
        except OSError as exc:
            where = f" ({exc.filename})" if exc.filename else ""
            raise click.ClickException(f"{exc.strerror or exc}{where}") from None
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except (click.ClickException, click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except Exception as exc:
            if os.environ.get("PHOTOARCHIVE_DEBUG"):
                raise
            raise click.ClickException(
                f"internal error ({type(exc).__name__}: {exc}); "
                "run again with PHOTOARCHIVE_DEBUG=1 for details"
            ) from None


@click.group(cls=ArchiveGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--archive",
    "archive_dir",
    metavar="DIR",
    envvar="PHOTOARCHIVE_ARCHIVE",
    default="archive",
    show_default=True,
    help="Archive folder (also $PHOTOARCHIVE_ARCHIVE).",
)
@click.version_option(package_name="photoarchive")
@click.pass_context
def main(ctx: click.Context, archive_dir: str) -> None:
    """Caption and image archive for news photo desks.

    Ingest wire photos, screen grabs and social-media pictures with their captions and
    credits, then search them by what the caption says.

    Example:

    \b
        photoarchive init
        photoarchive ingest ~/incoming
        photoarchive search "abandoned tanks river"
    """
    ctx.obj = archive_dir


def _register() -> None:
    from photoarchive.cli import (
        captions,
        ingest,
        maintenance,
        rights,
        search,
        serve,
        show,
        wire,
    )

    for module in (maintenance, ingest, search, show, rights, captions, serve, wire):
        for command in module.COMMANDS:
            main.add_command(command)


_register()
