"""Changes from the photo page: editors correct a photo's caption and fields and kill or
restore its picture, through the library functions the command line uses (`edit_photo`,
`set_killed`), in the signed-in account's name.

Every change is a POST with the form's CSRF token; the edit carries the revision the page
showed, so a change someone made meanwhile is reported (409) instead of overwritten."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, flash, redirect, render_template, request, url_for
from werkzeug.datastructures import MultiDict

from photoarchive.accounts import require
from photoarchive.archive import Archive
from photoarchive.editing import FORM_FIELDS, edit_photo
from photoarchive.errors import (
    AmbiguousIdError,
    ArchiveBusyError,
    EditConflictError,
    PhotoArchiveError,
    PhotoNotFoundError,
    StorageError,
)
from photoarchive.kills import set_killed
from photoarchive.web.app import current_archive
from photoarchive.web.auth import current_account, needs, writable
from photoarchive.web.views import photo_context

bp = Blueprint("editing", __name__)

#: The fields typed on one line (a browser's text box drops line breaks).
ONE_LINE = frozenset(name for name, _ in FORM_FIELDS) - {"caption"}
MAX_CAPTION = 10_000
MAX_FIELD = 1_000
MAX_KEYWORD = 200
MAX_KEYWORDS = 200
MAX_REASON = 2_000


@bp.post("/photos/<photo_id>/edit")
@needs("edit")
def edit(photo_id: str) -> Any:
    """Save the fields the editor changed, if nobody changed the photo since the page was read
    (409 with both values otherwise; nothing is changed)."""
    editor = require(current_account(), "edit").name
    form = request.form
    try:
        seen = _revision(form.get("revision"))
        typed = _typed(form)
        with writable() as arc:
            sha = arc.resolve(photo_id)
            values = _changes(_values_at(arc, sha, seen), typed)
            if not values:
                flash("Nothing to save: no field was changed.")
                return _back(sha)
            result = edit_photo(arc, sha, values, editor, revision=seen)
    except EditConflictError as exc:
        return _photo_again(photo_id, "edit", str(exc), 409)
    except PhotoArchiveError as exc:
        if not _is_form_problem(exc):
            raise
        return _photo_again(photo_id, "edit", str(exc), 400, typed=form)
    saved = ", ".join(_label(name) for name in result.changed if name != "agency")
    note = f"Saved: {saved or 'no change'}."
    if result.index_pending:
        note += f" Search does not show it yet ({result.index_pending})."
    flash(note)
    return _back(result.record.sha256)


@bp.post("/photos/<photo_id>/kill")
@needs("kill")
def kill(photo_id: str) -> Any:
    """Kill the photo's picture (every version), with a reason, in the editor's name."""
    return _set_killed(photo_id, True)


@bp.post("/photos/<photo_id>/unkill")
@needs("kill")
def unkill(photo_id: str) -> Any:
    """Restore a killed picture, with a reason, in the editor's name."""
    return _set_killed(photo_id, False)


def _set_killed(photo_id: str, killed: bool) -> Any:
    editor = require(current_account(), "kill").name
    what = "kill" if killed else "unkill"
    reason = " ".join(request.form.get("reason", "").split())
    try:
        if not reason:
            raise PhotoArchiveError(
                f"Say why you {what} it: the reason is kept in the picture's history. "
                "Nothing was changed."
            )
        if len(reason) > MAX_REASON:
            raise PhotoArchiveError(f"The reason is too long: at most {MAX_REASON:,} characters.")
        if request.form.get("confirm") != "yes":
            raise PhotoArchiveError(f"Tick the box to confirm the {what}. Nothing was changed.")
        with writable() as arc:
            result = set_killed(arc, photo_id, killed, reason, editor)
            sha = arc.resolve(photo_id)
    except PhotoArchiveError as exc:
        if not _is_form_problem(exc):
            raise
        return _photo_again(photo_id, what, str(exc), 400, typed=request.form)
    if not result.changed:
        flash(f"Nothing changed: the picture was {'killed' if killed else 'not killed'} already.")
    elif killed:
        flash("Killed: every version of the picture is withdrawn and blocked for publishing.")
    else:
        flash("Restored: the picture is no longer killed.")
    return _back(sha)


def _is_form_problem(exc: PhotoArchiveError) -> bool:
    """True for an error in what was typed or asked (shown on the page, 400), False for
    one the desk's error handler answers (not found, busy, storage)."""
    return not isinstance(
        exc, PhotoNotFoundError | AmbiguousIdError | ArchiveBusyError | StorageError
    )


def _back(sha: str) -> Any:
    return redirect(url_for("desk.photo_page", photo_id=sha[:12]), code=303)


def _photo_again(
    photo_id: str, form: str, message: str, status: int, typed: MultiDict[str, str] | None = None
) -> Any:
    """The photo page as it now stands, with the message by the form it is about."""
    arc: Archive = current_archive(current_app)
    page = render_template(
        "photo.html",
        **photo_context(arc, photo_id),
        desk_problem={"form": form, "message": message},
        desk_typed=typed,
    )
    return page, status


def _revision(text: str | None) -> int:
    text = text or ""
    if not (text.isascii() and text.isdigit()) or len(text) > 9:
        raise PhotoArchiveError("The form has no revision: reload the page and edit again.")
    return int(text)


def _label(name: str) -> str:
    return dict(FORM_FIELDS).get(name, name).lower()


def _typed(form: MultiDict[str, str]) -> dict[str, Any]:
    """Return the values typed in the form, tidied as a browser would send an unchanged one,
    with the keywords to remove and to add; raise PhotoArchiveError for one too long."""
    typed: dict[str, Any] = {}
    for name, label in FORM_FIELDS:
        if name not in form:
            continue
        value = _tidy(name, form[name])
        limit = MAX_CAPTION if name == "caption" else MAX_FIELD
        if len(value) > limit:
            raise PhotoArchiveError(f"{label} is too long: at most {limit:,} characters.")
        typed[name] = value
    added = [" ".join(k.split()) for k in form.get("add_keyword", "").split(";")]
    added = [k for k in added if k]
    for keyword in added:
        if len(keyword) > MAX_KEYWORD:
            raise PhotoArchiveError(f"A keyword is too long: at most {MAX_KEYWORD} characters.")
    typed["add_keywords"] = added
    typed["remove_keywords"] = set(form.getlist("remove_keyword"))
    return typed


def _tidy(name: str, value: str) -> str:
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    if name in ONE_LINE:
        value = value.replace("\n", "")
    return value.strip()


def _values_at(arc: Archive, sha: str, revision: int) -> dict[str, Any]:
    """Return the photo's form fields as they stood at `revision` (what the page showed):
    the current values with later edits undone."""
    record = arc.catalog.get(sha).record
    values: dict[str, Any] = {name: getattr(record, name) for name, _ in FORM_FIELDS}
    values["keywords"] = list(record.keywords)
    for change in reversed(arc.catalog.edits(sha, after=revision)):
        if change["field"] in values:
            values[change["field"]] = change["old"]
    return values


def _changes(shown: dict[str, Any], typed: dict[str, Any]) -> dict[str, Any]:
    """Return the fields the editor changed from what the page showed (only these are sent,
    so only these are compared with a change made meanwhile)."""
    values: dict[str, Any] = {}
    for name, _ in FORM_FIELDS:
        if name not in typed:
            continue
        before = _tidy(name, shown[name] or "")
        if typed[name] != before:
            values[name] = typed[name] or None
    keywords = list(shown["keywords"] or [])
    kept = [k for k in keywords if k not in typed["remove_keywords"]]
    known = {k.casefold() for k in kept}
    for keyword in typed["add_keywords"]:
        if keyword.casefold() not in known:
            kept.append(keyword)
            known.add(keyword.casefold())
    if len(kept) > MAX_KEYWORDS:
        raise PhotoArchiveError(f"Too many keywords: at most {MAX_KEYWORDS}.")
    if kept != keywords:
        values["keywords"] = kept
    return values


@bp.app_context_processor
def _edit_fields() -> dict[str, Any]:
    return {"edit_fields": FORM_FIELDS}
