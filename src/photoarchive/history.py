"""A picture's history: its versions with what changed between them, edits, kills and unkills."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from photoarchive.archive import Archive

# Fields compared between versions (what a refile or correction changes).
COMPARED = (
    "caption",
    "headline",
    "title",
    "credit",
    "byline",
    "keywords",
    "city",
    "province_state",
    "country",
    "date_created",
    "special_instructions",
    "usage_terms",
)


def picture_history(archive: Archive, id_or_prefix: str) -> dict[str, Any]:
    """Return a picture's versions, oldest first, each with its changes and edits."""
    sha = archive.resolve(id_or_prefix)
    picture = archive.catalog.picture(sha)
    versions = []
    previous: dict[str, Any] | None = None
    for stored in picture.versions:
        rec = stored.record
        values = rec.to_dict()
        edits = archive.catalog.edits(rec.sha256)
        # What the version arrived with: its current values with its edits undone.
        arrived = dict(values)
        for edit in reversed(edits):
            arrived[edit["field"]] = edit["old"]
        changes = {}
        if previous is not None:
            changes = {
                name: {"old": previous.get(name), "new": arrived.get(name)}
                for name in COMPARED
                if previous.get(name) != arrived.get(name)
            }
        versions.append(
            {
                "version": stored.version,
                "id": rec.id,
                "ingested_at": rec.ingested_at,
                "original_filename": rec.original_filename,
                "current": rec.sha256 == picture.current_sha256,
                "changes": changes,
                "edits": edits,
            }
        )
        previous = arrived
    return {
        "picture": picture.picture_id[:12],
        "current": picture.current_sha256[:12],
        "killed_at": picture.killed_at,
        "kill_reason": picture.kill_reason,
        "killed_by": picture.killed_by,
        "versions": versions,
        # Kills and unkills, by notices and by the desk, oldest first.
        "events": archive.catalog.picture_events(picture.picture_id),
    }
