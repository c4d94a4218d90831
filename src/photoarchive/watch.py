"""The hot folder: ingest files as they arrive, once each, then move them aside."""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import TYPE_CHECKING, TypeVar

from photoarchive.errors import PhotoArchiveError
from photoarchive.ingest import FileOutcome, IngestOptions

if TYPE_CHECKING:
    from photoarchive.archive import Archive

DONE, REJECTED = "done", "rejected"
REASON_SUFFIX = ".reason.txt"
NAME_MAX = 255
#: Names that copy tools, browsers and editors give files they have not finished writing.
PARTIAL_PREFIXES = (".", "~$")
PARTIAL_SUFFIXES = (
    "~",
    ".part",
    ".partial",
    ".tmp",
    ".temp",
    ".crdownload",
    ".download",
    ".filepart",
    ".!ut",
    ".!qb",
)

Problem = Callable[[Path, str], None]
_T = TypeVar("_T")


@dataclass
class _Seen:
    size: int
    mtime: float
    since: float


@dataclass
class _Retry:
    """A file that ingest rejected, waiting to be tried again."""

    first: float
    next_try: float
    wait: float


def is_partial_name(name: str) -> bool:
    """True for names of files still being written (browser downloads, editors' temp files):
    the hot folder never ingests or moves them."""
    lowered = name.lower()
    return lowered.startswith(PARTIAL_PREFIXES) or lowered.endswith(PARTIAL_SUFFIXES)


def require_folder(folder: Path) -> None:
    """Raise PhotoArchiveError unless `folder` is an existing folder."""
    if not folder.is_dir():
        what = " (it is a file)" if folder.exists() else ""
        raise PhotoArchiveError(f"no such folder: {folder}{what}")


def watch_folder(
    archive: Archive,
    folder: Path,
    options: IngestOptions | None = None,
    settle: float = 2.0,
    poll: float = 1.0,
    stop: threading.Event | None = None,
    once: bool = False,
    on_outcome: Callable[[FileOutcome, Path], None] | None = None,
    patience: float = 30.0,
    on_problem: Problem | None = None,
) -> int:
    """Ingest files that land in `folder`; return how many were handled.

    A file is taken once its size and modification time have not changed for `settle`
    seconds (so half-copied files wait); names of partial files (`.part`, `~$x`, ...) are
    left alone. A file that ingest rejects is tried again, waiting twice as long each time,
    until `patience` seconds have passed since the first try (a copy that paused for longer
    than `settle` finishes meanwhile; if the file changes, its clock starts again). Ingested
    files (and duplicates) move to done/, rejected ones to rejected/ beside a .reason.txt.
    The folder itself is the state: after a restart nothing is ingested twice. A file that
    cannot be moved is reported once through `on_problem` (else logged) and left alone
    while it is unchanged. With `once`, return when nothing is left to do.
    """
    require_folder(folder)
    stop = stop or threading.Event()
    report_problem = on_problem or _to_log
    for sub in (DONE, REJECTED):
        (folder / sub).mkdir(exist_ok=True)
    seen: dict[Path, _Seen] = {}
    retries: dict[Path, _Retry] = {}
    # Files that could not be moved aside, with the (size, mtime) they had: ingesting them
    # again would only repeat the outcome and the failure, every poll.
    stuck: dict[Path, tuple[int, float]] = {}
    listing_failed = False
    handled = 0
    while not stop.is_set():
        now = time.monotonic()
        try:
            present = _arrivals(folder)
            listing_failed = False
        except OSError as exc:
            # A network share that drops out for a moment must not end the watch.
            if not listing_failed:
                report_problem(folder, f"cannot read {folder}: {exc.strerror or exc}")
            listing_failed = True
            present = []
        ready = []
        for path in present:
            try:
                info = path.stat()
            except OSError:
                continue
            state = (info.st_size, info.st_mtime)
            if path in stuck:
                if stuck[path] == state:
                    continue
                del stuck[path]  # replaced by a new file under the same name
            before = seen.get(path)
            if before is None or (before.size, before.mtime) != state:
                seen[path] = _Seen(info.st_size, info.st_mtime, now)
                retries.pop(path, None)  # still being written: its patience starts again
                continue
            retry = retries.get(path)
            if retry is not None:
                if now >= retry.next_try:
                    ready.append(path)
            elif now - before.since >= (settle if info.st_size else settle * 5):
                # An empty file may be one being created: it waits longer, then is rejected.
                ready.append(path)
        _forget_gone(seen, present)
        _forget_gone(retries, present)
        _forget_gone(stuck, present)
        if ready:
            report = archive.ingest(ready, options)
            for outcome in report.outcomes:
                path = Path(outcome.path)
                if outcome.status == "rejected" and _try_again(
                    retries, path, settle, patience, time.monotonic()
                ):
                    continue
                retries.pop(path, None)
                problem = _move_aside(folder, path, outcome)
                if problem is not None:
                    before = seen.get(path)
                    if before is not None:
                        stuck[path] = (before.size, before.mtime)
                    report_problem(path, problem)
                seen.pop(path, None)
                handled += 1
                if on_outcome:
                    on_outcome(outcome, path)
        if once and all(path in stuck for path in present):
            break
        stop.wait(poll)
    return handled


def _try_again(
    retries: dict[Path, _Retry], path: Path, settle: float, patience: float, now: float
) -> bool:
    """Schedule another try of a rejected file; False once its patience has run out.

    Rejected files write nothing to the archive, so trying again is safe; it lets a copy
    that stalled for longer than `settle` (a slow share, a paused upload) arrive whole.
    """
    retry = retries.get(path)
    first = retry.first if retry else now
    deadline = first + patience
    if now >= deadline:
        return False
    wait = retry.wait * 2 if retry else max(settle, 0.05) * 2
    retries[path] = _Retry(first, min(now + wait, deadline), wait)
    return True


def _forget_gone(table: dict[Path, _T], present: list[Path]) -> None:
    for gone in set(table) - set(present):
        del table[gone]


def _arrivals(folder: Path) -> list[Path]:
    found = []
    for entry in sorted(folder.iterdir()):
        if is_partial_name(entry.name) or entry.name in (DONE, REJECTED):
            continue
        if entry.is_file():
            found.append(entry)
    return found


def _to_log(path: Path, message: str) -> None:
    # The library never prints: without a callback, problems go to the logging system.
    logging.getLogger("photoarchive.watch").warning("%s", message)


def _move_aside(folder: Path, path: Path, outcome: FileOutcome) -> str | None:
    """Move a handled file to done/ or rejected/; return what went wrong, or None."""
    rejected = outcome.status == "rejected"
    target_dir = folder / (REJECTED if rejected else DONE)
    try:
        limit = os.pathconf(target_dir, "PC_NAME_MAX")
    except (OSError, ValueError):
        limit = NAME_MAX
    limit = min(limit, NAME_MAX)
    # A rejected file's name leaves room for its NAME.reason.txt companion.
    reserve = len(REASON_SUFFIX) if rejected else 0
    try:
        n = 1
        while True:
            target = target_dir / fitted_name(path.name, n, limit - reserve)
            reason = target.with_name(target.name + REASON_SUFFIX)
            if not (os.path.lexists(target) or (rejected and os.path.lexists(reason))):
                break
            n += 1
        os.rename(path, target)
    except OSError as exc:
        return (
            f"cannot move {path.name} to {target_dir.name}/: {exc.strerror or exc}; "
            "it stays in the folder and is not ingested again until it changes"
        )
    if rejected:
        try:
            reason.write_text(f"{outcome.reason}\n", encoding="utf-8")
        except OSError as exc:
            return f"cannot write {reason.name}: {exc.strerror or exc}"
    return None


def fitted_name(name: str, n: int, limit: int = NAME_MAX) -> str:
    """Return `name` (n == 1) or `stem-n.ext`, its stem shortened by whole characters until
    the name takes at most `limit` bytes in the file system's encoding."""
    pure = PurePath(name)
    stem, ext = pure.stem, pure.suffix
    tag = f"-{n}" if n > 1 else ""
    room = limit - _size(tag) - _size(ext)
    if room < 16:  # an absurdly long "extension": shorten the whole name instead
        stem, ext = name, ""
        room = limit - _size(tag)
    if _size(stem) > room:
        kept, used = [], 0
        for char in stem:
            used += _size(char)
            if used > room:
                break
            kept.append(char)
        stem = "".join(kept)
    return f"{stem}{tag}{ext}"


def _size(text: str) -> int:
    # fsencode keeps undecodable bytes of odd file names as one byte each.
    return len(os.fsencode(text))
