"""Serve the desk in worker processes with gunicorn (the one module that imports it): the
listening socket is bound first, and each worker builds its own app after the fork."""

from __future__ import annotations

import errno
import math
import os
import signal
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from photoarchive.errors import ServeError

#: Worker processes started when none are asked for: one per core, within these bounds.
MIN_WORKERS = 2
MAX_WORKERS = 8
#: Seconds beyond the search time limit before a worker process that has stopped answering
#: its supervisor altogether is stopped and replaced.
TIMEOUT_MARGIN = 10
#: Longest request line (method, path and query) read; a longer one gets a bare 400.
REQUEST_LINE_BYTES = 256 * 1024
#: Connections waiting to be accepted (gunicorn's default).
BACKLOG = 2048
# Addresses that mean "every interface".
_ANY_ADDRESS = frozenset({"", "*"})


@dataclass(frozen=True)
class ServerOptions:
    """How the desk is served: worker processes, threads in each, and the time limits."""

    workers: int
    threads: int
    #: Seconds a worker process may stop answering its supervisor (hung as a whole, not
    #: one slow request) before it is killed and replaced.
    timeout: int
    #: Seconds the workers have, when the server is stopped, to finish requests under way.
    graceful_timeout: int


def default_workers() -> int:
    """Return the number of worker processes to start: one per CPU core this process may
    run on, at least MIN_WORKERS and at most MAX_WORKERS."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(MIN_WORKERS, min(MAX_WORKERS, cores))


def server_options(workers: int, threads: int, query_seconds: float) -> ServerOptions:
    """Return the options for a desk whose searches may run `query_seconds`: a worker
    process is replaced when stuck TIMEOUT_MARGIN seconds beyond that, and a stopping
    server waits for searches under way as long as one may run."""
    return ServerOptions(
        workers=workers,
        threads=threads,
        timeout=math.ceil(query_seconds) + TIMEOUT_MARGIN,
        graceful_timeout=math.ceil(query_seconds) + 1,
    )


def listen(host: str, port: int) -> socket.socket:
    """Return a socket listening on host:port (the first address the name resolves to;
    "" or "*" for every interface).

    Raises ServeError, in one line, if the port is in use or the address cannot be had.
    """
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
    name = None if host in _ANY_ADDRESS else host
    try:
        infos = socket.getaddrinfo(name, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ServeError(f"cannot listen on {where}: {reason}") from None
    family, _, _, _, address = infos[0]
    try:
        return socket.create_server(address, family=family, backlog=BACKLOG)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            reason = "the port is in use (is the desk already running?); choose another with --port"
        elif exc.errno == errno.EADDRNOTAVAIL:
            reason = "this machine has no such address"
        else:
            reason = exc.strerror or str(exc)
        raise ServeError(f"cannot listen on {where}: {reason}") from None


def _leave_hangup_to_the_master(worker: Any) -> None:
    """Keep a worker running through the SIGHUP of a closed terminal (which gunicorn lets
    end it, with a warning), so that the master stops it with the others."""
    signal.signal(signal.SIGHUP, signal.SIG_IGN)


def run(make_app: Callable[[], Any], listener: socket.socket, options: ServerOptions) -> None:
    """Serve the WSGI app that `make_app` returns on `listener` until SIGINT or SIGTERM,
    in `options.workers` processes of `options.threads` threads each, and return once
    every worker has stopped. The socket is handed over to the server (and closed).

    `make_app` runs in each worker process after it is forked, so that each opens its own
    files and database connections. Gunicorn's own log says warnings and errors only, on
    stderr; there is no access log.

    Raises ServeError if the worker processes cannot start.
    """
    from gunicorn.app.base import BaseApplication
    from gunicorn.arbiter import Arbiter
    from gunicorn.http import message

    # gunicorn caps its request-line limit at 8 KB, below a 1,000-character query in a
    # script of three-byte letters and below the long queries the search answers with
    # a clear 400 of its own ("query too long"); its other choice, no limit, reads a
    # line of megabytes in time that grows with its square (30 MB: 90 s of a worker).
    # So the cap is raised to 256 KB (as waitress, the desk's server before, had it), for
    # this process and its workers.
    message.MAX_REQUEST_LINE = max(message.MAX_REQUEST_LINE, REQUEST_LINE_BYTES)
    settings: dict[str, Any] = {
        # gunicorn takes over the bound socket: a port in use was said by listen(), and
        # gunicorn's own bind, which retries for five seconds, never runs.
        "bind": [f"fd://{listener.detach()}"],
        "workers": options.workers,
        "worker_class": "gthread",
        "threads": options.threads,
        "preload_app": False,
        "timeout": options.timeout,
        "graceful_timeout": options.graceful_timeout,
        "accesslog": None,
        "errorlog": "-",
        "loglevel": "warning",
        "proc_name": "photoarchive-desk",
        "limit_request_line": REQUEST_LINE_BYTES,
        "post_worker_init": _leave_hangup_to_the_master,
        # gunicorn 25.1 and later open a control socket in $HOME or $XDG_RUNTIME_DIR,
        # shared by every server of the user, from a thread of the master: not wanted.
        "control_socket_disable": True,
    }

    class Master(Arbiter):  # type: ignore[misc]  # gunicorn has no type hints
        def handle_hup(self) -> None:
            # A closed terminal stops the desk, as it stops other commands, rather than
            # gunicorn's reload: the master stops its workers as for SIGTERM.
            self.handle_term()

    class Desk(BaseApplication):  # type: ignore[misc]
        def run(self) -> None:
            Master(self).run()

        def load_config(self) -> None:
            for name, value in settings.items():
                if name in self.cfg.settings:  # an older gunicorn lacks the newest
                    self.cfg.set(name, value)

        def load(self) -> Any:
            from gunicorn.errors import AppImportError

            # gunicorn has just reset SIGHUP to end the worker: kept running from here, not
            # only once the app is made (post_worker_init), which may take a second (an
            # object store's client, a large index), so a closed terminal's SIGHUP meanwhile
            # does not end it with a warning.
            _leave_hangup_to_the_master(None)
            try:
                return make_app()
            except Exception as exc:
                # One line from each worker, not a traceback; the master then stops.
                raise AppImportError(f"Error: {exc}") from None

    master = os.getpid()
    try:
        Desk().run()
    except SystemExit as stop:
        if os.getpid() != master:
            raise  # a worker process ending: its exit status is for the master to read
        if stop.code not in (None, 0):
            raise ServeError(
                "the desk's worker processes could not start (see the messages above)"
            ) from None
