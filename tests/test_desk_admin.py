"""The admin pages: accounts managed in the browser, the audit log, and the rights policy
replaced from a text box (validated first, audited); other roles are refused."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient
from markupsafe import escape

from photoarchive import init_archive, open_archive
from photoarchive.accounts import add_account, list_accounts, sign_in
from photoarchive.audit import audit_log
from photoarchive.cli import main
from photoarchive.editing import edit_photo
from photoarchive.errors import ConfigError, EditConflictError
from photoarchive.ingest import IngestOptions
from photoarchive.policy import POLICY_FILE
from photoarchive.policy_changes import read_policy_text, replace_policy
from photoarchive.web.app import create_app
from tests.hostile import good_jpeg

HOST = {"Host": "127.0.0.1"}
PASSWORD = "correct horse battery"
# An audit row's who and what.
WHO_WHAT = r'<td class="when">[^<]*</td>\s*<td>([^<]*)</td>\s*<td>([^<]*)</td>'


@pytest.fixture
def root(tmp_path: Path) -> Iterator[Path]:
    """An archive with one Reuters photo, an admin (anna), an editor and a viewer."""
    root = tmp_path / "archive"
    archive, _ = init_archive(root)
    with archive:
        photo = tmp_path / "tanks.jpg"
        photo.write_bytes(good_jpeg())
        archive.ingest([photo], IngestOptions(caption="Tanks near Izium", credit="Reuters"))
        add_account(archive, "anna", "admin", PASSWORD, by="setup")
        add_account(archive, "eddie", "editor", PASSWORD, by="setup")
        add_account(archive, "vera", "viewer", PASSWORD, by="setup")
    yield root


def token(client: FlaskClient, url: str = "/signin") -> str:
    page = fetch(client, url)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def signed_in(root: Path, name: str, password: str = PASSWORD) -> FlaskClient:
    app = create_app(root)
    app.config["TESTING"] = False
    client = app.test_client()
    data = {"name": name, "password": password, "csrf_token": token(client)}
    assert client.post("/signin", data=data, headers=HOST).status_code == 302
    return client


def post(client: FlaskClient, url: str, **data: str) -> Any:
    return client.post(url, data={**data, "csrf_token": token(client, "/")}, headers=HOST)


def fetch(client: FlaskClient, url: str) -> str:
    return client.get(url, headers=HOST).get_data(as_text=True)


def problem(response: Any) -> str:
    text = response.get_data(as_text=True)
    found = re.search(r'<p class="problem" role="alert">([^<]*)</p>', text)
    assert found, text[:2000]
    return found.group(1).replace("&#39;", "'")


def roles(root: Path) -> dict[str, str]:
    with open_archive(root) as archive:
        return {a.name: a.role for a in list_accounts(archive)}


@pytest.mark.parametrize("who", ["eddie", "vera"])
def test_only_admins_reach_the_admin_pages(root: Path, who: str) -> None:
    client = signed_in(root, who)
    assert ">Admin<" not in fetch(client, "/")
    for url in ("/admin/", "/admin/users", "/admin/audit", "/admin/policy"):
        assert client.get(url, headers=HOST).status_code == 403, url
    before = read_policy_text(root)
    for url, data in (
        ("/admin/users/add", {"name": "mallory", "role": "admin", "password": "x" * 12,
                              "password2": "x" * 12}),
        ("/admin/users/role", {"name": who, "role": "admin"}),
        ("/admin/users/remove", {"name": "anna", "confirm": "yes"}),
        ("/admin/policy", {"policy": "", "seen": before.digest}),
    ):  # fmt: skip
        assert post(client, url, **data).status_code == 403, url
    assert roles(root) == {"anna": "admin", "eddie": "editor", "vera": "viewer"}
    assert read_policy_text(root) == before


def test_an_admin_adds_changes_and_removes_accounts(root: Path) -> None:
    client = signed_in(root, "anna")
    assert ">Admin<" in fetch(client, "/")
    page = fetch(client, "/admin/users")
    for name in ("anna", "eddie", "vera"):
        assert f'<th scope="row">{name}' in page

    differ = post(client, "/admin/users/add", name="carl", role="editor",
                  password="a long password", password2="a long passwerd")  # fmt: skip
    assert differ.status_code == 400 and "two passwords differ" in problem(differ)
    short = post(client, "/admin/users/add", name="carl", role="editor",
                 password="short", password2="short")  # fmt: skip
    assert short.status_code == 400 and "too short" in problem(short)
    assert 'value="carl"' in short.get_data(as_text=True)  # the name typed is kept
    assert "carl" not in roles(root)

    added = post(client, "/admin/users/add", name="carl", role="editor",
                 password="a long password", password2="a long password")  # fmt: skip
    assert added.status_code == 303
    assert "Added carl as editor." in fetch(client, "/admin/users")
    assert post(client, "/admin/users/role", name="carl", role="viewer").status_code == 303
    changed = post(client, "/admin/users/password", name="carl",
                   password="another password", password2="another password")  # fmt: skip
    assert changed.status_code == 303
    with open_archive(root) as archive:
        assert sign_in(archive, "carl", "another password").role == "viewer"

    unconfirmed = post(client, "/admin/users/remove", name="carl")
    assert unconfirmed.status_code == 400 and "tick the box" in problem(unconfirmed)
    assert "carl" in roles(root)
    assert post(client, "/admin/users/remove", name="carl", confirm="yes").status_code == 303
    assert "carl" not in roles(root)

    # The last admin stays one, in one line.
    last = post(client, "/admin/users/role", name="anna", role="viewer")
    assert last.status_code == 400 and "last admin" in problem(last)
    assert roles(root)["anna"] == "admin"

    with open_archive(root) as archive:
        done = [(e.by, e.action, e.target) for e in audit_log(archive, by="anna")]
    assert done == [
        ("anna", "user remove", "carl"),
        ("anna", "user password", "carl"),
        ("anna", "user role", "carl"),
        ("anna", "user add", "carl"),
    ]


def test_an_admin_giving_themselves_a_new_password_stays_signed_in(root: Path) -> None:
    client = signed_in(root, "anna")
    changed = post(client, "/admin/users/password", name="anna",
                   password="a fresh password", password2="a fresh password")  # fmt: skip
    assert changed.status_code == 303
    assert client.get("/admin/users", headers=HOST).status_code == 200
    # Other sessions of the account end.
    assert signed_in(root, "anna", "a fresh password").get("/", headers=HOST).status_code == 200


def test_the_audit_page_lists_changes_newest_first_with_filters(root: Path) -> None:
    with open_archive(root) as archive:
        photo = archive.search("tanks").results[0].record.id
        edit_photo(archive, photo, {"caption": "Tanks left near Izium <b>"}, "eddie")
    client = signed_in(root, "anna")
    page = fetch(client, "/admin/audit")
    rows = re.findall(WHO_WHAT, page)
    # (Changes within one second are ordered by kind: the order is audit_log's.)
    assert ("eddie", "edit") in rows and rows.count(("setup", "user add")) == 3
    assert f'<a href="/photos/{photo}">{photo}</a>' in page
    assert "Tanks left near Izium &lt;b&gt;" in page and "<del>Tanks near Izium</del>" in page
    only = fetch(client, "/admin/audit?since=24h&by=setup")
    assert re.findall(WHO_WHAT, only) == [("setup", "user add")] * 3
    assert "No changes by nobody" in fetch(client, "/admin/audit?by=nobody")
    assert client.get("/admin/audit?since=soon", headers=HOST).status_code == 400


def _reuters_blocked(text: str) -> str:
    head, tail = text.split("[agencies.reuters]", 1)
    tail = tail.replace('status = "licensed"', 'status = "blocked"', 1)
    return f"{head}[agencies.reuters]{tail}"


def test_a_valid_policy_is_saved_and_audited(root: Path) -> None:
    client = signed_in(root, "anna")
    page = fetch(client, "/admin/policy")
    assert "[agencies.reuters]" in page
    before = read_policy_text(root)
    new = _reuters_blocked(before.text).replace("\n", "\r\n")  # as a browser sends a textarea
    saved = post(client, "/admin/policy", policy=new, seen=before.digest)
    assert saved.status_code == 303
    text = (root / POLICY_FILE).read_text(encoding="utf-8")
    assert text == _reuters_blocked(before.text) and "\r" not in text
    assert "Saved rights.toml: 1 line out, 1 line in" in fetch(client, "/admin/policy")
    with open_archive(root) as archive:
        photo = archive.search("tanks").results[0].record.id
        assert archive.check_rights(photo).status == "blocked"
        entry = audit_log(archive, by="anna")[0]
    assert (entry.action, entry.target, entry.field) == ("policy", "rights.toml", "lines")
    assert entry.old == [re.sub(r"^(\d+): .*", r"\1: ", entry.old[0]) + 'status = "licensed"']
    assert entry.new[0].endswith('status = "blocked"')
    # The desk's verdicts follow at once; the command line's audit lists the change.
    assert "badge blocked" in fetch(client, f"/photos/{photo}")
    cli = CliRunner().invoke(main, ["--archive", str(root), "audit", "--since", "1h", "--json"])
    assert cli.exit_code == 0
    assert json.loads(cli.stdout)[0]["action"] == "policy"
    audit_page = fetch(client, "/admin/audit")
    assert "status = &#34;blocked&#34;" in audit_page


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda t: t.replace('status = "licensed"', 'status = "maybe"', 1), ", line "),
        (lambda t: t + "\n[agencies.broken\n", "line "),
        (lambda t: t.replace("expiry_warning_days = 30", "expiry_warning_days = -1", 1), ", line "),
    ],
)
def test_a_bad_policy_is_refused_with_its_line_and_nothing_is_written(
    root: Path, change: Any, words: str
) -> None:
    client = signed_in(root, "anna")
    before = read_policy_text(root)
    bad = change(before.text)
    refused = post(client, "/admin/policy", policy=bad, seen=before.digest)
    assert refused.status_code == 400
    message = problem(refused)
    assert message.startswith("Not saved: rights.toml") and words in message
    assert "\n" not in message
    # The text typed stays in the box to be corrected; the file and the audit log are as they were.
    assert str(escape(bad)) in refused.get_data(as_text=True)
    assert read_policy_text(root) == before
    with open_archive(root) as archive:
        assert [e for e in audit_log(archive) if e.action == "policy"] == []


def test_a_policy_changed_meanwhile_is_not_overwritten(root: Path) -> None:
    client = signed_in(root, "anna")
    before = read_policy_text(root)
    (root / POLICY_FILE).write_text(before.text + "# changed by hand\n", encoding="utf-8")
    refused = post(client, "/admin/policy", policy=_reuters_blocked(before.text),
                   seen=before.digest)  # fmt: skip
    assert refused.status_code == 409 and "changed since you read it" in problem(refused)
    assert read_policy_text(root).text.endswith("# changed by hand\n")
    assert "Your text, not saved" in refused.get_data(as_text=True)


def test_replace_policy_in_the_library(root: Path) -> None:
    with open_archive(root) as archive:
        before = read_policy_text(root)
        with pytest.raises(ConfigError, match=r"rights.toml, line \d+"):
            replace_policy(archive, before.text.replace("Europe/London", "Mars/Base"), "anna")
        same = replace_policy(archive, before.text, "anna", seen=before.digest)
        assert not same.changed
        with pytest.raises(EditConflictError):
            replace_policy(archive, before.text, "anna", seen="0" * 64)
        assert audit_log(archive, by="anna") == []
