"""Pages and JSON: search grid, incoming arrivals, photo page, files by id, contact sheets,
the API."""

from __future__ import annotations

import html
import re
from typing import Any

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
)
from markupsafe import Markup, escape

from photoarchive.archive import Archive, SearchPage, SearchResult
from photoarchive.errors import (
    IndexUnavailableError,
    ObjectMissingError,
    QueryError,
    QueryTimeoutError,
)
from photoarchive.rights import VERDICTS
from photoarchive.states import state_fields, superseded_by
from photoarchive.store import FileStore, original_key, rendition_key
from photoarchive.web.app import current_archive
from photoarchive.web.criteria import (
    SINCE_CHOICES,
    SORT_CHOICES,
    SOURCE_TYPE_CHOICES,
    DeskQuery,
    read_query,
    run_search,
    since_label,
    source_type_label,
)

bp = Blueprint("desk", __name__)
#: How long a link to a rendition on object storage works (serve --renditions-by-link).
RENDITION_LINK_SECONDS = 300
_MIMETYPES = {
    "jpg": "image/jpeg",
    "tif": "image/tiff",
    "png": "image/png",
    "webp": "image/webp",
    "heic": "image/heic",
}
PAGE_SIZE = 20
#: Arrivals on a page of the incoming view.
INCOMING_SIZE = 40
_MARK = re.compile(r"<mark[^>]*>(.*?)</mark>", re.S)


def archive() -> Archive:
    """Return the request thread's archive."""
    return current_archive(current_app)


def marked(highlighted: str | None) -> Markup:
    """Render a highlighted caption: only our <mark> tags survive; all text is escaped."""
    if not highlighted:
        return Markup("")
    out = Markup("")
    pos = 0
    for match in _MARK.finditer(highlighted):
        out += escape(html.unescape(highlighted[pos : match.start()]))
        out += Markup("<mark>") + escape(html.unescape(match.group(1))) + Markup("</mark>")
        pos = match.end()
    return out + escape(html.unescape(highlighted[pos:]))


def _seconds() -> float:
    return float(current_app.config["QUERY_SECONDS"])


def _render_list(template: str, query: DeskQuery, page: SearchPage, size: int, **extra: Any) -> str:
    return render_template(
        template,
        state=query,
        page=page,
        pages=max(1, -(-page.total // size)),
        verdicts=VERDICTS,
        sorts=SORT_CHOICES,
        spans=SINCE_CHOICES,
        source_types=SOURCE_TYPE_CHOICES,
        since_label=since_label,
        source_type_label=source_type_label,
        **extra,
    )


@bp.get("/")
def search_page() -> str:
    """The search desk: a query box, filters, an order and a grid of thumbnails; with no
    words and nothing chosen, the newest arrivals."""
    query = read_query(request.args, "/")
    arc = archive()
    if query.q or query.filtered or query.page > 1:
        page = run_search(arc, query, PAGE_SIZE, _seconds())
        return _render_list("search.html", query, page, PAGE_SIZE, front=False)
    unavailable = None
    try:
        page = run_search(arc, query, PAGE_SIZE, _seconds())
    except (QueryTimeoutError, IndexUnavailableError) as exc:
        # The front page stays up when search does not: the catalog's newest pictures.
        unavailable = str(exc)
        latest = arc.verdicts(p.record for p in arc.catalog.latest(PAGE_SIZE))
        page = SearchPage([SearchResult(r, 0.0, None, v) for r, v in latest], len(latest))
    return _render_list(
        "search.html",
        query,
        page,
        PAGE_SIZE,
        front=True,
        unavailable=unavailable,
        total_photos=arc.catalog.count(),
    )


@bp.get("/incoming")
def incoming_page() -> str:
    """The latest arrivals, newest first, narrowed by agency, source type, rights and
    arrival time; the page refreshes itself (every 30 s, or every= seconds)."""
    query = read_query(request.args, "/incoming", incoming=True)
    page = run_search(archive(), query, INCOMING_SIZE, _seconds())
    return _render_list("incoming.html", query, page, INCOMING_SIZE, incoming=True)


@bp.get("/photos/<photo_id>")
def photo_page(photo_id: str) -> str:
    """One photo: preview, every field and where it came from, rights, download."""
    return render_template("photo.html", **photo_context(archive(), photo_id))


def photo_context(arc: Archive, photo_id: str) -> dict[str, Any]:
    """Return what the photo page shows of one photo (the editing views show it again with
    their message)."""
    stored = arc.stored(photo_id)
    record = stored.record
    from photoarchive.history import picture_history

    history = picture_history(arc, record.sha256)
    standing = arc.states([record.sha256])[record.sha256]
    copies = arc.verdicts(c.record for c in arc.catalog.copies(record.sha256))
    return dict(
        record=record,
        revision=arc.catalog.revision(record.sha256),
        fields=record.to_dict(),
        sources=arc.sources(record.sha256),
        verdict=arc.check_rights(record.sha256),
        warnings=stored.warnings,
        history=history,
        standing=standing,
        copies=copies,
        copy_states=arc.states(c.sha256 for c, _ in copies),
        targets=arc.catalog.notice_targets(record.sha256) if standing.state == "notice" else None,
    )


def _send(data: bytes, mimetype: str, download_name: str | None = None) -> Response:
    response = Response(data, mimetype=mimetype)
    return _cached(response, download_name)


def _send_stored(
    store: FileStore, key: str, mimetype: str, etag: str, download_name: str | None = None
) -> Response:
    """Send a file of the archive's store, answering ranges and If-None-Match: from the
    folder, streamed by the server (gunicorn's file wrapper, with sendfile), never read
    whole into memory; from object storage, through a spooled download (a revalidation
    the browser's copy answers costs no download)."""
    path = store.local_path(key)
    try:
        if path is not None:
            response = send_file(path, mimetype=mimetype, conditional=True, etag=etag)
        elif etag in request.if_none_match:
            response = Response(status=304)
            response.set_etag(etag)
        else:
            response = _stream(store.open(key), mimetype, etag)
    except (FileNotFoundError, ObjectMissingError):  # removed since it was looked up (prune)
        abort(404)
    return _cached(response, download_name)


def _stream(opened: Any, mimetype: str, etag: str) -> Response:
    """Send an open, seekable file (closed when sent), answering ranges and If-None-Match
    as send_file does for a path: it cannot tell a spooled download's length."""
    from werkzeug.wsgi import wrap_file

    opened.seek(0, 2)
    size = opened.tell()
    opened.seek(0)
    response = Response(
        wrap_file(request.environ, opened), mimetype=mimetype, direct_passthrough=True
    )
    response.content_length = size
    response.set_etag(etag)
    response.make_conditional(request, accept_ranges=True, complete_length=size)
    return response


def _cached(response: Response, download_name: str | None) -> Response:
    response.headers["Cache-Control"] = "private, max-age=86400"
    if download_name:
        response.headers["Content-Disposition"] = _attachment(download_name)
    return response


def _attachment(name: str) -> str:
    from urllib.parse import quote

    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", name) or "photo"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


@bp.get("/photos/<photo_id>/<kind>.jpg")
def rendition(photo_id: str, kind: str) -> Response:
    """A thumbnail or preview, found by id only."""
    if kind not in ("thumb", "preview"):
        abort(404)
    arc = archive()
    sha = arc.resolve(photo_id)
    key = rendition_key(sha, kind)
    if current_app.config.get("RENDITION_LINKS"):
        # Read by the browser from the object store itself, by a link good for a few
        # minutes; the desk only signs it.
        url = arc.store.url(key, RENDITION_LINK_SECONDS)
        if url is not None:
            response: Response = redirect(url, 302)  # type: ignore[assignment]
            response.headers["Cache-Control"] = f"private, max-age={RENDITION_LINK_SECONDS // 2}"
            return response
    return _send_stored(arc.store, key, "image/jpeg", f"{sha}-{kind}")


@bp.get("/photos/<photo_id>/original")
def original(photo_id: str) -> Response:
    """The original, byte for byte, under the file name it arrived with."""
    arc = archive()
    stored = arc.stored(photo_id)
    return _send_stored(
        arc.store,
        original_key(stored.record.sha256, stored.ext),
        _MIMETYPES.get(stored.ext, "application/octet-stream"),
        stored.record.sha256,  # the content's own hash: the strongest of validators
        stored.record.original_filename,
    )


@bp.get("/photos/<photo_id>/download")
def download(photo_id: str) -> Response:
    """The photo for the CMS: the desk's current caption and fields in its metadata, under
    its original file name. Killed and superseded pictures are refused (403)."""
    from photoarchive.export import export_file

    arc = archive()
    stored = arc.stored(photo_id)
    data = export_file(arc, stored.record)
    return _send(
        data,
        _MIMETYPES.get(stored.ext, "application/octet-stream"),
        stored.record.original_filename,
    )


@bp.get("/contact-sheet.pdf")
def contact_sheet() -> Response:
    """The current search as a printable contact sheet: its words, or its filters alone."""
    from photoarchive.contactsheet import render_pdf, sheet_entries

    query = read_query(request.args, "/")
    if not (query.q or query.filtered):
        raise QueryError("give a search or a filter for the contact sheet")
    page = run_search(archive(), query, 100, _seconds())
    if not page.results:
        raise QueryError(f"no photos match {query.title()}: nothing to print")
    arc = archive()
    entries = sheet_entries(arc, [r.record for r in page.results])
    title = f"Search: {query.q}" if not query.labels() else f"Photos: {query.title()}"
    pdf = render_pdf(entries, title)
    return _send(pdf, "application/pdf", "contact-sheet.pdf")


@bp.get("/api/search")
def api_search() -> Response:
    """Search results as JSON: the same records as the CLI's --json. Without words (q),
    the photos the filters let through, newest arrivals first unless sort= says otherwise."""
    limit = min(max(1, request.args.get("limit", PAGE_SIZE, type=int) or PAGE_SIZE), 500)
    query = read_query(request.args, "/api/search")
    page = run_search(archive(), query, limit, _seconds())
    return jsonify(
        {
            "query": query.q,
            "sort": query.order,
            "page": query.page,
            "total": page.total,
            "agencies": page.agency_counts,
            "results": [r.to_dict() for r in page.results],
        }
    )


@bp.get("/api/photos/<photo_id>")
def api_photo(photo_id: str) -> Response:
    """One record as JSON, as `show --json --sources` prints it."""
    arc = archive()
    record = arc.get(photo_id)
    standing = arc.states([record.sha256])[record.sha256]
    return jsonify(
        {
            **record.to_dict(),
            **state_fields(standing.state, superseded_by(standing)),
            "revision": arc.catalog.revision(record.sha256),
            "rights": arc.check_rights(record.sha256).to_dict(),
            "sources": arc.sources(record.sha256),
        }
    )
