"""Build the Flask app: one archive per worker thread, the Host allow list, security
headers, error pages, the search time budget."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from flask import Flask, Response, jsonify, request

from photoarchive.archive import Archive, open_archive
from photoarchive.archive_pool import ArchivePool
from photoarchive.fieldtext import field_text
from photoarchive.sizes import human_size
from photoarchive.store import rendition_key
from photoarchive.web.hosts import LOOPBACK_NAMES, HostAllowList

#: Seconds a search may run on the desk before it is stopped with a 503: a worker thread
#: held longer would keep other editors waiting (archive.toml's query_seconds is the
#: command line's).
DESK_QUERY_SECONDS = 5.0

# Everything the pages need is served from this app; nothing from elsewhere may load. The
# incoming view's script fetches its own page again (connect-src).
CSP = (
    "default-src 'none'; img-src 'self'; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def create_app(
    archive_root: str | Path,
    allowed_hosts: Iterable[str] = LOOPBACK_NAMES,
    query_seconds: float = DESK_QUERY_SECONDS,
    rendition_links: bool = False,
) -> Flask:
    """Return the web desk for the archive at `archive_root` (checked before serving).

    Requests are served only if their Host header names the desk by one of
    `allowed_hosts` (loopback names always), so that a hostile web page cannot reach it
    through a DNS name of its own pointed at this machine (DNS rebinding); each search may
    run `query_seconds`. With `rendition_links`, thumbnails and previews on object storage
    are read by the browser from the store itself, by short-lived signed links.
    """
    root = Path(archive_root)
    hosts = HostAllowList(allowed_hosts)  # a name that is none is refused before serving
    with open_archive(root, readonly=True) as archive:
        archive.policy  # noqa: B018 - a broken rights.toml stops the server at start
        # The store's own address, where signed links to renditions lead (None: the folder,
        # whose files the desk sends itself).
        link_origin = _origin(archive.store.url(rendition_key("0" * 64, "thumb"), 60))
    csp = CSP
    if rendition_links and link_origin:
        csp = CSP.replace("img-src 'self'", f"img-src 'self' {link_origin}")
    app = Flask(__name__)
    app.config["ARCHIVE_ROOT"] = root
    app.config["QUERY_SECONDS"] = query_seconds
    app.config["RENDITION_LINKS"] = bool(rendition_links and link_origin)
    app.extensions["photoarchive"] = ArchivePool(root)
    app.extensions["photoarchive_hosts"] = hosts

    @app.before_request
    def trusted_host() -> Any:
        host = request.headers.get("Host")
        if hosts.allows(host):
            return None
        return _unknown_host(host)

    from photoarchive.web import admin, auth, editing, errors, selections, views

    auth.install(app, root)
    app.register_blueprint(views.bp)
    app.register_blueprint(editing.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(selections.bp)
    errors.register(app)
    app.jinja_env.filters["marked"] = views.marked
    app.jinja_env.filters["size"] = human_size
    app.jinja_env.globals["field_text"] = field_text

    @app.after_request
    def security_headers(response: Any) -> Any:
        response.headers["Content-Security-Policy"] = csp
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        return response

    return app


def _unknown_host(host: str | None) -> Response:
    """The short answer to a request that names the desk by a name it does not answer to:
    no page of the desk's own, nothing from the archive."""
    shown = repr((host or "")[:100])
    message = (
        f"this desk does not answer to the name {shown} (the Host header); if that is its "
        "public name behind a proxy, start it with 'photoarchive serve --allowed-host NAME'"
    )
    if request.path.startswith("/api/"):
        response = jsonify({"error": message, "status": 400})
    else:
        response = Response(f"400 Bad Request: {message}\n", mimetype="text/plain")
    response.status_code = 400
    return response


def current_archive(app: Flask) -> Archive:
    """Return the archive of the running request's thread."""
    pool: ArchivePool = app.extensions["photoarchive"]
    return pool.get()


def _origin(url: str | None) -> str | None:
    """Return the scheme and host of `url` (what a Content-Security-Policy names)."""
    if url is None:
        return None
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
