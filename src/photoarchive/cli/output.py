"""Output helpers shared by commands: safe text for terminals, JSON to stdout, messages to
stderr, opening the archive."""

from __future__ import annotations

import json
import re
import sys
from typing import TYPE_CHECKING, Any

# click is imported where it is used: the quick search path (cli/quick.py) shares these
# helpers without it.
if TYPE_CHECKING:
    import click

    from photoarchive.archive import Archive

# What a terminal would act on instead of showing: C0 controls (ESC starts escape sequences,
# CR and BS overwrite what was printed), DEL, C1 controls (U+009B is an 8-bit CSI), Unicode
# bidi controls (U+202E makes "gpj.exe" read "exe.jpg"), and lone surrogates (file names that
# are not UTF-8, which cannot even be encoded for output). Tab and newline stay in messages.
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
# In one-line output (table cells, one-line messages) a line break or tab in the data would
# forge a row or shift the columns, so these are shown too.
_UNSAFE_ONE_LINE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]"
)
# What JSON may hold raw (it escapes C0 controls itself) but a terminal showing the JSON
# would act on: DEL, C1 and bidi controls, line separators; and lone surrogates, which
# cannot be encoded at all.
_JSON_UNSAFE = re.compile(
    "[\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029\ud800-\udfff]"
)


def _visible(match: re.Match[str]) -> str:
    code = ord(match.group())
    if 0xDC80 <= code <= 0xDCFF:
        # A byte of a file name that is not UTF-8 (os.fsdecode's surrogateescape): its byte.
        return f"\\x{code - 0xDC00:02x}"
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: object, one_line: bool = True) -> str:
    """Return text safe to show on a terminal: control characters, escape sequences and bidi
    controls become visible escapes (ESC is shown as \\x1b, U+202E as \\u202e).

    With `one_line` (the default) newlines and tabs are shown as \\n and \\t too, so data
    can never start a new line or shift a column.
    """
    pattern = _UNSAFE_ONE_LINE if one_line else _UNSAFE
    return pattern.sub(_visible, "" if text is None else str(text))


def cell(text: str | None, width: int) -> str:
    """Return text as one table cell: on one line, made printable, cut to `width`."""
    # Runs of whitespace (line breaks, tabs) read as one space; what is left is escaped.
    return excerpt(printable(" ".join((text or "").split())), width)


def echo(line: str = "") -> None:
    """Print one line for people on stdout, made printable."""
    import click

    click.echo(printable(line))


def say(message: str) -> None:
    """Print a one-line message for people on stderr, made printable."""
    import click

    click.echo(printable(message), err=True)


def json_text(data: Any) -> str:
    """Return data as indented JSON that is valid UTF-8 whatever the strings hold."""
    text = json.dumps(data, ensure_ascii=False, indent=2)
    # These characters occur only inside JSON strings, where \\uXXXX means the same: the
    # parsed values stay exact, and nothing raw reaches a terminal or an encoder.
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def print_json(data: Any) -> None:
    """Print data as indented JSON on stdout (and nothing else there), in UTF-8 whatever
    the locale says."""
    import click

    click.echo(json_text(data).encode("utf-8"))


def open_from_context(ctx: click.Context, write: bool = False) -> Archive:
    """Open the archive named by the global --archive option: read-only (searches work on
    a read-only or full disk) unless the command writes; a writer that must wait for
    another says so on stderr."""
    from photoarchive.archive import open_archive

    return open_archive(ctx.obj, readonly=not write, on_wait=say)


def excerpt(text: str | None, width: int) -> str:
    """Return text on one line, cut to `width` characters with an ellipsis."""
    flat = " ".join((text or "").split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def stderr_is_terminal() -> bool:
    """True when stderr is a terminal, so a live progress bar is worth drawing."""
    return sys.stderr.isatty()
