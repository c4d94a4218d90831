"""The quick path of `photoarchive search ... --json`: what scripts run most, read without
click (about a third of the command's start-up), answering exactly as the click command
does; anything it does not recognise goes to click."""

from __future__ import annotations

import os
import sys

# Options of `search` the quick path reads, and whether each takes a value.
_OPTIONS = {
    "--json": False,
    "--limit": True,
    "-n": True,
    "--page": True,
    "--include": True,
    "--cleared-for": True,
    "--query-seconds": True,
}
_INCLUDES = ("killed", "superseded", "notice")


def quick_search(argv: list[str]) -> int | None:
    """Run `[--archive DIR] search QUERY --json [options]` and return its exit status, or
    None if `argv` is anything else (or anything unusual happens before output), for click
    to handle."""
    parsed = _parse(argv)
    if parsed is None:
        return None
    from photoarchive.errors import PhotoArchiveError

    try:
        text = _search(*parsed)
    except PhotoArchiveError as exc:
        from photoarchive.cli.output import printable

        sys.stderr.write(f"Error: {printable(exc)}\n")
        return 1
    except Exception:
        # Whatever else went wrong is said by the click command, which runs the same
        # read-only search again and words every error as the command line does.
        return None
    try:
        sys.stdout.buffer.write(text.encode("utf-8") + b"\n")
        sys.stdout.flush()
    except BrokenPipeError:
        from photoarchive.cli.app import EXIT_CLOSED_PIPE

        # As the click command does: the reader went away; say nothing.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_CLOSED_PIPE
    return 0


def _parse(
    argv: list[str],
) -> tuple[str, str, int, int, tuple[str, ...], str | None, float | None] | None:
    archive = os.environ.get("PHOTOARCHIVE_ARCHIVE") or "archive"
    args = list(argv)
    if args and args[0].startswith("--archive="):
        archive = args.pop(0).split("=", 1)[1]
    elif len(args) >= 2 and args[0] == "--archive":
        archive = args[1]
        args = args[2:]
    if not args or args[0] != "search" or not archive:
        return None
    values: dict[str, list[str]] = {}
    positional: list[str] = []
    rest = iter(args[1:])
    for arg in rest:
        name, _, inline = arg.partition("=") if arg.startswith("--") else (arg, "", "")
        if name in _OPTIONS:
            if not _OPTIONS[name]:
                if inline:
                    return None
                values.setdefault(name, []).append("")
                continue
            value = inline or next(rest, None)
            if value is None:
                return None
            values.setdefault("--limit" if name == "-n" else name, []).append(value)
        elif arg.startswith("-") or positional:
            return None  # another option, "--", or a second query: click says what is wrong
        else:
            positional.append(arg)
    if not positional or "--json" not in values:
        return None
    try:
        limit = _one_int(values.get("--limit"), 20, 1, 10_000)
        page = _one_int(values.get("--page"), 1, 1, None)
        seconds = values.get("--query-seconds")
        budget = float(seconds[-1]) if seconds else None
    except ValueError:
        return None
    if budget is not None and not 0 < budget <= 3600:
        return None
    include = tuple(values.get("--include", []))
    if any(i not in _INCLUDES for i in include):
        return None
    cleared = values.get("--cleared-for")
    use = cleared[-1] if cleared else None
    if use is not None:
        from photoarchive.policy import USES

        if use not in USES:
            return None
    return archive, positional[0], limit, page, include, use, budget


def _one_int(given: list[str] | None, default: int, low: int, high: int | None) -> int:
    if not given:
        return default
    value = int(given[-1])
    if value < low or (high is not None and value > high):
        raise ValueError(value)
    return value


def _search(
    archive_dir: str,
    query: str,
    limit: int,
    page: int,
    include: tuple[str, ...],
    cleared_for: str | None,
    seconds: float | None,
) -> str:
    from photoarchive.archive import open_archive
    from photoarchive.cli.output import json_text, say
    from photoarchive.search import SearchFilters

    with open_archive(archive_dir, readonly=True, on_wait=say) as archive:
        result = archive.search(
            query,
            limit=limit,
            page=page,
            cleared_for=cleared_for,
            filters=SearchFilters(states=("live", *include)),
            seconds=seconds,
        )
    return json_text([r.to_dict() for r in result.results])
