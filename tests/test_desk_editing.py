"""Editing at the desk: an editor corrects a caption and keywords, kills and restores a
picture, through the browser's forms; viewers and forged forms change nothing."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from photoarchive import init_archive, open_archive
from photoarchive.accounts import add_account
from photoarchive.audit import audit_log
from photoarchive.editing import edit_photo
from photoarchive.ingest import IngestOptions
from photoarchive.web.app import create_app
from tests.hostile import good_jpeg

HOST = {"Host": "127.0.0.1"}
PASSWORD = "correct horse battery"
XSS = "<img src=x onerror=alert(1)>"


@dataclass
class Desk:
    root: Path
    photo: str

    def client(self, name: str | None = None) -> FlaskClient:
        """A browser, signed in as `name` if given."""
        app = create_app(self.root)
        app.config["TESTING"] = False  # errors through the desk's own handlers
        client = app.test_client()
        if name is not None:
            token = csrf(client, "/signin")
            signed = client.post(
                "/signin",
                data={"name": name, "password": PASSWORD, "csrf_token": token},
                headers=HOST,
            )
            assert signed.status_code == 302, signed.get_data(as_text=True)
        return client

    def record(self) -> Any:
        with open_archive(self.root) as archive:
            return archive.get(self.photo)

    def revision(self) -> int:
        with open_archive(self.root) as archive:
            return archive.catalog.revision(archive.resolve(self.photo))


def csrf(client: FlaskClient, url: str) -> str:
    page = client.get(url, headers=HOST).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


@pytest.fixture
def desk(tmp_path: Path) -> Iterator[Desk]:
    root = tmp_path / "archive"
    archive, _ = init_archive(root)
    with archive:
        photo = tmp_path / "tanks.jpg"
        photo.write_bytes(good_jpeg((30, 90, 40)))
        report = archive.ingest(
            [photo],
            IngestOptions(
                caption="Abandoned tanks by the river near Izium",
                credit="Reuters",
                keywords=("Ukraine", "armour"),
            ),
        )
        add_account(archive, "anna", "admin", PASSWORD, by="setup")
        add_account(archive, "eddie", "editor", PASSWORD, by="setup")
        add_account(archive, "vera", "viewer", PASSWORD, by="setup")
    yield Desk(root, report.outcomes[0].id or "")


def form(client: FlaskClient, desk: Desk, **values: Any) -> dict[str, Any]:
    """The photo page's edit form as the page fills it in, with `values` typed over it."""
    page = client.get(f"/photos/{desk.photo}", headers=HOST).get_data(as_text=True)
    fields: dict[str, Any] = {
        "csrf_token": re.search(r'name="csrf_token" value="([^"]+)"', page).group(1),  # type: ignore[union-attr]
        "revision": re.search(r'name="revision" value="(\d+)"', page).group(1),  # type: ignore[union-attr]
    }
    record = desk.record()
    for name in ("headline", "credit", "byline", "city", "province_state", "country"):
        fields[name] = getattr(record, name) or ""
    fields["caption"] = record.caption or ""
    fields.update(values)
    return fields


def save(client: FlaskClient, desk: Desk, **values: Any) -> Any:
    """Send the edit form with `values` typed into it."""
    data = form(client, desk, **values)
    return client.post(f"/photos/{desk.photo}/edit", data=data, headers=HOST)


def photo_page(client: FlaskClient, desk: Desk) -> str:
    return client.get(f"/photos/{desk.photo}", headers=HOST).get_data(as_text=True)


def test_an_editor_changes_a_caption_and_keywords(desk: Desk) -> None:
    client = desk.client("eddie")
    data = form(
        client,
        desk,
        caption="Abandoned tanks by the Donets river near Izium",
        add_keyword="tanks; armour",  # armour is there already: only tanks is new
        remove_keyword="Ukraine",
    )
    saved = client.post(f"/photos/{desk.photo}/edit", data=data, headers=HOST)
    assert saved.status_code == 303 and saved.headers["Location"] == f"/photos/{desk.photo}"
    record = desk.record()
    assert record.caption == "Abandoned tanks by the Donets river near Izium"
    assert record.keywords == ["armour", "tanks"]
    assert desk.revision() == 2  # caption and keywords; nothing else was sent
    with open_archive(desk.root) as archive:
        assert [r.record.id for r in archive.search("donets").results] == [desk.photo]
        assert archive.search("keywords:tanks").total == 1
        entries = audit_log(archive)
    edits = [(e.by, e.action, e.field) for e in entries if e.action == "edit"]
    assert sorted(edits) == [("eddie", "edit", "caption"), ("eddie", "edit", "keywords")]
    page = client.get(saved.headers["Location"], headers=HOST).get_data(as_text=True)
    assert "Saved: caption, keywords." in page
    assert "by eddie: caption:" in page and "Donets" in page
    assert "by eddie: keywords: <del>Ukraine; armour</del> → armour; tanks" in page
    # The desk's own search follows the edit.
    assert 'class="card"' in client.get("/?q=donets", headers=HOST).get_data(as_text=True)
    # Saving the page again as it stands changes nothing.
    again = client.post(f"/photos/{desk.photo}/edit", data=form(client, desk), headers=HOST)
    assert again.status_code == 303 and desk.revision() == 2
    assert "Nothing to save" in photo_page(client, desk)


def test_the_other_fields_and_an_emptied_one(desk: Desk) -> None:
    client = desk.client("eddie")
    typed = {
        "headline": "Izium after the counteroffensive",
        "byline": "Jane Doe",
        "city": "Izium",
        "province_state": "Kharkiv Oblast",
        "country": "Ukraine",
    }
    saved = save(client, desk, **typed)
    assert saved.status_code == 303
    record = desk.record()
    assert {name: getattr(record, name) for name in typed} == typed
    # An emptied box clears the field; the rest stay as they are.
    emptied = save(client, desk, byline="")
    assert emptied.status_code == 303
    assert desk.record().byline is None and desk.record().city == "Izium"
    assert desk.revision() == 6
    assert "byline: <del>Jane Doe</del> → (empty)" in photo_page(client, desk)


def test_a_stale_revision_is_refused_with_both_values(desk: Desk) -> None:
    client = desk.client("eddie")
    data = form(client, desk, caption="Tanks left behind near Izium")
    with open_archive(desk.root) as archive:  # someone else, meanwhile
        edit_photo(archive, desk.photo, {"caption": "Tanks by the river"}, "bob")
    refused = client.post(f"/photos/{desk.photo}/edit", data=data, headers=HOST)
    assert refused.status_code == 409
    text = refused.get_data(as_text=True)
    assert "was changed since you read it (revision 0, now 1)" in text
    assert "by bob" in text and "Tanks left behind near Izium" in text
    assert desk.record().caption == "Tanks by the river" and desk.revision() == 1
    # The page shown again carries the current revision: the next save goes through.
    assert 'name="revision" value="1"' in text
    assert "Nothing was changed" in text


def test_an_edit_that_touches_other_fields_than_a_later_change_is_still_refused(
    desk: Desk,
) -> None:
    client = desk.client("eddie")
    data = form(client, desk, headline="Izium")
    with open_archive(desk.root) as archive:
        edit_photo(archive, desk.photo, {"caption": "Tanks by the river"}, "bob")
    refused = client.post(f"/photos/{desk.photo}/edit", data=data, headers=HOST)
    assert refused.status_code == 409
    # Only the field this editor changed is named, not the caption they did not touch.
    assert "headline is now None" in refused.get_data(as_text=True).replace("&#39;", "'")
    assert desk.record().headline is None


@pytest.mark.parametrize(
    ("values", "words"),
    [
        ({"revision": "x"}, "no revision"),
        ({"caption": "a" * 10_001}, "Caption is too long"),
        ({"add_keyword": "k" * 201}, "keyword is too long"),
    ],
)
def test_bad_edits_are_one_line_and_change_nothing(
    desk: Desk, values: dict[str, str], words: str
) -> None:
    client = desk.client("eddie")
    data = form(client, desk, **values)
    refused = client.post(f"/photos/{desk.photo}/edit", data=data, headers=HOST)
    assert refused.status_code == 400
    text = refused.get_data(as_text=True)
    problem = re.search(r'<p class="problem" role="alert">([^<]*)</p>', text)
    assert problem and words in problem.group(1) and "\n" not in problem.group(1)
    assert desk.revision() == 0


def test_kill_and_unkill_need_a_reason_and_a_confirmation(desk: Desk) -> None:
    client = desk.client("eddie")
    token = csrf(client, f"/photos/{desk.photo}")
    url = f"/photos/{desk.photo}/kill"
    for data, words in (
        ({"reason": "  ", "confirm": "yes"}, "Say why you kill it"),
        ({"reason": "Agency withdrew it"}, "Tick the box"),
    ):
        refused = client.post(url, data={**data, "csrf_token": token}, headers=HOST)
        assert refused.status_code == 400 and words in refused.get_data(as_text=True)
        assert "Killed" not in refused.get_data(as_text=True).split("<main", 1)[1][:400]
    with open_archive(desk.root) as archive:
        assert archive.states([archive.resolve(desk.photo)]).popitem()[1].state == "live"
    killed = client.post(
        url,
        data={"reason": "Agency withdrew it", "confirm": "yes", "csrf_token": token},
        headers=HOST,
    )
    assert killed.status_code == 303
    page = photo_page(client, desk)
    # The page says so at the top, before the picture; the restore form replaces the kill.
    top = page.split("<main", 1)[1]
    assert top.index('class="banner killed"') < top.index("<figure")
    assert "by eddie: Agency withdrew it" in page and "Restore this picture" in page
    assert f'action="/photos/{desk.photo}/kill"' not in page
    with open_archive(desk.root) as archive:
        assert archive.search("tanks").total == 0
        assert [e.action for e in audit_log(archive, by="eddie")] == ["kill"]
    restored = client.post(
        f"/photos/{desk.photo}/unkill",
        data={"reason": "Cleared again by the agency", "confirm": "yes", "csrf_token": token},
        headers=HOST,
    )
    assert restored.status_code == 303
    page = photo_page(client, desk)
    assert 'class="banner killed"' not in page and "Restored" in page
    assert "unkill" in page and "Cleared again by the agency" in page
    with open_archive(desk.root) as archive:
        assert archive.search("tanks").total == 1
        assert [e.action for e in audit_log(archive, by="eddie")] == ["unkill", "kill"]


def test_a_viewer_sees_no_controls_and_cannot_change_anything(desk: Desk) -> None:
    client = desk.client("vera")
    page = photo_page(client, desk)
    assert "/edit" not in page and "/kill" not in page and "Admin" not in page
    token = csrf(client, f"/photos/{desk.photo}")
    for action, data in (
        ("edit", {"caption": "Changed by a viewer", "revision": "0"}),
        ("kill", {"reason": "because", "confirm": "yes"}),
    ):
        refused = client.post(
            f"/photos/{desk.photo}/{action}", data={**data, "csrf_token": token}, headers=HOST
        )
        assert refused.status_code == 403
    assert desk.record().caption == "Abandoned tanks by the river near Izium"
    with open_archive(desk.root) as archive:
        assert not [e for e in audit_log(archive) if e.by == "vera"]
        assert archive.states([archive.resolve(desk.photo)]).popitem()[1].state == "live"


def test_an_archive_without_accounts_is_read_only_in_the_browser(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    archive, _ = init_archive(root)
    with archive:
        photo = tmp_path / "a.jpg"
        photo.write_bytes(good_jpeg())
        photo_id = archive.ingest([photo], IngestOptions(caption="Flag")).outcomes[0].id
    client = create_app(root).test_client()
    page = client.get(f"/photos/{photo_id}", headers=HOST).get_data(as_text=True)
    assert "/edit" not in page and "Kill" not in page
    token = csrf(client, "/signin")  # a valid token: the refusal is the role's, not the form's
    refused = client.post(
        f"/photos/{photo_id}/edit",
        data={"caption": "Changed", "revision": "0", "csrf_token": token},
        headers=HOST,
    )
    assert refused.status_code == 403
    with open_archive(root) as again:
        assert again.get(photo_id).caption == "Flag"


def test_a_form_without_its_token_is_refused(desk: Desk) -> None:
    client = desk.client("eddie")
    data = form(client, desk, caption="Forged from another site")
    del data["csrf_token"]
    refused = client.post(f"/photos/{desk.photo}/edit", data=data, headers=HOST)
    assert refused.status_code == 403 and "Form expired" in refused.get_data(as_text=True)
    forged_kill = client.post(
        f"/photos/{desk.photo}/kill", data={"reason": "x", "confirm": "yes"}, headers=HOST
    )
    assert forged_kill.status_code == 403
    assert desk.record().caption == "Abandoned tanks by the river near Izium"
    assert desk.revision() == 0


def test_markup_typed_in_a_caption_stays_text(desk: Desk) -> None:
    client = desk.client("anna")
    data = form(client, desk, caption=f"Tanks {XSS} near Izium", add_keyword=XSS)
    assert client.post(f"/photos/{desk.photo}/edit", data=data, headers=HOST).status_code == 303
    assert desk.record().caption == f"Tanks {XSS} near Izium"
    escaped = "&lt;img src=x onerror=alert(1)&gt;"
    for url in (f"/photos/{desk.photo}", "/?q=izium", "/admin/audit?since=all"):
        text = client.get(url, headers=HOST).get_data(as_text=True)
        assert "<img src=x" not in text, url
        assert escaped in text, url
