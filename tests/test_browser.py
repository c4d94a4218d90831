"""End to end in a real headless Chromium: search the demo archive, see thumbnails, open a photo."""

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
def server(demo_photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The desk as editors run it: `photoarchive serve` with its worker processes."""
    root = tmp_path_factory.mktemp("browser") / "archive"
    arc, _ = init_archive(root)
    with arc:
        arc.ingest([demo_photos])
    with serving(root) as desk:
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
