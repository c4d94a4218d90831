"""Selections at the desk through Flask's test client: editors pick photos from results and
photo pages into their current selection (a form, or the desk's script asking for JSON);
viewers look and print contact sheets but change nothing; a form without its CSRF token
changes nothing; the zip holds the photos as export writes them; a batch edit is previewed,
applied with the preview's revisions, and a photo changed meanwhile is reported."""

from __future__ import annotations

import io
import json
import re
import shutil
import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from flask import Flask
from flask.testing import FlaskClient

from photoarchive import init_archive, open_archive
from photoarchive.accounts import add_account
from photoarchive.audit import audit_log
from photoarchive.editing import edit_photo
from photoarchive.ingest import IngestOptions
from photoarchive.kills import set_killed
from photoarchive.selections import add, create, list_selections, photos
from photoarchive.web.app import create_app
from tests.hostile import good_jpeg

PASSWORD = "correct horse battery"
XSS = "<script>alert(1)</script>"
CAPTIONS = [
    ("Tank abandoned in the river near Izium", "REUTERS/Gleb Garanich"),
    ("Flag raised over the town hall", "AFP via Getty Images"),
    (f"Tank column on the road {XSS}", "REUTERS/Vyacheslav Madiyevskyy"),
]


@dataclass
class Desk:
    app: Flask
    root: Path
    ids: list[str]

    def client(self, name: str | None = None) -> FlaskClient:
        """A client signed in as `name` (or not signed in)."""
        client = self.app.test_client()
        if name is not None:
            answer = client.post(
                "/signin",
                data={"name": name, "password": PASSWORD, "csrf_token": token(client, "/signin")},
            )
            assert answer.status_code == 302, answer.get_data(as_text=True)[:300]
        return client

    def selections(self) -> dict[str, list[str]]:
        """Each selection's photos (short ids), read from the catalog."""
        with open_archive(self.root, readonly=True) as archive:
            return {
                s.name: [sha[:12] for sha in photos(archive, s.name)]
                for s in list_selections(archive)
            }


def token(client: FlaskClient, url: str) -> str:
    page = client.get(url).get_data(as_text=True)
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, page[:500]
    return found.group(1)


def _archive(tmp_path: Path, accounts: bool = True) -> Desk:
    root = tmp_path / "archive"
    archive, _ = init_archive(root)
    ids = []
    with archive:
        for n, (caption, credit) in enumerate(CAPTIONS):
            path = tmp_path / f"photo{n}.jpg"
            path.write_bytes(good_jpeg((60 * n, 180 - 50 * n, 90), size=(96, 64)))
            report = archive.ingest([path], IngestOptions(caption=caption, credit=credit))
            ids.append(report.outcomes[0].id)
        if accounts:
            add_account(archive, "ed", "editor", PASSWORD, by="setup")
            add_account(archive, "otto", "editor", PASSWORD, by="setup")
            add_account(archive, "vi", "viewer", PASSWORD, by="setup")
    app = create_app(root)
    app.config["TESTING"] = False  # errors go through the desk's own handlers
    return Desk(app, root, ids)


@pytest.fixture
def desk(tmp_path: Path) -> Desk:
    return _archive(tmp_path)


def test_an_editor_picks_photos_from_results_and_photo_pages(desk: Desk) -> None:
    client = desk.client("ed")
    made = client.post(
        "/selections", data={"name": "front page", "csrf_token": token(client, "/selections")}
    )
    assert made.status_code == 302 and made.headers["Location"] == "/selections/front%20page"
    # The new selection is the current one: in the header, with a toggle on every card.
    results = client.get("/?q=tank").get_data(as_text=True)
    assert "Picking into front page (<span data-selection-count>0</span>)" in results
    assert results.count("data-select-toggle") == 2
    assert results.count('action="/selections/front%20page/add"') == 2
    # Without JavaScript: the form posts and comes back to the results.
    added = client.post(
        "/selections/front%20page/add",
        data={"id": desk.ids[0], "next": "/?q=tank", "csrf_token": token(client, "/?q=tank")},
    )
    assert added.status_code == 302 and added.headers["Location"] == "/?q=tank"
    again = client.get("/?q=tank").get_data(as_text=True)
    assert 'action="/selections/front%20page/remove"' in again and 'aria-pressed="true"' in again
    assert "Added 1 photo to front page." in again  # the note after the change
    # The desk's script asks for JSON: the button's next action and the count come back.
    sent = client.post(
        "/selections/front%20page/add",
        data={"id": desk.ids[1], "csrf_token": token(client, "/")},
        headers={"Accept": "application/json"},
    )
    assert sent.status_code == 200
    assert sent.get_json() == {
        "selection": "front page",
        "count": 2,
        "selected": True,
        "changed": 1,
        "action": "/selections/front%20page/remove",
        "label": "✓ front page",
        "title": "Take out of front page (x)",
    }
    # A photo page has its own toggle, and names the selections holding the photo.
    page = client.get(f"/photos/{desk.ids[1]}").get_data(as_text=True)
    assert 'aria-pressed="true"' in page and "data-select-toggle" in page
    assert 'In selection: <a href="/selections/front%20page">front page</a>' in page
    taken = client.post(
        "/selections/front%20page/remove",
        data={"id": desk.ids[0], "csrf_token": token(client, "/")},
        headers={"Accept": "application/json"},
    )
    assert taken.get_json()["selected"] is False and taken.get_json()["count"] == 1
    assert desk.selections() == {"front page": [desk.ids[1]]}
    # The selection's page: its photos as cards, with toggles to take them out.
    shown = client.get("/selections/front%20page").get_data(as_text=True)
    assert shown.count('class="card"') == 1 and f'data-id="{desk.ids[1]}"' in shown
    assert 'action="/selections/front%20page/remove"' in shown
    with open_archive(desk.root, readonly=True) as archive:
        changes = [(e.by, e.action) for e in audit_log(archive) if e.action.startswith("selection")]
    assert changes == [
        ("ed", "selection remove"),
        ("ed", "selection add"),
        ("ed", "selection add"),
        ("ed", "selection create"),
    ]


def test_selections_are_listed_renamed_chosen_and_deleted_after_asking(desk: Desk) -> None:
    with open_archive(desk.root) as archive:
        create(archive, "sport", "otto")
        add(archive, "sport", desk.ids[:2], "otto")
    client = desk.client("ed")
    listed = client.get("/selections").get_data(as_text=True)
    assert '<a href="/selections/sport">sport</a>' in listed and "<td>2</td>" in listed
    chosen = client.post(
        "/selections/sport/current",
        data={"csrf_token": token(client, "/selections"), "next": "/selections"},
    )
    assert chosen.status_code == 302
    assert "Picking into sport" in client.get("/").get_data(as_text=True)
    # Renamed by someone else: the session's current selection follows it.
    renamed = client.post(
        "/selections/sport/rename",
        data={"new_name": "Sport Friday", "csrf_token": token(client, "/selections")},
    )
    assert renamed.headers["Location"] == "/selections/Sport%20Friday"
    assert "Picking into Sport Friday" in client.get("/").get_data(as_text=True)
    taken = client.post(
        "/selections/sport%20friday/rename",
        data={"new_name": "bad/name", "csrf_token": token(client, "/selections")},
    )
    assert taken.status_code == 400 and "is not valid" in taken.get_data(as_text=True)
    asked = client.get("/selections/Sport%20Friday/delete").get_data(as_text=True)
    assert "Delete the selection Sport Friday?" in asked and "It holds 2 photos" in asked
    gone = client.post(
        "/selections/Sport%20Friday/delete",
        data={"csrf_token": token(client, "/selections/Sport%20Friday/delete")},
    )
    assert gone.status_code == 302 and gone.headers["Location"] == "/selections"
    assert desk.selections() == {}
    home = client.get("/").get_data(as_text=True)
    assert "Picking into" not in home and "data-select-toggle" not in home
    assert client.get("/selections/Sport%20Friday").status_code == 404


def test_a_viewer_looks_and_prints_but_changes_nothing(desk: Desk) -> None:
    with open_archive(desk.root) as archive:
        create(archive, "sport", "ed")
        add(archive, "sport", desk.ids[:2], "ed")
    client = desk.client("vi")
    listed = client.get("/selections").get_data(as_text=True)
    assert (
        "sport" in listed and 'name="new_name"' not in listed and "Make a selection" not in listed
    )
    page = client.get("/selections/sport").get_data(as_text=True)
    assert page.count('class="card"') == 2 and "data-select-toggle" not in page
    assert "photos.zip" not in page and "/edit" not in page
    sheet = client.get("/selections/sport/contact-sheet.pdf")
    assert sheet.status_code == 200 and sheet.data.startswith(b"%PDF-")
    assert client.get("/selections/sport/photos.zip").status_code == 403
    assert client.get("/selections/sport/edit").status_code == 403
    assert client.get("/selections/sport/delete").status_code == 403
    csrf = token(client, "/")
    for url, data in [
        ("/selections", {"name": "mine"}),
        ("/selections/sport/add", {"id": desk.ids[2]}),
        ("/selections/sport/remove", {"id": desk.ids[0]}),
        ("/selections/sport/rename", {"new_name": "theirs"}),
        ("/selections/sport/delete", {}),
        ("/selections/sport/current", {}),
        ("/selections/sport/edit/preview", {"change": "caption:set", "value": "x"}),
        ("/selections/sport/edit/apply", {"change": "caption:set", "value": "x"}),
    ]:
        assert client.post(url, data={**data, "csrf_token": csrf}).status_code == 403, url
    assert desk.selections() == {"sport": desk.ids[:2]}


def test_a_form_without_its_token_changes_nothing(desk: Desk) -> None:
    with open_archive(desk.root) as archive:
        create(archive, "sport", "ed")
        add(archive, "sport", desk.ids[:1], "ed")
    client = desk.client("ed")
    for url, data in [
        ("/selections", {"name": "mine"}),
        ("/selections/sport/add", {"id": desk.ids[2]}),
        ("/selections/sport/remove", {"id": desk.ids[0]}),
        ("/selections/sport/rename", {"new_name": "theirs"}),
        ("/selections/sport/delete", {}),
    ]:
        refused = client.post(url, data=data, headers={"Accept": "application/json"})
        assert refused.status_code == 403, url
        refused = client.post(url, data={**data, "csrf_token": "forged"})
        assert refused.status_code == 403, url
    assert desk.selections() == {"sport": desk.ids[:1]}


def test_an_archive_without_accounts_shows_selections_read_only(tmp_path: Path) -> None:
    desk = _archive(tmp_path, accounts=False)
    with open_archive(desk.root) as archive:
        create(archive, "sport", "ed")
        add(archive, "sport", desk.ids[:1], "ed")
    client = desk.client()
    for url in ("/selections", "/selections/sport", "/?q=tank", f"/photos/{desk.ids[0]}"):
        page = client.get(url).get_data(as_text=True)
        assert '<form method="post"' not in page and "data-select-toggle" not in page, url
    assert client.get("/selections/sport/contact-sheet.pdf").status_code == 200
    assert client.get("/selections/sport/photos.zip").status_code == 403
    assert client.post("/selections/sport/remove", data={"id": desk.ids[0]}).status_code == 403
    assert desk.selections() == {"sport": desk.ids[:1]}


def test_the_zip_holds_the_photos_as_export_writes_them(desk: Desk, tmp_path: Path) -> None:
    with open_archive(desk.root) as archive:
        create(archive, "front page", "ed")
        add(archive, "front page", [desk.ids[2], desk.ids[0], desk.ids[1]], "ed")
        edit_photo(archive, desk.ids[0], {"caption": "Corrected: a tank in the Donets"}, "ed")
        set_killed(archive, desk.ids[1], True, "wrong picture", "ed")
    client = desk.client("ed")
    page = client.get("/selections/front%20page").get_data(as_text=True)
    assert f"Left out of the zip, not for publication: {desk.ids[1]} (killed)" in page
    answer = client.get("/selections/front%20page/photos.zip")
    assert answer.status_code == 200 and answer.mimetype == "application/zip"
    assert "front page.zip" in answer.headers["Content-Disposition"] or (
        quote("front page.zip") in answer.headers["Content-Disposition"]
    )
    with zipfile.ZipFile(io.BytesIO(answer.data)) as zipped:
        names = zipped.namelist()
        assert len(names) == 3 and names[-1] == "left-out.txt"
        assert [n for n in names if desk.ids[2] in n] and [n for n in names if desk.ids[0] in n]
        assert f"{desk.ids[1]}: killed" in zipped.read("left-out.txt").decode()
        zipped.extractall(tmp_path / "unzipped")
    edited = next((tmp_path / "unzipped").glob(f"*{desk.ids[0]}*"))
    if shutil.which("exiftool"):
        read = subprocess.run(
            ["exiftool", "-j", "-XMP-dc:Description", "-IPTC:Caption-Abstract", str(edited)],
            capture_output=True,
            text=True,
            check=True,
        )
        tags = json.loads(read.stdout)[0]
        assert tags["Description"] == "Corrected: a tank in the Donets"
        assert tags["Caption-Abstract"] == "Corrected: a tank in the Donets"
    # Nothing left to export is a page saying so, not an empty zip.
    with open_archive(desk.root) as archive:
        create(archive, "killed only", "ed")
        add(archive, "killed only", [desk.ids[1]], "ed")
    refused = client.get("/selections/killed%20only/photos.zip")
    assert refused.status_code == 403 and "holds no photo to export" in refused.get_data(
        as_text=True
    )


def _preview(client: FlaskClient, name: str, change: str, value: str) -> tuple[str, list[str]]:
    csrf = token(client, f"/selections/{name}/edit")
    answer = client.post(
        f"/selections/{name}/edit/preview",
        data={"change": change, "value": value, "csrf_token": csrf},
    )
    assert answer.status_code == 200, answer.get_data(as_text=True)[:500]
    page = answer.get_data(as_text=True)
    return page, re.findall(r'name="photo" value="([^"]+)"', page)


def test_a_batch_edit_is_previewed_then_applied_and_a_change_meanwhile_is_reported(
    desk: Desk,
) -> None:
    with open_archive(desk.root) as archive:
        create(archive, "sport", "ed")
        add(archive, "sport", desk.ids, "ed")
        edit_photo(archive, desk.ids[1], {"keywords": ["Flag", "town"]}, "otto")
    client = desk.client("ed")
    form = client.get("/selections/sport/edit").get_data(as_text=True)
    assert 'value="keywords:add"' in form and 'value="credit:set"' in form
    page, seen = _preview(client, "sport", "keywords:add", "flag, front page")
    # Each photo's value before and after; the one holding "Flag" gains only "front page".
    assert "3 of 3 photos would change. Nothing has changed yet." in page
    assert "<del>Flag, town</del></td>\n      <td>Flag, town, front page</td>" in page
    assert len(seen) == 3 and f"{desk.ids[1]}" in seen[1] and seen[1].endswith(":1")
    with open_archive(desk.root, readonly=True) as archive:
        assert archive.get(desk.ids[0]).keywords == []
    # Someone changes a photo between the preview and the apply.
    with open_archive(desk.root) as archive:
        edit_photo(archive, desk.ids[2], {"keywords": ["mine"]}, "otto")
    applied = client.post(
        "/selections/sport/edit/apply",
        data={
            "change": "keywords:add",
            "value": "flag, front page",
            "photo": seen,
            "csrf_token": token(client, "/selections/sport/edit"),
        },
    )
    assert applied.status_code == 200
    done = applied.get_data(as_text=True)
    assert "2 changed, 0 already so, 1 refused." in done
    assert f'<a href="/photos/{desk.ids[2]}">{desk.ids[2]}</a>: photo {desk.ids[2]}' in done
    assert "was changed since you read it" in done and "by otto" in done
    with open_archive(desk.root, readonly=True) as archive:
        assert archive.get(desk.ids[0]).keywords == ["flag", "front page"]
        assert archive.get(desk.ids[1]).keywords == ["Flag", "town", "front page"]
        assert archive.get(desk.ids[2]).keywords == ["mine"]  # not overwritten
        edits = [(e.by, e.target) for e in audit_log(archive) if e.action == "edit"]
    assert ("ed", desk.ids[0]) in edits and ("ed", desk.ids[1]) in edits
    assert ("ed", desk.ids[2]) not in edits
    # Setting a field: the same value everywhere, shown escaped in the preview.
    page, seen = _preview(client, "sport", "headline:set", f"Match day {XSS}")
    assert XSS not in page and "Match day &lt;script&gt;alert(1)&lt;/script&gt;" in page
    applied = client.post(
        "/selections/sport/edit/apply",
        data={
            "change": "headline:set",
            "value": f"Match day {XSS}",
            "photo": seen,
            "csrf_token": token(client, "/selections/sport/edit"),
        },
    )
    assert "3 changed, 0 already so, 0 refused." in applied.get_data(as_text=True)
    with open_archive(desk.root, readonly=True) as archive:
        assert {archive.get(i).headline for i in desk.ids} == {f"Match day {XSS}"}


@pytest.mark.parametrize(
    ("change", "value", "words"),
    [
        ("keywords:set", "a", "keywords are added or taken out"),
        ("caption:add", "a", "keywords are added or taken out"),
        ("sha256:set", "a", "a batch cannot change"),
        ("keywords:add", " , ", "give the keywords"),
    ],
)
def test_a_batch_edit_that_cannot_be_made_is_said_on_the_form(
    desk: Desk, change: str, value: str, words: str
) -> None:
    with open_archive(desk.root) as archive:
        create(archive, "sport", "ed")
        add(archive, "sport", desk.ids[:1], "ed")
    client = desk.client("ed")
    answer = client.post(
        "/selections/sport/edit/preview",
        data={"change": change, "value": value, "csrf_token": token(client, "/selections")},
    )
    assert answer.status_code == 400 and words in answer.get_data(as_text=True)


def test_names_and_captions_from_outside_are_shown_as_text(desk: Desk) -> None:
    client = desk.client("ed")
    csrf = token(client, "/selections")
    refused = client.post("/selections", data={"name": XSS, "csrf_token": csrf})
    text = refused.get_data(as_text=True)
    assert refused.status_code == 400 and "is not valid" in text
    assert XSS not in text and "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    missing = client.get("/selections/" + quote(XSS, safe=""))
    assert missing.status_code == 404 and XSS not in missing.get_data(as_text=True)
    searched = client.get("/", query_string={"q": f'selection:"{XSS}"'})
    assert searched.status_code == 404 and XSS not in searched.get_data(as_text=True)
    # A photo whose caption carries markup, in a selection's cards.
    with open_archive(desk.root) as archive:
        create(archive, "sport", "ed")
        add(archive, "sport", [desk.ids[2]], "ed")
    page = client.get("/selections/sport").get_data(as_text=True)
    assert XSS not in page and "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    # The search box takes a selection too, its name encoded in the links.
    found = client.get("/", query_string={"q": "selection:sport"}).get_data(as_text=True)
    assert found.count('class="card"') == 1
    assert 'href="/?q=selection:%22sport%22"' in page
