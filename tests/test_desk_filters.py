"""The desk without query words: filters alone, the order, arrival time (since), source
type, the incoming view that refreshes itself, and the JSON and contact sheet that follow."""

from __future__ import annotations

import csv
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from photoarchive import init_archive
from photoarchive.web import create_app
from tests.conftest import SEED, load_script


@pytest.fixture(scope="module")
def desk(demo_photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The eight seed photos, then (a second later) what the wires sent after them: a
    Reuters refile superseding its picture, an AFP picture killed by a notice, a repost,
    and an AP photo taken later than the others."""
    tmp = tmp_path_factory.mktemp("filters")
    root = tmp / "archive"
    demo = load_script("make_demo_photos")
    with SEED.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    later = tmp / "later"
    later.mkdir()
    for name, data in demo.wire_follow_ups(rows).items():
        (later / name).write_bytes(data)
    (later / "bridge.jpg").write_bytes(
        demo.make_photo(
            rows[1],
            mirror=True,
            caption="A rebuilt bridge over the Oskil",
            credit="AP",
            date_created="2023-03-01",
        )
    )
    arc, _ = init_archive(root)
    with arc:
        arc.ingest([demo_photos])
        time.sleep(1.1)  # arrival times are kept to the second
        between = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
        arc.ingest([later])
        everything = arc.search("", limit=100, filters=_all_states())
    app = create_app(root)
    app.config["TESTING"] = False  # errors go through the desk's own handlers
    states = {r.record.id: r.state for r in everything.results}
    yield app.test_client(), states, between


def _all_states() -> Any:
    from photoarchive.search import SearchFilters

    return SearchFilters(states=("live", "killed", "superseded", "notice"))


def api(client: FlaskClient, **params: Any) -> dict[str, Any]:
    response = client.get("/api/search", query_string={"limit": 100, **params})
    assert response.status_code == 200, response.get_json()
    return response.get_json()  # type: ignore[no-any-return]


def cards(html: str) -> list[str]:
    """The ids of the photos a page shows, in order."""
    return re.findall(r'<article class="card" data-id="([0-9a-f]+)"', html)


def page(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data(as_text=True)


def test_the_fixture_has_live_and_withheld_photos(desk: Any) -> None:
    _, states, _ = desk
    assert sorted(states.values()).count("live") == 10
    assert {"killed", "superseded", "notice"} <= set(states.values())


def test_an_empty_box_with_an_agency_lists_only_that_agencys_photos(desk: Any) -> None:
    client, _, _ = desk
    text = page(client, "/?q=&agency=Channel+4")
    assert "<b>2</b> photos · Channel 4 · newest arrivals first" in text
    listed = api(client, agency="Channel 4")
    assert listed["total"] == 2 and {r["agency"] for r in listed["results"]} == {"Channel 4"}
    assert cards(text) == [r["id"] for r in listed["results"]]
    # The agency counts are shown as for a search with words.
    assert 'href="/?agency=Channel+4">Channel 4</a> <span>2</span>' in text


@pytest.mark.parametrize(
    ("params", "total"),
    [
        ({"rights": "cleared"}, None),
        ({"from": "2023-01-01"}, 1),
        ({"to": "2022-12-31"}, 9),
        ({"source_type": "digitalcapture"}, 0),
    ],
)
def test_every_filter_works_without_words(desk: Any, params: dict[str, str], total: int) -> None:
    client, _, _ = desk
    listed = api(client, **params)
    if total is not None:
        assert listed["total"] == total
    if "rights" in params:
        assert listed["total"] >= 1
        assert {r["rights"]["status"] for r in listed["results"]} == {"cleared"}
    text = page(client, "/?" + "&".join(f"{k}={v}" for k, v in params.items()))
    assert f"<b>{listed['total']}</b> photo" in text
    assert len(cards(text)) == min(listed["total"], 20)


def test_the_front_page_lists_the_newest_live_arrivals(desk: Any) -> None:
    client, states, _ = desk
    text = page(client, "/")
    assert "photos in the archive" in text
    shown = cards(text)
    assert shown == [r["id"] for r in api(client)["results"]]
    assert len(shown) == 10 and all(states[i] == "live" for i in shown)
    assert "A rebuilt bridge" in text


def test_sort_date_is_newest_taken_first_and_ingested_newest_arrivals_first(desk: Any) -> None:
    client, _, _ = desk
    by_date = api(client, sort="date")
    taken = [r["date_created"] or "" for r in by_date["results"]]
    assert taken == sorted(taken, reverse=True) and by_date["results"][0]["credit"] == "AP"
    assert by_date["sort"] == "date"
    by_arrival = api(client, sort="ingested")
    arrived = [r["ingested_at"] for r in by_arrival["results"]]
    assert arrived == sorted(arrived, reverse=True)
    later = {r["credit"] for r in by_arrival["results"][:3]}
    assert later == {"Reuters", "AP", "Instagram/@afp"}  # the second batch, then the seeds
    # The page shows them in the same order, and says which.
    text = page(client, "/?sort=date")
    assert cards(text) == [r["id"] for r in by_date["results"]]
    assert "newest taken first" in text
    assert '<option value="date" selected>Newest taken</option>' in text
    # With words the default is the best match; an order may still be chosen.
    assert api(client, q="tank")["sort"] == "relevance"
    with_words = api(client, q="tank", sort="ingested")["results"]
    assert [r["ingested_at"] for r in with_words] == sorted(
        (r["ingested_at"] for r in with_words), reverse=True
    )
    # Without words, no words to rank by: "Best match" is the newest arrivals.
    assert api(client, sort="relevance")["sort"] == "ingested"


def test_since_keeps_what_arrived_since(desk: Any) -> None:
    client, _, _ = desk
    assert api(client, since="1h")["total"] == 10
    text = page(client, "/?since=1h")
    assert len(cards(text)) == 10 and "arrived in the last hour" in text
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    assert api(client, since=tomorrow)["total"] == 0
    assert cards(page(client, f"/?since={tomorrow}")) == []
    assert api(client, q="tank", since="24h")["total"] == 3


def test_only_the_later_batch_arrived_since_the_moment_between(desk: Any) -> None:
    client, _, between = desk
    listed = api(client, since=between)  # a time as typed, in the policy's zone (UTC here)
    assert listed["total"] == 3
    assert all(r["ingested_at"] >= between for r in listed["results"])
    assert all(r["ingested_at"] < between for r in api(client)["results"][3:])


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("/?since=yesterday", "'yesterday' is not a time to search since"),
        ("/?since=" + "9" * 200, "give a span such as 24h"),
        ("/?sort=oldest", "unknown order 'oldest'"),
        ("/?source_type=polaroid", "unknown source type 'polaroid'"),
        ("/incoming?since=soon", "'soon' is not a time to search since"),
    ],
)
def test_a_bad_since_sort_or_source_type_is_a_400_in_one_line(
    desk: Any, url: str, says: str
) -> None:
    client, _, _ = desk
    response = client.get(url)
    text = response.get_data(as_text=True)
    assert response.status_code == 400 and "Cannot search that" in text
    message = re.search(r"<h1>Cannot search that</h1>\s*<p>(.*?)</p>", text, re.S)
    assert message and "\n" not in message.group(1)
    assert says.replace("'", "&#39;") in message.group(1)
    assert "9" * 100 not in text  # a long value is not echoed back
    api_response = client.get("/api/search?" + url.split("?", 1)[1])
    assert api_response.status_code == 400 and says in api_response.get_json()["error"]


def test_sort_since_and_filters_survive_pagination_facets_and_the_contact_sheet(
    desk: Any,
) -> None:
    client, _, _ = desk
    from photoarchive.web import views

    old, views.PAGE_SIZE = views.PAGE_SIZE, 3
    try:
        first = page(client, "/?sort=date&since=24h&rights=")
        assert "page 1 of 4" in first
        assert 'href="/?since=24h&amp;sort=date&amp;page=2">next' in first
        assert 'href="/?agency=Channel+4&amp;since=24h&amp;sort=date">Channel 4</a>' in first
        assert 'href="/contact-sheet.pdf?since=24h&amp;sort=date">contact sheet' in first
        second = page(client, "/?since=24h&sort=date&page=2")
        assert 'href="/?since=24h&amp;sort=date">‹ previous' in second
        assert 'href="/?since=24h&amp;sort=date&amp;page=3">next' in second
        assert cards(second) == [r["id"] for r in api(client, sort="date")["results"][3:6]]
        # The form shows the choices, to change one and keep the others.
        assert '<option value="24h" selected>Last 24 hours</option>' in second
        assert '<option value="date" selected>Newest taken</option>' in second
    finally:
        views.PAGE_SIZE = old


def test_the_contact_sheet_of_filters_without_words(desk: Any) -> None:
    client, _, _ = desk
    sheet = client.get("/contact-sheet.pdf?agency=Channel+4")
    assert sheet.status_code == 200 and sheet.data.startswith(b"%PDF")
    nothing = client.get("/contact-sheet.pdf")
    assert nothing.status_code == 400
    assert "give a search or a filter" in nothing.get_data(as_text=True)
    tomorrow = (datetime.now(UTC) + timedelta(days=2)).date().isoformat()
    empty = client.get(f"/contact-sheet.pdf?since={tomorrow}")
    assert empty.status_code == 400 and "nothing to print" in empty.get_data(as_text=True)


def test_the_api_lists_without_words(desk: Any) -> None:
    client, _, _ = desk
    listed = client.get("/api/search?q=&sort=ingested&since=1h").get_json()
    assert listed["query"] == "" and listed["sort"] == "ingested" and listed["total"] == 10
    assert listed["agencies"]["Channel 4"] == 2


def test_incoming_lists_the_newest_live_arrivals_and_refreshes_itself(desk: Any) -> None:
    client, states, _ = desk
    response = client.get("/incoming")
    text = response.get_data(as_text=True)
    shown = cards(text)
    assert shown == [r["id"] for r in api(client, sort="ingested")["results"]]
    assert len(shown) == 10 and all(states[i] == "live" for i in shown)
    withheld = [i for i, state in states.items() if state != "live"]
    assert len(withheld) == 3 and not any(f"/photos/{i}" in text for i in withheld)
    # The hook the script refreshes by, the script itself, and a refresh without it.
    assert 'data-refresh data-every="30"' in text and 'data-live="arrivals"' in text
    assert '<script src="/static/desk.js" defer></script>' in text
    assert '<noscript><meta http-equiv="refresh" content="60"></noscript>' in text
    script = client.get("/static/desk.js")
    assert script.status_code == 200 and b"data-refresh" in script.data
    script.close()
    # The script may fetch the page again: the policy allows the desk, nothing else.
    assert "connect-src 'self'" in response.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in response.headers["Content-Security-Policy"]
    # Every page links to it.
    assert '<a href="/incoming">Incoming</a>' in page(client, "/?q=tank")


def test_incoming_takes_filters_and_an_interval_that_links_keep(desk: Any) -> None:
    client, _, _ = desk
    text = page(client, "/incoming?agency=Reuters&since=1h&every=5&q=tank&sort=date")
    assert "<b>1</b> arrival · Reuters · arrived in the last hour · newest first" in text
    assert 'data-every="5"' in text and "REFILE" in text
    assert '<input type="hidden" name="every" value="5">' in text
    assert 'href="/incoming?since=1h&amp;every=5">all agencies</a>' in text
    assert 'name="sort"' not in text  # always newest arrivals first
    for every, seconds in (("1", 2), ("0", 30), ("x", 30), ("99999", 3600)):
        assert f'data-every="{seconds}"' in page(client, f"/incoming?every={every}")
    screen = page(client, "/incoming?source_type=screen&rights=cleared")
    assert cards(screen) == [] and "Nothing has arrived that the filters let through" in screen


def test_a_screen_grab_is_found_by_its_source_type_without_words(tmp_path: Path) -> None:
    exiftool = shutil.which("exiftool")
    if exiftool is None:
        pytest.skip("exiftool is not installed")
    from tests.hostile import good_jpeg

    plain = tmp_path / "plain.jpg"
    plain.write_bytes(good_jpeg((20, 140, 60)))
    grab = tmp_path / "grab.jpg"
    grab.write_bytes(good_jpeg((90, 30, 160)))
    subprocess.run(
        [
            exiftool,
            "-q",
            "-overwrite_original",
            "-XMP-iptcExt:DigitalSourceType=http://cv.iptc.org/newscodes/digitalsourcetype/"
            "screenCapture",
            "-IPTC:Caption-Abstract=A screen grab of the evening news",
            str(grab),
        ],
        check=True,
    )
    arc, _ = init_archive(tmp_path / "archive")
    with arc:
        grab_id = arc.ingest([plain, grab]).outcomes[1].id
    client = create_app(tmp_path / "archive").test_client()
    assert len(cards(page(client, "/"))) == 2
    for url in ("/?source_type=screen", "/incoming?source_type=screen"):
        text = page(client, url)
        assert cards(text) == [grab_id] and "screen grabs" in text
    assert cards(page(client, "/?source_type=screencapture")) == [grab_id]
    assert '<option value="screen" selected>Screen grab</option>' in page(
        client, "/?source_type=screen"
    )


def test_the_front_page_stays_up_when_search_does_not(demo_photos: Path, tmp_path: Path) -> None:
    from tests.engines import remove_index

    arc, _ = init_archive(tmp_path / "archive")
    with arc:
        arc.ingest([demo_photos])
    remove_index(tmp_path / "archive")
    app = create_app(tmp_path / "archive")
    app.config["TESTING"] = False
    client = app.test_client()
    front = page(client, "/")
    assert len(cards(front)) == 8 and "Search is unavailable" in front and "reindex" in front
    for url in ("/?agency=Reuters", "/?sort=date", "/incoming"):
        response = client.get(url)
        assert response.status_code == 503 and "reindex" in response.get_data(as_text=True)


def test_filter_values_are_shown_as_text_and_linked_encoded(desk: Any) -> None:
    client, _, _ = desk
    evil = '<script>alert(1)</script>"&'
    for url in ("/", "/incoming"):
        response = client.get(url, query_string={"agency": evil, "since": "24h"})
        text = response.get_data(as_text=True)
        assert response.status_code == 200 and "<script>alert(1)" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;&#34;&amp;" in text  # summary and box
        assert "<b>0</b>" in text
    bad = client.get("/", query_string={"source_type": "<b>x</b>", "since": "<i>"})
    assert bad.status_code == 400 and "<b>x</b>" not in bad.get_data(as_text=True)
    sheet = client.get("/contact-sheet.pdf", query_string={"agency": evil})
    assert sheet.status_code == 400 and "<script>" not in sheet.get_data(as_text=True)
