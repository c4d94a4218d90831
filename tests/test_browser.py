"""End to end in a real headless Chromium: search the demo archive, see thumbnails, open a photo;
list with filters and no words; watch the incoming view update itself."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from photoarchive import init_archive
from tests.test_desk_workers import serving

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# As root and without a network, Chromium needs these to start quietly.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (scripts/test.sh installs Debian's chromium)",
)


@pytest.fixture(scope="module")
def archive_root(demo_photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo archive the desk serves."""
    root = tmp_path_factory.mktemp("browser") / "archive"
    arc, _ = init_archive(root)
    with arc:
        arc.ingest([demo_photos])
    return root


@pytest.fixture(scope="module")
def server(archive_root: Path) -> Iterator[str]:
    """The desk as editors run it: `photoarchive serve` with its worker processes."""
    with serving(archive_root) as desk:
        yield f"http://127.0.0.1:{desk.port}"


def test_search_see_thumbnails_and_open_a_photo(server: str, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.goto(server + "/")
        page.fill("input[name=q]", "flag")
        page.press("input[name=q]", "Enter")
        page.wait_for_url("**/?q=flag")
        cards = page.locator("article.card")
        assert cards.count() == 2
        # Every thumbnail really loaded (CSP and routes allow it).
        widths = page.eval_on_selector_all(
            "article.card img", "els => els.map(e => e.naturalWidth)"
        )
        assert len(widths) == 2 and all(w > 0 for w in widths)
        twitter = cards.filter(has_text="Twitter")
        assert twitter.locator(".badge").inner_text().lower() == "needs-clearance"
        page.screenshot(path=str(tmp_path / "results.png"))
        twitter.locator(".caption a").click()
        page.wait_for_url("**/photos/*")
        assert "servicemembers" in page.locator("figcaption").inner_text()
        assert page.eval_on_selector("figure img", "e => e.naturalWidth") == 1200
        assert "needs-clearance" in page.locator(".rights h2").inner_text().lower()
        assert page.locator("a", has_text="Download with current caption").count() == 1
        assert page.locator("a", has_text="original as received").count() == 1
        browser.close()
    assert errors == []


def test_filters_without_words_and_the_incoming_view_updating_itself(
    server: str, archive_root: Path, tmp_path: Path
) -> None:
    from playwright.sync_api import expect, sync_playwright

    from photoarchive import open_archive
    from photoarchive.ingest import IngestOptions
    from tests.hostile import good_jpeg

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1300, "height": 900})
        errors: list[str] = []
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        # The box left empty: an agency and an order are enough to list photos.
        page.goto(server + "/")
        assert page.input_value("input[name=q]") == ""
        page.fill("input[name=agency]", "Channel 4")
        page.select_option("select[name=sort]", "date")
        page.click("aside button[type=submit]")
        page.wait_for_url("**/?*agency=Channel+4*")
        assert "sort=date" in page.url
        expect(page.locator("article.card")).to_have_count(2)
        summary = page.locator(".summary").inner_text()
        assert "2 photos · Channel 4 · newest taken first" in summary
        assert page.locator("select[name=sort]").input_value() == "date"
        # The incoming view, refreshed every 2 s for the test, shows a new arrival.
        page.click("nav.links a")
        page.wait_for_url("**/incoming")
        page.goto(server + "/incoming?every=2")
        cards = page.locator("article.card")
        expect(cards).to_have_count(8)
        status = page.locator("#live-status")
        expect(status).to_contain_text("refreshes every 2 s")
        page.evaluate("window.openedOnce = true")  # gone if the page were reloaded
        # Scrolled down, the card at the top of the view stays there as photos arrive above
        # (in one column, where each arrival pushes every card down).
        page.set_viewport_size({"width": 560, "height": 900})
        page.evaluate("window.scrollTo(0, 700)")
        scrolled = page.evaluate("window.scrollY")
        seen = page.evaluate(
            """() => {
                const below = document.querySelector('.bar').getBoundingClientRect().bottom;
                const card = [...document.querySelectorAll('article.card')]
                    .find((c) => c.getBoundingClientRect().top >= below);
                return card.dataset.id;
            }"""
        )
        where = f"document.querySelector('[data-id=\"{seen}\"]').getBoundingClientRect().top"
        before = page.evaluate(where)
        photo = tmp_path / "depot.jpg"
        photo.write_bytes(good_jpeg((200, 90, 20), (320, 240)))
        with open_archive(archive_root) as arc:
            report = arc.ingest([photo], IngestOptions(caption="Firefighters at a depot"))
        new_id = report.outcomes[0].id
        expect(cards).to_have_count(9, timeout=15000)
        assert abs(page.evaluate(where) - before) < 2
        assert page.evaluate("window.scrollY") > scrolled + 100  # the page moved with it
        expect(status).to_contain_text("1 new since opened")
        # What a screen reader is told: the news alone, without the clock.
        expect(page.locator("#live-news")).to_have_text("1 new since opened")
        assert cards.first.get_attribute("data-id") == new_id
        assert "new" in (cards.first.get_attribute("class") or "")
        assert "Firefighters at a depot" in cards.first.inner_text()
        assert page.evaluate("window.openedOnce") is True  # updated in place
        page.screenshot(path=str(tmp_path / "incoming.png"))
        browser.close()
    assert errors == []
