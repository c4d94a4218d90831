"""The hot folder: ingest files as they arrive, once each, then move them aside."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from photoarchive.ingest import FileOutcome, IngestOptions

if TYPE_CHECKING:
    from photoarchive.archive import Archive

DONE, REJECTED = "done", "rejected"


@dataclass
class _Seen:
    size: int
    mtime: float
    since: float


def watch_folder(
    archive: Archive,
    folder: Path,
    options: IngestOptions | None = None,
    settle: float = 2.0,
    poll: float = 1.0,
    stop: threading.Event | None = None,
    once: bool = False,
    on_outcome: Callable[[FileOutcome, Path], None] | None = None,
) -> int:
    """Ingest files that land in `folder`; return how many were handled.

    A file is taken once its size and modification time have not changed for `settle`
    seconds (so half-copied files wait). Ingested files (and duplicates) move to done/,
    rejected ones to rejected/ beside a .reason.txt. The folder itself is the state: after a
    restart nothing is ingested twice. With `once`, return when the folder is empty.
    """
    stop = stop or threading.Event()
    for sub in (DONE, REJECTED):
        (folder / sub).mkdir(parents=True, exist_ok=True)
    seen: dict[Path, _Seen] = {}
    handled = 0
    while not stop.is_set():
        now = time.monotonic()
        present = _arrivals(folder)
        ready = []
        for path in present:
            try:
                info = path.stat()
            except OSError:
                continue
            before = seen.get(path)
            if before is None or (before.size, before.mtime) != (info.st_size, info.st_mtime):
                seen[path] = _Seen(info.st_size, info.st_mtime, now)
            elif now - before.since >= (settle if info.st_size else settle * 5):
                # An empty file may be one being created: it waits longer, then is rejected.
                ready.append(path)
        for gone in set(seen) - set(present):
            del seen[gone]
        if ready:
            report = archive.ingest(ready, options)
            for outcome in report.outcomes:
                path = Path(outcome.path)
                _move_aside(folder, path, outcome)
                seen.pop(path, None)
                handled += 1
                if on_outcome:
                    on_outcome(outcome, path)
        if once and not present:
            break
        stop.wait(poll)
    return handled


def _arrivals(folder: Path) -> list[Path]:
    found = []
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.name in (DONE, REJECTED):
            continue
        if entry.is_file():
            found.append(entry)
    return found


def _move_aside(folder: Path, path: Path, outcome: FileOutcome) -> None:
    target_dir = folder / (REJECTED if outcome.status == "rejected" else DONE)
    target = target_dir / path.name
    n = 2
    while target.exists():
        target = target_dir / f"{path.stem}-{n}{path.suffix}"
        n += 1
    try:
        os.replace(path, target)
    except OSError:
        return
    if outcome.status == "rejected":
        reason = target.with_name(target.name + ".reason.txt")
        reason.write_text(f"{outcome.reason}\n", encoding="utf-8")
