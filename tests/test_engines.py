"""Both search engines answer the query language alike: the same photos for the same query
and filters, the same totals and agency counts; switching engines; tantivy's own ways
(its writer lock, a missing install, a damaged index)."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from photoarchive import Archive, init_archive, open_archive
from photoarchive.catalog import StoredPhoto
from photoarchive.cli import main
from photoarchive.errors import ConfigError, IndexUnavailableError, PhotoArchiveError, QueryError
from photoarchive.record import PhotoRecord
from photoarchive.search import SearchFilters
from tests.engines import index_dir

CAPTIONS = [
    "Ukrainian soldiers ride atop a tank near Izium, Kharkiv region, on Sept. 12, 2022.",
    "A destroyed Russian tank is abandoned in a river by the fleeing troops",
    "Special forces raise the flag over the town hall in Kupiansk",
    "Residents of the U.S.-backed village queue for bread; the mayor said it's the first",
    "Firefighters work at a site of a Russian missile strike in Kyiv",
    "Abandoned munitions lie by the road to Balakliia, 3.5 km from the front line",
    "Президент Зеленський відвідав звільнений Ізюм",
    "Солдаты на улицах Харькова",
    "A child plays on a swing near a destroyed building in Irpin",
    "Tanks and armoured vehicles of the Ukrainian army move towards the front",
]
CREDITS = [
    "REUTERS/Gleb Garanich",
    "AFP via Getty Images",
    "AP Photo/Evgeniy Maloletka",
    "Channel 4",
    "Twitter/@kyivindependent",
]
AGENCIES = ["Reuters", "AFP", "AP", "Channel 4", "Twitter"]
CITIES = ["Izium", "Kyiv", "Kharkiv", "Kupiansk", None]
PHOTOS = 240

QUERIES = [
    "tank",
    "tanks",
    "TANK river",
    "abandoned tanks river",
    '"destroyed russian tank"',
    '"special forces"',
    '"the flag"',
    "tank OR flag",
    "tank river OR flag",
    "tank AND river OR flag",
    "tank NOT river",
    "NOT tank",
    "tank ANDNOT abandoned",
    "tank ANDMAYBE river",
    "(tank OR flag) (izium OR kupiansk)",
    "tank^3 river",
    "tan*",
    "t?nk",
    "*ank",
    "[ta to tb]",
    "credit:reuters",
    'credit:"getty images"',
    "agency:afp",
    "byline:garanich",
    "city:kyiv",
    "country:ukraine",
    "keywords:war",
    "headline:strike",
    "format:jpeg",
    "u.s",
    "u.s.-backed",
    "3.5",
    "зеленський",
    "ізюм",
    "date:2022-09",
    "date:2022-09-12",
    "date:[2022-09-01 to 2022-09-15]",
    "date:{2022-09-01 to 2022-09-15}",
    "date:>2022-09-20",
    "date:<=2022-08-31",
    "date:[2022-09-10 to]",
    "tank date:2022-09",
    "taken:2022",
    "*:*",
    "credit:*",
    "firefighter missile",
    "lang:uk",
]


def record(i: int) -> PhotoRecord:
    sha = hashlib.sha256(f"engine photo {i}".encode()).hexdigest()
    return PhotoRecord(
        id=sha[:12],
        sha256=sha,
        original_filename=f"p{i}.jpg",
        format="JPEG",
        width=600,
        height=400,
        file_size=1000,
        caption=CAPTIONS[i % len(CAPTIONS)] + f" Frame {i}.",
        headline="Missile strike" if i % 7 == 0 else None,
        credit=CREDITS[i % len(CREDITS)],
        agency=AGENCIES[i % len(AGENCIES)],
        byline="Gleb Garanich" if i % 5 == 0 else None,
        keywords=["war", "Ukraine"] if i % 3 == 0 else [],
        city=CITIES[i % len(CITIES)],
        country="Ukraine",
        languages=["uk"] if i % len(CAPTIONS) == 6 else [],
        date_created=f"2022-{8 + i % 2:02d}-{1 + i % 28:02d}T{i % 24:02d}:30:00"
        if i % 11
        else None,
        ingested_at=f"2022-10-01T{i % 24:02d}:00:00",
    )


#: Filters every engine must apply alike.
FILTERS = [
    SearchFilters(agency="AFP"),
    SearchFilters(date_from=datetime(2022, 9, 5), date_to=datetime(2022, 9, 20, 23, 59)),
    SearchFilters(agency="Reuters", date_from=datetime(2022, 9, 1)),
    SearchFilters(states=("live", "superseded", "killed", "notice")),
    # A selection's photos (one in three, and one photo no index holds).
    SearchFilters(sha256s=frozenset({record(i).sha256 for i in range(0, PHOTOS, 3)} | {"0" * 64})),
    SearchFilters(agency="AFP", sha256s=frozenset()),
]


def fill(root: Path, engine: str) -> Archive:
    arc, _ = init_archive(root, search_engine=engine)
    arc.catalog.add_many([(StoredPhoto(record(i), "jpg", []), {}) for i in range(PHOTOS)])
    arc.finish_pending_index()
    return arc


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Archive, Archive]]:
    work = tmp_path_factory.mktemp("engines")
    whoosh, tantivy = fill(work / "whoosh", "whoosh"), fill(work / "tantivy", "tantivy")
    assert (whoosh.index.name, tantivy.index.name) == ("whoosh", "tantivy")
    yield whoosh, tantivy
    whoosh.close()
    tantivy.close()


def found(arc: Archive, query: str, filters: SearchFilters | None = None) -> set[str]:
    return {h.sha256 for h in arc.index.search(query, limit=None, filters=filters).hits}


@pytest.mark.parametrize("query", QUERIES)
def test_both_engines_find_the_same_photos(both: tuple[Archive, Archive], query: str) -> None:
    whoosh, tantivy = both
    expected = found(whoosh, query)
    assert found(tantivy, query) == expected
    # Pages, totals and agency counts agree as well.
    a = whoosh.index.search(query, limit=5, page=2, count_agencies=True)
    b = tantivy.index.search(query, limit=5, page=2, count_agencies=True)
    assert (a.total, a.agency_counts, a.terms) == (b.total, b.agency_counts, b.terms)
    assert a.total == len(expected)


def test_the_queries_find_something(both: tuple[Archive, Archive]) -> None:
    # A battery of empty results would prove nothing.
    empty = [q for q in QUERIES if not found(both[0], q)]
    assert empty == []


@pytest.mark.parametrize("filters", FILTERS)
def test_both_engines_filter_alike(both: tuple[Archive, Archive], filters: SearchFilters) -> None:
    whoosh, tantivy = both
    sizes = []
    for query in ("tank", "*:*", "credit:reuters OR flag", "date:2022-09"):
        expected = found(whoosh, query, filters)
        assert found(tantivy, query, filters) == expected, query
        sizes.append(len(expected))
    assert max(sizes) > 0 or filters.sha256s == frozenset()


def test_both_engines_filter_by_rights_alike(both: tuple[Archive, Archive]) -> None:
    whoosh, tantivy = both
    keys = sorted(whoosh.index.rights_keys())
    assert keys == sorted(tantivy.index.rights_keys()) and len(keys) > 1
    for passing in (frozenset(keys[:1]), frozenset(keys[1:]), frozenset()):
        for killed_passes in (False, True):
            filters = SearchFilters(rights=passing, killed_passes=killed_passes)
            assert found(tantivy, "*:*", filters) == found(whoosh, "*:*", filters)
    assert whoosh.search("tank", cleared_for="editorial").total == (
        tantivy.search("tank", cleared_for="editorial").total
    )


def test_newest_first_sorts_alike(both: tuple[Archive, Archive]) -> None:
    whoosh, tantivy = both
    for sort in ("date", "ingested"):
        a = whoosh.search("tank", limit=10, sort=sort)
        b = tantivy.search("tank", limit=10, sort=sort)
        field = "date_created" if sort == "date" else "ingested_at"
        dates = [getattr(r.record, field) or "" for r in a.results]
        assert dates == sorted(dates, reverse=True) and dates[0]
        assert dates == [getattr(r.record, field) or "" for r in b.results]


def test_an_unknown_order_is_refused(both: tuple[Archive, Archive]) -> None:
    with pytest.raises(QueryError, match="unknown order 'oldest': choose relevance, date"):
        both[0].search("tank", sort="oldest")


def test_both_engines_refuse_the_same_queries(both: tuple[Archive, Archive]) -> None:
    for query in ("date:[nonsense to never]", "(((", "photographr:x", "NOT", "date:2022-13"):
        messages = []
        for arc in both:
            with pytest.raises(QueryError) as refused:
                arc.index.search(query)
            messages.append(str(refused.value))
        assert messages[0] == messages[1], query


def test_highlighting_is_the_same_whichever_engine_found_the_photo(
    both: tuple[Archive, Archive],
) -> None:
    marked = [arc.search("abandoned tanks", limit=1).results[0].caption_highlighted for arc in both]
    assert marked[0] == marked[1]
    assert '<mark class="hit">tank</mark>' in (marked[0] or "")
    assert '<mark class="hit">abandoned</mark>' in (marked[0] or "")


def test_reindex_switches_the_engine_and_back(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    fill(root, "whoosh").close()
    before = found(open_archive(root), "tank river OR flag")
    runner = CliRunner()
    switched = runner.invoke(main, ["--archive", str(root), "reindex", "--engine", "tantivy"])
    assert switched.exit_code == 0, switched.output
    assert "now searches with tantivy (was whoosh)" in switched.stderr
    assert 'search_engine = "tantivy"' in (root / "archive.toml").read_text()
    assert "query_seconds = 10" in (root / "archive.toml").read_text()  # the rest is kept
    assert not (root / "index").exists() and (root / "index-tantivy").is_dir()
    with open_archive(root) as arc:
        assert arc.index.name == "tantivy"
        assert found(arc, "tank river OR flag") == before
        assert arc.index.all_hashes() == {p.record.sha256 for p in arc.catalog.iter_photos()}
    listed = runner.invoke(main, ["--archive", str(root), "search", "tank", "--json"])
    assert listed.exit_code == 0 and len(json.loads(listed.stdout)) == 20
    back = runner.invoke(main, ["--archive", str(root), "reindex", "--engine", "whoosh"])
    assert back.exit_code == 0 and not (root / "index-tantivy").exists()
    with open_archive(root) as arc:
        assert arc.index.name == "whoosh" and found(arc, "tank river OR flag") == before


def test_an_unknown_engine_in_archive_toml_is_named(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    init_archive(root, search_engine="whoosh")[0].close()
    settings = root / "archive.toml"
    settings.write_text(settings.read_text().replace('"whoosh"', '"lucene"'))
    with pytest.raises(ConfigError, match=r"line \d+: search_engine must be 'whoosh' or"):
        open_archive(root)
    result = CliRunner().invoke(main, ["--archive", str(root), "search", "tank"])
    assert result.exit_code == 1 and result.stderr.count("\n") == 1


def test_tantivy_not_installed_is_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "archive"
    fill(root, "tantivy").close()
    monkeypatch.setitem(sys.modules, "tantivy", None)  # import tantivy now fails
    with pytest.raises(PhotoArchiveError, match=r"pip install 'photoarchive\[tantivy\]'"):
        open_archive(root).search("tank")
    # The archive still opens (show, or going back to Whoosh, work) ...
    with open_archive(root) as arc:
        assert arc.get(record(3).id).caption == record(3).caption
    back = CliRunner().invoke(main, ["--archive", str(root), "reindex", "--engine", "whoosh"])
    assert back.exit_code == 0 and open_archive(root).search("tank").total > 0
    # ... and a new archive on tantivy is refused before anything is made.
    with pytest.raises(PhotoArchiveError, match=r"pip install 'photoarchive\[tantivy\]'"):
        init_archive(tmp_path / "new", search_engine="tantivy")
    assert not (tmp_path / "new").exists()


def test_a_damaged_tantivy_index_says_to_reindex(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    fill(root, "tantivy").close()
    (index_dir(root) / "meta.json").write_text("{ not json")
    result = CliRunner().invoke(main, ["--archive", str(root), "search", "tank"])
    assert result.exit_code == 1 and "reindex" in result.stderr
    assert result.stderr.count("\n") == 1
    assert CliRunner().invoke(main, ["--archive", str(root), "reindex"]).exit_code == 0
    assert open_archive(root).search("tank").total > 0


def test_a_tantivy_writer_waits_for_another_process(tmp_path: Path) -> None:
    """tantivy allows one writer per index: a second process waits until it is free."""
    root = tmp_path / "archive"
    fill(root, "tantivy").close()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import time, tantivy
                index = tantivy.Index.open({str(index_dir(root))!r})
                writer = index.writer(heap_size=15_000_000, num_threads=1)
                print("holding", flush=True)
                time.sleep(1.5)
                writer.commit()
                writer.wait_merging_threads()
                """
            ),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
    with open_archive(root) as arc:
        new = record(PHOTOS + 1)
        arc.catalog.add_many([(StoredPhoto(new, "jpg", []), {})])
        assert arc.finish_pending_index() == 1  # waited for the other writer, then wrote
        assert holder.wait(10) == 0
        assert arc.search(f"frame {PHOTOS + 1}").total == 1


@pytest.mark.parametrize("engine", ["whoosh", "tantivy"])
def test_an_index_of_another_format_asks_for_reindex(tmp_path: Path, engine: str) -> None:
    root = tmp_path / "archive"
    fill(root, engine).close()
    (index_dir(root) / "format").write_text(f"{engine}-0")
    with pytest.raises(IndexUnavailableError, match=r"another version.*reindex"):
        open_archive(root).search("tank")
    with open_archive(root) as arc:
        arc.reindex()
        assert arc.search("tank").total > 0


def test_a_lost_engine_setting_names_the_index_the_archive_holds(tmp_path: Path) -> None:
    root = tmp_path / "archive"
    fill(root, "tantivy").close()
    settings = root / "archive.toml"
    settings.write_text(settings.read_text().replace('search_engine = "tantivy"', ""))
    result = CliRunner().invoke(main, ["--archive", str(root), "search", "tank"])
    assert result.exit_code == 1
    assert 'the archive holds a tantivy index: set search_engine = "tantivy"' in result.stderr


def test_a_tantivy_index_on_a_read_only_file_system_is_searched(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """tantivy takes a lock file even to read; where it cannot, a copy is searched."""
    root = tmp_path / "archive"
    fill(root, "tantivy").close()
    index = index_dir(root)
    for lock in index.glob("*.lock"):
        lock.unlink()
    index.chmod(0o555)
    try:
        with open_archive(root, readonly=True) as arc:
            if os.geteuid() == 0:
                # root may write anywhere: make the first open fail as a read-only mount does
                import tantivy

                real = tantivy.Index.open
                calls: list[str] = []

                def refuse_first(path: str) -> object:
                    calls.append(path)
                    if len(calls) == 1:
                        raise ValueError("Failed to acquire Lockfile: Read-only file system")
                    return real(path)

                monkeypatch.setattr(tantivy.Index, "open", staticmethod(refuse_first))
            assert arc.search("tank").total > 0
    finally:
        index.chmod(0o755)


def test_a_large_rebuild_makes_the_same_documents_in_worker_processes(
    both: tuple[Archive, Archive], monkeypatch: pytest.MonkeyPatch
) -> None:
    from photoarchive import indexing

    whoosh = both[0]
    here = list(indexing.index_documents(whoosh.catalog, whoosh.policy.timezone, workers=1))
    monkeypatch.setattr(indexing, "PARALLEL_FROM", 10)
    monkeypatch.setattr(indexing, "BATCH", 7)  # many batches, the last one short
    done: list[int] = []
    made = list(
        indexing.index_documents(whoosh.catalog, whoosh.policy.timezone, done.append, workers=2)
    )
    assert made == here and len(made) == PHOTOS
    assert done[-1] == PHOTOS and done == sorted(done)


def test_a_broad_query_pages_through_every_photo_newest_first(
    both: tuple[Archive, Archive],
) -> None:
    """Matching more than half of the photos, both engines list them by date without
    scoring: their pages still hold every match once, newest first, as one listing would."""
    for arc in both:
        for query in ("*:*", "ukraine"):
            seen: list[str] = []
            page = 1
            while hits := arc.index.search(query, limit=7, page=page).hits:
                seen += [h.sha256 for h in hits]
                page += 1
            assert len(seen) == len(set(seen)) == PHOTOS, (arc.settings.search_engine, query)
            assert seen == [h.sha256 for h in arc.index.search(query, limit=PHOTOS).hits]
            dates = [arc.get(sha).date_created or "" for sha in seen]
            assert dates == sorted(dates, reverse=True), (arc.settings.search_engine, query)
