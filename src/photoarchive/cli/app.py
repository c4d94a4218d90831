"""The `photoarchive` command group, its global options and the error edge."""

from __future__ import annotations

import contextlib
import errno
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import click

from photoarchive.cli.output import printable
from photoarchive.errors import PhotoArchiveError

# The exit status of a command whose reader went away (128 + SIGPIPE), as the shell reports
# a process that SIGPIPE ended: `photoarchive search x | head -1` under `set -o pipefail`
# tells that the output was cut short, as `yes | head -1` does, and nothing is printed.
EXIT_CLOSED_PIPE = 141
# Errors of the machine rather than of the files: said as they are, wherever they arise.
_ENVIRONMENT_ERRNOS = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EACCES,
    errno.EPERM,
    errno.EROFS,
    errno.EMFILE,
    errno.ENFILE,
    errno.ENOMEM,
}


#: Each command and the module (of photoarchive.cli) defining it: a command imports its own
#: module alone, so `photoarchive search` does not pay for the others' imports and options.
COMMAND_MODULES = {
    "init": "maintenance",
    "stats": "maintenance",
    "reindex": "maintenance",
    "verify": "maintenance",
    "migrate": "maintenance",
    "ingest": "ingest",
    "worker": "ingest",
    "search": "search",
    "show": "show",
    "rights": "rights",
    "captions": "captions",
    "serve": "serve",
    "searchd": "serve",
    "contact-sheet": "serve",
    "edit": "wire",
    "kill": "wire",
    "unkill": "wire",
    "similar": "wire",
    "duplicates": "wire",
    "export": "wire",
    "watch": "wire",
    "users": "team",
    "audit": "team",
    "selection": "selections",
}


class ArchiveGroup(click.Group):
    """A group that turns library errors into one 'Error: ...' line and exit status 1, and
    imports a command's module only when the command is run (or help lists it)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMAND_MODULES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module_name = COMMAND_MODULES.get(cmd_name)
        if module_name is None:
            return None
        import importlib

        module = importlib.import_module(f"photoarchive.cli.{module_name}")
        for command in module.COMMANDS:
            if command.name == cmd_name:
                return command  # type: ignore[no-any-return]
        return None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            try:
                return super().invoke(ctx)
            finally:
                # Output still buffered must meet a closed pipe here, where it is handled,
                # rather than in the interpreter's last flush, which prints a traceback.
                sys.stdout.flush()
        except BrokenPipeError:
            _closed_pipe()
        except PhotoArchiveError as exc:
            raise click.ClickException(printable(exc)) from None
        except OSError as exc:
            if exc.errno == errno.EPIPE:
                _closed_pipe()
            if exc.errno not in _ENVIRONMENT_ERRNOS and _raised_in_whoosh(exc):
                # A segment file of the search index is gone or cut short (EINVAL from
                # seeking past its end); a full or read-only disk is said as such.
                raise click.ClickException(printable(_explain(exc, Path(ctx.obj or ".")))) from None
            where = f" ({exc.filename})" if exc.filename else ""
            raise click.ClickException(printable(f"{exc.strerror or exc}{where}")) from None
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)
        except click.UsageError as exc:
            # Usage errors quote what was typed (a file name from a script, say).
            raise _PrintableUsageError(exc) from None
        except click.ClickException as exc:
            raise click.ClickException(printable(exc.format_message())) from None
        except (click.exceptions.Exit, click.Abort, SystemExit):
            raise
        except Exception as exc:
            if os.environ.get("PHOTOARCHIVE_DEBUG"):
                raise
            raise click.ClickException(printable(_explain(exc, Path(ctx.obj or ".")))) from None


class _PrintableUsageError(click.UsageError):
    """A usage error shown as click shows it, with its message made printable."""

    def __init__(self, original: click.UsageError) -> None:
        super().__init__(original.format_message(), original.ctx)

    def format_message(self) -> str:
        return printable(self.message, one_line=False)


def _closed_pipe() -> NoReturn:
    """End quietly after the reader of stdout went away (`... | head -1`).

    As Python's documentation on SIGPIPE recommends: what is still buffered goes to
    /dev/null, so the interpreter's final flush cannot fail and print a traceback.
    """
    devnull = os.open(os.devnull, os.O_WRONLY)
    for stream in (sys.stdout, sys.stderr):
        # A stream that is no real file (a test runner's buffer) has nothing to redirect.
        with contextlib.suppress(OSError, ValueError):
            os.dup2(devnull, stream.fileno())
    os.close(devnull)
    sys.exit(EXIT_CLOSED_PIPE)


def _explain(exc: Exception, archive: Path) -> str:
    """Return the one-line message for an error the library did not translate itself.

    A damaged catalog can be noticed only when a damaged page is read, long after it was
    opened, and a damaged search index likewise only when a damaged segment is; both are
    named here with what to do, instead of as an internal error.
    """
    if type(exc).__module__ == "sqlite3":
        # Only the catalog is SQLite.
        catalog = archive / "catalog.sqlite"
        if type(exc).__name__ == "DatabaseError":
            return (
                f"the catalog {catalog} is damaged ({exc}): restore catalog.sqlite from a "
                "backup; 'photoarchive reindex' cannot rebuild it"
            )
        return f"the catalog {catalog} cannot be read ({exc})"
    if _raised_in_whoosh(exc):
        return (
            f"the search index {archive / 'index'} is damaged ({type(exc).__name__}: {exc}); "
            "rebuild it with 'photoarchive reindex'"
        )
    return (
        f"internal error ({type(exc).__name__}: {exc}); "
        "run again with PHOTOARCHIVE_DEBUG=1 for details"
    )


def _raised_in_whoosh(exc: BaseException) -> bool:
    """True if the error was raised inside Whoosh, which reads the search index: garbage in
    a segment comes out as whatever that code trips over (struct.error, UnpicklingError...).
    """
    whoosh = sys.modules.get("whoosh")
    folder = os.path.dirname(getattr(whoosh, "__file__", None) or "") if whoosh else ""
    if not folder:
        return False
    tb = exc.__traceback__
    while tb is not None:
        if tb.tb_frame.f_code.co_filename.startswith(folder + os.sep):
            return True
        tb = tb.tb_next
    return False


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
