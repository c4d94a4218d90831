"""The audit log: every change to the archive, who made it, when, and the values before
and after, whether made in the browser or on the command line."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from photoarchive.archive import Archive
    from photoarchive.catalog.connection import Connection


@dataclass(frozen=True)
class AuditEntry:
    """One change: when, by whom, what was done to what, and the values it changed."""

    at: str
    by: str
    #: "edit", "kill", "unkill", "user add", "user remove", "user role", "user password",
    #: "selection create", "selection add", ...
    action: str
    #: The photo's id, the account's name or the selection's name.
    target: str | None = None
    field: str | None = None
    old: Any = None
    new: Any = None

    def to_dict(self) -> dict[str, Any]:
        """Return the entry as JSON-ready values."""
        return asdict(self)


def now_text() -> str:
    """Return the current time as the audit log writes it (UTC, to the second)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def record(
    conn: Connection,
    by: str,
    action: str,
    target: str | None = None,
    field: str | None = None,
    old: Any = None,
    new: Any = None,
    at: str | None = None,
) -> None:
    """Append a change to the audit log, inside the caller's transaction (the change and
    its entry are written together or not at all)."""
    conn.execute(
        "INSERT INTO audit (at, by, action, target, field, old, new) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            at or now_text(),
            by,
            action,
            target,
            field,
            None if old is None else json.dumps(old, ensure_ascii=False),
            None if new is None else json.dumps(new, ensure_ascii=False),
        ),
    )


def audit_log(
    archive: Archive, since: datetime | None = None, by: str | None = None, limit: int = 1000
) -> list[AuditEntry]:
    """Return the changes made since `since` (a naive UTC or aware datetime; all if None),
    by `by` if given, newest first: caption edits and kills from the photos' histories,
    and the audit table's account, selection and policy changes."""
    after = "" if since is None else _utc_text(since)
    conn = archive.catalog.conn
    rows = conn.execute(
        """
        SELECT at, editor AS by, 'edit' AS action, substr(sha256, 1, 12) AS target,
               field, old, new, 0 AS kind, number FROM edits WHERE at >= :after
        UNION ALL
        SELECT e.at, e.by, e.action, substr(p.current_sha256, 1, 12), 'reason', NULL,
               e.reason, 1, e.number
        FROM picture_events e JOIN pictures p ON p.picture_id = e.picture_id
        WHERE e.at >= :after
        UNION ALL
        SELECT at, by, action, target, field, old, new, 2, number FROM audit
        WHERE at >= :after
        ORDER BY 1 DESC, 8 DESC, 9 DESC
        """,
        {"after": after},
    )
    out: list[AuditEntry] = []
    for row in rows:
        if by is not None and row["by"].lower() != by.lower():
            continue
        out.append(
            AuditEntry(
                at=row["at"],
                by=row["by"],
                action=row["action"],
                target=row["target"],
                field=row["field"],
                old=_value(row["old"]),
                # A kill's reason is stored as written, not as JSON.
                new=row["new"] if row["kind"] == 1 else _value(row["new"]),
            )
        )
        if len(out) >= limit:
            break
    return out


def _value(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text


def _utc_text(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="seconds")
