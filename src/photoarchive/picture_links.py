"""The catalog's SQL for which picture is which: a new photo linked to its picture by the
rules of identity.py, and kills carried out (by notices, waiting ones, and the desk)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from photoarchive.record import PhotoRecord

if TYPE_CHECKING:
    from photoarchive.catalog import StoredPhoto
    from photoarchive.catalog.connection import Connection

    # The identity rules (and the notices they read) are needed when pictures are linked,
    # not by every command that opens the catalog.
    from photoarchive.identity import Sighting


def link_version(conn: Connection, photo: StoredPhoto) -> tuple[str, int, str | None]:
    """Return the picture a new photo belongs to, its version number, and a warning for
    the desk (or None), by the rules of identity.py; record the picture."""
    from photoarchive.identity import place

    rec = photo.record
    new = _sighting_of(photo)
    candidates: dict[str, _Seen] = {}
    if new.reference:
        for row in conn.execute(
            f"SELECT {_SIGHTING_COLUMNS} FROM refs r JOIN photos ph ON ph.sha256 = r.sha256 "
            "WHERE r.ref = ? AND ph.picture_id IS NOT NULL",
            (new.reference,),
        ):
            seen = _sighting_row(row)
            if seen.reference == new.reference:
                candidates[seen.sha256] = seen
    if photo.pixel_digest:
        for row in conn.execute(
            f"SELECT {_SIGHTING_COLUMNS} FROM photos ph "
            "WHERE pixel_digest = ? AND picture_id IS NOT NULL",
            (photo.pixel_digest,),
        ):
            candidates[row["sha256"]] = _sighting_row(row)
    # Newest first: where several earlier photos qualify, the latest transmission wins.
    ordered = sorted(candidates.values(), key=lambda c: c.order, reverse=True)
    placement = place(new.sighting, [c.sighting for c in ordered])
    if placement.picture_id is None:
        conn.execute(
            "INSERT INTO pictures (picture_id, current_sha256) VALUES (?, ?)",
            (rec.sha256, rec.sha256),
        )
        return rec.sha256, 1, placement.warning
    picture_id = placement.picture_id
    version = 1 + int(
        conn.execute(
            "SELECT max(version) FROM photos WHERE picture_id = ?", (picture_id,)
        ).fetchone()[0]
    )
    current_notice = conn.execute(
        "SELECT ph.notice FROM pictures p JOIN photos ph ON ph.sha256 = p.current_sha256 "
        "WHERE p.picture_id = ?",
        (picture_id,),
    ).fetchone()
    # The latest transmission is current, except that a plain copy arriving after a refile
    # or correction (files of one batch, a feed resending the original) does not undo it.
    if photo.notice is not None or current_notice is None or current_notice[0] is None:
        conn.execute(
            "UPDATE pictures SET current_sha256 = ? WHERE picture_id = ?",
            (rec.sha256, picture_id),
        )
    # Every version is indexed again: which one is current may have changed.
    conn.execute("UPDATE photos SET needs_index = 1 WHERE picture_id = ?", (picture_id,))
    return picture_id, version, placement.warning


_SIGHTING_COLUMNS = (
    "ph.sha256, ph.picture_id, ph.agency, ph.supplier, ph.transmission_reference, "
    "ph.pixel_digest, "
    "ph.dhash, ph.notice, ph.rowid AS n"
)


@dataclass(frozen=True)
class _Seen:
    """A sighting and the order its photo was catalogued in."""

    sighting: Sighting
    order: int

    @property
    def sha256(self) -> str:
        return self.sighting.sha256

    @property
    def reference(self) -> str | None:
        return self.sighting.reference


def _sighting_row(row: Any) -> _Seen:
    from photoarchive.identity import Sighting, supplier_key
    from photoarchive.notices import reference_key

    return _Seen(
        Sighting(
            sha256=row["sha256"],
            picture_id=row["picture_id"],
            supplier=(
                row["supplier"] if row["supplier"] is not None else supplier_key(row["agency"])
            ),
            reference=reference_key(row["transmission_reference"]),
            pixel_digest=row["pixel_digest"],
            dhash=row["dhash"],
            notice=row["notice"],
        ),
        int(row["n"]),
    )


def _sighting_of(photo: StoredPhoto) -> _Seen:
    from photoarchive.identity import Sighting
    from photoarchive.notices import reference_key

    rec = photo.record
    return _Seen(
        Sighting(
            sha256=rec.sha256,
            picture_id=None,
            supplier=supplier_of_photo(photo),
            reference=reference_key(rec.transmission_reference),
            pixel_digest=photo.pixel_digest,
            dhash=photo.dhash,
            notice=photo.notice,
        ),
        0,
    )


def supplier_of_photo(photo: StoredPhoto) -> str:
    """Return who supplied the photo, as the identity rules compare it."""
    from photoarchive.identity import supplier_key

    return photo.supplier if photo.supplier is not None else supplier_key(photo.record.agency)


def file_refs(conn: Connection, photo: StoredPhoto) -> list[str]:
    """Record the names a notice may use for the photo; return them."""
    from photoarchive.notices import photo_refs

    refs = photo_refs(photo.record)
    conn.executemany(
        "INSERT INTO refs (ref, sha256) VALUES (?, ?) ON CONFLICT DO NOTHING",
        [(ref, photo.record.sha256) for ref in refs],
    )
    return refs


def apply_kills(conn: Connection, photo: StoredPhoto, picture_id: str, refs: list[str]) -> None:
    """Carry out a kill notice, or the standing kills that name a newly arrived photo."""
    from photoarchive.identity import kill_targets
    from photoarchive.notices import picture_ids_in

    rec = photo.record
    supplier = supplier_of_photo(photo)
    if photo.notice == "kill":
        reason = photo.notice_reason or "killed by the sender"
        named = [
            ref
            for ref in picture_ids_in(
                [photo.notice_reason, rec.caption, rec.headline, rec.special_instructions]
            )
            if ref != reference_key_of(rec)
        ]
        by_id = _sightings_named(conn, named, rec.sha256)
        by_reference = [
            s
            for s in _sightings_named(conn, [r for r in [reference_key_of(rec)] if r], rec.sha256)
            if s.reference == reference_key_of(rec)
        ]
        notice = _sighting_of(photo).sighting
        targets = kill_targets(
            notice, [s.sighting for s in by_id], [s.sighting for s in by_reference]
        )
        for target in targets:
            kill_picture(conn, target, rec.ingested_at, reason, rec.sha256)
        # The pictures it names may arrive later: they are killed on arrival.
        standing = named or [r for r in [reference_key_of(rec)] if r]
        conn.executemany(
            "INSERT INTO standing_kills (ref, supplier, notice_sha256, at, reason) "
            "VALUES (?, ?, ?, ?, ?)",
            [(ref, supplier, rec.sha256, rec.ingested_at, reason) for ref in standing],
        )
        return
    if not refs:
        return
    marks = ", ".join("?" * len(refs))
    for row in conn.execute(
        f"SELECT notice_sha256, at, reason, supplier FROM standing_kills WHERE ref IN ({marks}) "
        "ORDER BY number",
        refs,
    ).fetchall():
        if row["supplier"] and row["supplier"] != supplier:
            continue
        undone = conn.execute(
            "SELECT 1 FROM picture_events WHERE picture_id = ? AND action = 'unkill' AND at >= ?",
            (picture_id, row["at"]),
        ).fetchone()
        if undone is None:
            kill_picture(conn, picture_id, row["at"], row["reason"], row["notice_sha256"])
            return


def reference_key_of(rec: PhotoRecord) -> str | None:
    """Return the record's transmission reference as the identity rules compare it."""
    from photoarchive.notices import reference_key

    return reference_key(rec.transmission_reference)


def _sightings_named(conn: Connection, refs: list[str], own: str) -> list[_Seen]:
    if not refs:
        return []
    marks = ", ".join("?" * len(refs))
    rows = conn.execute(
        f"SELECT DISTINCT {_SIGHTING_COLUMNS} FROM refs r JOIN photos ph ON ph.sha256 = r.sha256 "
        f"WHERE r.ref IN ({marks}) AND ph.sha256 != ? AND ph.picture_id IS NOT NULL",
        [*refs, own],
    )
    return [_sighting_row(row) for row in rows]


def kill_picture(
    conn: Connection,
    picture_id: str,
    at: str,
    reason: str,
    notice_sha256: str | None,
    by: str | None = None,
) -> bool:
    """Kill a picture (a picture killed already stays killed as it was); record the event."""
    changed = conn.execute(
        "UPDATE pictures SET killed_at = ?, kill_reason = ?, killed_by = ? "
        "WHERE picture_id = ? AND killed_at IS NULL",
        (at, reason, by or (notice_sha256 or "")[:12], picture_id),
    ).rowcount
    if not changed:
        return False
    conn.execute(
        "INSERT INTO picture_events (picture_id, at, by, action, reason, notice_sha256) "
        "VALUES (?, ?, ?, 'kill', ?, ?)",
        (picture_id, at, by or f"notice {(notice_sha256 or '')[:12]}", reason, notice_sha256),
    )
    conn.execute("UPDATE photos SET needs_index = 1 WHERE picture_id = ?", (picture_id,))
    return True
