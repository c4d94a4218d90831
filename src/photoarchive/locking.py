"""The archive-wide writer lock and the register of running writers (fcntl, one machine).

Every command that changes the catalog or the index (an ingest's commits, edits, reindex,
verify --repair) holds the writer lock while it does, so no two of them interleave. The
lock is an `flock` on `write.lock`: the kernel releases it when its holder dies, however it
dies, so a lock is never left behind. Ingests also register themselves as running writers
for their whole run, because their worker processes store files before the catalog knows
them: `verify --prune` must not take those files for orphans.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from photoarchive.errors import ArchiveBusyError, StorageError

LOCK_FILE = "write.lock"
WRITERS_DIR = "writers"
#: Locks taken while a photo's files are written to object storage, one per first two hex
#: digits of its hash.
STORE_LOCKS_DIR = "store-locks"
# How often a waiting writer says again what it waits for.
REMIND_SECONDS = 30.0


@dataclass(frozen=True)
class Holder:
    """Who holds the lock or runs as a writer: what it does, its process and since when."""

    what: str
    pid: int
    host: str
    since: float

    def describe(self) -> str:
        """Return e.g. "reindex (process 4242, since 10:31:05)"."""
        started = datetime.fromtimestamp(self.since).strftime("%H:%M:%S")
        import socket

        where = "" if self.host == socket.gethostname() else f" on {self.host}"
        return f"{self.what} (process {self.pid}{where}, since {started})"

    def to_json(self) -> bytes:
        """Return the holder as the JSON stored in lock and register files."""
        data = {"what": self.what, "pid": self.pid, "host": self.host, "since": self.since}
        return json.dumps(data).encode("utf-8")

    @classmethod
    def from_json(cls, data: bytes) -> Holder | None:
        """Return the holder a lock or register file names, None if it is unreadable."""
        try:
            raw: dict[str, Any] = json.loads(data.decode("utf-8"))
            return cls(str(raw["what"]), int(raw["pid"]), str(raw["host"]), float(raw["since"]))
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


def _me(what: str) -> Holder:
    import socket  # here: the socket module is a cost to every command's start

    return Holder(what, os.getpid(), socket.gethostname(), time.time())


class WriterLock:
    """The archive's writer lock. Re-entrant within one object: a writer that already holds
    it (reindex inside verify --repair, the index update inside an edit) goes on."""

    def __init__(
        self,
        root: Path,
        wait_seconds: float,
        on_wait: Callable[[str], None] | None = None,
        readonly: bool = False,
    ) -> None:
        self.path = root / LOCK_FILE
        self.wait_seconds = wait_seconds
        self.on_wait = on_wait
        #: A reader takes the lock only to see the archive between two writes (verify);
        #: it never creates or writes the lock file.
        self.readonly = readonly
        self._fd: int | None = None
        self._depth = 0

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._depth > 0

    @contextlib.contextmanager
    def hold(self, what: str) -> Iterator[None]:
        """Hold the lock for the block, waiting for another writer to finish first.

        Raises ArchiveBusyError naming the holder if it is not free within `wait_seconds`.
        """
        if self._depth == 0:
            self._acquire(what)
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                self._release()

    def _acquire(self, what: str) -> None:
        try:
            if self.readonly:
                fd = os.open(self.path, os.O_RDONLY | os.O_CLOEXEC)
            else:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        except FileNotFoundError:
            if self.readonly:  # no writer has ever run here
                return
            raise _cannot_write(self.path, FileNotFoundError()) from None
        except OSError as exc:
            raise _cannot_write(self.path, exc) from None
        started = time.monotonic()
        told = -REMIND_SECONDS
        pause = 0.02
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                pass
            waited = time.monotonic() - started
            holder = _read_holder(fd)
            name = holder.describe() if holder else "another writer"
            if waited >= self.wait_seconds:
                os.close(fd)
                raise ArchiveBusyError(
                    f"the archive is busy: {name} has been writing for over "
                    f"{self.wait_seconds:.0f} s of waiting; try again when it has finished"
                )
            if self.on_wait and waited - told >= REMIND_SECONDS:
                self.on_wait(f"waiting for {name} to finish writing to the archive...")
                told = waited
            time.sleep(pause)
            pause = min(pause * 2, 0.25)
        # The holder's name, for writers that wait behind us. Losing it (a full disk) only
        # makes their message vaguer.
        if not self.readonly:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
                os.pwrite(fd, _me(what).to_json(), 0)
        self._fd = fd
        _held_fds.add(fd)

    def _release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is None:
            return
        _held_fds.discard(fd)
        if not self.readonly:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
        os.close(fd)  # closing the last descriptor releases the flock


def _read_holder(fd: int) -> Holder | None:
    try:
        return Holder.from_json(os.pread(fd, 4096, 0))
    except OSError:
        return None


@contextlib.contextmanager
def registered_writer(root: Path, what: str) -> Iterator[None]:
    """Register this process as a running writer for the block (see `running_writers`)."""
    folder = root / WRITERS_DIR
    me = _me(what)
    name = f"{me.pid}-{time.time_ns()}"
    try:
        folder.mkdir(exist_ok=True)
        # Made and locked under a name the register ignores, then renamed into it: a
        # reader never sees an entry that is not yet locked.
        pending = folder / f"{name}.new"
        fd = os.open(pending, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise _cannot_write(folder, exc) from None
    path = folder / f"{name}.json"
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, me.to_json())
        os.rename(pending, path)
    except OSError as exc:
        os.close(fd)
        with contextlib.suppress(OSError):
            pending.unlink()
        raise _cannot_write(folder, exc) from None
    _held_fds.add(fd)
    try:
        yield
    finally:
        _held_fds.discard(fd)
        with contextlib.suppress(OSError):
            path.unlink()
        os.close(fd)


def running_writers(root: Path) -> list[Holder]:
    """Return the writers registered and still running (entries of dead ones are removed)."""
    folder = root / WRITERS_DIR
    alive: list[Holder] = []
    if not folder.is_dir():
        return alive
    for path in sorted(folder.glob("*.json")):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            continue
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = Holder.from_json(os.pread(fd, 4096, 0))
                alive.append(holder or Holder("a writer", 0, "", 0.0))
                continue
            # Nobody holds it: its writer died without unregistering.
            with contextlib.suppress(OSError):
                path.unlink()
        finally:
            os.close(fd)
    return alive


@contextlib.contextmanager
def storing_photo(root: Path, sha256: str) -> Iterator[None]:
    """Hold, for the block, the lock of the photo `sha256`'s files among the processes (and
    machines sharing the archive folder) that store files: two ingests of the same bytes
    write them one after the other, and the second finds them there. Writes are also sent
    with If-None-Match, but not every server honours it (Ceph before Reef ignores it on a
    versioned bucket). One lock per first two hex digits: 256 files at most."""
    folder = root / STORE_LOCKS_DIR
    try:
        folder.mkdir(exist_ok=True)
        fd = os.open(folder / sha256[:2], os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    except OSError as exc:
        raise _cannot_write(folder, exc) from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _cannot_write(path: Path, exc: OSError) -> StorageError:
    if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
        return StorageError(f"cannot write to the archive ({path}): it is read-only")
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        return StorageError(f"disk full: cannot write {path}; free some space and try again")
    return StorageError(f"cannot write {path}: {exc.strerror or exc}")


# -- worker processes ---------------------------------------------------------------------
# Descriptors that hold a lock or a register entry. A forked worker inherits them, and an
# flock lasts while any process keeps a descriptor: a worker outliving its killed parent
# would hold the archive locked forever. Workers close them, and die with their parent.
_held_fds: set[int] = set()
_parent: dict[str, Any] = {}


def _before_fork() -> None:
    _parent["pid"] = os.getpid()
    if "prctl" not in _parent and sys.platform.startswith("linux"):
        import ctypes

        try:
            _parent["prctl"] = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):
            _parent["prctl"] = None


def _after_fork_in_child() -> None:
    for fd in list(_held_fds):
        with contextlib.suppress(OSError):
            os.close(fd)
    _held_fds.clear()
    prctl = _parent.get("prctl")
    if prctl is not None:
        pr_set_pdeathsig = 1
        prctl(pr_set_pdeathsig, int(signal.SIGKILL), 0, 0, 0)
        # The parent may have died between the fork and the prctl: then nobody waits for us.
        if os.getppid() != _parent.get("pid"):
            os._exit(1)


os.register_at_fork(before=_before_fork, after_in_child=_after_fork_in_child)
