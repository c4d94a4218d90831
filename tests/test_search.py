"""Search over the seed article's photos: stemming, fields, dates, ranking, highlights, rebuild."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

import pytest

from photoarchive import Archive, init_archive
from photoarchive.errors import IndexUnavailableError, QueryError
from tests.conftest import SEED
from tests.engines import remove_index

ROWS = list(csv.DictReader(SEED.open(encoding="utf-8"), delimiter="\t")) if SEED.is_file() else []
CAPTION = {r["photo"]: r["caption"] for r in ROWS}


@pytest.fixture(scope="module")
def seeded(demo_photos: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    arc, _ = init_archive(tmp_path_factory.mktemp("seeded") / "archive")
    report = arc.ingest([demo_photos])
    assert report.count("new") == 8
    yield arc
    arc.close()


def captions(arc: Archive, query: str, limit: int = 20) -> list[str | None]:
    return [r.record.caption for r in arc.search(query, limit=limit).results]


@pytest.mark.parametrize(
    ("query", "photo"),
    [
        ("abandoned tanks river", "1"),
        ("signs of defeat", "2"),
        ("lunch", "3"),
        ("munitions battlefield", "4"),
        ("victorious soldier mast", "5"),
        ("servicemembers Izium", "6"),
        ("Kupiansk special forces", "7"),
        ("turret destroyed", "8"),
    ],
)
def test_each_seed_caption_is_found_first(seeded: Archive, query: str, photo: str) -> None:
    assert captions(seeded, query)[0] == CAPTION[photo]


def test_stemming_tank_finds_tanks_and_tank(seeded: Archive) -> None:
    found = captions(seeded, "tank")
    assert CAPTION["1"] in found  # "Tanks abandoned..."
    assert CAPTION["8"] in found  # "...a Russian tank destroyed..."


def test_flag_finds_both_flag_photos(seeded: Archive) -> None:
    assert {CAPTION["5"], CAPTION["6"]} <= set(captions(seeded, "flag"))


@pytest.mark.parametrize(
    ("query", "photos"),
    [
        ("credit:afp", {"8"}),
        ("credit:reuters", {"7"}),
        ('credit:"channel 4"', {"3", "4"}),
        ("agency:twitter", {"6"}),
        ("city:izium", {"6"}),
        ('"finish lunch"', {"3"}),
        ("flag NOT izium", {"5"}),
        ("date:[2022-09-01 to 2022-09-30] credit:reuters", {"7"}),
        ("date:[2023-01-01 to 2023-12-31]", set()),
        ("date:[2022-09-12 to 2022-09-30]", set()),
        ("date:[2022-09-01 to 2022-09-11] turret", {"8"}),
        ("date:<2022-09-10", set()),
        ("Date:2022-09-11 CREDIT:afp", {"8"}),
        ("tank OR munitions", {"1", "4", "8"}),
    ],
)
def test_field_phrase_and_date_queries(seeded: Archive, query: str, photos: set[str]) -> None:
    assert set(captions(seeded, query)) == {CAPTION[p] for p in photos}


def test_results_carry_score_and_highlighted_caption(seeded: Archive) -> None:
    top = seeded.search("abandoned tanks river").results[0]
    assert top.score > 0
    marked = top.caption_highlighted or ""
    assert '<mark class="hit">' in marked
    assert ">Tanks</mark>" in marked and ">river</mark>" in marked


def test_paging(seeded: Archive) -> None:
    first = seeded.search("ukraine", limit=3, page=1)
    second = seeded.search("ukraine", limit=3, page=2)
    assert first.total == second.total == 8
    assert len(first.results) == 3
    assert not {r.record.id for r in first.results} & {r.record.id for r in second.results}


@pytest.mark.parametrize(
    "query", ["date:[notadate to nonsense]", "(((", "NOT", "photographr:garanich", "the of"]
)
def test_bad_queries_raise_query_error(seeded: Archive, query: str) -> None:
    with pytest.raises(QueryError):
        seeded.search(query)


@pytest.mark.parametrize("query", ["", "   "])
def test_a_query_without_words_lists_the_newest_arrivals(seeded: Archive, query: str) -> None:
    page = seeded.search(query, limit=100)
    assert page.total == seeded.catalog.count() > 0
    arrived = [r.record.ingested_at for r in page.results]
    assert arrived == sorted(arrived, reverse=True)
    # Newest taken first when asked.
    taken = [r.record.date_created or "" for r in seeded.search(query, sort="date").results]
    assert taken == sorted(taken, reverse=True)


def test_missing_index_says_how_to_fix_and_reindex_restores_it(seeded: Archive) -> None:
    before = [(r.record.id, round(r.score, 6)) for r in seeded.search("tank").results]
    remove_index(seeded.root)
    with pytest.raises(IndexUnavailableError, match="reindex"):
        seeded.search("tank")
    assert seeded.reindex() == 8
    after = [(r.record.id, round(r.score, 6)) for r in seeded.search("tank").results]
    assert after == before


def test_filters_and_agency_counts(seeded: Archive) -> None:
    from datetime import datetime

    from photoarchive.search import SearchFilters

    page = seeded.search("ukraine", count_agencies=True)
    assert page.agency_counts == {"Channel 4": 2, "Reuters": 1, "AFP": 1, "Twitter": 1}
    only = seeded.search("ukrainian OR russian", filters=SearchFilters(agency="Reuters"))
    assert [r.record.credit for r in only.results] == ["Reuters"]
    later = SearchFilters(date_from=datetime(2022, 9, 12))
    assert seeded.search("flag", filters=later).total == 0
    needs = seeded.search("flag OR lunch", verdicts=["needs-clearance"], count_agencies=True)
    assert needs.total == 2 and needs.agency_counts == {"Twitter": 1, "Channel 4": 1}


def test_a_long_lived_searcher_sees_new_photos(seeded: Archive, tmp_path: Path) -> None:
    from tests.hostile import good_jpeg

    assert seeded.search("zebra").total == 0
    path = tmp_path / "zebra.jpg"
    path.write_bytes(good_jpeg((9, 9, 9)))
    from photoarchive import open_archive
    from photoarchive.ingest import IngestOptions

    with open_archive(seeded.root) as other:
        other.ingest([path], IngestOptions(caption="A zebra crossing in Izium"))
    assert seeded.search("zebra").total == 1


def test_index_written_by_the_archive_is_plain_whoosh_and_scores_alike(
    seeded: Archive, tmp_path: Path
) -> None:
    """The writer's codec only speeds writing up: the same documents written by Whoosh's own
    writer give the same scores, and Whoosh reads the archive's index by itself."""
    from whoosh import index, qparser
    from whoosh.codec.whoosh3 import W3Codec

    from photoarchive.search.documents import document
    from photoarchive.search.whoosh_engine import INDEX_NAME, _schema

    entries = seeded._entries([photo.record for photo in seeded.catalog.iter_photos()])
    seeded.reindex(engine="whoosh")
    ours = index.open_dir(str(seeded.index.folder), indexname=INDEX_NAME)
    assert all(type(seg.codec()) is W3Codec for seg in ours._segments())
    plain = index.create_in(str(tmp_path), _schema(), indexname=INDEX_NAME)
    with plain.writer() as writer:
        for entry in entries:
            writer.add_document(**document(entry))
    # Terms as the index holds them (analysed by photoarchive, not by Whoosh).
    for words in ("tank", "ukrainian soldier", "flag OR lunch", "credit:reuters"):
        query = qparser.QueryParser("text", _schema()).parse(words)
        with ours.searcher() as a, plain.searcher() as b:
            scored = [
                sorted((hit["sha256"], round(hit.score, 9)) for hit in s.search(query))
                for s in (a, b)
            ]
        assert scored[0] == scored[1] and scored[0], words
    with ours.reader() as a, plain.reader() as b:
        # Per-term length bounds (used to skip blocks that cannot rank) match too.
        for name in ("text", "credit"):
            terms = list(b.lexicon(name))
            assert list(a.lexicon(name)) == terms and terms
            for term in terms:
                x, y = a.term_info(name, term), b.term_info(name, term)
                assert (x.min_length(), x.max_length(), x.doc_frequency()) == (
                    y.min_length(),
                    y.max_length(),
                    y.doc_frequency(),
                ), (name, term)
    ours.close()


def test_postings_ranges_find_what_whoosh_ranges_find(tmp_path: Path) -> None:
    """Date ranges are matched from their postings at once: same documents and scores as
    Whoosh's own range matching, across segments and after documents were replaced."""
    from datetime import datetime, timedelta

    from whoosh import index
    from whoosh.query import And, DateRange, Term

    from photoarchive.search.whoosh_engine import INDEX_NAME, _schema
    from photoarchive.search.whoosh_postings import PostingsRange, with_postings_ranges

    ix = index.create_in(str(tmp_path), _schema(), indexname=INDEX_NAME)
    start = datetime(2021, 12, 30, 23, 0)
    for part in range(3):  # three commits: three segments
        with ix.writer() as writer:
            for i in range(part, 600, 3):
                when = start + timedelta(minutes=97 * i)
                words = "tank river" if i % 4 else "flag"
                writer.add_document(sha256=f"{i}", text=words, date_created=when)
    with ix.writer() as writer:  # replace some: the old versions are deleted documents
        for i in range(0, 600, 7):
            writer.update_document(sha256=f"{i}", text="flag", date_created=start)
    ranges = [
        (datetime(2022, 1, 1), datetime(2022, 1, 31, 23, 59)),
        (datetime(2022, 1, 3, 8, 15), datetime(2022, 1, 3, 9, 52)),
        (None, datetime(2022, 1, 2)),
        (datetime(2022, 1, 20), None),
        (start, start),
        # bounds on documents' own times, where exclusive and inclusive differ
        (start + timedelta(minutes=97 * 10), start + timedelta(minutes=97 * 20)),
    ]
    with ix.searcher() as searcher:
        for low, high in ranges:
            for excl in (False, True):
                plain = DateRange("date_created", low, high, startexcl=excl, endexcl=excl)
                ours = PostingsRange.of(plain)
                expected = sorted(searcher.docs_for_query(plain))
                assert sorted(searcher.docs_for_query(ours)) == expected, (low, high, excl)
                assert expected or (excl and low == high)
                scored = [
                    sorted((h["sha256"], round(h.score, 9)) for h in searcher.search(q, limit=None))
                    for q in (And([Term("text", "tank"), plain]), And([Term("text", "tank"), ours]))
                ]
                assert scored[0] == scored[1]
        swapped = with_postings_ranges(
            And([Term("text", "flag"), DateRange("date_created", start, None)])
        )
        assert any(isinstance(node, PostingsRange) for node in swapped.children())
