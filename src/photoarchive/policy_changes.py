"""Replacing the rights policy (rights.toml) as a whole: validated as it would be read, written
atomically, and recorded in the audit log with the lines it changed."""

from __future__ import annotations

import difflib
import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from photoarchive.atomic import atomic_write
from photoarchive.audit import record
from photoarchive.errors import EditConflictError
from photoarchive.policy import POLICY_FILE, RightsPolicy, parse_policy

if TYPE_CHECKING:
    from photoarchive.archive import Archive

#: Changed lines kept in the audit entry (each side); a longer change says how many more.
AUDIT_LINES = 200


@dataclass(frozen=True)
class PolicyText:
    """rights.toml as it stands: its text, and a digest naming this state of the file (give
    it back to `replace_policy` as `seen`)."""

    text: str
    digest: str


@dataclass(frozen=True)
class PolicyChange:
    """What `replace_policy` did: the policy now in force and the lines it took out and put in
    (none when the text was the same)."""

    policy: RightsPolicy
    removed: tuple[str, ...]
    added: tuple[str, ...]

    @property
    def changed(self) -> bool:
        """True if the file was written."""
        return bool(self.removed or self.added)


def read_policy_text(root: Path) -> PolicyText:
    """Return the archive's rights.toml as text (empty if it is missing; bytes that are not
    UTF-8 shown replaced) with its digest."""
    try:
        data = (root / POLICY_FILE).read_bytes()
    except FileNotFoundError:
        data = b""
    text = data.decode("utf-8-sig", errors="replace")
    return PolicyText(text, hashlib.sha256(data).hexdigest())


def replace_policy(archive: Archive, text: str, by: str, seen: str | None = None) -> PolicyChange:
    """Replace rights.toml with `text` as `by`; return what changed.

    The text is validated as `load_policy` reads it first: a bad policy raises ConfigError
    naming the line, and nothing is written. With `seen` (the digest from
    `read_policy_text` when the text was read), the file is replaced only if nobody changed
    it since (EditConflictError otherwise). The file is written and the audit entry ("policy",
    with the lines removed and added) recorded in one catalog transaction.
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n").removeprefix("\ufeff")
    if text and not text.endswith("\n"):
        text += "\n"
    policy = parse_policy(text, POLICY_FILE)
    # The transaction serialises writers across processes: the check and the write are one.
    with archive.catalog.transaction() as conn:
        now = read_policy_text(archive.root)
        if seen is not None and seen != now.digest:
            raise EditConflictError(
                f"{POLICY_FILE} was changed since you read it: nothing was saved; open it "
                "again and make your change to the current text"
            )
        removed, added = _changed_lines(now.text, text)
        if not (removed or added):
            return PolicyChange(policy, (), ())
        record(conn, by, "policy", POLICY_FILE, "lines", _kept(removed), _kept(added))
        atomic_write(archive.root / POLICY_FILE, text.encode("utf-8"))
    return PolicyChange(policy, tuple(removed), tuple(added))


def _changed_lines(old: str, new: str) -> tuple[list[str], list[str]]:
    """Return the lines taken out of `old` and put into `new`, each as 'N: text' with its
    line number in its own file."""
    removed: list[str] = []
    added: list[str] = []
    before, after = old.splitlines(), new.splitlines()
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        removed.extend(f"{n + 1}: {before[n]}" for n in range(i1, i2))
        added.extend(f"{n + 1}: {after[n]}" for n in range(j1, j2))
    return removed, added


def _kept(lines: list[str]) -> list[str] | None:
    if not lines:
        return None
    if len(lines) <= AUDIT_LINES:
        return lines
    return [*lines[:AUDIT_LINES], f"... and {len(lines) - AUDIT_LINES} more lines"]
