"""Working at the desk in a real headless Chromium, signed in: every page fits a phone (360 px)
without sideways scrolling, the keyboard shortcuts, headings, landmarks and labels, alt text,
badge contrast measured from the browser's computed styles, sign-in through the form, CSRF
and role refusals that change nothing, and text from outside never becoming markup."""

from __future__ import annotations

import csv
import io
import re
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from PIL import Image

from photoarchive import init_archive
from photoarchive.accounts import add_account
from photoarchive.ingest import IngestOptions
from photoarchive.metadata.xmp_writer import build_xmp
from photoarchive.rights import VERDICTS
from tests.conftest import SEED, load_script
from tests.hostile import good_jpeg
from tests.test_browser import CHROMIUM
from tests.test_desk_workers import serving

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, Page

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="Chromium is not installed (scripts/test.sh installs Debian's chromium)",
)

PASSWORD = "correct horse battery"
PHONE = {"width": 360, "height": 740}
LAPTOP = {"width": 1300, "height": 900}
ALT = "A grey square on a grey ground"
LONG_CAPTION = (
    "Unbroken text " + "x" * 300 + " https://example.com/" + "a" * 200 + "?utm=" + "b" * 80
)
LONG_CREDIT = "Agency" + "Z" * 120
SELECTION = "Front page picks"
XSS = '"><img src=x id=pwned><script>window.pwned=1</script><b id=bold>bold</b>'


@dataclass(frozen=True)
class Team:
    """The desk's archive: its folder and the ids of the photos the tests look at."""

    root: Path
    states: dict[str, str]
    long_id: str
    xss_id: str

    def first(self, state: str) -> str:
        return next(i for i, s in self.states.items() if s == state)


@pytest.fixture(scope="module")
def team(demo_photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Team:
    """The seed photos, then the wires' follow-ups (a refile superseding a picture, a kill
    notice killing another), a photo with IPTC alt text and long unbroken strings, a photo
    whose caption and credit are markup; a viewer, an editor and an admin."""
    from photoarchive import selections
    from photoarchive.search import SearchFilters

    tmp = tmp_path_factory.mktemp("desk")
    demo = load_script("make_demo_photos")
    with SEED.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    later = tmp / "later"
    later.mkdir()
    for name, data in demo.wire_follow_ups(rows).items():
        (later / name).write_bytes(data)
    (later / "long.jpg").write_bytes(_with_alt_text(LONG_CAPTION, LONG_CREDIT, ALT))
    evil = tmp / "evil.jpg"
    evil.write_bytes(good_jpeg((200, 0, 0), (320, 240)))
    root = tmp / "archive"
    arc, _ = init_archive(root)
    with arc:
        arc.ingest([demo_photos])
        time.sleep(1.1)  # arrival times are kept to the second
        arc.ingest([later])
        report = arc.ingest([evil], IngestOptions(caption=f"Flag protest {XSS}", credit=XSS))
        xss_id = report.outcomes[0].id or ""
        every = arc.search("", limit=100, filters=SearchFilters(states=_STATES))
        for name, role in (("vera", "viewer"), ("eddie", "editor"), ("ada", "admin")):
            add_account(arc, name, role, PASSWORD, "setup")
        states = {r.record.id: r.state for r in every.results}
        long_id = next(r.record.id for r in every.results if r.record.alt_text == ALT)
        # A selection with a long photo and a killed one, for its pages.
        picks = [long_id, next(i for i, s in states.items() if s == "killed"), xss_id]
        selections.create(arc, SELECTION, "eddie")
        selections.add(arc, SELECTION, picks, "eddie")
    return Team(root, states, long_id, xss_id)


_STATES = ("live", "killed", "superseded", "notice")


def _with_alt_text(caption: str, credit: str, alt: str) -> bytes:
    """A JPEG whose XMP holds a caption, a credit and IPTC alt text (AltTextAccessibility)."""
    xmp = build_xmp({"caption": caption, "credit": credit})
    prop = (
        "<Iptc4xmpCore:AltTextAccessibility><rdf:Alt>"
        f'<rdf:li xml:lang="x-default">{alt}</rdf:li>'
        "</rdf:Alt></Iptc4xmpCore:AltTextAccessibility>"
    )
    xmp = xmp.replace(b"</rdf:Description>", prop.encode() + b"</rdf:Description>", 1)
    buf = io.BytesIO()
    Image.new("RGB", (640, 480), (90, 90, 90)).save(buf, "JPEG", xmp=xmp)
    return buf.getvalue()


@pytest.fixture(scope="module")
def desk(team: Team) -> Iterator[str]:
    """The desk as editors run it (photoarchive serve, worker processes)."""
    with serving(team.root) as running:
        yield f"http://127.0.0.1:{running.port}"


class Watched:
    """A page with its script errors, CSP refusals and failed stylesheets, scripts and
    images collected (pages answered 4xx on purpose are not errors)."""

    def __init__(self, context: BrowserContext) -> None:
        self.context = context
        self.page = context.new_page()
        self.errors: list[str] = []
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda e: self.errors.append(str(e)))
        self.page.on("response", self._response)

    def _console(self, message: Any) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            self.errors.append(message.text)

    def _response(self, response: Any) -> None:
        kind = response.request.resource_type
        if response.status >= 400 and kind in ("stylesheet", "script", "image", "font"):
            self.errors.append(f"{response.status} {response.url}")


def sign_in(page: Page, desk: str, name: str, password: str = PASSWORD) -> None:
    """Sign in through the form, as a person would (the front page sends there first)."""
    page.goto(desk + "/")
    page.wait_for_url("**/signin?next=/")
    page.fill("#signin-name", name)
    page.fill("#signin-password", password)
    page.click(".signin button[type=submit]")
    page.wait_for_url(desk + "/")


@pytest.fixture
def editor(browser: Browser, desk: str) -> Iterator[Watched]:
    """A laptop-sized window signed in as the editor."""
    yield from _window(browser, desk, "eddie")


@pytest.fixture
def admin(browser: Browser, desk: str) -> Iterator[Watched]:
    """A laptop-sized window signed in as the admin (who sees every page)."""
    yield from _window(browser, desk, "ada")


def _window(browser: Browser, desk: str, name: str) -> Iterator[Watched]:
    context = browser.new_context(viewport=LAPTOP)  # type: ignore[arg-type]
    watched = Watched(context)
    sign_in(watched.page, desk, name)
    yield watched
    context.close()
    assert watched.errors == []


def csrf_token(page: Page) -> str:
    token = page.get_attribute("input[name=csrf_token]", "value")
    assert token
    return token


# --- Pages ---------------------------------------------------------------------------------

_NOT_PAGES = re.compile(r"/(original|download|signout)$|\.(jpg|pdf|zip)(\?|$)")


def desk_pages(page: Page, desk: str, team: Team) -> list[str]:
    """The desk's pages to look at: the main ones by name, each state of a photo, error
    pages, and the other pages the header, a photo page and the pages they link to link to
    (so new pages, such as selections and admin, are looked at as they appear)."""
    wanted = [
        "/",
        "/?q=ukraine",
        "/?agency=Channel+4&sort=date",
        "/?q=(((",  # a bad query's page
        "/incoming",
        f"/photos/{team.long_id}",
        f"/photos/{team.xss_id}",
        f"/photos/{team.first('superseded')}",
        f"/photos/{team.first('killed')}",
        f"/photos/{team.first('notice')}",
        "/photos/000000000000",  # not found
    ]
    seen = {_shape(u) for u in wanted}
    level = ["/", f"/photos/{team.first('live')}"]
    for _ in range(2):
        found = []
        for start in level:
            page.goto(desk + start)
            for href in page.eval_on_selector_all(
                "a[href^='/']:not([download])", "els => els.map(e => e.getAttribute('href'))"
            ):
                if not _NOT_PAGES.search(href) and _shape(href) not in seen:
                    seen.add(_shape(href))
                    found.append(href)
        wanted += found
        level = found
    return wanted


def _shape(href: str) -> str:
    """A link's kind of page: its path with ids replaced."""
    path = href.split("?")[0].split("#")[0]
    return re.sub(r"/[0-9a-f]{12,64}", "/ID", path)


_OVERFLOW = """() => {
    const width = document.documentElement.clientWidth;
    return [...document.querySelectorAll('body *')]
        .filter((e) => e.getBoundingClientRect().right > width + 0.5 && e.getClientRects().length)
        .slice(0, 5)
        .map((e) => `${e.tagName}.${e.className} ${e.getBoundingClientRect().right}px`);
}"""


def test_no_page_scrolls_sideways_on_a_phone(
    browser: Browser, desk: str, team: Team, tmp_path: Path
) -> None:
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)  # type: ignore[arg-type]
    watched = Watched(context)
    page = watched.page
    page.goto(desk + "/signin")
    wide = {"/signin": page.evaluate("document.documentElement.scrollWidth")}
    page.screenshot(path=str(tmp_path / "signin.png"), full_page=True)
    page.fill("#signin-name", XSS[:64])
    page.fill("#signin-password", "wrong password here")
    page.click(".signin button[type=submit]")
    wide["/signin (refused)"] = page.evaluate("document.documentElement.scrollWidth")
    sign_in(page, desk, "ada")
    pages = desk_pages(page, desk, team)
    assert len(pages) >= 11
    assert {"/selections", "/admin/users", "/admin/audit", "/admin/policy"} <= set(pages)
    overflowing = {}
    for n, url in enumerate(pages):
        page.goto(desk + url)
        page.wait_for_load_state("load")
        wide[url] = page.evaluate("document.documentElement.scrollWidth")
        if wide[url] > PHONE["width"]:
            overflowing[url] = page.evaluate(_OVERFLOW)
        page.screenshot(path=str(tmp_path / f"phone-{n:02d}.png"), full_page=True)
    assert {u: w for u, w in wide.items() if w > PHONE["width"]} == {}, overflowing
    # On a phone the filters come first, folded while none is chosen; open with one.
    page.goto(desk + "/?q=ukraine")
    assert page.locator("aside.filters details").get_attribute("open") is None
    results_top = page.locator("#results").bounding_box()
    filters_box = page.locator("aside.filters").bounding_box()
    assert filters_box and results_top and filters_box["y"] < results_top["y"]
    assert filters_box["height"] < 80
    page.click("aside.filters summary")
    page.fill("input[name=agency]", "Channel 4")
    page.click("aside button[type=submit]")
    page.wait_for_url("**agency=Channel+4*")
    assert page.locator("aside.filters details").get_attribute("open") == ""
    # One card a row, as wide as the page allows.
    boxes = [c.bounding_box() for c in page.locator("article.card").all()]
    assert len(boxes) == 2 and all(b and b["width"] > 300 for b in boxes)
    assert boxes[0] and boxes[1] and boxes[1]["y"] > boxes[0]["y"]
    context.close()
    assert watched.errors == []


def test_a_superseded_killed_or_notice_page_says_so_at_the_top(
    browser: Browser, desk: str, team: Team
) -> None:
    words = {"superseded": "Superseded", "killed": "Killed", "notice": "Kill notice"}
    for viewport in (PHONE, LAPTOP):
        context = browser.new_context(viewport=viewport)  # type: ignore[arg-type]
        page = context.new_page()
        sign_in(page, desk, "vera")
        for state, word in words.items():
            page.goto(f"{desk}/photos/{team.first(state)}")
            banner = page.locator("main .banner")
            assert banner.count() == 1 and banner.inner_text().startswith(word)
            assert banner.get_attribute("role") == "alert"
            top = banner.bounding_box()
            preview = page.locator("figure img").bounding_box()
            first = page.locator("main > *:not(h1)").first
            assert top and preview and top["y"] < preview["y"]
            assert "banner" in (first.get_attribute("class") or "")
            assert top["y"] < viewport["height"] / 2  # seen without scrolling
        page.goto(f"{desk}/photos/{team.first('live')}")
        assert page.locator("main .banner").count() == 0
        context.close()


def test_latest_shows_only_live_pictures(editor: Watched, desk: str, team: Team) -> None:
    page = editor.page
    page.goto(desk + "/")
    shown = page.eval_on_selector_all("article.card", "els => els.map(e => e.dataset.id)")
    live = {i for i, s in team.states.items() if s == "live"}
    assert shown and set(shown) <= live
    assert len(shown) == min(20, len(live))
    assert page.locator("article.card .state").count() == 0
    assert "MANDATORY KILL" not in page.locator("main").inner_text()


# --- Keyboard ------------------------------------------------------------------------------

_ACTIVE_CARD = "() => document.activeElement.closest('article.card')?.dataset.id ?? null"
_ACTIVE = "() => document.activeElement.id || document.activeElement.tagName"


def test_keyboard_search_move_open_and_select(editor: Watched, desk: str, team: Team) -> None:
    page = editor.page
    page.goto(desk + "/?q=ukraine")
    ids = page.eval_on_selector_all("article.card", "els => els.map(e => e.dataset.id)")
    assert len(ids) >= 6
    # Off the front page nothing takes the focus by itself: j and k work at once.
    assert page.evaluate(_ACTIVE) == "BODY"
    page.keyboard.press("/")
    assert page.evaluate(_ACTIVE) == "q"
    page.keyboard.type("tank")
    assert page.input_value("#q") == "tank"  # the slash was not typed
    page.keyboard.press("j")
    assert page.input_value("#q") == "tankj"  # typing in a field is left alone
    page.keyboard.press("Escape")
    assert page.evaluate(_ACTIVE) == "BODY" and page.input_value("#q") == "tankj"
    page.keyboard.press("j")
    assert page.evaluate(_ACTIVE_CARD) == ids[0]
    page.keyboard.press("j")
    page.keyboard.press("j")
    assert page.evaluate(_ACTIVE_CARD) == ids[2]
    page.keyboard.press("k")
    assert page.evaluate(_ACTIVE_CARD) == ids[1]
    # A visible focus ring on the chosen card.
    ring = page.eval_on_selector(f"[data-id='{ids[1]}']", "e => getComputedStyle(e).boxShadow")
    assert ring not in ("", "none")
    other = page.eval_on_selector(f"[data-id='{ids[2]}']", "e => getComputedStyle(e).boxShadow")
    assert other in ("", "none")
    # With a modifier, j is not a shortcut.
    page.keyboard.press("Control+j")
    assert page.evaluate(_ACTIVE_CARD) == ids[1]
    # To the last card: each is scrolled into view, below the sticky bar.
    for _ in ids:
        page.keyboard.press("j")
    assert page.evaluate(_ACTIVE_CARD) == ids[-1]
    seen = page.evaluate(
        """(id) => {
            const card = document.querySelector(`[data-id="${id}"]`).getBoundingClientRect();
            const bar = document.querySelector('.bar').getBoundingClientRect();
            return card.top >= bar.bottom && card.bottom <= window.innerHeight;
        }""",
        ids[-1],
    )
    assert seen and page.evaluate("window.scrollY") > 0
    # x presses the chosen card's selection toggle (the selections engineer's button; a
    # stand-in here that counts its presses).
    page.evaluate(
        """() => document.querySelectorAll('article.card').forEach((card) => {
            const b = document.createElement('button');
            b.type = 'button';
            b.textContent = 'select';
            b.dataset.selectToggle = '';
            b.addEventListener('click', () => {
                card.dataset.toggled = String(Number(card.dataset.toggled || 0) + 1);
            });
            card.querySelector('.meta').prepend(b);
        })"""
    )
    page.keyboard.press("k")
    page.keyboard.press("x")
    assert page.evaluate(_ACTIVE_CARD) == ids[-2]
    toggled = page.eval_on_selector_all(
        "article.card[data-toggled]", "els => els.map(e => [e.dataset.id, e.dataset.toggled])"
    )
    assert toggled == [[ids[-2], "1"]]
    # In a filter's box, j and x are typed.
    page.focus("input[name=agency]")
    page.keyboard.type("jx")
    assert page.input_value("input[name=agency]") == "jx"
    assert page.evaluate(_ACTIVE) == "f-agency"
    assert page.eval_on_selector_all("article.card[data-toggled]", "els => els.length") == 1
    # ? lists the shortcuts; Esc closes the list.
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("?")
    dialog = page.locator("dialog#shortcuts")
    assert dialog.is_visible() and "j" in dialog.inner_text()
    page.keyboard.press("Escape")
    assert not dialog.is_visible()
    # Enter opens the chosen card.
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("j")
    first = page.evaluate(_ACTIVE_CARD)
    page.keyboard.press("Enter")
    page.wait_for_url(f"**/photos/{first}")
    assert page.locator("figure img").count() == 1
    # On a photo page, x presses the photo's own toggle.
    page.evaluate(
        """() => {
            const b = document.createElement('button');
            b.type = 'button';
            b.textContent = 'select';
            b.dataset.selectToggle = '';
            b.addEventListener('click', () => { document.body.dataset.toggled = 'yes'; });
            document.querySelector('main figure').append(b);
        }"""
    )
    page.keyboard.press("x")
    assert page.evaluate("document.body.dataset.toggled") == "yes"


def test_the_chosen_card_stays_chosen_when_the_incoming_view_refreshes(
    editor: Watched, desk: str
) -> None:
    from playwright.sync_api import expect

    page = editor.page
    page.goto(desk + "/incoming?every=2")
    status = page.locator("#live-status")
    expect(status).to_contain_text("refreshes every 2 s")
    page.keyboard.press("j")
    page.keyboard.press("j")
    chosen = page.evaluate(_ACTIVE_CARD)
    assert chosen
    first = status.inner_text()
    page.evaluate("document.querySelector('article.card').dataset.before = 'yes'")
    expect(status).not_to_have_text(first, timeout=10000)  # updated (within a second)
    expect(page.locator("article.card[data-before]")).to_have_count(0)  # cards replaced
    assert page.evaluate(_ACTIVE_CARD) == chosen
    page.keyboard.press("j")
    assert page.evaluate(_ACTIVE_CARD) != chosen


def test_the_shortcuts_are_listed_from_a_visible_link(editor: Watched, desk: str) -> None:
    page = editor.page
    page.goto(desk + "/incoming")
    button = page.locator("footer [data-shortcuts]")
    assert button.is_visible()
    button.click()
    dialog = page.locator("dialog#shortcuts")
    assert dialog.is_visible()
    text = dialog.inner_text()
    for key in ("/", "j", "k", "Enter", "x", "?"):
        assert key in text
    dialog.locator("[data-close]").click()
    assert not dialog.is_visible()


# --- Structure, labels, alt text, contrast ------------------------------------------------

_STRUCTURE = """() => {
    const named = (el) => {
        if (el.getAttribute('aria-label') || el.getAttribute('aria-labelledby')) return true;
        if (el.id && document.querySelector(`label[for="${CSS.escape(el.id)}"]`)) return true;
        return !!el.closest('label');
    };
    const levels = [...document.querySelectorAll('h1, h2, h3, h4, h5, h6')]
        .filter((h) => !h.closest('dialog'))
        .map((h) => Number(h.tagName[1]));
    const skips = levels.filter((l, i) => i > 0 && l > levels[i - 1] + 1);
    const skip = document.querySelector('a.skip');
    const target = skip && document.querySelector(skip.getAttribute('href'));
    return {
        h1: document.querySelectorAll('h1').length,
        firstLevel: levels[0] ?? null,
        skips,
        landmarks: ['header', 'nav', 'main', 'footer'].filter((t) => !document.querySelector(t)),
        search: !!document.querySelector('[role=search]'),
        unlabelled: [...document.querySelectorAll('input, select, textarea, button')]
            .filter((e) => e.type !== 'hidden' && !(e.tagName === 'BUTTON' && e.textContent.trim()))
            .filter((e) => !named(e))
            .map((e) => e.outerHTML.slice(0, 80)),
        skipTarget: !!target,
    };
}"""


def test_every_page_has_one_h1_landmarks_and_labelled_controls(
    admin: Watched, desk: str, team: Team
) -> None:
    page = admin.page
    problems = {}
    for url in desk_pages(page, desk, team):
        page.goto(desk + url)
        found = page.evaluate(_STRUCTURE)
        expected = {
            "h1": 1,
            "firstLevel": 1,
            "skips": [],
            "landmarks": [],
            "search": True,
            "unlabelled": [],
            "skipTarget": True,
        }
        if found != expected:
            problems[url] = found
    assert problems == {}
    # The search and incoming pages skip straight to their results.
    for url in ("/?q=ukraine", "/incoming"):
        page.goto(desk + url)
        assert page.get_attribute("a.skip", "href") == "#results"
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.className") == "skip"
        page.keyboard.press("Enter")
        assert page.evaluate("document.activeElement.id") == "results"
    page.goto(desk + "/incoming")
    # Screen readers hear news (arrivals, failures), not each refresh's clock.
    news = page.locator("#live-news")
    assert news.get_attribute("aria-live") == "polite"
    assert page.locator("#live-status").get_attribute("aria-live") is None


def test_alt_text_is_the_iptc_alt_text_or_short_never_the_caption(
    editor: Watched, desk: str, team: Team
) -> None:
    page = editor.page
    for url in ("/", "/?q=ukraine", "/incoming"):
        page.goto(desk + url)
        cards = page.eval_on_selector_all(
            "article.card",
            "els => els.map(e => [e.dataset.id, e.querySelector('img').alt,"
            " e.querySelector('.caption').innerText])",
        )
        assert cards
        for photo_id, alt, caption in cards:
            if photo_id == team.long_id:
                assert alt == ALT
            else:
                assert alt and alt != caption and len(alt) <= 103, (photo_id, alt)
                assert caption[:40] not in alt
    page.goto(f"{desk}/photos/{team.long_id}")
    assert page.get_attribute("figure img", "alt") == ALT
    page.goto(f"{desk}/photos/{team.first('live')}")
    alt = page.get_attribute("figure img", "alt") or ""
    assert alt and alt not in page.locator("figcaption").inner_text()


_CONTRAST = """([selector, ownText]) => {
    const parse = (text) => {
        const [r, g, b, a = 1] = text.match(/[\\d.]+/g).map(Number);
        return [r, g, b, a];
    };
    const over = (top, under) =>
        top.slice(0, 3).map((c, i) => c * top[3] + under[i] * (1 - top[3]));
    const background = (el) => {
        const layers = [];
        for (let e = el; e; e = e.parentElement) {
            const c = parse(getComputedStyle(e).backgroundColor);
            if (c[3] > 0) layers.push(c);
            if (c[3] >= 1) break;
        }
        return layers.reverse().reduce((under, layer) => over(layer, under), [255, 255, 255]);
    };
    const luminance = (rgb) => {
        const [r, g, b] = rgb.map((c) => {
            c /= 255;
            return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4);
        });
        return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const speaks = (e) =>
        !ownText || [...e.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
    const shown = [...document.querySelectorAll(selector)]
        .filter((e) => e.getClientRects().length && speaks(e));
    return shown.map((e) => {
        const back = background(e);
        const fore = over(parse(getComputedStyle(e).color), back);
        const [hi, lo] = [luminance(fore), luminance(back)].sort((a, b) => b - a);
        const ratio = (hi + 0.05) / (lo + 0.05);
        return [e.className || e.tagName, e.textContent.trim().slice(0, 30), ratio];
    });
}"""


def test_badges_and_text_have_contrast_of_at_least_4_5_to_1(
    admin: Watched, desk: str, team: Team
) -> None:
    page = admin.page
    page.goto(desk + "/?q=ukraine")
    # Every verdict's badge and a state badge, on a card, as the desk would show them.
    page.evaluate(
        """(verdicts) => {
            const meta = document.querySelector('article.card .meta');
            for (const v of verdicts) {
                const b = document.createElement('span');
                b.className = `badge ${v} probe`;
                b.textContent = v;
                meta.append(b);
            }
            const s = document.createElement('span');
            s.className = 'state probe';
            s.textContent = 'superseded';
            meta.append(s);
        }""",
        list(VERDICTS),
    )
    probes = page.evaluate(_CONTRAST, [".probe", False])
    assert sorted(p[1] for p in probes) == sorted([*VERDICTS, "superseded"])
    assert [p for p in probes if p[2] < 4.5] == []
    # Each badge as rendered, and every line of text, on every page.
    low = []
    badged = 0
    for url in desk_pages(page, desk, team):
        page.goto(desk + url)
        badges = page.evaluate(_CONTRAST, [".badge, .state", False])
        badged += len(badges)
        texts = page.evaluate(
            _CONTRAST,
            ["body :not(img):not(script):not(style):not(dialog *)", True],
        )
        low += [(url, *t) for t in badges + texts if t[1] and t[2] < 4.5]
    assert badged > 40 and low == []


# --- Sign-in, CSRF, roles, text from outside ----------------------------------------------


def test_sign_in_through_the_form_and_text_from_outside_stays_text(
    browser: Browser, desk: str, team: Team
) -> None:
    context = browser.new_context(viewport=LAPTOP)  # type: ignore[arg-type]
    watched = Watched(context)
    page = watched.page
    page.goto(desk + "/incoming")
    page.wait_for_url("**/signin?next=/incoming")
    assert page.evaluate(_ACTIVE) == "signin-name"
    # A refused sign-in echoes the name typed, as text.
    page.fill("#signin-name", XSS[:64])
    page.fill("#signin-password", "not the password")
    with page.expect_response("**/signin") as answer:
        page.click(".signin button[type=submit]")
    assert answer.value.status == 401
    assert page.locator(".signin .problem").is_visible()
    assert page.input_value("#signin-name") == XSS[:64]
    _no_markup_got_in(page)
    # The right password opens the page asked for.
    page.fill("#signin-name", "eddie")
    page.fill("#signin-password", PASSWORD)
    page.click(".signin button[type=submit]")
    page.wait_for_url(desk + "/incoming")
    assert "eddie" in page.locator("header .who").inner_text()
    # Captions and credits from outside, on every page that shows them.
    for url in ("/?q=protest", f"/photos/{team.xss_id}", "/incoming"):
        page.goto(desk + url)
        assert "<script>" in page.locator("main").inner_text()  # shown as text
        _no_markup_got_in(page)
    page.click("header .signout button")
    page.wait_for_url("**/signin")
    page.goto(desk + "/")
    page.wait_for_url("**/signin?next=/")
    context.close()
    assert watched.errors == []


def _no_markup_got_in(page: Page) -> None:
    assert page.locator("#pwned, #bold, img[src=x]").count() == 0
    assert page.evaluate("window.pwned") is None


def test_a_post_without_a_valid_csrf_token_is_refused_and_changes_nothing(
    editor: Watched, desk: str
) -> None:
    page = editor.page
    page.goto(desk + "/")
    token = csrf_token(page)
    # Sign-out is the simplest form: without its token, or with another, the session stays.
    for form in ({}, {"csrf_token": "forged"}, {"csrf_token": token[:-4] + "AAAA"}):
        refused = page.request.post(desk + "/signout", form=form, max_redirects=0)
        assert refused.status == 403
        page.goto(desk + "/")
        assert "eddie" in page.locator("header .who").inner_text()
    # From a script on the page too (as a cross-site form would, without the token).
    status = page.evaluate(
        "fetch('/signout', {method: 'POST', credentials: 'same-origin'}).then(r => r.status)"
    )
    assert status == 403
    # A sign-in without its token does not sign anyone in.
    fresh = editor.context.browser.new_context()  # type: ignore[union-attr]
    answer = fresh.request.post(
        desk + "/signin", form={"name": "eddie", "password": PASSWORD}, max_redirects=0
    )
    assert answer.status == 403
    home = fresh.request.get(desk + "/", max_redirects=0)
    assert home.status == 302 and "/signin" in home.headers["location"]
    fresh.close()
    page.goto(desk + "/")
    assert "eddie" in page.locator("header .who").inner_text()
