"""The query tree pruned of terms the index does not hold: the same photos, fewer look-ups."""

from __future__ import annotations

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
