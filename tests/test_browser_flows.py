"""The team's flows in a real headless Chromium, on an archive of their own (they change it):
a viewer refused an edit, a kill, an export and a pick; an editor's edit found by search and
shown in the history; a POST without its CSRF token refused, each changing nothing; photos
picked with the keyboard into a selection, changed together after a preview and exported
as a zip; markup typed into the desk's forms staying text; the edit form on a phone."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from photoarchive import init_archive
from photoarchive.accounts import add_account
from tests.test_browser import CHROMIUM
from tests.test_browser_desk import LAPTOP, PASSWORD, PHONE, XSS, Watched, csrf_token, sign_in
from tests.test_desk_workers import serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (scripts/test.sh installs Debian's chromium)",
)


@pytest.fixture(scope="module")
def root(demo_photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The seed photos; a viewer, an editor and an admin."""
    where = tmp_path_factory.mktemp("flows") / "archive"
    arc, _ = init_archive(where)
    with arc:
        arc.ingest([demo_photos])
        for name, role in (("vera", "viewer"), ("eddie", "editor"), ("ada", "admin")):
            add_account(arc, name, role, PASSWORD, "setup")
    return where


@pytest.fixture(scope="module")
def desk(root: Path) -> Iterator[str]:
    with serving(root) as running:
        yield f"http://127.0.0.1:{running.port}"


def signed_in(browser: Browser, desk: str, name: str, viewport: Any = LAPTOP) -> Watched:
    watched = Watched(browser.new_context(viewport=viewport))
    sign_in(watched.page, desk, name)
    return watched


def photo(page: Page, desk: str, query: str) -> dict[str, Any]:
    """The first photo a search finds, as the API gives it (with its revision)."""
    found = page.request.get(f"{desk}/api/search", params={"q": query}).json()
    assert found["results"], query
    return api_photo(page, desk, found["results"][0]["id"])


def api_photo(page: Page, desk: str, photo_id: str) -> dict[str, Any]:
    response = page.request.get(f"{desk}/api/photos/{photo_id}")
    assert response.ok, response.status
    result: dict[str, Any] = response.json()
    return result


def history(page: Page) -> str:
    """The photo page's caption history, as read."""
    return page.locator(".details").inner_text().partition("Caption history")[2]


def test_a_viewer_is_refused_an_edit_and_a_kill_and_nothing_changes(
    browser: Browser, desk: str
) -> None:
    viewer = signed_in(browser, desk, "vera")
    page = viewer.page
    before = photo(page, desk, "river")
    page.goto(f"{desk}/photos/{before['id']}")
    # The viewer is shown no edit or kill controls...
    assert page.locator("form[action$='/edit'], form[action$='/kill']").count() == 0
    # ...and a POST made anyway, with the page's own CSRF token, is a 403.
    token = csrf_token(page)
    edit = page.request.post(
        f"{desk}/photos/{before['id']}/edit",
        form={"csrf_token": token, "revision": str(before["revision"]), "caption": "Changed"},
        max_redirects=0,
    )
    assert edit.status == 403
    kill = page.request.post(
        f"{desk}/photos/{before['id']}/kill",
        form={"csrf_token": token, "reason": "because", "confirm": "yes"},
        max_redirects=0,
    )
    assert kill.status == 403
    after = api_photo(page, desk, before["id"])
    assert after["caption"] == before["caption"] and after["revision"] == before["revision"]
    assert after.get("state", "live") == "live"
    page.goto(f"{desk}/photos/{before['id']}")
    assert "edited" not in history(page)
    viewer.context.close()
    assert viewer.errors == []


def test_an_edit_without_its_csrf_token_is_refused_and_changes_nothing(
    browser: Browser, desk: str
) -> None:
    editor = signed_in(browser, desk, "eddie")
    page = editor.page
    before = photo(page, desk, "flag")
    for token in ({}, {"csrf_token": "forged"}):
        refused = page.request.post(
            f"{desk}/photos/{before['id']}/edit",
            form={**token, "revision": str(before["revision"]), "caption": "Forged caption"},
            max_redirects=0,
        )
        assert refused.status == 403
    # As a page elsewhere would send it: a script's POST with the editor's cookie, no token.
    page.goto(f"{desk}/photos/{before['id']}")
    status = page.evaluate(
        """([id, revision]) => fetch(`/photos/${id}/edit`, {
            method: 'POST',
            body: new URLSearchParams({revision, caption: 'Forged caption'}),
        }).then((r) => r.status)""",
        [before["id"], str(before["revision"])],
    )
    assert status == 403
    after = api_photo(page, desk, before["id"])
    assert after["caption"] == before["caption"] and after["revision"] == before["revision"]
    editor.context.close()
    assert editor.errors == []


def test_an_editors_edit_is_found_by_search_and_shown_in_the_history(
    browser: Browser, desk: str
) -> None:
    editor = signed_in(browser, desk, "eddie")
    page = editor.page
    before = photo(page, desk, "lunch")
    page.goto(f"{desk}/photos/{before['id']}")
    page.click("summary:has-text('Edit caption')")
    caption = f"Soldiers share a zygomorphic lunch {XSS}"
    page.fill("#edit-caption", caption)
    page.click("form[action$='/edit'] button[type=submit]")
    page.wait_for_url(f"**/photos/{before['id']}")
    assert "Saved" in page.locator("main").inner_text()
    assert page.locator("figcaption").inner_text() == caption  # text, not markup
    no_markup(page)
    assert re.search(r"edited .* by eddie: caption", history(page))
    # Search finds it by the new word, at once, showing the new caption.
    page.fill("#q", "zygomorphic")
    page.press("#q", "Enter")
    page.wait_for_url("**/?q=zygomorphic")
    cards = page.locator("article.card")
    assert cards.count() == 1 and cards.first.get_attribute("data-id") == before["id"]
    assert "zygomorphic" in cards.first.locator(".caption").inner_text()
    no_markup(page)
    after = api_photo(page, desk, before["id"])
    assert after["caption"] == caption and after["revision"] > before["revision"]
    editor.context.close()
    assert editor.errors == []


def test_the_edit_form_fits_a_phone(browser: Browser, desk: str) -> None:
    editor = signed_in(browser, desk, "eddie", PHONE)
    page = editor.page
    before = photo(page, desk, "tanks")
    page.goto(f"{desk}/photos/{before['id']}")
    for summary in page.locator(".desk-edit summary").all():
        summary.click()
    assert page.locator("#edit-caption").is_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    editor.context.close()
    assert editor.errors == []


def test_photos_picked_with_x_edited_together_and_exported_as_a_zip(
    browser: Browser, desk: str, tmp_path: Path
) -> None:
    import zipfile

    editor = signed_in(browser, desk, "eddie")
    page = editor.page
    # A new selection becomes the one photos are picked into.
    page.goto(f"{desk}/selections")
    page.fill("#new-selection", "Morning meeting")
    page.click("form.make button[type=submit]")
    page.wait_for_url("**/selections/Morning*")
    count = page.locator("header [data-selection-count]")
    assert count.inner_text() == "0"
    # From the results, by keyboard: j to a card, x to pick it (sent in the background).
    page.goto(f"{desk}/?q=ukraine")
    ids = page.eval_on_selector_all("article.card", "els => els.map(e => e.dataset.id)")
    page.keyboard.press("j")
    page.keyboard.press("x")
    expect_text(page, "header [data-selection-count]", "1")
    page.keyboard.press("j")
    page.keyboard.press("x")
    expect_text(page, "header [data-selection-count]", "2")
    page.keyboard.press("j")
    page.keyboard.press("x")
    expect_text(page, "header [data-selection-count]", "3")
    page.keyboard.press("x")  # the same card again: taken out
    expect_text(page, "header [data-selection-count]", "2")
    assert page.url.endswith("/?q=ukraine")  # no page was loaded
    pressed = page.eval_on_selector_all(
        "article.card [data-select-toggle][aria-pressed=true]",
        "els => els.map(e => e.closest('article.card').dataset.id)",
    )
    assert pressed == ids[:2]
    # The selection's page shows them; a batch edit adds a keyword to both, after a preview
    # (on a phone, where no page of it scrolls sideways).
    page.set_viewport_size(PHONE)
    page.goto(f"{desk}/selections/Morning%20meeting")
    shown = page.eval_on_selector_all("article.card", "els => els.map(e => e.dataset.id)")
    assert shown == ids[:2]
    fits_a_phone(page)
    page.click("a:has-text('Change a field of every photo')")
    fits_a_phone(page)
    page.select_option("#batch-change", "keywords:add")
    page.fill("#batch-value", f"frontpagebatch, {XSS}")
    page.click("button:has-text('Preview the change')")
    assert "2 of 2 photos would change" in page.locator("main").inner_text()
    no_markup(page)
    fits_a_phone(page)
    for photo_id in ids[:2]:
        assert "frontpagebatch" not in api_photo(page, desk, photo_id)["keywords"]
    page.click("button:has-text('Apply to 2 photos')")
    assert "2 changed" in page.locator("main [role=status]").inner_text()
    no_markup(page)
    fits_a_phone(page)
    page.set_viewport_size(LAPTOP)
    for photo_id in ids[:2]:
        keywords = api_photo(page, desk, photo_id)["keywords"]
        assert "frontpagebatch" in keywords and XSS in keywords
    page.goto(f"{desk}/photos/{ids[0]}")
    assert re.search(r"edited .* by eddie: keywords", history(page))
    no_markup(page)
    page.goto(f"{desk}/?q=frontpagebatch")
    found = page.eval_on_selector_all("article.card", "els => els.map(e => e.dataset.id)")
    assert sorted(found) == sorted(ids[:2])
    # The zip holds both photos, with the keyword written into them.
    page.goto(f"{desk}/selections/Morning%20meeting")
    with page.expect_download() as download:
        page.click("a:has-text('Download the photos')")
    saved = tmp_path / "selection.zip"
    download.value.save_as(saved)
    assert download.value.suggested_filename == "Morning meeting.zip"
    with zipfile.ZipFile(saved) as zipped:
        names = [n for n in zipped.namelist() if n.lower().endswith(".jpg")]
        assert len(names) == 2
        for name in names:
            assert b"frontpagebatch" in zipped.read(name)
    # A viewer may look at the selection but not export or change it.
    viewer = signed_in(browser, desk, "vera")
    viewer.page.goto(f"{desk}/selections/Morning%20meeting")
    assert viewer.page.locator("a:has-text('Download the photos')").count() == 0
    token = csrf_token(viewer.page)
    zipped = viewer.page.request.get(f"{desk}/selections/Morning%20meeting/photos.zip")
    assert zipped.status == 403
    refused = viewer.page.request.post(
        f"{desk}/selections/Morning%20meeting/add",
        form={"csrf_token": token, "id": ids[3]},
        max_redirects=0,
    )
    assert refused.status == 403
    viewer.page.goto(f"{desk}/selections/Morning%20meeting")
    assert viewer.page.locator("main article.card").count() == 2
    viewer.context.close()
    editor.context.close()
    assert viewer.errors == [] and editor.errors == []


def test_markup_typed_into_the_selection_and_account_forms_stays_text(
    browser: Browser, desk: str
) -> None:
    admin = signed_in(browser, desk, "ada")
    page = admin.page
    page.goto(f"{desk}/selections")
    page.fill("#new-selection", XSS[:64])
    with page.expect_response(f"{desk}/selections") as answer:
        page.click("form.make button[type=submit]")
    assert answer.value.status == 400
    assert page.locator("main .problem").is_visible()
    assert page.input_value("#new-selection") == XSS[:64]
    no_markup(page)
    page.goto(f"{desk}/admin/users")
    page.fill("#new-name", XSS[:64])
    page.fill("#new-password", PASSWORD)
    page.fill("#new-password2", PASSWORD)
    with page.expect_response(f"{desk}/admin/users/add") as added:
        page.click("form.add-account button[type=submit]")
    assert added.value.status == 400
    assert page.locator("main .problem").is_visible()
    no_markup(page)
    assert XSS[:10] not in page.locator("table.accounts").inner_text()
    admin.context.close()
    assert admin.errors == []


def expect_text(page: Page, selector: str, text: str) -> None:
    from playwright.sync_api import expect

    expect(page.locator(selector)).to_have_text(text)


def fits_a_phone(page: Page) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], page.url


def no_markup(page: Page) -> None:
    """Nothing of the markup typed in became an element or ran."""
    assert page.locator("#pwned, #bold, img[src=x]").count() == 0
    assert page.evaluate("window.pwned") is None
