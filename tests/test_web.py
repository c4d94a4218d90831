"""The web desk through Flask's test client: pages, files by id, JSON, safety."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask.testing import FlaskClient

from photoarchive import init_archive, open_archive
from photoarchive.ingest import IngestOptions
from photoarchive.store.local import FolderStore
from photoarchive.store.s3 import S3Store
from photoarchive.web import create_app
from tests.engines import remove_index
from tests.hostile import good_jpeg

XSS = '<script>alert(1)</script> "quoted" & <b>bold</b>'


@pytest.fixture(scope="module")
def desk(demo_photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    root = tmp_path_factory.mktemp("web") / "archive"
    arc, _ = init_archive(root)
    with arc:
        arc.ingest([demo_photos])
        evil = root.parent / "evil.jpg"
        evil.write_bytes(good_jpeg((200, 0, 0)))
        report = arc.ingest(
            [evil],
            IngestOptions(caption=f"Flag protest {XSS}", credit="<img src=x onerror=alert(2)>"),
        )
        evil_id = report.outcomes[0].id
    app = create_app(root)
    app.config["TESTING"] = False  # errors go through the desk's own handlers
    yield app.test_client(), evil_id, root


def ids(client: FlaskClient, q: str) -> dict[str, str]:
    data = client.get("/api/search", query_string={"q": q}).get_json()
    return {r["credit"] or "": r["id"] for r in data["results"]}


def test_search_page_shows_thumbnails_captions_credits_and_badges(desk: Any) -> None:
    client, _, _ = desk
    page = client.get("/?q=flag")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert text.count('class="card"') == 3  # two seed flag photos and the protest
    assert 'class="badge needs-clearance"' in text and "Twitter" in text
    assert "<mark>flag</mark>" in text and "<mark>flags</mark>" in text
    for rec_id in ids(client, "flag").values():
        assert f'src="/photos/{rec_id}/thumb.jpg"' in text
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert page.headers["X-Content-Type-Options"] == "nosniff"


def test_captions_and_credits_from_outside_are_shown_as_text(desk: Any) -> None:
    client, evil_id, _ = desk
    for url in ("/?q=protest", f"/photos/{evil_id}"):
        text = client.get(url).get_data(as_text=True)
        assert "<script>alert(1)</script>" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
        assert "<img src=x" not in text and "<b>bold</b>" not in text
    marked = client.get("/?q=protest").get_data(as_text=True)
    assert "<mark>protest</mark> &lt;script&gt;" in marked


def test_filters_counts_pagination_and_the_url(desk: Any) -> None:
    client, _, _ = desk
    text = client.get("/?q=ukraine").get_data(as_text=True)
    assert "<b>8</b> photos" in text
    assert 'href="/?q=ukraine&amp;agency=Channel+4">Channel 4</a> <span>2</span>' in text
    only = client.get("/?q=ukraine&agency=Channel+4").get_data(as_text=True)
    assert only.count('class="card"') == 2
    cleared = client.get("/?q=ukraine&rights=cleared").get_data(as_text=True)
    assert cleared.count('class="card"') == 2 and "badge cleared" in cleared
    none = client.get("/?q=ukraine&from=2022-09-12").get_data(as_text=True)
    assert 'class="card"' not in none and "No photos match" in none
    day = client.get("/?q=ukraine&from=2022-09-11&to=2022-09-11").get_data(as_text=True)
    assert day.count('class="card"') == 8
    api = client.get("/api/search?q=ukraine&limit=3&page=3").get_json()
    assert api["total"] == 8 and len(api["results"]) == 2 and api["page"] == 3


def test_pagination_links(desk: Any) -> None:
    client, _, _ = desk
    from photoarchive.web import views

    old, views.PAGE_SIZE = views.PAGE_SIZE, 3
    try:
        first = client.get("/?q=ukraine").get_data(as_text=True)
        assert "page 1 of 3" in first and 'href="/?q=ukraine&amp;page=2">next' in first
        last = client.get("/?q=ukraine&page=3").get_data(as_text=True)
        assert last.count('class="card"') == 2 and "previous" in last and "next" not in last
    finally:
        views.PAGE_SIZE = old


def test_photo_page_has_every_field_its_source_rights_and_download(desk: Any) -> None:
    client, _, _ = desk
    reuters = ids(client, "credit:reuters")["Reuters"]
    text = client.get(f"/photos/{reuters}").get_data(as_text=True)
    assert f'src="/photos/{reuters}/preview.jpg"' in text
    assert "Credit to print: <b>REUTERS</b>" in text
    assert 'class="badge cleared">cleared</span> for editorial use' in text
    assert '<span class="family"' in text and ">xmp</span>" in text and ">iim</span>" in text
    assert "Caption history" in text
    original = client.get(f"/photos/{reuters}/original")
    assert original.status_code == 200 and original.mimetype == "image/jpeg"
    assert "seed7.jpg" in original.headers["Content-Disposition"]
    import hashlib

    assert hashlib.sha256(original.data).hexdigest().startswith(reuters)
    thumb = client.get(f"/photos/{reuters[:6]}/thumb.jpg")
    assert thumb.status_code == 200 and thumb.data[:2] == b"\xff\xd8"


def test_the_api_returns_the_cli_records(desk: Any) -> None:
    client, _, root = desk
    api = client.get("/api/search?q=credit:afp").get_json()
    from click.testing import CliRunner

    from photoarchive.cli import main

    out = CliRunner().invoke(main, ["--archive", str(root), "search", "credit:afp", "--json"])
    cli_hits = json.loads(out.stdout)
    strip = lambda r: {k: v for k, v in r.items() if k not in ("rights",)}  # noqa: E731
    assert [strip(r) for r in api["results"]] == [strip(r) for r in cli_hits]
    one = client.get(f"/api/photos/{api['results'][0]['id']}").get_json()
    assert one["caption"] == "The turret of a Russian tank destroyed by Ukrainian forces"
    assert one["rights"]["status"] == "cleared" and "xmp" in one["sources"]["caption"]


@pytest.mark.parametrize(
    "url",
    [
        "/photos/ffffffffffff",
        "/photos/ffffffffffff/thumb.jpg",
        "/photos/ffffffffffff/original",
        "/photos/zzz",
        "/nowhere",
        "/photos/abc/../../etc/passwd",
    ],
)
def test_unknown_ids_and_paths_are_404(desk: Any, url: str) -> None:
    client, _, _ = desk
    response = client.get(url)
    assert response.status_code == 404
    assert "Traceback" not in response.get_data(as_text=True)


def test_files_are_served_by_id_only(desk: Any) -> None:
    client, _, _ = desk
    reuters = ids(client, "credit:reuters")["Reuters"]
    assert client.get(f"/photos/{reuters}/../../catalog.sqlite").status_code == 404
    assert client.get(f"/photos/{reuters}/catalog.jpg").status_code == 404


def test_bad_queries_get_a_friendly_page_not_a_500(desk: Any) -> None:
    client, _, _ = desk
    for url in (
        "/?q=date:[nonsense to never]",
        "/?q=photographr:x",
        "/?q=flag&from=yesterday",
        "/?q=flag&rights=maybe",
    ):
        response = client.get(url)
        assert response.status_code == 400, url
        text = response.get_data(as_text=True)
        assert "Cannot search that" in text and "Traceback" not in text
    api = client.get("/api/search?q=(((")
    assert api.status_code == 400 and "nothing to search for" in api.get_json()["error"]


def test_the_desk_is_read_only(desk: Any) -> None:
    client, _, _ = desk
    assert client.post("/?q=flag").status_code == 405
    assert client.delete("/api/photos/abc").status_code == 405


def test_front_page_lists_the_latest_photos(desk: Any) -> None:
    client, _, _ = desk
    text = client.get("/").get_data(as_text=True)
    assert "9 photos in the archive" in text and text.count('class="card"') == 9


def test_contact_sheet_download(desk: Any) -> None:
    client, _, _ = desk
    response = client.get("/contact-sheet.pdf?q=ukraine")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.data.startswith(b"%PDF")


def test_missing_index_is_a_503_saying_how_to_fix(tmp_path: Path, demo_photos: Path) -> None:

    arc, _ = init_archive(tmp_path / "archive")
    with arc:
        arc.ingest([demo_photos])
    remove_index(tmp_path / "archive")
    client = create_app(tmp_path / "archive").test_client()
    response = client.get("/?q=flag")
    assert response.status_code == 503 and "reindex" in response.get_data(as_text=True)


def test_a_broken_policy_stops_the_desk_at_start(tmp_path: Path) -> None:
    from photoarchive.errors import ConfigError

    arc, _ = init_archive(tmp_path / "archive")
    arc.close()
    (tmp_path / "archive" / "rights.toml").write_text("[agencies.x]\nstatus = 'nope'\n")
    with pytest.raises(ConfigError, match="line"):
        create_app(tmp_path / "archive")


def test_photo_page_shows_caption_history(tmp_path: Path) -> None:
    arc, _ = init_archive(tmp_path / "archive")
    with arc:
        path = tmp_path / "a.jpg"
        path.write_bytes(good_jpeg((1, 2, 3)))
        rec_id = arc.ingest([path], IngestOptions(caption="Kupyansk")).outcomes[0].id or ""
        from photoarchive.editing import edit_photo

        edit_photo(arc, rec_id, {"caption": "Kupiansk <b>"}, "jsmith")
    client = create_app(tmp_path / "archive").test_client()
    text = client.get(f"/photos/{rec_id}").get_data(as_text=True)
    assert (
        "edited" in text and "by jsmith: caption: <del>Kupyansk</del> → Kupiansk &lt;b&gt;" in text
    )


def test_paging_past_the_end_is_empty_with_the_true_total(desk: Any) -> None:
    client, _, _ = desk
    api = client.get("/api/search?q=ukraine&limit=3&page=4").get_json()
    assert api["results"] == [] and api["total"] == 8 and api["page"] == 4
    huge = client.get("/api/search?q=ukraine&page=99999999999999999999").get_json()
    assert huge["results"] == [] and huge["total"] == 8
    text = client.get("/?q=ukraine&page=5").get_data(as_text=True)
    assert 'class="card"' not in text
    assert 'Nothing on page 5: the last is <a href="/?q=ukraine">page 1</a>' in text


def test_originals_and_renditions_are_streamed_not_read_whole(
    desk: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, _, root = desk
    reuters = ids(client, "credit:reuters")["Reuters"]
    with open_archive(root) as arc:
        expected = arc.store.read(arc.original_key(reuters))

    def refuse(self: object, *_args: object) -> bytes:
        raise AssertionError(f"{self} was read whole into memory")

    monkeypatch.setattr(Path, "read_bytes", refuse)
    for store in (FolderStore, S3Store):  # nor by the store, whichever it is
        monkeypatch.setattr(store, "read", refuse)
    response = client.get(f"/photos/{reuters}/original")
    assert response.status_code == 200 and response.is_streamed
    assert response.headers["Cache-Control"] == "private, max-age=86400"
    assert response.headers["Content-Disposition"].startswith('attachment; filename="seed7.jpg"')
    assert response.get_data() == expected
    response.close()
    thumb = client.get(f"/photos/{reuters}/thumb.jpg")
    assert thumb.status_code == 200 and thumb.is_streamed and thumb.get_data()[:2] == b"\xff\xd8"
    thumb.close()
    part = client.get(f"/photos/{reuters}/original", headers={"Range": "bytes=0-9"})
    assert part.status_code == 206 and part.get_data() == expected[:10]
    part.close()


def test_only_the_desks_own_names_are_served(desk: Any) -> None:
    _, _, root = desk
    plain = create_app(root)
    client = plain.test_client()
    for host in ("localhost", "localhost:8080", "127.0.0.1:8080", "[::1]:8080", "127.0.0.5"):
        assert client.get("/?q=flag", headers={"Host": host}).status_code == 200, host
    for host in ("evil.example", "evil.example:8080", "photos.example.com", "127.0.0.1.nip.io"):
        refused = client.get("/?q=flag", headers={"Host": host})
        assert refused.status_code == 400, host
        assert refused.mimetype == "text/plain" and b"does not answer to the name" in refused.data
        api = client.get("/api/search?q=flag", headers={"Host": host})
        assert api.status_code == 400 and "Host header" in api.get_json()["error"]
    proxied = create_app(root, allowed_hosts=["photos.example.com", "desk.example:8443"])
    client = proxied.test_client()
    for host in ("photos.example.com", "photos.example.com:443", "desk.example:8443", "localhost"):
        assert client.get("/?q=flag", headers={"Host": host}).status_code == 200, host
    for host in ("desk.example", "desk.example:443", "evil.example"):
        assert client.get("/?q=flag", headers={"Host": host}).status_code == 400, host


def test_a_bad_allowed_host_stops_the_desk_at_start(desk: Any) -> None:
    from photoarchive.errors import ConfigError

    _, _, root = desk
    for bad in ("photos example com", "http://photos.example.com/", "x:99999", ""):
        with pytest.raises(ConfigError, match="not a host name"):
            create_app(root, allowed_hosts=[bad])


def test_a_search_over_its_budget_is_a_503_saying_to_narrow_it(desk: Any) -> None:
    _, _, root = desk
    app = create_app(root, query_seconds=0)
    app.config["TESTING"] = False
    client = app.test_client()
    page = client.get("/?q=flag")
    text = page.get_data(as_text=True)
    assert page.status_code == 503 and "The search took too long" in text
    assert "narrow it" in text and "Traceback" not in text
    api = client.get("/api/search?q=flag")
    assert api.status_code == 503 and "took longer than 0 s" in api.get_json()["error"]
    # Everything but searching goes on.
    assert client.get("/").status_code == 200


def test_query_limits_are_400s(desk: Any) -> None:
    client, _, _ = desk
    for q, says in (
        ("a" * 204_800, "query too long: 204,800 characters, at most 1,000"),
        ('"' + "flag " * 1640 + '"', "query too long"),
        ("flag " + "x" * 101, "word too long: 101 characters"),
        (" ".join(["flag"] * 51), "too many words: 51, at most 50"),
    ):
        page = client.get("/", query_string={"q": q})
        assert page.status_code == 400 and "Cannot search that" in page.get_data(as_text=True)
        assert q[:200] not in page.get_data(as_text=True)  # the query is not echoed back
        api = client.get("/api/search", query_string={"q": q})
        assert api.status_code == 400 and says in api.get_json()["error"]
