"""Near-duplicates: the same frame resized or recompressed by another feed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from photoarchive.errors import PhotoArchiveError
from photoarchive.fingerprints import hash_distance

if TYPE_CHECKING:
    from photoarchive.archive import Archive

#: Differing bits (of 64) up to which two difference hashes are taken for the same frame.
DEFAULT_DISTANCE = 8


def similar_photos(
    archive: Archive, id_or_prefix: str, max_distance: int = DEFAULT_DISTANCE
) -> list[tuple[str, int]]:
    """Return (sha256, distance) of photos that look like this one, nearest first."""
    sha = archive.resolve(id_or_prefix)
    mine = archive.catalog.get(sha).dhash
    if mine is None:
        raise PhotoArchiveError(
            f"photo {sha[:12]} has no fingerprint (ingested before they "
            "were taken); ingest its file again"
        )
    found = [
        (other, hash_distance(mine, dhash))
        for other, dhash in archive.catalog.dhashes()
        if other != sha
    ]
    return sorted(((s, d) for s, d in found if d <= max_distance), key=lambda x: (x[1], x[0]))


def duplicate_groups(archive: Archive, max_distance: int = DEFAULT_DISTANCE) -> list[list[str]]:
    """Return groups (two or more sha256) of photos that look like the same frame.

    Compares every pair: fine for a desk's archive of tens of thousands of photos.
    """
    hashes = archive.catalog.dhashes()
    values = [int(h, 16) for _, h in hashes]
    parent = list(range(len(hashes)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(values):
        for j in range(i + 1, len(values)):
            if (a ^ values[j]).bit_count() <= max_distance:
                parent[root(i)] = root(j)
    groups: dict[int, list[str]] = {}
    for i, (sha, _) in enumerate(hashes):
        groups.setdefault(root(i), []).append(sha)
    return sorted((sorted(g) for g in groups.values() if len(g) > 1), key=lambda g: g[0])
