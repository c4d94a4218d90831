"""The admin pages: accounts (add, change role, new password, remove), the audit log, and the
rights policy (rights.toml) replaced from the browser, through the library functions the
command line uses, in the signed-in admin's name."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)

from photoarchive.accounts import (
    MIN_PASSWORD,
    ROLES,
    add_account,
    list_accounts,
    remove_account,
    require,
    session_stamp,
    set_password,
    set_role,
)
from photoarchive.archive import Archive
from photoarchive.audit import AuditEntry, audit_log
from photoarchive.errors import ConfigError, EditConflictError, PhotoArchiveError
from photoarchive.fieldtext import field_text
from photoarchive.policy_changes import read_policy_text, replace_policy
from photoarchive.web.app import current_archive
from photoarchive.web.auth import current_account, needs, writable

bp = Blueprint("admin", __name__, url_prefix="/admin")

#: The audit page's time spans (the URL's since= also takes 90m, 2w or a date).
AUDIT_SPANS = (("1h", "last hour"), ("24h", "24 hours"), ("7d", "7 days"), ("30d", "30 days"))
#: Changes on one audit page, newest first.
AUDIT_LIMIT = 500
#: The longest rights.toml the policy page takes (the starter policy is 5 KB; werkzeug reads
#: at most 500 KB of form fields).
MAX_POLICY = 200_000
#: Actions whose target is a photo's id.
_PHOTO_ACTIONS = frozenset({"edit", "kill", "unkill"})


def _archive() -> Archive:
    return current_archive(current_app)


def _me(action: str) -> str:
    return require(current_account(), action).name


@bp.get("/")
@needs("users")
def home() -> Any:
    """The admin pages start with the accounts."""
    return redirect(url_for("admin.users_page"))


# --- Accounts ---------------------------------------------------------------------------


@bp.get("/users")
@needs("users")
def users_page() -> Any:
    """Every account with its role, when it was made and any lock-out; forms to change them."""
    return _users(None, 200)


def _users(problem: str | None, status: int, typed: dict[str, str] | None = None) -> Any:
    page = render_template(
        "admin_users.html",
        accounts=list_accounts(_archive()),
        roles=ROLES,
        min_password=MIN_PASSWORD,
        problem=problem,
        typed=typed or {},
        section="users",
    )
    return page, status


def _passwords() -> str:
    password = request.form.get("password", "")
    if password != request.form.get("password2", ""):
        raise PhotoArchiveError("the two passwords differ: type the same password twice")
    return password


def _done(message: str) -> Any:
    flash(message)
    return redirect(url_for("admin.users_page"), code=303)


@bp.post("/users/add")
@needs("users")
def add_user() -> Any:
    """Add an account with a role and a password typed twice."""
    me = _me("users")
    name = request.form.get("name", "").strip()
    role = request.form.get("role", "")
    try:
        password = _passwords()
        with writable() as arc:
            add_account(arc, name, role, password, by=me)
    except PhotoArchiveError as exc:
        return _users(f"Not added: {exc}.", 400, {"name": name[:64], "role": role})
    return _done(f"Added {name} as {role}.")


@bp.post("/users/role")
@needs("users")
def change_role() -> Any:
    """Give an account another role (the last admin stays an admin)."""
    me = _me("users")
    name = request.form.get("name", "")
    role = request.form.get("role", "")
    try:
        with writable() as arc:
            set_role(arc, name, role, by=me)
    except PhotoArchiveError as exc:
        return _users(f"Role not changed: {exc}.", 400)
    return _done(f"{name} is now {role}.")


@bp.post("/users/password")
@needs("users")
def change_password() -> Any:
    """Give an account a new password (it ends the account's sessions and lifts a lock-out)."""
    me = _me("users")
    name = request.form.get("name", "")
    try:
        password = _passwords()
        with writable() as arc:
            set_password(arc, name, password, by=me)
            stamp = session_stamp(arc, name)
    except PhotoArchiveError as exc:
        return _users(f"Password not changed: {exc}.", 400)
    if name == me:  # the admin's own session goes on with the new password
        session["stamp"] = stamp
    return _done(f"{name} has a new password; their other sessions have ended.")


@bp.post("/users/remove")
@needs("users")
def remove_user() -> Any:
    """Remove an account, once confirmed (the last admin is kept)."""
    me = _me("users")
    name = request.form.get("name", "")
    if request.form.get("confirm") != "yes":
        return _users(f"Not removed: tick the box to confirm removing {name[:64]}.", 400)
    try:
        with writable() as arc:
            remove_account(arc, name, by=me)
    except PhotoArchiveError as exc:
        return _users(f"Not removed: {exc}.", 400)
    return _done(f"Removed {name}.")


# --- The audit log ----------------------------------------------------------------------


@bp.get("/audit")
@needs("users")
def audit_page() -> str:
    """Changes to the archive, newest first, from the browser and the command line alike:
    since a time (1h, 24h, 7d, 30d, all) and by one person."""
    from photoarchive.search.query import since_moment

    arc = _archive()
    since = request.args.get("since", "7d").strip()[:40] or "all"
    by = request.args.get("by", "").strip()[:64]
    moment = None
    if since != "all":
        moment = since_moment(since, datetime.now(UTC), arc.policy.timezone)
    entries = audit_log(arc, since=moment, by=by or None, limit=AUDIT_LIMIT + 1)
    return render_template(
        "admin_audit.html",
        entries=entries[:AUDIT_LIMIT],
        more=len(entries) > AUDIT_LIMIT,
        limit=AUDIT_LIMIT,
        since=since,
        by=by,
        spans=AUDIT_SPANS,
        names=[a.name for a in list_accounts(arc)],
        value_text=_value_text,
        photo_target=_photo_target,
        section="audit",
    )


def _value_text(entry: AuditEntry, value: Any) -> str:
    """An entry's old or new value as text: lists one item a line for the policy's lines."""
    if value is None:
        return ""
    if entry.action == "policy" and isinstance(value, list):
        return "\n".join(str(v) for v in value)
    return field_text(entry.field or "", value)


def _photo_target(entry: AuditEntry) -> bool:
    return entry.action in _PHOTO_ACTIONS and bool(entry.target)


# --- The rights policy ------------------------------------------------------------------


@bp.get("/policy")
@needs("policy")
def policy_page() -> Any:
    """rights.toml as it stands, in a box an admin may change it in."""
    return _policy(None, 200)


def _policy(
    problem: str | None, status: int, typed: str | None = None, mine: str | None = None
) -> Any:
    current = read_policy_text(current_app.config["ARCHIVE_ROOT"])
    try:
        policy = _archive().policy
        agencies = sorted(a.name for a in policy.agencies.values())
        broken = None
    except ConfigError as exc:  # changed on disk by hand since the desk started
        agencies, broken = [], str(exc)
    page = render_template(
        "admin_policy.html",
        text=current.text if typed is None else typed,
        digest=current.digest,
        agencies=agencies,
        broken=broken,
        problem=problem,
        mine=mine,
        section="policy",
    )
    return page, status


@bp.post("/policy")
@needs("policy")
def save_policy() -> Any:
    """Replace rights.toml with the text typed, if it is a valid policy and nobody changed the
    file since it was opened; recorded in the audit log."""
    me = _me("policy")
    text = request.form.get("policy", "")
    if len(text) > MAX_POLICY:
        too_long = f"Not saved: the policy is too long (at most {MAX_POLICY:,} characters)."
        return _policy(too_long, 400, text[:MAX_POLICY])
    try:
        with writable() as arc:
            change = replace_policy(arc, text, me, seen=request.form.get("seen") or "")
    except EditConflictError as exc:
        return _policy(f"Not saved: {exc}.", 409, mine=text)
    except ConfigError as exc:
        return _policy(f"Not saved: {exc}", 400, text)
    if not change.changed:
        flash("Nothing to save: the policy is as it was.")
    else:
        out, put = (_lines(len(change.removed)), _lines(len(change.added)))
        flash(f"Saved rights.toml: {out} out, {put} in; verdicts follow it at once.")
    return redirect(url_for("admin.policy_page"), code=303)


def _lines(count: int) -> str:
    return f"{count} line" if count == 1 else f"{count} lines"
