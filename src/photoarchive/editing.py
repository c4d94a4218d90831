"""Caption edits by the desk: change fields, keep every change in the photo's history."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from photoarchive.credits import normalise_agency
from photoarchive.errors import EditConflictError, IndexUnavailableError, PhotoArchiveError
from photoarchive.record import DESK_FIELDS

if TYPE_CHECKING:
    from photoarchive.archive import Archive
    from photoarchive.record import PhotoRecord

EDITABLE = DESK_FIELDS
#: The fields the browser desk edits one value at a time, in its forms' order, with their
#: labels (keywords, a list, are added and taken out apart).
FORM_FIELDS: tuple[tuple[str, str], ...] = (
    ("caption", "Caption"),
    ("headline", "Headline"),
    ("credit", "Credit"),
    ("byline", "By-line"),
    ("city", "City"),
    ("province_state", "Province or state"),
    ("country", "Country"),
)


@dataclass(frozen=True)
class EditResult:
    """The record as it now stands, what changed, and whether search has caught up."""

    record: PhotoRecord
    changed: tuple[str, ...]
    #: The photo's revision after the edit (give it to the next edit as `revision`).
    revision: int
    #: Why the search index could not be updated yet (the change is saved and the index
    #: entry is finished by the next writer or `reindex`), or None when search shows it.
    index_pending: str | None = None


def edit_photo(
    archive: Archive,
    id_or_prefix: str,
    values: dict[str, Any],
    editor: str,
    revision: int | None = None,
) -> EditResult:
    """Change a photo's fields as `editor`; return the record as it now stands.

    With `revision` (the photo's revision when the editor read it, `show --json`), the edit
    is compare-and-set: if anyone changed the photo since, nothing is changed and
    EditConflictError shows their value beside this editor's. Only fields that really
    change are recorded. The catalog and history change in one transaction; the index
    follows at once or, if it cannot, is marked pending and finished by the next writer.
    """
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise PhotoArchiveError(f"cannot edit {', '.join(sorted(unknown))}")
    if not editor.strip():
        raise PhotoArchiveError("say who is editing (--by)")
    sha = archive.resolve(id_or_prefix)
    # Read, compare and write under the writer lock: two edits never start from one value.
    with archive.writing(f"edit of {sha[:12]}"):
        record = archive.catalog.get(sha).record
        now = archive.catalog.revision(sha)
        if revision is not None and revision != now:
            raise _conflict(archive, sha, record, values, revision, now)
        changes: dict[str, tuple[Any, Any]] = {}
        for name, new in values.items():
            if isinstance(new, str):
                new = new.strip() or None
            old = getattr(record, name)
            if new != old:
                changes[name] = (old, new)
        if "credit" in changes:
            agency = normalise_agency(changes["credit"][1], archive.policy.aliases)
            if agency != record.agency:
                changes["agency"] = (record.agency, agency)
        pending = None
        if changes:
            pending = _apply(archive, sha, editor.strip(), changes)
        # Also when nothing changed: an earlier edit whose index update failed is finished.
        try:
            archive.finish_pending_index()
        except IndexUnavailableError as exc:
            pending = str(exc)
        return EditResult(
            record=archive.catalog.get(sha).record,
            changed=tuple(changes),
            revision=archive.catalog.revision(sha),
            index_pending=pending,
        )


def _apply(
    archive: Archive, sha: str, editor: str, changes: dict[str, tuple[Any, Any]]
) -> str | None:
    """Record the change and update its index entry; return why the index could not follow.

    The photo is flagged for the index first, and its entry written before the catalog
    transaction commits: a writer killed at any point leaves either nothing changed, or the
    change saved and flagged, which the next writer finishes (only a kill during the commit
    itself leaves the index ahead of the catalog, flagged too and mended the same way).
    """
    at = datetime.now(UTC).isoformat(timespec="seconds")
    archive.catalog.mark_pending([sha])
    failed: list[str] = []

    def index_it() -> None:
        try:
            archive.index.check()
            photo = archive.catalog.get(sha)  # the transaction's own view: the new values
            archive.index.add(archive._entries([photo.record]))
        except IndexUnavailableError as exc:
            failed.append(str(exc))

    archive.catalog.record_edit(sha, editor, at, changes, before_commit=index_it)
    if failed:
        return failed[0]
    archive.catalog.mark_indexed([sha])
    return None


def _conflict(
    archive: Archive,
    sha: str,
    record: PhotoRecord,
    values: dict[str, Any],
    seen: int,
    now: int,
) -> EditConflictError:
    later = archive.catalog.edits(sha, after=seen) if seen < now else []
    clashes = []
    for name, mine in values.items():
        by = [e for e in later if e["field"] == name]
        who = f" by {by[-1]['by']} at {by[-1]['at']}" if by else ""
        clashes.append(f"{name} is now {getattr(record, name)!r}{who}, yours {mine!r}")
    return EditConflictError(
        f"photo {sha[:12]} was changed since you read it (revision {seen}, now {now}): "
        f"{'; '.join(clashes)}. Nothing was changed: edit again from the current values "
        f"(--revision {now})"
    )
