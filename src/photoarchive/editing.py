"""Caption edits by the desk: change fields, keep every change in the photo's history."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from photoarchive.credits import normalise_agency
from photoarchive.errors import PhotoArchiveError
from photoarchive.record import DESK_FIELDS

if TYPE_CHECKING:
    from photoarchive.archive import Archive
    from photoarchive.record import PhotoRecord

EDITABLE = DESK_FIELDS


def edit_photo(
    archive: Archive, id_or_prefix: str, values: dict[str, Any], editor: str
) -> PhotoRecord:
    """Change a photo's fields as `editor`; return the record as it now stands.

    Only fields that really change are recorded; the index follows at once.
    """
    unknown = set(values) - set(EDITABLE)
    if unknown:
        raise PhotoArchiveError(f"cannot edit {', '.join(sorted(unknown))}")
    if not editor.strip():
        raise PhotoArchiveError("say who is editing (--by)")
    sha = archive.resolve(id_or_prefix)
    record = archive.catalog.get(sha).record
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
    if changes:
        at = datetime.now(UTC).isoformat(timespec="seconds")
        archive.catalog.record_edit(sha, editor.strip(), at, changes)
        archive.finish_pending_index()
    return archive.catalog.get(sha).record
