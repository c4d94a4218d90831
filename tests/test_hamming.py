"""Near matches among fingerprints: the same answers as comparing every pair, at any size."""

from __future__ import annotations

import random
from collections.abc import Iterable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from photoarchive import hamming


def reference_groups(values: list[int], max_distance: int) -> list[list[int]]:
    """Every pair compared in plain Python."""
    count = len(values)
    pairs = [
        i * count + j
        for i, a in enumerate(values)
        for j in range(i + 1, count)
        if (a ^ values[j]).bit_count() <= max_distance
    ]
    return groups_from_pairs(count, pairs)


def near(rng: random.Random, value: int, bits: int) -> int:
    for b in rng.sample(range(64), bits):
        value ^= 1 << b
    return value


# Fingerprints that share pieces and lie near one another, as frames of one scene do.
fingerprints = st.lists(
    st.one_of(
        st.integers(0, 2**64 - 1),
        st.sampled_from([0, 2**64 - 1, 0x00FF_00FF_00FF_00FF]),
        st.builds(lambda b: 0x1234_5678_9ABC_DEF0 ^ (1 << b), st.integers(0, 63)),
        st.builds(lambda a, b: (1 << a) | (1 << b), st.integers(0, 63), st.integers(0, 63)),
    ),
    max_size=150,
)


@settings(max_examples=150, deadline=None)
@given(values=fingerprints, max_distance=st.integers(0, 10))
def test_groups_match_comparing_every_pair(values: list[int], max_distance: int) -> None:
    # From 65 fingerprints on, distances under 4 take the multi-index path; larger ones scan.
    assert sorted(hamming.groups(values, max_distance)) == reference_groups(values, max_distance)


@settings(max_examples=100, deadline=None)
@given(values=fingerprints, target=st.integers(0, 2**64 - 1), max_distance=st.integers(0, 64))
def test_within_matches_comparing_each(values: list[int], target: int, max_distance: int) -> None:
    expected = [
        (i, (v ^ target).bit_count())
        for i, v in enumerate(values)
        if (v ^ target).bit_count() <= max_distance
    ]
    assert hamming.within(values, target, max_distance) == expected


def groups_from_pairs(count: int, pairs: Iterable[int]) -> list[list[int]]:
    """Groups linked by pairs (given as i * count + j), with a plain union-find."""
    parent = list(range(count))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for key in pairs:
        parent[root(key // count)] = root(key % count)
    found: dict[int, list[int]] = {}
    for i in range(count):
        found.setdefault(root(i), []).append(i)
    return sorted(g for g in found.values() if len(g) > 1)


@pytest.mark.parametrize("max_distance", [0, 3, 5, 8, 12])
def test_thousands_group_as_comparing_every_pair_does(
    max_distance: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 12,000 fingerprints (the multi-index path up to distance 8, the full scan at 12):
    # near copies of some, a cluster sharing pieces, each value twice; candidates expanded in
    # small slices, so that one piece value spans several, and pairs folded into the groups
    # a thousand at a time.
    rng = random.Random(max_distance)
    values = [rng.getrandbits(64) for _ in range(10_000)]
    values += [near(rng, values[k], rng.randint(0, 10)) for k in range(0, 10_000, 10)]
    values += [near(rng, 0xFFFF_0000_FFFF_0000, rng.randint(0, 6)) for _ in range(300)]
    values += values[:50]
    monkeypatch.setattr(hamming, "SLICE", 4096)
    monkeypatch.setattr(hamming, "LINK_BATCH", 1000)
    every_pair = np.concatenate(list(hamming._scan_all(hamming._words(values), max_distance)))
    expected = groups_from_pairs(len(values), every_pair.tolist())
    assert len(expected) > (100 if max_distance else 40)
    assert sorted(hamming.groups(values, max_distance)) == expected


def test_a_long_chain_is_one_group() -> None:
    # Each fingerprint one bit from the next: linked only through all the others.
    chain = [(1 << (k + 1)) - 1 for k in range(64)]
    assert hamming.groups([*chain, 0], 1) == [list(range(65))]
    assert hamming.groups(list(reversed(chain)), 1) == [list(range(64))]


def test_equal_fingerprints_group_at_distance_zero() -> None:
    assert hamming.groups([5, 7, 5, 9, 5], 0) == [[0, 2, 4]]
    assert hamming.groups([], 8) == [] and hamming.groups([1], 8) == []
    assert hamming.within([], 1, 8) == []
