"""The desk's selections: list, make, rename and delete them; add photos to the current
selection (kept in the session) or take them out, from search results and photo pages; a
selection's photos as cards, as a zip for the CMS and as a contact sheet; and one change
made to all its photos after a preview.

Everyone who may search sees selections and prints their contact sheets; changing them
needs the "select" role, the zip "export", the batch edit "edit". Every change is a POST
with the form's CSRF token, made through the library the command line uses, in the
signed-in account's name."""

from __future__ import annotations

import re
import sqlite3
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    g,
    jsonify,
    redirect,
    render_template,
    request,
    send_file,
    session,
    url_for,
)

from photoarchive.accounts import require
from photoarchive.batch_edits import BATCH_FIELDS, BatchChange, apply_edit, batch_change, plan_edit
from photoarchive.errors import (
    ExportRefusedError,
    PhotoArchiveError,
    SelectionError,
    SelectionNotFoundError,
)
from photoarchive.selections import (
    add,
    containing,
    create,
    delete,
    get_selection,
    holding,
    list_selections,
    name_of,
    photos,
    remove,
    rename,
    selection_id,
)
from photoarchive.web.app import current_archive
from photoarchive.web.auth import allowed, current_account, needs, safe_next, writable

if TYPE_CHECKING:
    from photoarchive.archive import Archive
    from photoarchive.record import PhotoRecord
    from photoarchive.rights import Verdict

bp = Blueprint("selections", __name__)
#: The session's current selection: its number, which it keeps when renamed.
SESSION_KEY = "selection"
#: Cards shown on a selection's page; contact sheet pictures.
MOST_SHOWN = 1000
MOST_ON_SHEET = 500
#: Photos exported into the zip's work folder at a time (each is moved into the zip and
#: deleted before the next ones are written).
EXPORT_BATCH = 20
#: Formats stored in the zip as they are: compressing them again gains nothing.
_STORED = frozenset({".jpg", ".jpeg", ".png", ".webp", ".heic"})
_WHY = {
    "superseded": "an older version of a refiled picture",
    "killed": "killed",
    "notice": "a kill notice, not a picture",
}
_SEEN = re.compile(r"([0-9a-f]{64}):(\d{1,9})")


@dataclass(frozen=True)
class DeskSelection:
    """A selection as a page shows it: its name and the photos it holds."""

    name: str
    shas: frozenset[str]

    @property
    def count(self) -> int:
        """How many photos it holds."""
        return len(self.shas)

    def holds(self, sha256: str) -> bool:
        """True if the photo is in it."""
        return sha256 in self.shas


def _archive() -> Archive:
    return current_archive(current_app)


def _who() -> str:
    return require(current_account(), "select").name


def current_selection() -> DeskSelection | None:
    """Return the selection this session adds photos to, if the account may select and it
    still exists (another editor may have deleted it)."""
    if "current_selection" in g:
        found: DeskSelection | None = g.current_selection
        return found
    found = None
    number = session.get(SESSION_KEY)
    if isinstance(number, int) and allowed("select"):
        try:
            arc = _archive()
            name = name_of(arc, number)
            if name is None:
                session.pop(SESSION_KEY, None)
            else:
                found = DeskSelection(name, holding(arc, name))
        except (PhotoArchiveError, sqlite3.Error):
            found = None  # an error page is made even when the catalog cannot be read
    g.current_selection = found
    return found


@bp.app_context_processor
def _context() -> dict[str, Any]:
    return {"current_selection": current_selection()}


@bp.app_template_global()
def selection_toggle(name: str, inside: bool) -> dict[str, str]:
    """Return what a photo's selection toggle says and where it posts: to take the photo
    out if it is `inside` the selection, else to add it."""
    return {
        "action": url_for("selections.remove_post" if inside else "selections.add_post", name=name),
        "label": f"✓ {name}" if inside else f"+ {name}",
        "title": f"Take out of {name} (x)" if inside else f"Add to {name} (x)",
    }


@bp.app_template_global()
def selections_holding(sha256: str) -> list[str]:
    """Return the names of the selections that hold a photo."""
    try:
        return containing(_archive(), sha256)
    except (PhotoArchiveError, sqlite3.Error):
        return []


def _back(default: str) -> Any:
    """Redirect to the page the form came from (a path of this desk only), else `default`."""
    target = request.form.get("next") or ""
    return redirect(target if target and safe_next(target) == target else default)


def _wants_json() -> bool:
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


# -- the list ----------------------------------------------------------------------------


def _list_page(error: str | None = None, typed: str = "", status: int = 200) -> Any:
    found = list_selections(_archive())
    current = current_selection()
    page = render_template(
        "selections.html",
        selections=found,
        current=current.name if current else None,
        error=error,
        typed=typed,
    )
    return page, status


@bp.get("/selections")
def list_page() -> Any:
    """Every selection: its photos, who made it, when it last changed; forms to make,
    rename, choose and delete them for those who may select."""
    return _list_page()


@bp.post("/selections")
@needs("select")
def create_post() -> Any:
    """Make a selection and make it the session's current one."""
    typed = request.form.get("name", "")[:200]
    try:
        with writable() as arc:
            made = create(arc, typed, _who())
            number = selection_id(arc, made.name)
    except SelectionError as exc:
        return _list_page(str(exc), typed[:64], 400)
    session[SESSION_KEY] = number
    flash(f"Made the selection {made.name}: photos you pick are added to it.")
    return redirect(url_for(".selection_page", name=made.name))


@bp.post("/selections/<name>/current")
@needs("select")
def current_post(name: str) -> Any:
    """Make the selection the one this session adds photos to."""
    arc = _archive()
    chosen = get_selection(arc, name)
    session[SESSION_KEY] = selection_id(arc, chosen.name)
    flash(f"Photos you pick are now added to {chosen.name}.")
    return _back(url_for(".selection_page", name=chosen.name))


@bp.post("/selections/<name>/rename")
@needs("select")
def rename_post(name: str) -> Any:
    """Give the selection a new name."""
    typed = request.form.get("new_name", "")[:200]
    try:
        with writable() as arc:
            renamed = rename(arc, name, typed, _who())
    except SelectionNotFoundError:
        raise
    except SelectionError as exc:
        return _list_page(str(exc), status=400)
    flash(f"Renamed {name} to {renamed.name}.")
    return redirect(url_for(".selection_page", name=renamed.name))


@bp.get("/selections/<name>/delete")
@needs("select")
def delete_page(name: str) -> Any:
    """Ask before deleting a selection."""
    return render_template("selection_delete.html", selection=get_selection(_archive(), name))


@bp.post("/selections/<name>/delete")
@needs("select")
def delete_post(name: str) -> Any:
    """Delete the selection (its photos stay in the archive)."""
    with writable() as arc:
        number = selection_id(arc, name)
        real = get_selection(arc, name).name
        held = delete(arc, name, _who())
    if session.get(SESSION_KEY) == number:
        session.pop(SESSION_KEY, None)
    flash(f"Deleted the selection {real} ({held} photos; they stay in the archive).")
    return redirect(url_for(".list_page"))


# -- adding and taking out photos ----------------------------------------------------------


@bp.post("/selections/<name>/add")
@needs("select")
def add_post(name: str) -> Any:
    """Add photos (form fields `id`) to the selection; JSON for the desk's script,
    otherwise back to the page the form was on."""
    return _toggled(name, adding=True)


@bp.post("/selections/<name>/remove")
@needs("select")
def remove_post(name: str) -> Any:
    """Take photos (form fields `id`) out of the selection."""
    return _toggled(name, adding=False)


def _toggled(name: str, adding: bool) -> Any:
    ids = [i for i in request.form.getlist("id") if i.strip()][:1000]
    with writable() as arc:
        count = (add if adding else remove)(arc, name, ids, _who())
        real = get_selection(arc, name)
    if _wants_json():
        return jsonify(
            {
                "selection": real.name,
                "count": real.count,
                "selected": adding,
                "changed": count,
                **selection_toggle(real.name, adding),
            }
        )
    if adding:
        flash(f"Added {count} photo{'' if count == 1 else 's'} to {real.name}.")
    else:
        flash(f"Took {count} photo{'' if count == 1 else 's'} out of {real.name}.")
    return _back(url_for(".selection_page", name=real.name))


# -- one selection -----------------------------------------------------------------------


def _records(arc: Archive, shas: list[str]) -> list[PhotoRecord]:
    stored = arc.catalog.get_many(shas)
    return [stored[s].record for s in shas if s in stored]


@bp.get("/selections/<name>")
def selection_page(name: str) -> Any:
    """A selection's photos as cards, in the order they were added, with where each
    stands; its contact sheet, zip and batch edit."""
    arc = _archive()
    chosen = get_selection(arc, name)
    shas = photos(arc, chosen.name)
    standing = arc.states(shas)
    withheld = [
        (s[:12], standing[s].state) for s in shas if s in standing and standing[s].state != "live"
    ]
    shown = _records(arc, shas[:MOST_SHOWN])
    cards: list[tuple[PhotoRecord, Verdict, str]] = [
        (r, v, standing[r.sha256].state if r.sha256 in standing else "live")
        for r, v in arc.verdicts(shown)
    ]
    current = current_selection()
    return render_template(
        "selection.html",
        selection=chosen,
        cards=cards,
        more=max(0, len(shas) - MOST_SHOWN),
        withheld=[(i, _WHY.get(state, state)) for i, state in withheld],
        page_selection=DeskSelection(chosen.name, frozenset(shas)),
        is_current=current is not None and current.name == chosen.name,
    )


@bp.get("/selections/<name>/contact-sheet.pdf")
def contact_sheet(name: str) -> Response:
    """The selection as a printable contact sheet, in its order."""
    from photoarchive.contactsheet import render_pdf, sheet_entries

    arc = _archive()
    chosen = get_selection(arc, name)
    records = _records(arc, photos(arc, chosen.name)[:MOST_ON_SHEET])
    if not records:
        raise ExportRefusedError(f"the selection {chosen.name} holds no photos: nothing to print")
    pdf = render_pdf(sheet_entries(arc, records), f"Selection: {chosen.name}")
    response = Response(pdf, mimetype="application/pdf")
    response.headers["Content-Disposition"] = _attachment(f"{chosen.name}.pdf")
    return response


@bp.get("/selections/<name>/photos.zip")
@needs("export")
def download_zip(name: str) -> Response:
    """The selection's photos in a zip, each as `export` writes it (the desk's current
    caption and fields in its metadata). Killed and superseded pictures and kill notices
    are left out, and named in left-out.txt in the zip."""
    arc = _archive()
    chosen = get_selection(arc, name)
    records = _records(arc, photos(arc, chosen.name))
    zipped, _ = zip_photos(arc, records, chosen.name)
    return send_file(
        zipped,
        mimetype="application/zip",
        as_attachment=True,
        download_name=f"{chosen.name}.zip",
        etag=False,
        max_age=0,
    )


def zip_photos(
    arc: Archive, records: list[PhotoRecord], name: str
) -> tuple[IO[bytes], list[tuple[str, str]]]:
    """Return a zip (an unnamed temporary file, at its start) of the photos as `export`
    writes them, and the photos left out with why. The photos are exported a few at a
    time into a work folder and moved into the zip, so neither memory nor the disk holds
    more than the zip and a few photos."""
    from photoarchive.export import ExportOptions, export_photos

    standing = arc.states(r.sha256 for r in records)
    kept = [r for r in records if standing[r.sha256].state == "live"]
    left = [
        (r.id, _WHY.get(standing[r.sha256].state, "withheld"))
        for r in records
        if standing[r.sha256].state != "live"
    ]
    if not kept:
        first = f" (the first, {left[0][0]}, is {left[0][1]})" if left else ""
        raise ExportRefusedError(f"the selection {name} holds no photo to export{first}")
    # Handed to the response, which closes (and so deletes) it once sent.
    out = tempfile.TemporaryFile(prefix="photoarchive-selection-", suffix=".zip")  # noqa: SIM115
    try:
        with (
            tempfile.TemporaryDirectory(prefix="photoarchive-selection-") as work,
            zipfile.ZipFile(out, "w") as zipped,
        ):
            for start in range(0, len(kept), EXPORT_BATCH):
                batch = kept[start : start + EXPORT_BATCH]
                report = export_photos(arc, batch, Path(work), ExportOptions(overwrite=True))
                for item in report.done:
                    for path in (item.path, item.sidecar):
                        if path is None:
                            continue
                        how = (
                            zipfile.ZIP_STORED
                            if path.suffix.lower() in _STORED
                            else zipfile.ZIP_DEFLATED
                        )
                        zipped.write(path, path.name, compress_type=how)
                        path.unlink()
            if left:
                lines = [f"{photo_id}: {why}" for photo_id, why in left]
                zipped.writestr(
                    "left-out.txt",
                    f"Left out of {name} (not for publication):\n" + "\n".join(lines) + "\n",
                    compress_type=zipfile.ZIP_DEFLATED,
                )
    except BaseException:
        out.close()
        raise
    out.seek(0)
    return out, left


def _attachment(name: str) -> str:
    from urllib.parse import quote

    ascii_name = re.sub(r"[^A-Za-z0-9._-]", "_", name) or "selection"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


# -- one change to every photo -------------------------------------------------------------


def _edit_page(chosen: Any, stage: str, status: int = 200, **extra: Any) -> Any:
    values = {"field": "caption", "op": "set", "value": "", **extra.pop("typed", {})}
    page = render_template(
        "selection_edit.html",
        selection=chosen,
        stage=stage,
        fields=BATCH_FIELDS,
        typed=values,
        **extra,
    )
    return page, status


def _typed_change() -> tuple[dict[str, str], BatchChange]:
    form = request.form
    field_choice = form.get("change", "")
    field_name, _, op = field_choice.partition(":")
    typed = {"field": field_name, "op": op or "set", "value": form.get("value", "")[:20_000]}
    return typed, batch_change(field_name, op or "set", typed["value"])


@bp.get("/selections/<name>/edit")
@needs("edit")
def edit_page(name: str) -> Any:
    """The batch edit's form: a field and a value for every photo of the selection."""
    return _edit_page(get_selection(_archive(), name), "form")


@bp.post("/selections/<name>/edit/preview")
@needs("edit")
def edit_preview(name: str) -> Any:
    """Each photo's value before and after the change, nothing changed yet; Apply sends
    the revisions shown here."""
    arc = _archive()
    chosen = get_selection(arc, name)
    try:
        typed, change = _typed_change()
    except PhotoArchiveError as exc:
        typed = {"field": "", "op": "set", "value": request.form.get("value", "")[:20_000]}
        return _edit_page(chosen, "form", 400, error=str(exc), typed=typed)
    plan = plan_edit(arc, photos(arc, chosen.name), change)
    return _edit_page(chosen, "preview", plan=plan, change=change, typed=typed)


@bp.post("/selections/<name>/edit/apply")
@needs("edit")
def edit_apply(name: str) -> Any:
    """Make the change to each photo the preview listed, if nobody has changed it since
    (those are reported with the other editor's value, never overwritten)."""
    editor = require(current_account(), "edit").name
    arc = _archive()
    chosen = get_selection(arc, name)
    try:
        typed, change = _typed_change()
    except PhotoArchiveError as exc:
        return _edit_page(chosen, "form", 400, error=str(exc))
    seen = []
    for value in request.form.getlist("photo")[:100_000]:
        match = _SEEN.fullmatch(value)
        if match:
            seen.append((match.group(1), int(match.group(2))))
    held = set(photos(arc, chosen.name))
    outside = [
        (sha[:12], "taken out of the selection since the preview")
        for sha, _ in seen
        if sha not in held
    ]
    with writable() as writer:
        report = apply_edit(writer, [(s, r) for s, r in seen if s in held], change, editor)
    report.refused.extend(outside)
    return _edit_page(chosen, "done", report=report, change=change, typed=typed)
