"""Near matches among 64-bit fingerprints, found without comparing every pair."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import combinations
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    Ints = npt.NDArray[np.int64]
    Words = npt.NDArray[np.uint64]

# Multi-index hashing: a fingerprint is cut into CHUNKS pieces of CHUNK_BITS bits. Two
# fingerprints at most r bits apart are at most r // CHUNKS bits apart in one piece at least
# (pigeonhole), so each is compared only with those whose piece lies that close to its own:
# 137 table look-ups per piece for r = 8, instead of one comparison with every other one.
CHUNKS = 4
CHUNK_BITS = 64 // CHUNKS
# Candidate pairs expanded at once: bounds memory when thousands of fingerprints share a piece.
SLICE = 1 << 21
# Near pairs held before they are folded into the groups found so far.
LINK_BATCH = 1 << 22
# Rows compared at once by the all-pairs scan (each against every later fingerprint).
BLOCK_CELLS = 1 << 22


def within(values: Sequence[int], target: int, max_distance: int) -> list[tuple[int, int]]:
    """Return (index, distance) of the values at most `max_distance` bits from `target`."""
    import numpy as np

    if not values:
        return []
    distances = np.bitwise_count(_words(values) ^ np.uint64(target))
    found = np.flatnonzero(distances <= max_distance)
    return [(int(i), int(distances[i])) for i in found]


def groups(values: Sequence[int], max_distance: int) -> list[list[int]]:
    """Return groups (two or more indices) of values linked by differences of at most
    `max_distance` bits, directly or through others; each group in index order."""
    import numpy as np

    if len(values) < 2:
        return []
    # Equal fingerprints (a refile, the same frame twice) are one value to compare.
    distinct, of_value = np.unique(_words(values), return_inverse=True)
    labels = _link(distinct, max_distance)[of_value.reshape(-1)]
    order = np.argsort(labels, kind="stable")
    bounds = np.flatnonzero(np.diff(labels[order])) + 1
    return [[int(i) for i in part] for part in np.split(order, bounds) if len(part) > 1]


def _words(values: Sequence[int]) -> Words:
    import numpy as np

    return np.array(values, dtype=np.uint64)


def _link(words: Words, max_distance: int) -> Ints:
    """Return for each distinct word the smallest index of the words it is linked to."""
    import numpy as np

    flips = _flips(max_distance // CHUNKS)
    n = len(words)
    # The all-pairs scan is quicker for a few thousand fingerprints, or for distances so
    # large that the pieces' neighbourhoods are bigger than the archive.
    if n * n <= 16 * CHUNKS * len(flips) * n:
        found = _scan_all(words, max_distance)
    else:
        found = _scan_pieces(words, max_distance, flips)
    labels = np.arange(n, dtype=np.int64)
    held: list[Ints] = []
    held_pairs = 0
    for pairs in found:
        held.append(pairs)
        held_pairs += len(pairs)
        # Thousands of near-identical frames give millions of pairs: fold them into the
        # labels now and then, so memory follows the number of photos, not of pairs.
        if held_pairs >= LINK_BATCH:
            labels = _fold(labels, held)
            held, held_pairs = [], 0
    return _fold(labels, held)


def _fold(labels: Ints, held: list[Ints]) -> Ints:
    """Return the labels of the components joined by `labels` and the pairs held."""
    import numpy as np

    n = len(labels)
    keys = np.concatenate([*held, np.zeros(0, dtype=np.int64)])
    # The labels so far are edges too: each word to the smallest word of its group.
    moved = np.flatnonzero(labels != np.arange(n))
    return _components(
        n, np.concatenate([keys // n, moved]), np.concatenate([keys % n, labels[moved]])
    )


def _flips(radius: int) -> Ints:
    """Return every CHUNK_BITS-bit mask with at most `radius` bits set."""
    import numpy as np

    masks = [
        sum(1 << b for b in bits)
        for r in range(min(radius, CHUNK_BITS) + 1)
        for bits in combinations(range(CHUNK_BITS), r)
    ]
    return np.array(masks, dtype=np.int64)


def _scan_all(words: Words, max_distance: int) -> Iterator[Ints]:
    import numpy as np

    n = len(words)
    rows = max(1, BLOCK_CELLS // n)
    for start in range(0, n, rows):
        block = words[start : start + rows]
        near = np.bitwise_count(block[:, None] ^ words[None, start:]) <= max_distance
        i, j = np.nonzero(near)
        later = j > i
        yield (i[later] + start).astype(np.int64) * n + (j[later] + start)


def _scan_pieces(words: Words, max_distance: int, flips: Ints) -> Iterator[Ints]:
    import numpy as np

    n = len(words)
    everyone = np.arange(n, dtype=np.int64)
    for piece in range(CHUNKS):
        shift = np.uint64(piece * CHUNK_BITS)
        own = ((words >> shift) & np.uint64((1 << CHUNK_BITS) - 1)).astype(np.int64)
        # A table of the words by this piece's value: where each value's run starts.
        by_piece = np.argsort(own, kind="stable")
        starts = np.zeros((1 << CHUNK_BITS) + 1, dtype=np.int64)
        np.cumsum(np.bincount(own, minlength=1 << CHUNK_BITS), out=starts[1:])
        for flip in flips:
            wanted = own ^ flip
            first = starts[wanted]
            count = starts[wanted + 1] - first
            ends = np.cumsum(count)
            if not ends[-1]:
                continue
            # Expand (word, candidate) pairs a slice of words at a time.
            cuts = np.searchsorted(ends, np.arange(SLICE, int(ends[-1]), SLICE), side="right")
            for lo, hi in zip([0, *cuts.tolist()], [*cuts.tolist(), n], strict=True):
                counts = count[lo:hi]
                total = int(counts.sum())
                if not total:
                    continue
                i = np.repeat(everyone[lo:hi], counts)
                offsets = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
                j = by_piece[np.repeat(first[lo:hi], counts) + offsets]
                later = j > i
                i, j = i[later], j[later]
                near = np.bitwise_count(words[i] ^ words[j]) <= max_distance
                yield i[near] * n + j[near]


def _components(n: int, left: Ints, right: Ints) -> Ints:
    """Return for each of n nodes the smallest node of its connected component."""
    import numpy as np

    labels = np.arange(n, dtype=np.int64)
    while len(left):
        # Hook each edge's larger root under the smaller, then jump pointers to the roots.
        a, b = labels[left], labels[right]
        low = np.minimum(a, b)
        hooked = labels.copy()
        np.minimum.at(hooked, a, low)
        np.minimum.at(hooked, b, low)
        while True:
            jumped = hooked[hooked]
            if np.array_equal(jumped, hooked):
                break
            hooked = jumped
        if np.array_equal(hooked, labels):
            break
        labels = hooked
    return labels
