"""Pages and JSON: search grid, photo page, files by id, contact sheets, the API."""

from __future__ import annotations

import html
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    jsonify,
    render_template,
    request,
    send_file,
)
from markupsafe import Markup, escape

from photoarchive.archive import Archive, SearchPage
from photoarchive.errors import QueryError
from photoarchive.rights import VERDICTS
from photoarchive.search import SearchFilters
from photoarchive.states import state_fields, superseded_by
from photoarchive.web.app import current_archive

bp = Blueprint("desk", __name__)
_MIMETYPES = {
    "jpg": "image/jpeg",
    "tif": "image/tiff",
    "png": "image/png",
    "webp": "image/webp",
    "heic": "image/heic",
}
PAGE_SIZE = 20
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


def _date(value: str | None, field: str) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        raise QueryError(f"{field} '{value}' is not a date such as 2022-09-11") from None


def _search(args: Any, limit: int) -> tuple[SearchPage | None, dict[str, Any]]:
    """Run the search the query string asks for; return the page and the form's state."""
    state = {
        "q": args.get("q", "").strip(),
        "agency": args.get("agency", "").strip(),
        "from": args.get("from", "").strip(),
        "to": args.get("to", "").strip(),
        "rights": args.get("rights", "").strip(),
        "page": max(1, args.get("page", 1, type=int) or 1),
    }
    if state["rights"] and state["rights"] not in VERDICTS:
        raise QueryError(f"unknown rights verdict '{state['rights']}'")
    if not state["q"]:
        return None, state
    date_to = _date(state["to"], "to")
    filters = SearchFilters(
        agency=state["agency"] or None,
        date_from=_date(state["from"], "from"),
        date_to=date_to.replace(hour=23, minute=59, second=59) if date_to else None,
    )
    page = archive().search(
        state["q"],
        limit=limit,
        page=state["page"],
        filters=filters,
        verdicts=[state["rights"]] if state["rights"] else None,
        count_agencies=True,
        seconds=current_app.config["QUERY_SECONDS"],
    )
    return page, state


def _link(state: dict[str, Any], **changes: Any) -> str:
    merged = {**state, **changes}
    params = {k: v for k, v in merged.items() if v and not (k == "page" and v == 1)}
    return "/?" + urlencode(params)


@bp.get("/")
def search_page() -> str:
    """The search desk: a query box, filters and a grid of thumbnails."""
    page, state = _search(request.args, PAGE_SIZE)
    arc = archive()
    latest = None
    if page is None:
        latest = arc.verdicts(p.record for p in arc.catalog.latest(PAGE_SIZE))
    return render_template(
        "search.html",
        state=state,
        page=page,
        pages=max(1, -(-page.total // PAGE_SIZE)) if page else 1,
        latest=latest,
        total_photos=arc.catalog.count(),
        verdicts=VERDICTS,
        link=_link,
    )


@bp.get("/photos/<photo_id>")
def photo_page(photo_id: str) -> str:
    """One photo: preview, every field and where it came from, rights, download."""
    arc = archive()
    stored = arc.stored(photo_id)
    record = stored.record
    from photoarchive.history import picture_history

    history = picture_history(arc, record.sha256)
    standing = arc.states([record.sha256])[record.sha256]
    copies = arc.verdicts(c.record for c in arc.catalog.copies(record.sha256))
    return render_template(
        "photo.html",
        record=record,
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


def _send_path(path: Path, mimetype: str, etag: str, download_name: str | None = None) -> Response:
    """Stream a file from the archive: the server sends it in chunks (gunicorn's file
    wrapper, with sendfile), never read whole into memory, and answers ranges and
    If-None-Match."""
    try:
        response = send_file(path, mimetype=mimetype, conditional=True, etag=etag)
    except FileNotFoundError:  # removed since it was looked up (verify --prune)
        abort(404)
    return _cached(response, download_name)


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
    path = arc.store.rendition_path(sha, kind)
    if not path.is_file():
        abort(404)
    return _send_path(path, "image/jpeg", f"{sha}-{kind}")


@bp.get("/photos/<photo_id>/original")
def original(photo_id: str) -> Response:
    """The original, byte for byte, under the file name it arrived with."""
    arc = archive()
    stored = arc.stored(photo_id)
    path = arc.store.original_path(stored.record.sha256, stored.ext)
    if not path.is_file():
        abort(404)
    return _send_path(
        path,
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
    """The current search as a printable contact sheet."""
    from photoarchive.contactsheet import render_pdf, sheet_entries

    page, state = _search(request.args, 100)
    if page is None:
        raise QueryError("give a search for the contact sheet")
    if not page.results:
        raise QueryError(f"no photos match '{state['q']}': nothing to print")
    arc = archive()
    entries = sheet_entries(arc, [r.record for r in page.results])
    pdf = render_pdf(entries, f"Search: {state['q']}")
    return _send(pdf, "application/pdf", "contact-sheet.pdf")


@bp.get("/api/search")
def api_search() -> Response:
    """Search results as JSON: the same records as the CLI's --json."""
    limit = min(max(1, request.args.get("limit", PAGE_SIZE, type=int) or PAGE_SIZE), 500)
    page, state = _search(request.args, limit)
    if page is None:
        raise QueryError("empty query: give words to search for (q=...)")
    return jsonify(
        {
            "query": state["q"],
            "page": state["page"],
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
