"""Which picture is which: when a new file is a version of a picture, and what a kill names.

The rules (README, "Which picture is which"):

- A new file is a version of an earlier picture only if it comes from the same supplier
  (the same agency after credit normalisation) and either
  (a) it is a refile, correction, repeat or update notice (or IIM Action Advised 02,
      replace) carrying the picture's transmission reference, or
  (b) its pixels equal the earlier version's and the transmission reference is the same
      (or absent on both).
- Different pixels under a shared transmission reference (a Job Id that names an
  assignment) with no notice are different pictures.
- The same pixels from different suppliers are different pictures: copies of one frame.
- A kill notice is never a version: it is a notice of its own, and kills the pictures of
  its supplier that it names by an agency picture id in its text, else by its
  transmission reference (only the one with its pixels, if one has them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from photoarchive.credits import parse_credit
from photoarchive.notices import VERSION_NOTICES

#: How many of 64 fingerprint bits may differ for a refile to be "the same frame" when
#: several pictures share its transmission reference (a recompressed or recropped refile).
REFILE_DISTANCE = 10


@dataclass(frozen=True)
class Sighting:
    """A photo as the identity rules see it."""

    sha256: str
    #: The picture it belongs to (None for a photo not yet placed).
    picture_id: str | None
    #: The supplier: the agency its credit names, case-folded; "" when it has no credit.
    supplier: str
    #: Its transmission reference as compared (notices.reference_key), or None.
    reference: str | None
    pixel_digest: str | None
    dhash: str | None
    #: The notice it carries: "refile", "correction", ..., "kill"; None for a photo.
    notice: str | None = None


@dataclass(frozen=True)
class Placement:
    """Where a new photo goes: an earlier picture (as a new version) or a picture of its own."""

    picture_id: str | None
    rule: str
    #: Something the desk should know (a refile that matched no single picture).
    warning: str | None = None


def supplier_key(agency: str | None) -> str:
    """Return an agency's name as compared: case-folded, spaces collapsed; "" for none."""
    return " ".join((agency or "").split()).casefold()


def supplier_of(credit: str | None, aliases: Mapping[str, str] | None) -> tuple[str | None, str]:
    """Return the agency a credit names and its supplier as the rules compare it: the
    agency and, for "X via Y", the distributor ("afp via getty images"); "" for no credit.

    The same agency's picture sent by itself and by a distributor are different supplies:
    each may be licensed differently (rights.toml's rights_follow).
    """
    line = parse_credit(credit, aliases)
    if line is None:
        return None, ""
    key = supplier_key(line.agency)
    if line.distributor:
        key += " via " + supplier_key(line.distributor)
    return line.agency, key


def place(new: Sighting, earlier: Iterable[Sighting]) -> Placement:
    """Return the picture `new` is a version of under the rules, or a new picture.

    `earlier` holds the catalogued photos sharing its transmission reference or pixels.
    """
    if new.notice == "kill":
        return Placement(None, "kill notice: a notice of its own, never a version")
    own = [
        e
        for e in earlier
        if e.supplier == new.supplier and e.notice != "kill" and e.picture_id is not None
    ]
    same_pixels = [
        e
        for e in own
        if new.pixel_digest and e.pixel_digest == new.pixel_digest and e.reference == new.reference
    ]
    if same_pixels:
        return Placement(same_pixels[0].picture_id, "same supplier, pixels and reference")
    if new.notice in VERSION_NOTICES and new.reference:
        named = [e for e in own if e.reference == new.reference]
        pictures = _pictures(named)
        if len(pictures) == 1:
            return Placement(pictures[0], f"{new.notice} of the picture with its reference")
        if pictures:
            nearest = _nearest(new, named)
            if nearest is not None:
                return Placement(nearest, f"{new.notice} of the frame it shows")
            return Placement(
                None,
                "new picture",
                f"{new.notice} names reference {new.reference!r}, shared by "
                f"{len(pictures)} pictures, and shows none of them: filed as a new picture",
            )
    return Placement(None, "new picture")


def kill_targets(
    notice: Sighting, by_id: Sequence[Sighting], by_reference: Sequence[Sighting]
) -> list[str]:
    """Return the pictures a kill notice kills.

    `by_id` are photos an agency picture id in the notice's text names; `by_reference`
    those sharing its transmission reference. Only the notice's supplier's pictures are
    killed (a notice with no credit may kill any supplier's: a wrong kill is the safe
    mistake, undone with `unkill`). Ids are precise; a reference may name an assignment,
    so of its pictures only the one with the notice's pixels is killed if there is one,
    else all of them.
    """
    mine = [
        s
        for s in (*by_id, *by_reference)
        if s.notice != "kill" and (not notice.supplier or s.supplier == notice.supplier)
    ]
    named = [s for s in mine if s in by_id]
    if named:
        return _pictures(named)
    shared = [s for s in mine if s in by_reference]
    exact = [s for s in shared if notice.pixel_digest and s.pixel_digest == notice.pixel_digest]
    return _pictures(exact or shared)


def _pictures(sightings: Iterable[Sighting]) -> list[str]:
    return list(dict.fromkeys(s.picture_id for s in sightings if s.picture_id is not None))


def _nearest(new: Sighting, named: Sequence[Sighting]) -> str | None:
    """Return the one picture whose fingerprint is nearest the new photo's, within
    REFILE_DISTANCE and nearer than any other picture's; None if there is no such one."""
    if not new.dhash:
        return None
    best: dict[str, int] = {}
    for e in named:
        if e.dhash and e.picture_id:
            d = (int(new.dhash, 16) ^ int(e.dhash, 16)).bit_count()
            best[e.picture_id] = min(d, best.get(e.picture_id, 65))
    ranked = sorted(best.items(), key=lambda item: item[1])
    if not ranked or ranked[0][1] > REFILE_DISTANCE:
        return None
    if len(ranked) > 1 and ranked[1][1] == ranked[0][1]:
        return None
    return ranked[0][0]
