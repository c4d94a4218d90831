"""Bounded queries: length, word and term limits, wildcard storms, the time budget, paging past
the end, and a property: any query either searches or is refused with QueryError.

The property runs a short, deterministic version in CI; for a longer local run:
    HYPOTHESIS_PROFILE=long pytest tests/test_query_limits.py
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from photoarchive import Archive, init_archive
from photoarchive.catalog import StoredPhoto
from photoarchive.cli import main
from photoarchive.errors import QueryError, QueryTimeoutError
from photoarchive.record import PhotoRecord
from photoarchive.search import SearchFilters
from photoarchive.search.deadline import Deadline, time_budget
from photoarchive.search.query import (
    FIELD_ALIASES,
    MAX_EXPANSIONS,
    MAX_QUERY_CHARS,
    MAX_QUERY_WORDS,
    MAX_WORD_CHARS,
    SEARCH_FIELDS,
)
from photoarchive.search.whoosh_postings import docs_with_terms

# Words the stemmer leaves alone: "k" + three of these letters gives 2,197 distinct words,
# more than a wildcard may stand for; "c" + two gives the common words.
LETTERS = "bcdfgkmnprtvz"
VOCAB = ["k" + "".join(t) for t in itertools.product(LETTERS, repeat=3)]
#: In every caption: queries made of them are slow (every document, many postings).
COMMON = ["c" + "".join(t) for t in itertools.product(LETTERS, repeat=2)][:MAX_QUERY_WORDS]
WORDS_PER_PHOTO = 8
PHOTOS = 2000
#: A query within every limit that takes seconds over PHOTOS photos: every photo has all
#: its words, each scored.
SLOW_QUERY = " ".join(COMMON)
#: A phrase whose words every photo has, in this order but for the last two: every photo
#: is checked word by word and none matches, so no document ever reaches the collector and
#: only the postings matchers' own checks can stop it.
SLOW_PHRASE = '"' + " ".join([*COMMON[:-2], COMMON[-1], COMMON[-2]]) + '"'
#: Photos of the archive the slow queries run on: enough for SLOW_PHRASE to take seconds
#: even where matches are listed without scoring.
SLOW_PHOTOS = 3 * PHOTOS
EXAMPLES = 20_000 if os.environ.get("HYPOTHESIS_PROFILE") == "long" else 150


def vocab_words(i: int) -> list[str]:
    """The rarer words of photo `i` (every word of VOCAB is used by some photo)."""
    return [VOCAB[(i * WORDS_PER_PHOTO + k) % len(VOCAB)] for k in range(WORDS_PER_PHOTO)]


def fill(root: Path, photos: int = PHOTOS, engine: str | None = None) -> Archive:
    """Make an archive of synthetic photos entered through the catalog and index (no image
    files): each caption holds every COMMON word and WORDS_PER_PHOTO words of VOCAB."""
    arc, _ = init_archive(root, search_engine=engine)
    rows = []
    for i in range(photos):
        sha = hashlib.sha256(f"photo {i}".encode()).hexdigest()
        record = PhotoRecord(
            id=sha[:12],
            sha256=sha,
            original_filename=f"p{i}.jpg",
            format="JPEG",
            width=600,
            height=400,
            file_size=1000,
            caption=" ".join(COMMON + vocab_words(i)),
            credit="Reuters" if i % 2 else "AFP",
            agency="Reuters" if i % 2 else "AFP",
            date_created=f"2022-09-{1 + i % 28:02d}T12:00:00",
            ingested_at="2022-10-01T00:00:00",
        )
        rows.append((StoredPhoto(record, "jpg", []), {}))
    arc.catalog.add_many(rows)
    arc.finish_pending_index()
    return arc


@pytest.fixture(scope="module")
def big(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    arc = fill(tmp_path_factory.mktemp("limits") / "archive")
    yield arc
    arc.close()


@pytest.fixture(scope="module")
def slow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    """The archive on Whoosh, where SLOW_QUERY and SLOW_PHRASE take seconds (tantivy
    answers them in milliseconds, and runs each search uninterrupted)."""
    arc = fill(tmp_path_factory.mktemp("slow") / "archive", SLOW_PHOTOS, engine="whoosh")
    yield arc
    arc.close()


def run_cli(arc: Archive, *args: str) -> Result:
    return CliRunner().invoke(main, ["--archive", str(arc.root), *args])


def one_error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), result.stderr
    return lines[0]


# -- limits checked before Whoosh reads the query ---------------------------------------------


def test_a_huge_query_is_refused_before_the_parser_sees_it(
    big: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    from whoosh.qparser import QueryParser

    def never(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("Whoosh's parser was given the query")

    monkeypatch.setattr(QueryParser, "parse", never)
    for query in ("a" * 204_800, ("tank " * 41_000).strip(), '"' + "flag " * 1640 + '"'):
        with pytest.raises(QueryError, match=r"^query too long: [\d,]+ characters, at most 1,000$"):
            big.search(query)
    with pytest.raises(QueryError, match="query too long: 204,800 characters, at most 1,000"):
        big.search("a" * 204_800)
    with pytest.raises(QueryError, match=r"^word too long: 101 characters \('aaaa"):
        big.search("flag " + "a" * 101)
    with pytest.raises(QueryError, match=r"^too many words: 51, at most 50$"):
        big.search(" ".join(VOCAB[:51]))


def test_queries_at_the_limits_search(big: Archive) -> None:
    assert len("k" * MAX_WORD_CHARS) == 100
    assert big.search("k" * MAX_WORD_CHARS).total == 0
    # 50 words (operators are not words) in under 1,000 characters.
    fifty = " OR ".join(VOCAB[:MAX_QUERY_WORDS])
    assert len(fifty) <= MAX_QUERY_CHARS
    expected = {i for i in range(PHOTOS) if set(vocab_words(i)) & set(VOCAB[:MAX_QUERY_WORDS])}
    assert big.search(fifty, limit=1).total == len(expected)


def test_words_the_parser_splits_count_one_by_one(big: Archive) -> None:
    # 26 words typed, 52 terms searched for.
    query = " ".join(f"{a}-{b}" for a, b in zip(VOCAB[:26], VOCAB[26:52], strict=True))
    with pytest.raises(QueryError, match=r"too many words: the query makes 52 search terms"):
        big.search(query)


# -- wildcards, prefixes and ranges ------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("k*", "'k*' matches more than 2,000 words"),
        ("*", "'*' matches more than 2,000 words"),
        ("k???", "'k???' matches more than 2,000 words"),
        ("*k*", "'*k*' matches more than 2,000 words"),
        ("[a to z]", "'[a to z]' matches more than 2,000 words"),
        ("cbb kb* kc* kd* kf* kg* kk* km* kn* kp* kr* kt* kv*", "the wildcards 'kb*', 'kc*'"),
    ],
)
def test_a_wildcard_storm_is_refused_quickly(big: Archive, query: str, named: str) -> None:
    started = time.perf_counter()
    with pytest.raises(QueryError, match="be more specific") as refused:
        big.search(query)
    assert named in str(refused.value)
    # Only the lexicon is read, and only up to one term past the limit.
    assert time.perf_counter() - started < 2.0
    assert not isinstance(refused.value, QueryTimeoutError)


def test_wildcards_within_the_limit_find_exactly_their_photos(big: Archive) -> None:
    def photos(query: str) -> set[str]:
        return {r.record.original_filename for r in big.search(query, limit=PHOTOS).results}

    def expected(match: Any) -> set[str]:
        return {f"p{i}.jpg" for i in range(PHOTOS) if any(match(w) for w in vocab_words(i))}

    assert len([w for w in VOCAB if w.startswith("kb")]) < MAX_EXPANSIONS
    assert photos("kb*") == expected(lambda w: w.startswith("kb"))
    assert photos("k?bz") == expected(lambda w: w[2:] == "bz")
    assert photos("kbb* OR kzz*") == expected(lambda w: w.startswith(("kbb", "kzz")))
    assert photos("kb* NOT kbb*") == expected(lambda w: w.startswith("kb")) - expected(
        lambda w: w.startswith("kbb")
    )
    assert photos("credit:reu*") == {f"p{i}.jpg" for i in range(PHOTOS) if i % 2}


# -- the time budget ---------------------------------------------------------------------------


def test_a_spent_budget_stops_any_search(big: Archive, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(QueryTimeoutError, match="took longer than 0 s and was stopped"):
        big.search("cbb", seconds=0)
    assert big.search("cbb", limit=1).total == PHOTOS
    # The archive's setting is the default budget.
    monkeypatch.setattr(big, "settings", replace(big.settings, query_seconds=0))
    with pytest.raises(QueryTimeoutError):
        big.search("cbb")


@pytest.mark.parametrize("query", [SLOW_QUERY, SLOW_PHRASE])
def test_a_slow_query_is_stopped_within_its_budget(
    slow: Archive, query: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Scored in full: a query matching most photos is otherwise listed newest first, which
    # reads its postings without scoring and is quick.
    monkeypatch.setattr("photoarchive.search.whoosh_engine.BROAD_SHARE", 10.0)
    started = time.perf_counter()
    unbounded = slow.search(query, limit=1, seconds=600)
    took = time.perf_counter() - started
    assert unbounded.total == (SLOW_PHOTOS if query == SLOW_QUERY else 0)
    budget = 0.3
    assert took > 2 * budget, f"the slow query took only {took:.2f} s: nothing to stop"
    started = time.perf_counter()
    with pytest.raises(QueryTimeoutError, match=r"took longer than 0\.3 s"):
        slow.search(query, limit=1, seconds=budget)
    stopped = time.perf_counter() - started
    assert budget <= stopped < budget + 1.0, stopped


def test_the_postings_helpers_keep_to_the_budget(slow: Archive) -> None:
    reader_terms = [("text", w.encode()) for w in COMMON]
    with slow.index._searcher() as searcher:
        reader = searcher.reader()
        assert len(docs_with_terms(reader, reader_terms)) == SLOW_PHOTOS
        with time_budget(Deadline.after(0)), pytest.raises(QueryTimeoutError):
            docs_with_terms(reader, reader_terms)
    # A date filter and a date range are read through them.
    from datetime import datetime

    month = SearchFilters(date_from=datetime(2022, 9, 1), date_to=datetime(2022, 9, 30))
    assert slow.search("cbb", limit=1, filters=month).total == SLOW_PHOTOS
    with pytest.raises(QueryTimeoutError):
        slow.index.search("cbb", filters=month, deadline=Deadline.after(0))
    with pytest.raises(QueryTimeoutError):
        slow.index.search("date:[2022-09-01 to 2022-09-30]", deadline=Deadline.after(0))


def test_the_cli_reports_limits_and_timeouts_on_one_line(slow: Archive) -> None:
    assert one_error_line(run_cli(slow, "search", "a" * 204_800)) == (
        "Error: query too long: 204,800 characters, at most 1,000"
    )
    assert one_error_line(run_cli(slow, "search", "k" * 150)).startswith(
        "Error: word too long: 150 characters"
    )
    assert one_error_line(run_cli(slow, "search", " ".join(VOCAB[:60]))) == (
        "Error: too many words: 60, at most 50"
    )
    assert "be more specific" in one_error_line(run_cli(slow, "search", "k*", "--json"))
    line = one_error_line(run_cli(slow, "search", SLOW_PHRASE, "--query-seconds", "0.2"))
    assert line.startswith("Error: the search took longer than 0.2 s and was stopped")
    assert "narrow it" in line


def test_the_cli_budget_comes_from_archive_toml(slow: Archive) -> None:
    settings = slow.root / "archive.toml"
    before = settings.read_text()
    assert "query_seconds = 10" in before  # init writes the default
    try:
        settings.write_text(before.replace("query_seconds = 10", "query_seconds = 1"))
        started = time.perf_counter()
        line = one_error_line(run_cli(slow, "search", SLOW_PHRASE))
        assert line.startswith("Error: the search took longer than 1 s and was stopped")
        assert time.perf_counter() - started < 1 + 2.0
    finally:
        settings.write_text(before)


# -- paging ------------------------------------------------------------------------------------


def test_paging_past_the_end_is_empty_with_the_true_total(big: Archive) -> None:
    query = "kb*"
    total = big.search(query, limit=1).total
    assert 0 < total < 500
    pages = []
    page = 1
    while True:  # as a script pages: until a page comes back empty
        found = big.search(query, limit=100, page=page)
        assert found.total == total
        if not found.results:
            break
        pages.append([r.record.sha256 for r in found.results])
        page += 1
        assert page < 50, "paging never ended"
    assert [len(p) for p in pages] == [100] * (total // 100) + [total % 100]
    assert len({sha for p in pages for sha in p}) == total  # no page repeats another
    assert big.search(query, limit=100, page=10**12).results == []
    # The same through the verdict filter, which judges every hit from the catalog.
    cleared = big.search(query, limit=100, page=99, verdicts=["cleared"])
    assert cleared.results == [] and cleared.total > 0


def test_cli_paging_past_the_end(big: Archive) -> None:
    total = big.search("kb*", limit=1).total
    past = run_cli(big, "search", "kb*", "--page", "99", "--json")
    assert past.exit_code == 0 and past.stdout.strip() == "[]" and json.loads(past.stdout) == []
    last_page = -(-total // 20)
    last = run_cli(big, "search", "kb*", "--page", str(last_page), "--json")
    assert len(json.loads(last.stdout)) == total - 20 * (last_page - 1)
    beyond = run_cli(big, "search", "kb*", "--page", str(last_page + 1), "--json")
    assert json.loads(beyond.stdout) == []
    table = run_cli(big, "search", "kb*", "--page", "999")
    assert table.exit_code == 0 and f"on page 999; {total} in all" in table.stderr


# -- the property ------------------------------------------------------------------------------

FIELDS = [*SEARCH_FIELDS, *(a for names in FIELD_ALIASES.values() for a in names), "date", "x"]
ATOMS = st.one_of(
    st.sampled_from(VOCAB[:40] + COMMON[:5] + ["tank", "the", "a", "Reuters", "AFP"]),
    st.text(min_size=1, max_size=12),
    st.sampled_from(
        [
            *("AND", "OR", "NOT", "ANDNOT", "ANDMAYBE", "(", ")", "[", "]", "{", "}", '"', "'"),
            *("*", "?", "^2", "~", "~2", "+", "-", ":", "to", "TO", "<", ">", "=", "\\", "/"),
            *("2022-09", "2022-09-11", "[2022-09-01 to 2022-09-30]", ">2022-09-10", "*:*"),
            *("é", "ß", "Київ", "東京", "🙂", "\u202e", "\x00", "\t", "\n"),
        ]
    ),
)


@st.composite
def queries(draw: st.DrawFn) -> str:
    """A query from a grammar of words, fields, quotes, brackets, operators, wildcards,
    dates and unicode."""
    parts = []
    for _ in range(draw(st.integers(1, 10))):
        atom = draw(ATOMS)
        shape = draw(st.sampled_from(["plain", "field", "prefix", "suffix", "phrase", "group"]))
        if shape == "field":
            atom = f"{draw(st.sampled_from(FIELDS))}:{atom}"
        elif shape == "prefix":
            atom += "*"
        elif shape == "suffix":
            atom = "*" + atom
        elif shape == "phrase":
            atom = f'"{atom} {draw(ATOMS)}"'
        elif shape == "group":
            atom = f"({atom} {draw(st.sampled_from(['OR', 'AND', 'NOT', '']))} {draw(ATOMS)})"
        parts.append(atom)
    return draw(st.sampled_from([" ", "", "  "])).join(parts)


@settings(
    max_examples=EXAMPLES,
    derandomize=EXAMPLES < 1000,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(query=queries(), page=st.integers(1, 3))
# Found by the long run: a quoted date is read by Whoosh only while searching.
@example(query='kbbb kbbb kbbb date_created:" "kbbb kbbb"', page=1)
@example(query='date:"x" OR format:"a b" OR credit:"reu*"', page=1)
@example(query="(" * 300 + "kbbb" + ")" * 300, page=1)
@example(query="NOT NOT NOT kbbb ANDMAYBE", page=2)
@example(query="0 (0 OR ^0)", page=1)
def test_any_query_searches_or_is_refused_with_a_query_error(
    big: Archive, query: str, page: int
) -> None:
    try:
        found = big.search(query, limit=7, page=page)
    except QueryError as exc:
        assert str(exc)
        return
    assert len(found.results) <= 7 and found.total >= len(found.results)


@pytest.mark.parametrize("query", ["cbb", "kbb*", '"cbb cbc"', "cbb NOT kbb*", "credit:afp cbb"])
def test_agency_counts_are_the_matches_per_agency(big: Archive, query: str) -> None:
    from collections import Counter

    page = big.search(query, limit=5, count_agencies=True)
    every = big.search(query, limit=10_000)
    assert page.total == every.total
    assert page.agency_counts == dict(Counter(r.record.agency for r in every.results))
    only_afp = big.search(query, limit=5, count_agencies=True, filters=SearchFilters(agency="AFP"))
    assert set(only_afp.agency_counts) <= {"AFP"}
    assert only_afp.agency_counts.get("AFP", 0) == page.agency_counts.get("AFP", 0)
