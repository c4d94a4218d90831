"""One change made to many photos at once (a selection's): planned first, so that the
editor sees each photo's value before and after, then applied photo by photo with the
revision the plan showed, so a photo someone changed meanwhile is reported, not
overwritten."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from photoarchive.editing import FORM_FIELDS
from photoarchive.errors import EditConflictError, PhotoArchiveError

if TYPE_CHECKING:
    from photoarchive.archive import Archive
    from photoarchive.record import PhotoRecord

#: The fields a batch may change, with their labels: one value set on every photo, or
#: keywords added or taken out.
BATCH_FIELDS: tuple[tuple[str, str], ...] = (*FORM_FIELDS, ("keywords", "Keywords"))
#: What may be done to a field: "set" every photo's value, "add" or "remove" keywords.
OPERATIONS = ("set", "add", "remove")
MAX_VALUE = 10_000
MAX_KEYWORDS = 200


@dataclass(frozen=True)
class BatchChange:
    """What to do to every photo: set `field` to `value`, or add or remove keywords."""

    field: str
    op: str
    #: The text to set (empty: the field is cleared), or the keywords to add or remove.
    value: str | tuple[str, ...]

    def shown(self) -> str:
        """Return the change in words ("caption set", "keywords: add flag, tank")."""
        label = dict(BATCH_FIELDS)[self.field]
        if self.op == "set":
            return f"{label}: set"
        words = ", ".join(self.value) if isinstance(self.value, tuple) else self.value
        return f"{label}: {self.op} {words}"


def batch_change(name: str, op: str, typed: str) -> BatchChange:
    """Return the change an editor asked for; raise PhotoArchiveError if the field, the
    operation or the value cannot be used. Keywords are typed separated by commas."""
    if name not in dict(BATCH_FIELDS):
        raise PhotoArchiveError(f"a batch cannot change {name[:40]!r}")
    if op not in OPERATIONS or (op == "set") == (name == "keywords"):
        raise PhotoArchiveError(
            "keywords are added or taken out; other fields are set"
            if op in OPERATIONS
            else f"unknown operation {op[:20]!r}"
        )
    if len(typed) > MAX_VALUE:
        raise PhotoArchiveError(f"the value is too long: at most {MAX_VALUE:,} characters")
    if name != "keywords":
        # A browser sends a text box's line breaks as CRLF.
        text = typed.replace("\r\n", "\n").replace("\r", "\n").strip()
        if name != "caption":
            text = " ".join(text.split())  # one line: a line break would be lost on export
        return BatchChange(name, op, text)
    words = tuple(dict.fromkeys(w.strip() for w in typed.split(",") if w.strip()))
    if not words:
        raise PhotoArchiveError("give the keywords, separated by commas")
    if len(words) > MAX_KEYWORDS:
        raise PhotoArchiveError(f"too many keywords: at most {MAX_KEYWORDS}")
    return BatchChange(name, op, words)


def new_value(record: PhotoRecord, change: BatchChange) -> Any:
    """Return the photo's value once the change is made (its value now if unchanged)."""
    if change.op == "set":
        return change.value or None
    old = list(record.keywords or [])
    words = change.value if isinstance(change.value, tuple) else (change.value,)
    if change.op == "add":
        held = {k.casefold() for k in old}
        return old + [w for w in words if w.casefold() not in held]
    gone = {w.casefold() for w in words}
    return [k for k in old if k.casefold() not in gone]


@dataclass(frozen=True)
class PlannedEdit:
    """One photo's value before and after, and the revision it was read at."""

    sha256: str
    id: str
    state: str
    old: Any
    new: Any
    revision: int

    @property
    def changes(self) -> bool:
        """True if the photo's value would change."""
        return bool(self.old != self.new and (self.old or self.new))


def plan_edit(archive: Archive, shas: Iterable[str], change: BatchChange) -> list[PlannedEdit]:
    """Return each photo's value before and after the change, with its revision now (in
    the order given; photos no longer in the catalog are left out)."""
    wanted = list(shas)
    stored = archive.catalog.get_many(wanted)
    revisions = archive.catalog.revisions(wanted)
    standing = archive.states(wanted)
    out = []
    for sha in wanted:
        if sha not in stored:
            continue
        record = stored[sha].record
        out.append(
            PlannedEdit(
                sha256=sha,
                id=record.id,
                state=standing[sha].state if sha in standing else "live",
                old=getattr(record, change.field),
                new=new_value(record, change),
                revision=revisions.get(sha, 0),
            )
        )
    return out


@dataclass
class BatchReport:
    """What a batch did: each photo changed (old and new value), left as it was, or
    refused with why."""

    changed: list[tuple[str, Any, Any]] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)
    #: Why search does not show some changes yet (they are saved), if it does not.
    index_pending: str | None = None


def apply_edit(
    archive: Archive,
    seen: Iterable[tuple[str, int]],
    change: BatchChange,
    editor: str,
) -> BatchReport:
    """Make the change to each photo (sha256, the revision the plan showed) as `editor`,
    one edit each through `edit_photo`: a photo changed since its revision was read is
    refused and reported with the other editor's value, never overwritten."""
    from photoarchive.editing import edit_photo

    report = BatchReport()
    for sha, revision in seen:
        try:
            record = archive.catalog.get(sha).record
        except PhotoArchiveError as exc:
            report.refused.append((sha[:12], str(exc)))
            continue
        value = new_value(record, change)
        try:
            result = edit_photo(archive, sha, {change.field: value}, editor, revision=revision)
        except EditConflictError as exc:
            report.refused.append((record.id, str(exc)))
            continue
        if change.field in result.changed:
            report.changed.append(
                (record.id, getattr(record, change.field), getattr(result.record, change.field))
            )
        else:
            report.unchanged.append(record.id)
        report.index_pending = report.index_pending or result.index_pending
    return report
