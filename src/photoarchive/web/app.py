"""Build the Flask app: one archive per worker thread, security headers, error pages."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from flask import Flask

from photoarchive.archive import Archive, open_archive
from photoarchive.sizes import human_size

# Everything the pages need is served from this app; nothing from elsewhere may load.
CSP = (
    "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


class ArchivePool:
    """A read-only Archive per thread (SQLite connections stay in the thread that made them)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._local = threading.local()

    def get(self) -> Archive:
        """Return this thread's archive, opening it on first use (and again when a catalog
        that had to be read as an immutable file, on a full or read-only disk, changes)."""
        archive = getattr(self._local, "archive", None)
        if archive is not None and archive.catalog.changed_on_disk():
            archive.close()
            archive = None
        if archive is None:
            archive = open_archive(self.root, readonly=True)
            self._local.archive = archive
        return archive


def create_app(archive_root: str | Path) -> Flask:
    """Return the web desk for the archive at `archive_root` (checked before serving)."""
    root = Path(archive_root)
    with open_archive(root, readonly=True) as archive:
        archive.policy  # noqa: B018 - a broken rights.toml stops the server at start
    app = Flask(__name__)
    app.config["ARCHIVE_ROOT"] = root
    app.extensions["photoarchive"] = ArchivePool(root)

    from photoarchive.web import errors, views

    app.register_blueprint(views.bp)
    errors.register(app)
    app.jinja_env.filters["marked"] = views.marked
    app.jinja_env.filters["size"] = human_size

    @app.after_request
    def security_headers(response: Any) -> Any:
        response.headers["Content-Security-Policy"] = CSP
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    return app


def current_archive(app: Flask) -> Archive:
    """Return the archive of the running request's thread."""
    pool: ArchivePool = app.extensions["photoarchive"]
    return pool.get()
