"""The search service behind `photoarchive searchd`: a process that keeps an archive open and
answers `photoarchive search --json` through a socket in the archive folder, so that scripts
asking many questions do not pay for starting Python, importing and opening the archive on
every one (about 150 ms at a million photos against a few ms of searching)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import stat
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import FrameType

from photoarchive.archive_pool import ArchivePool
from photoarchive.cli.output import printable
from photoarchive.cli.quick import (
    SEARCH_HERE,
    SOCKET_NAME,
    answer,
    decode_question,
    known_use,
)
from photoarchive.errors import PhotoArchiveError, ServeError

#: A question longer than this is not one the command line sends.
MAX_QUESTION = 1 << 20
#: Seconds a client may take to send its question.
_READ_SECONDS = 10.0
#: The longest path a Unix socket can have on Linux (sun_path less its NUL).
_MAX_SOCKET_PATH = 107
#: Searched once by every thread at start, so that the first questions find the stemmers,
#: the Ukrainian dictionary and the index readers loaded.
_WARM_UP = "news новини"
#: Signals that stop the service (the socket removed): Ctrl-C, kill, the terminal closing.
_STOPPING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
#: How often the waiting main thread looks at signals others took for it.
_WAKE_SECONDS = 0.5


class SearchService:
    """Answers searches of one archive on `ARCHIVE/searchd.sock`, `threads` at a time."""

    def __init__(self, root: Path, threads: int = 4) -> None:
        self.root = root
        self.path = root / SOCKET_NAME
        self.threads = threads
        self._pool = ArchivePool(root)
        self._listener: socket.socket | None = None
        self._inode: int | None = None

    def start(self) -> None:
        """Make the socket (readable and writable by this user alone) and warm every
        thread's archive; ServeError if another service answers for the archive already."""
        path = str(self.path)
        if len(os.fsencode(path)) > _MAX_SOCKET_PATH:
            raise ServeError(
                f"the archive's path is too long for a socket ({path}): move or link the "
                "archive to a shorter path"
            )
        self._clear_stale(path)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        old_mask = os.umask(0o177)
        try:
            listener.bind(path)
        except OSError as exc:
            listener.close()
            raise ServeError(f"cannot make the socket {path}: {exc.strerror}") from exc
        finally:
            os.umask(old_mask)
        listener.listen(64)
        self._listener = listener
        self._inode = os.stat(path).st_ino

    def _clear_stale(self, path: str) -> None:
        """Remove a socket a killed service left behind; refuse if a service is answering."""
        try:
            mode = os.lstat(path).st_mode
        except FileNotFoundError:
            return
        if not stat.S_ISSOCK(mode):
            raise ServeError(f"{path} exists and is not a socket: remove it")
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(path)
        except OSError:
            os.unlink(path)  # nobody listens: a service that was killed
            return
        finally:
            probe.close()
        raise ServeError(f"a search service already answers for this archive ({path})")

    def serve(self, on_ready: Callable[[], None] | None = None) -> None:
        """Answer until SIGINT or SIGTERM; the socket is removed on the way out."""
        listener = self._listener
        if listener is None:
            raise ServeError("the search service was not started")
        previous = {number: signal.signal(number, _stop) for number in _STOPPING}
        try:
            with ThreadPoolExecutor(
                self.threads, thread_name_prefix="searchd", initializer=_leave_signals_to_main
            ) as workers:
                try:
                    self._warm(workers)
                    if on_ready is not None:
                        on_ready()
                    # accept() wakes twice a second: a stopping signal the kernel handed to a
                    # thread not ours (a library's, started with signals open) only sets a
                    # flag, which the main thread acts on when it next runs.
                    listener.settimeout(_WAKE_SECONDS)
                    while True:
                        try:
                            conn, _ = listener.accept()
                        except TimeoutError:
                            continue
                        workers.submit(self._handle, conn)
                except KeyboardInterrupt:
                    pass
                finally:
                    listener.close()
                    self._remove_socket()
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)

    def _warm(self, workers: ThreadPoolExecutor) -> None:
        """Open the archive in every thread (each waits for the others, so all take one)."""
        barrier = threading.Barrier(self.threads)

        def warm() -> None:
            self._pool.get().search(_WARM_UP, limit=1)
            barrier.wait(timeout=120)

        for future in [workers.submit(warm) for _ in range(self.threads)]:
            future.result()

    def _remove_socket(self) -> None:
        # Only our own: a service started after this one was stopped may have made another.
        with contextlib.suppress(OSError):
            if os.lstat(self.path).st_ino == self._inode:
                os.unlink(self.path)

    def _handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                conn.settimeout(_READ_SECONDS)
                data = _read_all(conn)
                conn.settimeout(None)
                conn.sendall(self._reply(data))
            except OSError:
                pass  # the client went away: it searches for itself

    def _reply(self, data: bytes | None) -> bytes:
        question = decode_question(str(self.root), data) if data is not None else None
        if question is None or not known_use(question):
            return SEARCH_HERE
        try:
            return b"0\n" + answer(self._pool.get(), question).encode("utf-8")
        except PhotoArchiveError as exc:
            return f"1\nError: {printable(exc)}".encode()
        except Exception as exc:  # the command searches again and words the error itself
            sys.stderr.write(f"searchd: {printable(type(exc).__name__)}: {printable(exc)}\n")
            return SEARCH_HERE


def _read_all(conn: socket.socket) -> bytes | None:
    """The client's question, up to its end of sending (None if longer than a question)."""
    chunks: list[bytes] = []
    size = 0
    while chunk := conn.recv(1 << 16):
        size += len(chunk)
        if size > MAX_QUESTION:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _stop(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


def _leave_signals_to_main() -> None:
    """Block the stopping signals in a worker thread, so that the kernel hands them to the
    main thread, whose accept() they then interrupt (a signal taken by a worker thread would
    only be handled once a connection came)."""
    signal.pthread_sigmask(signal.SIG_BLOCK, _STOPPING)
