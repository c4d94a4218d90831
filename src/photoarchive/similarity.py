"""Near-duplicates: the same frame resized or recompressed by another feed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from photoarchive.errors import PhotoArchiveError

if TYPE_CHECKING:
    from photoarchive.archive import Archive

#: Differing bits (of 64) up to which two difference hashes are taken for the same frame.
DEFAULT_DISTANCE = 8


def similar_photos(
    archive: Archive, id_or_prefix: str, max_distance: int = DEFAULT_DISTANCE
) -> list[tuple[str, int]]:
    """Return (sha256, distance) of photos that look like this one, nearest first."""
    from photoarchive.hamming import within

    sha = archive.resolve(id_or_prefix)
    mine = archive.catalog.get(sha).dhash
    if mine is None:
        raise PhotoArchiveError(
            f"photo {sha[:12]} has no fingerprint (ingested before they "
            "were taken); ingest its file again"
        )
    hashes = archive.catalog.dhashes()
    found = [
        (hashes[i][0], distance)
        for i, distance in within([int(h, 16) for _, h in hashes], int(mine, 16), max_distance)
        if hashes[i][0] != sha
    ]
    return sorted(found, key=lambda x: (x[1], x[0]))


def duplicate_groups(archive: Archive, max_distance: int = DEFAULT_DISTANCE) -> list[list[str]]:
    """Return groups (two or more sha256) of photos that look like the same frame.

    Photos are grouped when their fingerprints differ in at most `max_distance` bits,
    directly or through others in the group.
    """
    from photoarchive.hamming import groups

    hashes = archive.catalog.dhashes()
    found = groups([int(h, 16) for _, h in hashes], max_distance)
    return sorted((sorted(hashes[i][0] for i in group) for group in found), key=lambda g: g[0])
