"""What a word typed finds: its forms in every language, its other spellings, its
equivalents in the desk's thesaurus, and near misses when asked for (`word~`)."""

from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from photoarchive.search.analysis import SPELLING_FIELD, WORD, QueryWord, analyse, query_word
from photoarchive.search.tree import DEFAULT_FIELD, Node, Or, Pattern, Phrase, Term, boosted

if TYPE_CHECKING:
    from photoarchive.search.thesaurus import Thesaurus

#: Fields of running text, whose words are found by their forms in every language and by
#: the thesaurus.
RUNNING_TEXT = frozenset({"text", "headline", "keywords", "byline", "event"})
#: Fields of names, found by the thesaurus too.
NAME_FIELDS = frozenset({"credit", "agency", "source", "city", "country", "person", "organisation"})
#: The score of a photo found only by another spelling, form or equivalent of a word, or
#: by a mistyped word's near misses, against one found by the word itself.
VARIANT_BOOST = 0.5
FUZZY_BOOST = 0.3
#: Phrases made of one phrase typed, with each word's other base forms.
MAX_PHRASE_FORMS = 16


class WordFinder:
    """Builds what the words of a query find, counting the search terms typed."""

    def __init__(self, thesaurus: Thesaurus | None) -> None:
        self.thesaurus = thesaurus
        #: Search terms the words typed make (a phrase counts its words).
        self.made = 0

    def running_word(self, name: str, word: str) -> Node | None:
        """Return what a word of running text finds: its base forms in the field, its other
        forms and spellings in `spelling` (for `text`), the thesaurus's equivalents."""
        forms = query_word(word)
        if forms is None:
            return None
        found = _forms_found(name, forms, 1.0)
        if self.thesaurus is not None:
            from photoarchive.search.thesaurus import lookup_keys

            keys = set(forms.terms) | set(forms.spellings) | lookup_keys(word)
            for other in self.thesaurus.equivalents(keys):
                found += self._equivalent(name, other, word)
        return any_of(found)

    def _equivalent(self, name: str, term: str, typed: str) -> list[Node]:
        """Return what a thesaurus term equivalent to the word `typed` finds."""
        words = WORD.findall(term)
        if len(words) > 1:
            phrase = self.phrase(name, term, VARIANT_BOOST, equivalents=False)
            return [] if phrase is None else [phrase]
        if not words or fold_lower(words[0]) == fold_lower(typed):
            return []
        forms = query_word(words[0], base_form=True)
        if forms is None:
            return []
        return _forms_found(name, forms, VARIANT_BOOST)

    def name_word(self, name: str, term: str) -> Node:
        """Return what a word of a name field finds: itself and its equivalents."""
        found: list[Node] = [Term(name, term)]
        if self.thesaurus is not None and name in NAME_FIELDS:
            from photoarchive.search.thesaurus import lookup_keys

            for other in self.thesaurus.equivalents(lookup_keys(term)):
                terms = analyse(name, other)
                if len(terms) == 1 and terms[0] != term:
                    found.append(Term(name, terms[0], VARIANT_BOOST))
                elif len(terms) > 1:
                    found.append(Phrase(name, tuple(terms), VARIANT_BOOST))
        return any_of(found)

    def phrase(self, name: str, text: str, boost: float, equivalents: bool = True) -> Node | None:
        """Return what a phrase finds: its words side by side, each in any of its base
        forms, or (with the thesaurus) an equivalent term."""
        if name not in RUNNING_TEXT:
            terms = analyse(name, text)
            self.made += len(terms)
            if not terms:
                return None
            node: Node = Term(name, terms[0]) if len(terms) == 1 else Phrase(name, tuple(terms))
            return boosted(node, boost)
        typed = [(w, f) for w, f in ((w, query_word(w)) for w in WORD.findall(text)) if f]
        if equivalents:
            self.made += len(typed)
        if not typed:
            return None
        if len(typed) == 1:
            word, forms = typed[0]
            found = self.running_word(name, word) if equivalents else None
            return boosted(found or any_of([Term(name, t) for t in forms.terms]), boost)
        phrases: list[Node] = [
            Phrase(name, combo)
            for combo in itertools.islice(
                itertools.product(*(f.terms for _, f in typed)), MAX_PHRASE_FORMS
            )
        ]
        if equivalents and self.thesaurus is not None:
            for other in self.thesaurus.phrase_equivalents(WORD.findall(text)):
                phrases += self._equivalent(name, other, "")
        node = any_of(list(dict.fromkeys(phrases)))
        return boosted(node, boost)

    def fuzzy(self, name: str, word: str, distance: str | None, boost: float) -> Node | None:
        """Return what a mistyped word (`word~`, `word~1`) finds: the word, and terms of
        the field within one edit (words of up to four letters) or two of it."""
        forms = query_word(word)
        self.made += 1
        if forms is None:
            return None
        term = forms.terms[0]
        edits = int(distance) if distance else (1 if len(term) <= 4 else 2)
        near = Pattern(name, "fuzzy", term, boost=FUZZY_BOOST, distance=min(edits, 2))
        return boosted(any_of([Term(name, term), near]), boost)


def _forms_found(name: str, forms: QueryWord, boost: float) -> list[Node]:
    """Return the terms a word's forms are found by: its base forms in the field (scored
    by `boost`) and, for `text`, its other forms and spellings in `spelling` (half)."""
    found: list[Node] = [Term(name, t, boost) for t in forms.terms]
    if name == DEFAULT_FIELD:
        found += [Term(SPELLING_FIELD, t, VARIANT_BOOST) for t in forms.spellings]
    return found


def fold_lower(word: str) -> str:
    """Return a word folded and lowercased, as thesaurus terms are compared."""
    from photoarchive.search.folding import fold

    return fold(word).lower()


def any_of(nodes: list[Node]) -> Node:
    """Return the one node, or an Or of several (each found once)."""
    unique = list(dict.fromkeys(nodes))
    return unique[0] if len(unique) == 1 else Or(tuple(unique), best=True)
