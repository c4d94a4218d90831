"""The quick path of `photoarchive search ... --json`: what scripts run most, read without
click (about a third of the command's start-up), answering exactly as the click command
does; anything it does not recognise goes to click.

Where `photoarchive searchd` runs for the archive, the question is passed to it through the
archive's socket and answered by its warm archive; the command then imports nothing of the
archive at all. If the service is not there, or gives up, the search runs here.
"""

from __future__ import annotations

import os
import sys

# Not typing.TYPE_CHECKING: importing typing (and the re and enum it brings) would cost
# the command passing a search to the service more than the search.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from photoarchive.archive import Archive

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

#: The search service's socket, in the archive folder.
SOCKET_NAME = "searchd.sock"
#: The first field of every question to the service; a service of another version answers
#: nothing it does not share the meaning of.
PROTOCOL = "photoarchive-search-1"
#: Seconds to wait for the service beyond the query's own time budget before searching here.
_SERVICE_GRACE = 5.0
#: What the service answers when the command should search for itself.
SEARCH_HERE = b"-\n"

#: A search as the quick path reads it: archive folder, query, limit, page, included
#: states, use to be cleared for, time budget.
Question = tuple[str, str, int, int, tuple[str, ...], str | None, float | None]


def quick_search(argv: list[str]) -> int | None:
    """Run `[--archive DIR] search QUERY --json [options]` and return its exit status, or
    None if `argv` is anything else (or anything unusual happens before output), for click
    to handle."""
    question = _parse(argv)
    if question is None:
        return None
    answered = _ask_service(question)
    if answered is not None:
        status, text = answered
        if status != 0:
            sys.stderr.write(text + "\n")
            return status
    else:
        if not known_use(question):
            return None
        from photoarchive.errors import PhotoArchiveError

        try:
            text = _search(question)
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


def _parse(argv: list[str]) -> Question | None:
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
    # Whether `use` is one the policy knows is checked by whoever answers (importing the
    # policy here would cost the command passing its question to the service 50 ms).
    return archive, positional[0], limit, page, include, use, budget


def known_use(question: Question) -> bool:
    """True unless the question asks for a use the rights policy does not know (the click
    command then says so, as it does)."""
    use = question[5]
    if use is None:
        return True
    from photoarchive.policy import USES

    return use in USES


def _one_int(given: list[str] | None, default: int, low: int, high: int | None) -> int:
    if not given:
        return default
    value = int(given[-1])
    if value < low or (high is not None and value > high):
        raise ValueError(value)
    return value


def _search(question: Question) -> str:
    from photoarchive.archive import open_archive
    from photoarchive.cli.output import say

    with open_archive(question[0], readonly=True, on_wait=say) as archive:
        return answer(archive, question)


def answer(archive: Archive, question: Question) -> str:
    """Return the JSON `search --json` prints for `question`, searched in `archive`."""
    from photoarchive.cli.output import json_text
    from photoarchive.search import SearchFilters

    _, query, limit, page, include, cleared_for, seconds = question
    result = archive.search(
        query,
        limit=limit,
        page=page,
        cleared_for=cleared_for,
        filters=SearchFilters(states=("live", *include)),
        seconds=seconds,
    )
    return json_text([r.to_dict() for r in result.results])


def encode_question(question: Question) -> bytes:
    """The question as the service reads it: NUL-separated UTF-8 fields."""
    _, query, limit, page, include, use, seconds = question
    fields = [PROTOCOL, query, str(limit), str(page), ",".join(include), use or ""]
    fields.append("" if seconds is None else repr(seconds))
    return "\0".join(fields).encode("utf-8", "surrogateescape")


def decode_question(archive_dir: str, data: bytes) -> Question | None:
    """The question `encode_question` made (for the archive the service serves), or None
    if it is not one this version reads."""
    fields = data.decode("utf-8", "surrogateescape").split("\0")
    if len(fields) != 7 or fields[0] != PROTOCOL:
        return None
    _, query, limit, page, include, use, seconds = fields
    try:
        return (
            archive_dir,
            query,
            int(limit),
            int(page),
            tuple(i for i in include.split(",") if i),
            use or None,
            float(seconds) if seconds else None,
        )
    except ValueError:
        return None


def _ask_service(question: Question) -> tuple[int, str] | None:
    """The exit status and output (or error line) of `question` as answered by the archive's
    search service, or None if there is none or it did not answer (the caller searches)."""
    path = os.path.join(question[0], SOCKET_NAME)
    if not os.path.exists(path):
        return None
    # _socket rather than socket: the module's enums and helpers cost more than the answer.
    import _socket

    seconds = question[6]
    conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        conn.settimeout((seconds if seconds is not None else 60.0) + _SERVICE_GRACE)
        conn.connect(path)
        conn.sendall(encode_question(question))
        conn.shutdown(_socket.SHUT_WR)
        chunks = []
        while chunk := conn.recv(1 << 16):
            chunks.append(chunk)
    except OSError:
        return None  # not running (a socket left by a killed service), too slow, gone
    finally:
        conn.close()
    reply = b"".join(chunks)
    status, newline, text = reply.partition(b"\n")
    if not newline or status not in (b"0", b"1"):
        return None
    return int(status), text.decode("utf-8")
