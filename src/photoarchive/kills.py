"""The desk's own kills and unkills: a picture withdrawn or restored, with who, when and why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from photoarchive.errors import IndexUnavailableError, PhotoArchiveError

if TYPE_CHECKING:
    from photoarchive.archive import Archive


@dataclass(frozen=True)
class KillResult:
    """What a kill or unkill did to the picture, and whether search has caught up."""

    id: str
    #: The picture's first version's id: every version is killed or restored together.
    picture: str
    changed: bool
    state: str
    index_pending: str | None = None


def set_killed(
    archive: Archive, id_or_prefix: str, killed: bool, reason: str, editor: str
) -> KillResult:
    """Kill (or, with `killed` False, restore) the picture a photo belongs to, as the desk's
    own decision; it is recorded in the picture's history. Every version of the picture is
    affected: a killed picture is blocked for every use and hidden from search."""
    if not reason.strip():
        raise PhotoArchiveError("say why (--reason): it is kept in the picture's history")
    if not editor.strip():
        raise PhotoArchiveError("say who decides (--by)")
    sha = archive.resolve(id_or_prefix)
    what = "kill" if killed else "unkill"
    with archive.writing(f"{what} of {sha[:12]}"):
        at = datetime.now(UTC).isoformat(timespec="seconds")
        changed = archive.catalog.set_killed(sha, killed, at, editor.strip(), reason.strip())
        pending = None
        try:
            archive.finish_pending_index()
        except IndexUnavailableError as exc:
            pending = str(exc)
        picture = archive.catalog.picture(sha)
        state = archive.catalog.states([sha])[sha]
    return KillResult(sha[:12], picture.picture_id[:12], changed, state, pending)
