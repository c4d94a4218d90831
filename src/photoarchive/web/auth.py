"""Who is at the desk: sign-in and sign-out with a session cookie, the role each page
needs, CSRF protection of every form, and the writable archive a change is made in.

An archive with no accounts is served as before, read-only and to this machine only, to
whoever opens it; once it has accounts everyone signs in, and each change is made in the
account's name."""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

from flask import (
    Blueprint,
    Flask,
    current_app,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSessionInterface

from photoarchive.accounts import (
    Account,
    has_accounts,
    require,
    session_account,
    session_stamp,
    sign_in,
)
from photoarchive.archive import Archive, open_archive
from photoarchive.errors import SignInError

bp = Blueprint("auth", __name__)
#: The file in the archive holding the key that signs the desk's session cookies.
KEY_FILE = "desk-session.key"
KEY_BYTES = 32
#: How long a sign-in lasts.
SESSION_HOURS = 12
# Pages anyone may open before signing in.
_OPEN = frozenset({"auth.sign_in_page", "auth.sign_in_post", "static"})
F = TypeVar("F", bound=Callable[..., Any])


class _SessionInterface(SecureCookieSessionInterface):
    """Session cookies marked Secure when the desk is reached over TLS (directly or, with
    --proxy, as the proxy says)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(request.is_secure)


def install(app: Flask, root: Path) -> None:
    """Give the app its session key, cookies, CSRF protection and sign-in pages."""
    from flask_wtf.csrf import CSRFProtect

    app.config["SECRET_KEY"] = session_key(root)
    app.config["SESSION_COOKIE_HTTPONLY"] = True
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["SESSION_COOKIE_NAME"] = "photoarchive_session"
    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=SESSION_HOURS)
    app.config["WTF_CSRF_TIME_LIMIT"] = SESSION_HOURS * 3600
    # The desk is reached by name through the Host allow list; the Referer check Flask-WTF
    # adds over HTTPS would refuse a proxy's rewritten names for no gain over the token.
    app.config["WTF_CSRF_SSL_STRICT"] = False
    app.session_interface = _SessionInterface()
    CSRFProtect(app)
    app.register_blueprint(bp)
    app.before_request(_who_is_there)
    app.context_processor(lambda: {"account": g.get("account"), "team": g.get("team", False)})
    app.jinja_env.globals["allowed"] = allowed


def session_key(root: Path) -> bytes:
    """Return the archive's session key, made on first use (readable by its owner only);
    a key of this process alone where the archive cannot be written (a read-only or full
    disk: sessions then end when the desk stops)."""
    path = root / KEY_FILE
    try:
        found = path.read_bytes()
        if len(found) >= KEY_BYTES:
            return found
    except FileNotFoundError:
        pass
    except OSError:
        return secrets.token_bytes(KEY_BYTES)
    key = secrets.token_bytes(KEY_BYTES)
    # Written whole under another name, then linked into place: every worker process reads
    # either no key or the whole key, and the first to link it wins.
    spare = root / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    try:
        fd = os.open(spare, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(key)
            fh.flush()
            os.fsync(fh.fileno())
        os.link(spare, path)
    except FileExistsError:  # another worker linked its key first (or a damaged one is there)
        try:
            found = path.read_bytes()
        except OSError:
            return key
        return found if len(found) >= KEY_BYTES else key
    except OSError:
        return key
    finally:
        with contextlib.suppress(OSError):
            spare.unlink()
    return key


def _who_is_there() -> Any:
    """Find the signed-in account; send anyone else to the sign-in page once the archive
    has accounts."""
    from photoarchive.web.app import current_archive

    archive = current_archive(current_app)
    g.team = has_accounts(archive)
    g.account = None
    name = session.get("account")
    if g.team and name:
        g.account = session_account(archive, name, session.get("stamp"))
        if g.account is None:  # removed or given a new password since: signed out
            session.clear()
    if not g.team or g.account is not None or request.endpoint in _OPEN:
        return None
    if request.path.startswith("/api/"):
        raise SignInError("sign in first")
    return redirect(url_for("auth.sign_in_page", next=request.full_path.rstrip("?")))


def current_account() -> Account | None:
    """Return the signed-in account, or None (no accounts, or not signed in)."""
    account: Account | None = g.get("account")
    return account


def allowed(action: str) -> bool:
    """Return True if the person at the desk may do `action` (templates show or hide
    controls by it)."""
    account = current_account()
    return account is not None and account.may(action)


def needs(action: str) -> Callable[[F], F]:
    """Decorate a view that only an account whose role allows `action` may use
    (NotAllowedError, a 403, for anyone else)."""

    def wrap(view: F) -> F:
        @wraps(view)
        def checked(*args: Any, **kwargs: Any) -> Any:
            require(current_account(), action)
            return view(*args, **kwargs)

        return checked  # type: ignore[return-value]

    return wrap


@contextmanager
def writable() -> Iterator[Archive]:
    """Open the archive for one change (the desk's own archives are read-only)."""
    with open_archive(current_app.config["ARCHIVE_ROOT"]) as archive:
        yield archive


def safe_next(target: str | None) -> str:
    """Return `target` if it is a path on this desk, else "/": never another site (an
    open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


@bp.get("/signin")
def sign_in_page() -> Any:
    """The sign-in form."""
    if current_account() is not None:
        return redirect(safe_next(request.args.get("next")))
    return render_template("signin.html", next=safe_next(request.args.get("next")), error=None)


@bp.post("/signin")
def sign_in_post() -> Any:
    """Check the name and password; start a session."""
    name = request.form.get("name", "").strip()
    password = request.form.get("password", "")
    target = safe_next(request.form.get("next"))
    try:
        with writable() as archive:
            account = sign_in(archive, name, password)
            stamp = session_stamp(archive, account.name)
    except SignInError as exc:
        page = render_template("signin.html", next=target, error=str(exc), name=name[:64])
        return page, 401
    session.clear()  # a new session for the new sign-in (no fixation)
    session["account"] = account.name
    session["stamp"] = stamp
    session.permanent = True
    return redirect(target)


@bp.post("/signout")
def sign_out() -> Any:
    """End the session."""
    session.clear()
    return redirect(url_for("auth.sign_in_page"))
