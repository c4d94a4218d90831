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
