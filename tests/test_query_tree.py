"""The query tree pruned of terms the index does not hold: the same photos, fewer look-ups."""

from __future__ import annotations

from typing import Any

import pytest

from photoarchive.search.tree import And, AndMaybe, Not, Or, Phrase, Term, pruned

HELD = {("text", "kyiv"), ("spelling", "kiv"), ("text", "river")}


def holds(field: str, text: str) -> bool:
    return (field, text) in HELD


def test_a_words_alternatives_keep_those_held() -> None:
    word = Or(
        (Term("text", "kiev"), Term("spelling", "kiev", 0.5), Term("text", "kyiv", 0.5)), best=True
    )
    assert pruned(word, holds) == Term("text", "kyiv", 0.5)
    both = Or((Term("text", "kyiv"), Term("spelling", "kiv", 0.5), Term("text", "x")), best=True)
    assert pruned(both, holds) == Or(
        (Term("text", "kyiv"), Term("spelling", "kiv", 0.5)), best=True
    )
    assert pruned(Or((Term("text", "a"), Term("text", "b")), best=True), holds) is None


def test_and_or_not_keep_their_meaning() -> None:
    river, nothing = Term("text", "river"), Term("text", "nothing")
    assert pruned(And((river, nothing)), holds) is None
    assert pruned(And((river, Not(nothing))), holds) == And((river, Not(nothing)))
    assert pruned(Or((river, nothing)), holds) == Or((river,))
    assert pruned(AndMaybe(river, nothing), holds) == river
    assert pruned(AndMaybe(nothing, river), holds) is None
    phrase = Phrase("text", ("no", "such"))
    assert pruned(phrase, holds) == phrase  # the engine reads phrases itself


def test_a_words_alternatives_score_as_whoosh_scores_each(tmp_path: Any, demo_photos: Any) -> None:
    """Whoosh's BM25F for each term, the best per photo: the numpy scoring of a word with
    its spellings gives exactly what Whoosh's own matchers give."""
    from whoosh import query as q

    from photoarchive import init_archive
    from photoarchive.search.whoosh_postings import best_scores

    archive, _ = init_archive(tmp_path / "archive", search_engine="whoosh")
    archive.ingest(sorted(demo_photos.glob("*.jpg")))
    sets = [
        [("text", "russian", 1.0)],
        [("text", "tank", 1.0), ("spelling", "tank", 0.5), ("text", "turret", 0.5)],
        [("text", "ukrainian", 1.0), ("spelling", "izium", 0.5), ("text", "flag", 2.0)],
    ]
    with archive.index._searcher() as searcher:
        for terms in sets:
            docs, scores = best_scores(searcher, terms)
            expected: dict[int, float] = {}
            for field, text, boost in terms:
                for hit in searcher.search(q.Term(field, text, boost=boost), limit=None):
                    expected[hit.docnum] = max(expected.get(hit.docnum, 0.0), hit.score)
            assert expected and dict(zip(docs.tolist(), scores.tolist(), strict=True)) == (
                pytest.approx(expected)
            )
    archive.close()


def test_decoded_postings_kept_between_searches_follow_the_index(
    tmp_path: Any, demo_photos: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Postings kept decoded (every term here, however short) give the same photos and
    scores as decoding them anew, and follow removals and new photos: a segment's postings
    never change, its deletions and new segments are read as they come."""
    from photoarchive import init_archive
    from photoarchive.search import whoosh_postings

    kept = whoosh_postings.DecodedPostings(budget=1 << 20, smallest=1)
    monkeypatch.setattr(whoosh_postings, "DECODED", kept)
    photos = sorted(demo_photos.glob("*.jpg"))
    archive, _ = init_archive(tmp_path / "archive", search_engine="whoosh")
    archive.ingest(photos[:5])

    def found(query: str, **options: Any) -> list[tuple[str, float]]:
        hits = archive.search(query, **options).results
        return [(hit.record.sha256, round(hit.score or 0, 6)) for hit in hits]

    queries = ["ukraine", "tank OR turret", "kharkiv", "ukraine -tank"]
    first = {query: found(query, limit=None) for query in queries}
    assert kept._entries, "nothing was kept"
    again = {query: found(query, limit=None) for query in queries}
    assert again == first
    kept.clear()
    assert {query: found(query, limit=None) for query in queries} == first

    # A photo taken out of the index (its segment's postings unchanged, its deletion new).
    gone = first["ukraine"][0][0]
    archive.index.add([], delete=[gone])
    assert gone not in {sha for sha, _ in found("ukraine", limit=None)}
    # New photos in a new segment.
    archive.ingest(photos[5:])
    after = found("ukraine", limit=None)
    kept.clear()
    assert found("ukraine", limit=None) == after
    assert len(after) > len(first["ukraine"]) - 1
    archive.close()
