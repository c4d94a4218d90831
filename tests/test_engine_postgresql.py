"""The PostgreSQL engine answers the query language as Whoosh does (the same photos, totals
and agency counts for tests/test_engines.py's queries and filters), and keeps its index
whole: updates in one transaction, rebuilds swapped in at once, errors on one line."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from photoarchive import Archive
from photoarchive.errors import (
    ConfigError,
    IndexOutdatedError,
    IndexUnavailableError,
    QueryTimeoutError,
)
from photoarchive.search import Deadline, Entry, SearchFilters, open_engine
from photoarchive.search.documents import document
from photoarchive.search.postgresql_engine import PostgresEngine
from tests.postgres import fresh_database, postgres_url
from tests.test_engines import FILTERS, PHOTOS, QUERIES, fill, record

SCHEMA = "photo archive"  # a name that must be quoted


@pytest.fixture(scope="module")
def whoosh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    arc = fill(tmp_path_factory.mktemp("pg-engines") / "whoosh", "whoosh")
    yield arc
    arc.close()


@pytest.fixture(scope="module")
def documents(whoosh: Archive) -> list[dict[str, Any]]:
    from photoarchive.indexing import index_documents

    return list(index_documents(whoosh.catalog, whoosh.policy.timezone, workers=1))


@pytest.fixture(scope="module")
def postgres(
    whoosh: Archive, documents: list[dict[str, Any]], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[PostgresEngine]:
    """The same documents as the Whoosh archive's, rebuilt into PostgreSQL."""
    with fresh_database(postgres_url()) as url:
        engine = PostgresEngine(url, SCHEMA, whoosh.catalog.archive_id(), Path("/nowhere/index"))
        assert engine.rebuild(dict(d) for d in documents) == PHOTOS
        yield engine
        engine.close()


def found(engine: Any, query: str, filters: SearchFilters | None = None) -> set[str]:
    return {h.sha256 for h in engine.search(query, limit=None, filters=filters).hits}


@pytest.mark.parametrize("query", QUERIES)
def test_postgresql_finds_what_whoosh_finds(
    whoosh: Archive, postgres: PostgresEngine, query: str
) -> None:
    expected = found(whoosh.index, query)
    assert expected and found(postgres, query) == expected
    a = whoosh.index.search(query, limit=5, page=2, count_agencies=True)
    b = postgres.search(query, limit=5, page=2, count_agencies=True)
    assert (a.total, a.agency_counts, a.terms) == (b.total, b.agency_counts, b.terms)
    assert len(b.hits) == min(5, max(0, b.total - 5))
    # A page past the last is empty, with the true total.
    assert postgres.search(query, limit=5, page=1000).total == len(expected)


@pytest.mark.parametrize(
    "query",
    [
        "зеленський",
        "Зеленского",
        "zelensky",
        "zelenskyi",
        "ізюм",
        "izium",
        "изюм",
        "izyum",
        "харків",
        "kharkiv",
        "харькова",
        "kharkov",
        "солдаты",
        '"президент зеленський"',
    ],
)
def test_cyrillic_and_transliterated_queries_find_the_same_photos(
    whoosh: Archive, postgres: PostgresEngine, query: str
) -> None:
    expected = found(whoosh.index, query)
    assert found(postgres, query) == expected
    assert postgres.search(query).total == len(expected)


def test_the_spellings_find_something(whoosh: Archive) -> None:
    # A battery of empty results would prove nothing.
    for query in ("зеленський", "zelensky", "izium", "изюм", "kharkov", "солдаты"):
        assert found(whoosh.index, query), query


@pytest.mark.parametrize("filters", FILTERS)
def test_postgresql_filters_as_whoosh_does(
    whoosh: Archive, postgres: PostgresEngine, filters: SearchFilters
) -> None:
    for query in ("tank", "*:*", "credit:reuters OR flag", "date:2022-09"):
        expected = found(whoosh.index, query, filters)
        assert found(postgres, query, filters) == expected, query
        a = whoosh.index.search(query, limit=3, filters=filters, count_agencies=True)
        b = postgres.search(query, limit=3, filters=filters, count_agencies=True)
        assert (a.total, a.agency_counts) == (b.total, b.agency_counts), query


def test_postgresql_filters_by_rights_as_whoosh_does(
    whoosh: Archive, postgres: PostgresEngine
) -> None:
    keys = sorted(whoosh.index.rights_keys())
    assert keys == sorted(postgres.rights_keys()) and len(keys) > 1
    for passing in (frozenset(keys[:1]), frozenset(keys[1:]), frozenset(keys), frozenset()):
        for killed_passes in (False, True):
            filters = SearchFilters(rights=passing, killed_passes=killed_passes)
            for query in ("*:*", "tank"):
                assert found(postgres, query, filters) == found(whoosh.index, query, filters)


def test_newest_first_sorts_as_whoosh_does(
    whoosh: Archive, postgres: PostgresEngine, documents: list[dict[str, Any]]
) -> None:
    by_sha = {d["sha256"]: d for d in documents}
    for sort, field in (("date", "date_created"), ("ingested", "ingested_at")):
        for query in ("tank", "credit:reuters OR flag"):
            a = whoosh.index.search(query, limit=10, sort=sort)
            b = postgres.search(query, limit=10, sort=sort)
            dates = [by_sha[h.sha256].get(field) or datetime.min for h in b.hits]
            assert dates == sorted(dates, reverse=True) and dates[0] > datetime.min
            assert dates == [by_sha[h.sha256].get(field) or datetime.min for h in a.hits]
            assert a.total == b.total


def test_a_broad_query_pages_through_every_photo_newest_first(
    postgres: PostgresEngine, documents: list[dict[str, Any]]
) -> None:
    by_sha = {d["sha256"]: d for d in documents}
    for query in ("*:*", "ukraine"):
        seen: list[str] = []
        page = 1
        while hits := postgres.search(query, limit=7, page=page).hits:
            seen += [h.sha256 for h in hits]
            page += 1
        assert len(seen) == len(set(seen)) == PHOTOS, query
        assert seen == [h.sha256 for h in postgres.search(query, limit=PHOTOS).hits]
        dates = [by_sha[s].get("date_created") or datetime.min for s in seen]
        assert dates == sorted(dates, reverse=True), query


def test_relevance_follows_the_query(postgres: PostgresEngine) -> None:
    """Ranked by its own scores: a boosted word counts more, a photo holding both words of
    an OR scores above one holding either, scores come in descending order."""
    hits = postgres.search("tank OR river", limit=PHOTOS).hits
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True) and scores[0] > scores[-1] > 0
    both = found(postgres, "tank river")
    assert {h.sha256 for h in hits[: len(both)]} == both
    river_first = postgres.search("tank river^5 OR flag", limit=5).hits
    assert {h.sha256 for h in river_first} <= found(postgres, "river")


def test_the_index_tells_what_it_holds(
    postgres: PostgresEngine, documents: list[dict[str, Any]]
) -> None:
    assert postgres.all_hashes() == {d["sha256"] for d in documents}
    assert postgres.digests() == {d["sha256"]: d["digest"] for d in documents}
    assert postgres.exists()
    postgres.check()
    a, b = postgres.leftovers()
    assert not a.exists() and not b.exists()


# -- writing, on a database of its own ------------------------------------------------------
def entry(i: int, **changes: Any) -> Entry:
    return Entry(dataclasses.replace(record(i), **changes))


@pytest.fixture
def engine(postgresql_url: str) -> Iterator[PostgresEngine]:
    made = PostgresEngine(postgresql_url, SCHEMA, "archive-1", Path("/nowhere/index"))
    yield made
    made.close()


def test_add_replaces_and_deletes_in_one_transaction(engine: PostgresEngine) -> None:
    assert not engine.exists()
    engine.create()
    assert engine.exists() and engine.all_hashes() == set()
    assert engine.search("tank").total == 0
    entries = [entry(i) for i in range(20)]
    assert engine.add(entries) == 20
    assert engine.missing_postings(entries) == []
    tanks = found(engine, "tank")
    assert tanks and engine.search("*:*").total == 20
    # Replace one photo's caption, delete another; the terms' counts follow.
    three = entry(0, caption="A zeppelin over the harbour")
    assert engine.add([three], delete=[record(1).sha256]) == 1
    assert engine.all_hashes() == {record(i).sha256 for i in range(20)} - {record(1).sha256}
    assert found(engine, "zeppelin") == {record(0).sha256}
    assert found(engine, "zeppel*") == {record(0).sha256}
    assert record(0).sha256 not in found(engine, "tank")
    assert engine.digests()[record(0).sha256] == document(three)["digest"]
    # Photo 1 is gone; photo 0 as it was is not what the index holds.
    assert engine.missing_postings([three, entry(1), entry(0)]) == [
        record(1).sha256,
        record(0).sha256,
    ]
    assert engine.search("*:*").total == 19
    # A word no photo holds any more is gone from the terms: a wildcard finds nothing.
    engine.add([entry(0)])
    assert found(engine, "zeppel*") == set() and engine.search("zeppelin").total == 0
    # Adding the same photo twice in one call keeps the last.
    engine.add([entry(5, caption="quixotic"), entry(5, caption="zebra crossing")])
    assert found(engine, "zebra") == {record(5).sha256} and not found(engine, "quixotic")
    assert engine.missing_postings([entry(i) for i in range(2, 5)]) == []


def test_a_failed_add_changes_nothing(engine: PostgresEngine) -> None:
    engine.create()
    engine.add([entry(i) for i in range(10)])
    before = engine.digests()

    def broken() -> Iterator[Entry]:
        yield entry(0, caption="A zeppelin")
        raise RuntimeError("the catalog went away")

    with pytest.raises(RuntimeError):
        engine.add(broken(), delete=[record(2).sha256])
    assert engine.digests() == before and not found(engine, "zeppelin")


def test_a_failing_rebuild_leaves_the_old_index_searchable(
    engine: PostgresEngine, documents: list[dict[str, Any]]
) -> None:
    engine.rebuild(dict(d) for d in documents[:50])
    before = found(engine, "tank")
    assert before

    def failing() -> Iterator[dict[str, Any]]:
        yield from (dict(d) for d in documents[50:120])
        raise RuntimeError("a worker died")

    with pytest.raises(RuntimeError, match="a worker died"):
        engine.rebuild(failing())
    assert found(engine, "tank") == before
    assert len(engine.all_hashes()) == 50
    engine.check()
    # A rebuild after it goes through, and replaces everything.
    assert engine.rebuild(dict(d) for d in documents[100:130]) == 30
    assert engine.all_hashes() == {d["sha256"] for d in documents[100:130]}
    assert engine.search("*:*").total == 30


def test_a_search_stops_at_its_deadline(
    engine: PostgresEngine, documents: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    from psycopg import sql

    from photoarchive.search import postgresql_engine

    engine.rebuild(dict(d) for d in documents)
    assert engine.search("tank", deadline=Deadline.after(30)).total > 0
    with pytest.raises(QueryTimeoutError, match=r"longer than 0.2 s and was stopped"):
        engine.search("tank", deadline=Deadline(0.2, 0.0))
    # A statement running past the deadline is stopped by the server.
    slow = postgresql_engine._Compiler.filters

    def sleepy(self: Any, filters: SearchFilters) -> list[Any]:
        return [*slow(self, filters), sql.SQL("pg_sleep(0.05) IS NOT NULL")]

    monkeypatch.setattr(postgresql_engine._Compiler, "filters", sleepy)
    with pytest.raises(QueryTimeoutError, match=r"longer than 0.3 s and was stopped"):
        engine.search("*:*", deadline=Deadline.after(0.3))
    monkeypatch.undo()
    # The connection it ran on is back in use, without the timeout.
    assert engine.search("tank").total > 0


def test_an_unreachable_server_is_one_line_without_the_password(tmp_path: Path) -> None:
    engine = PostgresEngine(
        "postgresql://photo:s3cret-pw@127.0.0.1:1/archive", "public", None, tmp_path / "index"
    )
    for call in (engine.check, engine.exists, lambda: engine.search("tank")):
        with pytest.raises(IndexUnavailableError) as failed:
            call()
        message = str(failed.value)
        assert "s3cret" not in message and "\n" not in message
        assert "PostgreSQL server (127.0.0.1:1/archive) cannot be reached" in message
    engine.close()


def test_a_missing_or_foreign_index_asks_for_reindex(engine: PostgresEngine) -> None:
    with pytest.raises(IndexUnavailableError, match=r"index is missing.*reindex"):
        engine.check()
    with pytest.raises(IndexUnavailableError, match=r"index is missing.*reindex"):
        engine.search("tank")
    engine.create()
    engine.check()
    other = PostgresEngine(engine.url, SCHEMA, "archive-2", engine.folder)
    with pytest.raises(IndexOutdatedError, match=r"not built for this archive"):
        other.check()
    other.close()


def test_open_engine_needs_the_database(tmp_path: Path, postgresql_url: str) -> None:
    with pytest.raises(ConfigError, match="needs the archive's catalog on PostgreSQL"):
        open_engine("postgresql", tmp_path, None)
    made = open_engine("postgresql", tmp_path, "a-1", database=(postgresql_url, "search"))
    assert isinstance(made, PostgresEngine) and made.name == "postgresql"
    assert not made.exists()
    made.create()
    assert made.exists() and not made.folder.exists()
    made.close()
