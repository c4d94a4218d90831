"""Accounts of the desk: added, changed and removed on the command line, signed in to in the
browser with a session cookie, locked after repeated failures; every change in the audit log."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from photoarchive import open_archive
from photoarchive.accounts import MAX_FAILURES, sign_in
from photoarchive.errors import SignInError
from photoarchive.web.app import create_app

HOST = {"Host": "127.0.0.1"}
PASSWORD = "correct horse battery"


def add(run: Any, name: str, role: str, password: str = PASSWORD, code: int = 0) -> Any:
    return run("users", "add", name, "--role", role, "--password-stdin", "--by", "setup",
               input=password + "\n", code=code)  # fmt: skip


@pytest.fixture
def team(cli: Any, tmp_path: Path) -> Any:
    """A new archive driven by the CLI, with stdin."""
    from click.testing import CliRunner

    from photoarchive.cli import main

    runner = CliRunner()
    where = cli.archive_dir

    def call(*args: str, input: str | None = None, code: int = 0) -> Any:
        result = runner.invoke(main, ["--archive", where, *args], input=input)
        assert result.exit_code == code, (args, result.stdout, result.stderr)
        return result

    call("init")
    call.root = Path(where)  # type: ignore[attr-defined]
    return call


def test_accounts_are_added_listed_changed_and_removed(team: Any) -> None:
    add(team, "anna", "admin")
    add(team, "bob", "viewer")
    listed = json.loads(team("users", "list", "--json").stdout)
    assert [(a["name"], a["role"]) for a in listed] == [("anna", "admin"), ("bob", "viewer")]
    assert all("password" not in a for a in listed)
    team("users", "role", "bob", "editor", "--by", "anna")
    team("users", "passwd", "bob", "--password-stdin", "--by", "anna", input="a new password!\n")
    with open_archive(team.root) as archive:
        assert sign_in(archive, "bob", "a new password!").role == "editor"
        with pytest.raises(SignInError):
            sign_in(archive, "bob", PASSWORD)
    team("users", "remove", "bob", "--by", "anna")
    assert [a["name"] for a in json.loads(team("users", "list", "--json").stdout)] == ["anna"]
    audit = json.loads(team("audit", "--json").stdout)
    assert [(e["by"], e["action"], e["target"]) for e in audit] == [
        ("anna", "user remove", "bob"),
        ("anna", "user password", "bob"),
        ("anna", "user role", "bob"),
        ("setup", "user add", "bob"),
        ("setup", "user add", "anna"),
    ]
    assert audit[2]["old"] == "viewer" and audit[2]["new"] == "editor"


@pytest.mark.parametrize(
    ("args", "password", "words"),
    [
        (("users", "add", "bad name", "--role", "editor"), PASSWORD, "not valid"),
        (("users", "add", "carl", "--role", "editor"), "short", "too short"),
        (("users", "add", "anna", "--role", "editor"), PASSWORD, "exists already"),
        (("users", "remove", "nobody"), None, "no account"),
        (("users", "role", "anna", "viewer"), None, "last admin"),
        (("users", "remove", "anna"), None, "last admin"),
    ],
)
def test_bad_account_changes_are_one_line(
    team: Any, args: tuple[str, ...], password: str | None, words: str
) -> None:
    add(team, "anna", "admin")
    add(team, "bob", "editor")
    extra = ("--password-stdin",) if password is not None else ()
    result = team(*args, *extra, input=(password or "") + "\n", code=1)
    assert words in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_repeated_failures_lock_the_account_for_a_while(team: Any) -> None:
    add(team, "anna", "admin")
    start = datetime.now(UTC)
    with open_archive(team.root) as archive:
        for _ in range(MAX_FAILURES):
            with pytest.raises(SignInError, match="wrong account name or password"):
                sign_in(archive, "anna", "not the password", now=start)
        # Locked: even the right password is refused, saying so.
        with pytest.raises(SignInError, match="locked"):
            sign_in(archive, "anna", PASSWORD, now=start + timedelta(minutes=1))
        assert sign_in(archive, "anna", PASSWORD, now=start + timedelta(minutes=16)).name == "anna"
    audit = json.loads(team("audit", "--json").stdout)
    assert audit[0]["action"] == "user locked" and audit[0]["target"] == "anna"


def _token(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def test_the_desk_asks_for_a_sign_in_once_there_are_accounts(team: Any) -> None:
    client = create_app(team.root).test_client()
    # No accounts: read-only, this machine only, as before; and it says so.
    page = client.get("/", headers=HOST)
    assert page.status_code == 200 and "read-only, this machine" in page.get_data(as_text=True)
    add(team, "anna", "editor")
    page = client.get("/incoming", headers=HOST)
    assert page.status_code == 302 and page.headers["Location"].startswith("/signin?next=")
    assert client.get("/api/search?q=tank", headers=HOST).status_code == 401
    form = client.get("/signin", headers=HOST).get_data(as_text=True)
    token = _token(form)
    # Without its token the form is refused and nothing happens.
    refused = client.post("/signin", data={"name": "anna", "password": PASSWORD}, headers=HOST)
    assert refused.status_code == 403
    assert client.get("/", headers=HOST).status_code == 302
    wrong = client.post(
        "/signin", data={"name": "anna", "password": "nope", "csrf_token": token}, headers=HOST
    )
    assert wrong.status_code == 401 and "wrong account name or password" in wrong.get_data(
        as_text=True
    )
    # An open redirect is not followed: only the desk's own paths.
    signed = client.post(
        "/signin",
        data={"name": "anna", "password": PASSWORD, "csrf_token": token, "next": "//evil.example"},
        headers=HOST,
    )
    assert signed.status_code == 302 and signed.headers["Location"] == "/"
    cookie = signed.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    home = client.get("/", headers=HOST).get_data(as_text=True)
    assert "anna" in home and "(editor)" in home
    # A new password ends the sessions started with the old one.
    team("users", "passwd", "anna", "--password-stdin", input="another password\n")
    assert client.get("/", headers=HOST).status_code == 302
    # Signing out ends the session.
    token = _token(client.get("/signin", headers=HOST).get_data(as_text=True))
    client.post(
        "/signin",
        data={"name": "anna", "password": "another password", "csrf_token": token},
        headers=HOST,
    )
    assert client.get("/", headers=HOST).status_code == 200
    token = _token(client.get("/", headers=HOST).get_data(as_text=True))
    client.post("/signout", data={"csrf_token": token}, headers=HOST)
    assert client.get("/", headers=HOST).status_code == 302


def test_session_cookies_are_secure_over_tls(team: Any) -> None:
    add(team, "anna", "viewer")
    client = create_app(team.root).test_client()
    base = "https://127.0.0.1"
    token = _token(client.get("/signin", base_url=base, headers=HOST).get_data(as_text=True))
    signed = client.post(
        "/signin",
        data={"name": "anna", "password": PASSWORD, "csrf_token": token},
        base_url=base,
        headers=HOST,
    )
    assert "Secure" in signed.headers["Set-Cookie"]


def test_serving_beyond_this_machine_needs_accounts(team: Any) -> None:
    result = team("serve", "--host", "0.0.0.0", "--port", "8999", code=1)
    assert "needs accounts" in result.stderr and "users add" in result.stderr
