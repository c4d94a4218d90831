"""The desk's accounts: names, roles and passwords (argon2), signing in with a lock-out
after repeated failures, and what each role may do.

Accounts live in the catalog; their changes are written in SQLite transactions of their
own (no search index is involved, so a sign-in never waits behind an ingest's writer
lock) and each lands in the audit log with who made it."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from photoarchive.audit import now_text, record
from photoarchive.errors import NotAllowedError, PhotoArchiveError, SignInError

if TYPE_CHECKING:
    from photoarchive.archive import Archive

#: Roles, each allowed what the one before is, and more.
ROLES = ("viewer", "editor", "admin")
#: What each role may do: viewers search and look; editors caption, kill, select and
#: export; admins also manage accounts and the rights policy.
ALLOWED = {
    "viewer": frozenset({"search"}),
    "editor": frozenset({"search", "edit", "kill", "select", "export"}),
    "admin": frozenset({"search", "edit", "kill", "select", "export", "users", "policy"}),
}
#: Failed sign-ins in a row that lock an account, and for how long.
MAX_FAILURES = 5
LOCK_MINUTES = 15
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")


@dataclass(frozen=True)
class Account:
    """A desk account as others may see it (never its password)."""

    name: str
    role: str
    created_at: str
    #: When a lock-out after failed sign-ins ends (UTC, ISO), or None.
    locked_until: str | None = None

    def may(self, action: str) -> bool:
        """Return True if the account's role allows `action` ("edit", "users", ...)."""
        return action in ALLOWED.get(self.role, frozenset())

    def to_dict(self) -> dict[str, Any]:
        """Return the account as JSON-ready values."""
        return {
            "name": self.name,
            "role": self.role,
            "created_at": self.created_at,
            "locked_until": self.locked_until,
        }


def require(account: Account | None, action: str) -> Account:
    """Return the account if its role allows `action`; raise NotAllowedError otherwise."""
    if account is None:
        raise NotAllowedError("sign in first")
    if not account.may(action):
        raise NotAllowedError(f"{account.name} is a {account.role}, who may not {action}")
    return account


def _hasher() -> Any:
    from argon2 import PasswordHasher

    # argon2id with the library's defaults (RFC 9106's second recommendation).
    return PasswordHasher()


def _check_name(name: str) -> str:
    if not _NAME.fullmatch(name or ""):
        raise PhotoArchiveError(
            f"account name {name[:64]!r} is not valid: letters, digits and . _ @ -, at most "
            "64, starting with a letter or digit"
        )
    return name


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise PhotoArchiveError(f"unknown role {role!r}: choose {', '.join(ROLES)}")
    return role


def _check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise PhotoArchiveError(f"the password is too short: at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise PhotoArchiveError(f"the password is too long: at most {MAX_PASSWORD} characters")
    return password


def has_accounts(archive: Archive) -> bool:
    """Return True if the archive has any account (the desk then asks everyone to sign in)."""
    return archive.catalog.conn.execute("SELECT 1 FROM users LIMIT 1").fetchone() is not None


def list_accounts(archive: Archive) -> list[Account]:
    """Return every account, by name."""
    rows = archive.catalog.conn.execute(
        "SELECT name, role, created_at, locked_until FROM users ORDER BY name"
    )
    return [
        Account(r["name"], r["role"], r["created_at"], _still_locked(r["locked_until"]))
        for r in rows
    ]


def get_account(archive: Archive, name: str) -> Account:
    """Return one account; raise PhotoArchiveError if there is none by that name."""
    row = archive.catalog.conn.execute(
        "SELECT name, role, created_at, locked_until FROM users WHERE name = ?", (name,)
    ).fetchone()
    if row is None:
        raise PhotoArchiveError(f"no account named {name[:64]!r}")
    return Account(row["name"], row["role"], row["created_at"], _still_locked(row["locked_until"]))


def add_account(archive: Archive, name: str, role: str, password: str, by: str) -> Account:
    """Create an account; raise PhotoArchiveError if the name is taken or a value is bad."""
    _check_name(name)
    _check_role(role)
    digest = _hasher().hash(_check_password(password))
    at = now_text()
    with archive.catalog.transaction() as conn:
        if conn.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone():
            raise PhotoArchiveError(f"an account named {name!r} exists already")
        conn.execute(
            "INSERT INTO users (name, role, password, created_at) VALUES (?, ?, ?, ?)",
            (name, role, digest, at),
        )
        record(conn, by, "user add", name, "role", None, role, at)
    return get_account(archive, name)


def set_password(archive: Archive, name: str, password: str, by: str) -> None:
    """Give an account a new password (and lift any lock-out)."""
    digest = _hasher().hash(_check_password(password))
    with archive.catalog.transaction() as conn:
        changed = conn.execute(
            "UPDATE users SET password = ?, failures = 0, locked_until = NULL WHERE name = ?",
            (digest, name),
        ).rowcount
        if not changed:
            raise PhotoArchiveError(f"no account named {name[:64]!r}")
        record(conn, by, "user password", name)


def set_role(archive: Archive, name: str, role: str, by: str) -> None:
    """Change an account's role; the last admin stays an admin."""
    _check_role(role)
    with archive.catalog.transaction() as conn:
        row = conn.execute("SELECT role FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise PhotoArchiveError(f"no account named {name[:64]!r}")
        if row["role"] == role:
            return
        if row["role"] == "admin":
            _keep_an_admin(conn, name)
        conn.execute("UPDATE users SET role = ? WHERE name = ?", (role, name))
        record(conn, by, "user role", name, "role", row["role"], role)


def remove_account(archive: Archive, name: str, by: str) -> None:
    """Remove an account; the last admin cannot be removed while other accounts remain."""
    with archive.catalog.transaction() as conn:
        row = conn.execute("SELECT role FROM users WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise PhotoArchiveError(f"no account named {name[:64]!r}")
        others = conn.execute("SELECT count(*) FROM users WHERE name != ?", (name,)).fetchone()
        if row["role"] == "admin" and others[0]:
            _keep_an_admin(conn, name)
        conn.execute("DELETE FROM users WHERE name = ?", (name,))
        record(conn, by, "user remove", name, "role", row["role"], None)


def _keep_an_admin(conn: Any, leaving: str) -> None:
    left = conn.execute(
        "SELECT count(*) FROM users WHERE role = 'admin' AND name != ?", (leaving,)
    ).fetchone()[0]
    if not left:
        raise PhotoArchiveError(f"{leaving} is the last admin: make another account an admin first")


# A hash to verify against for names with no account, so that a sign-in takes as long
# whether the name exists or not.
_DUMMY: list[str] = []


def sign_in(archive: Archive, name: str, password: str, now: datetime | None = None) -> Account:
    """Return the account if the password is its own; raise SignInError otherwise. After
    MAX_FAILURES failures in a row the account is locked for LOCK_MINUTES, whatever the
    password; a success resets the count."""
    from argon2.exceptions import InvalidHashError, VerificationError

    moment = now or datetime.now(UTC)
    hasher = _hasher()
    wrong = SignInError("wrong account name or password")
    if not _NAME.fullmatch(name or "") or len(password) > MAX_PASSWORD:
        raise wrong
    # The password is checked outside any transaction (argon2 takes a while on purpose);
    # only the outcome is written.
    row = archive.catalog.conn.execute(
        "SELECT name, role, password, created_at, locked_until FROM users WHERE name = ?",
        (name,),
    ).fetchone()
    if row is None:
        if not _DUMMY:
            _DUMMY.append(hasher.hash("not a password of anyone's"))
        with contextlib.suppress(VerificationError):
            hasher.verify(_DUMMY[0], password)
        raise wrong
    locked = _still_locked(row["locked_until"], moment)
    if locked:
        raise SignInError(
            f"the account {row['name']} is locked after {MAX_FAILURES} failed sign-ins "
            f"until {locked[11:16]} UTC; an admin can lift it with a new password"
        )
    try:
        hasher.verify(row["password"], password)
    except (VerificationError, InvalidHashError):
        _failed(archive, row["name"], moment)
        raise wrong from None
    with archive.catalog.transaction() as conn:
        update = "failures = 0, locked_until = NULL"
        values: tuple[Any, ...] = (row["name"],)
        if hasher.check_needs_rehash(row["password"]):
            update += ", password = ?"
            values = (hasher.hash(password), row["name"])
        conn.execute(f"UPDATE users SET {update} WHERE name = ?", values)
    return Account(row["name"], row["role"], row["created_at"])


def _failed(archive: Archive, name: str, moment: datetime) -> None:
    """Count a failed sign-in; lock the account at MAX_FAILURES in a row."""
    with archive.catalog.transaction() as conn:
        conn.execute("UPDATE users SET failures = failures + 1 WHERE name = ?", (name,))
        failures = conn.execute("SELECT failures FROM users WHERE name = ?", (name,)).fetchone()
        if failures is not None and failures[0] >= MAX_FAILURES:
            until = (moment + timedelta(minutes=LOCK_MINUTES)).isoformat(timespec="seconds")
            conn.execute(
                "UPDATE users SET failures = 0, locked_until = ? WHERE name = ?", (until, name)
            )
            record(conn, name, "user locked", name, at=moment.isoformat(timespec="seconds"))


def session_stamp(archive: Archive, name: str) -> str | None:
    """Return a stamp of the account's password: a desk session keeps the stamp it was
    started with, so a new password (or a removed account) ends every older session."""
    row = archive.catalog.conn.execute(
        "SELECT password FROM users WHERE name = ?", (name,)
    ).fetchone()
    return None if row is None else _stamp(row["password"])


def session_account(archive: Archive, name: str, stamp: str | None) -> Account | None:
    """Return the account a desk session names, None if it was removed or given a new
    password since the session's `stamp` (one look-up, made on every request)."""
    row = archive.catalog.conn.execute(
        "SELECT name, role, created_at, locked_until, password FROM users WHERE name = ?",
        (name,),
    ).fetchone()
    if row is None or stamp is None or _stamp(row["password"]) != stamp:
        return None
    return Account(row["name"], row["role"], row["created_at"], _still_locked(row["locked_until"]))


def _stamp(password_hash: str) -> str:
    import hashlib

    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:16]


def _still_locked(until: str | None, now: datetime | None = None) -> str | None:
    if not until:
        return None
    try:
        end = datetime.fromisoformat(until)
    except ValueError:
        return None
    return until if end > (now or datetime.now(UTC)) else None
