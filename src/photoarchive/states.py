"""Where a photo stands (live, superseded, killed, a kill notice) and why that blocks it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

#: Every state, best first.
STATES = ("live", "superseded", "killed", "notice")


@dataclass(frozen=True)
class PhotoState:
    """Where a photo stands: "live" (the current version of a live picture), "superseded"
    (an older version), "killed" (any version of a killed picture) or "notice" (a kill
    notice, not a picture)."""

    state: str
    #: The sha256 of the picture's current version.
    current: str
    killed_at: str | None = None
    kill_reason: str | None = None
    #: Who killed it: an editor's name, or the notice's id.
    killed_by: str | None = None
    #: For a kill notice: its words.
    notice_reason: str | None = None


def state_fields(state: str, superseded_by: str | None) -> dict[str, Any]:
    """Return the JSON keys that say where a photo stands: `state`, and `superseded_by`
    (the current version's id) for an older version."""
    out: dict[str, Any] = {"state": state}
    if superseded_by:
        out["superseded_by"] = superseded_by
    return out


def superseded_by(state: PhotoState | None) -> str | None:
    """Return the current version's id for an older version, else None."""
    return state.current[:12] if state is not None and state.state == "superseded" else None


def withheld(state: PhotoState | None, allow_superseded: bool) -> str | None:
    """Return why a photo must not be published whatever its rights, or None."""
    if state is None:
        return None
    if state.state == "notice":
        return f"a kill notice, not a picture: {state.notice_reason or 'withdrawn'}"
    if state.state == "killed":
        by = f" by {state.killed_by}" if state.killed_by else ""
        return f"KILLED {state.killed_at}{by}: {state.kill_reason}: must not be published"
    if state.state == "superseded" and not allow_superseded:
        return (
            f"superseded by {state.current[:12]}: a newer version of the picture replaced "
            "this one; publish the current version"
        )
    return None
