"""The catalog's contract, run against each implementation: the SQLite file and a schema on
the PostgreSQL test server answer every question alike, and roll back alike."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from photoarchive.catalog import Catalog, CatalogLocation, ServerCatalog, StoredPhoto
from photoarchive.errors import (
    AmbiguousIdError,
    CatalogMissingError,
    PhotoArchiveError,
    PhotoNotFoundError,
)
from photoarchive.record import PhotoRecord
from tests.postgres import fresh_database, postgres_url


@pytest.fixture(params=["sqlite", "postgresql"])
def location(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CatalogLocation]:
    """Where a new catalog is made: a file, or a schema in a fresh database."""
    if request.param == "sqlite":
        yield tmp_path / "catalog.sqlite"
        return
    with fresh_database(postgres_url()) as url:
        yield ServerCatalog(url, "archive")


@pytest.fixture
def catalog(location: CatalogLocation) -> Iterator[Catalog]:
    made = Catalog(location, create=True)
    yield made
    made.close()


def photo(n: int, **fields: object) -> StoredPhoto:
    sha = f"{n:02x}" * 32
    record = PhotoRecord(
        id=sha[:12],
        sha256=sha,
        original_filename=f"p{n}.jpg",
        format="JPEG",
        width=4000 + n,
        height=3000,
        file_size=5_000_000_000 + n,  # beyond 32 bits: an original of several GB
        caption=f"Caption {n} — Київ, «quoted»",
        credit="REUTERS/Someone" if n % 2 else "AFP",
        agency="Reuters" if n % 2 else "AFP",
        keywords=["war", "Kharkiv"],
        gps_lat=50.123456789012,
        date_created="2022-09-11T10:00:00+03:00",
        ingested_at=f"2022-09-{n % 28 + 1:02d}T10:00:00+00:00",
    )
    return StoredPhoto(replace(record, **fields), "jpg", ["a warning"], pixel_digest=f"px{n}")  # type: ignore[arg-type]


SOURCES = {"caption": {"xmp": "Caption", "iptc": "Caption"}, "keywords": {"xmp": ["a", "b"]}}


def test_a_photo_reads_back_exactly(catalog: Catalog) -> None:
    stored = photo(1)
    assert catalog.add(stored, SOURCES)
    got = catalog.get(stored.record.sha256)
    assert got.record == stored.record
    assert (got.ext, got.warnings, got.pixel_digest) == ("jpg", ["a warning"], "px1")
    assert got.picture_id == stored.record.sha256 and got.version == 1
    assert catalog.sources(stored.record.sha256) == SOURCES
    assert catalog.sources_many([stored.record.sha256]) == {stored.record.sha256: SOURCES}
    assert catalog.has(stored.record.sha256)
    assert not catalog.add(stored, SOURCES)  # already there
    assert catalog.count() == 1 and catalog.total_bytes() == stored.record.file_size


def test_ids_resolve_by_prefix(catalog: Catalog) -> None:
    catalog.add_many([(photo(n), {}) for n in (0x11, 0x12, 0x21)])
    assert catalog.resolve("2121") == "21" * 32
    with pytest.raises(AmbiguousIdError):
        catalog.resolve("1")
    with pytest.raises(PhotoNotFoundError):
        catalog.resolve("ff")
    with pytest.raises(PhotoNotFoundError):
        catalog.resolve("not hex")


def test_listing_counting_and_paging(catalog: Catalog) -> None:
    added = catalog.add_many([(photo(n), {}) for n in range(1, 31)])
    assert len(added) == 30
    assert catalog.add_many([(photo(1), {}), (photo(31), {})]) == {"1f" * 32}
    everything = [p.record.sha256 for p in catalog.iter_photos(batch=7)]
    assert everything == sorted(everything) and len(everything) == 31
    between = catalog.photos_between("05" * 32, "0a" * 32)
    assert [p.record.sha256 for p in between] == [f"{n:02x}" * 32 for n in range(5, 10)]
    latest = catalog.latest(5, offset=2)
    assert len(latest) == 5
    by_agency = {v: n for v, n, _ in catalog.counts_by("agency")}
    assert by_agency == {"Reuters": 16, "AFP": 15}
    assert len(catalog.get_many(everything[:3])) == 3


def test_index_flags(catalog: Catalog) -> None:
    catalog.add_many([(photo(n), {}) for n in range(1, 4)])
    assert sorted(catalog.pending_index()) == sorted(catalog.all_hashes())
    catalog.mark_indexed(catalog.all_hashes())
    assert catalog.pending_index() == []
    catalog.mark_pending(["01" * 32])
    assert catalog.pending_index() == ["01" * 32]


def test_edits_and_their_history(catalog: Catalog) -> None:
    sha = "01" * 32
    catalog.add(photo(1), {})
    catalog.record_edit(sha, "ed", "2026-01-01T00:00:00+00:00", {"caption": ("old", "new")})
    catalog.record_edit(sha, "ed", "2026-01-02T00:00:00+00:00", {"keywords": ([], ["x"])})
    assert catalog.get(sha).record.caption == "new"
    assert catalog.get(sha).record.keywords == ["x"]
    assert catalog.revision(sha) == 2 and catalog.revisions([sha]) == {sha: 2}
    assert [e["field"] for e in catalog.edits(sha)] == ["caption", "keywords"]
    assert [e["new"] for e in catalog.edits(sha, after=1)] == [["x"]]


def test_a_failed_transaction_leaves_nothing(catalog: Catalog) -> None:
    sha = "01" * 32
    catalog.add(photo(1), {})

    def fail() -> None:
        raise RuntimeError("the index could not follow")

    with pytest.raises(RuntimeError):
        catalog.record_edit(sha, "ed", "2026-01-01", {"caption": ("a", "b")}, before_commit=fail)
    assert catalog.get(sha).record.caption == photo(1).record.caption
    assert catalog.edits(sha) == []
    with pytest.raises(RuntimeError), catalog.transaction() as conn:
        conn.execute("DELETE FROM photos WHERE sha256 = ?", (sha,))
        raise RuntimeError("stop")
    assert catalog.has(sha)


def test_kills_and_unkills(catalog: Catalog) -> None:
    sha = "01" * 32
    catalog.add(photo(1), {})
    assert catalog.set_killed(sha, True, "2026-01-01", "ed", "wrong caption")
    assert not catalog.set_killed(sha, True, "2026-01-01", "ed", "again")
    assert catalog.states([sha]) == {sha: "killed"}
    assert catalog.set_killed(sha, False, "2026-01-02", "ed", "fixed")
    assert catalog.states([sha]) == {sha: "live"}
    assert [e["action"] for e in catalog.picture_events(sha)] == ["kill", "unkill"]
    with pytest.raises(PhotoNotFoundError):
        catalog.set_killed("ff" * 32, True, "2026-01-01", "ed", "x")


def test_versions_of_one_picture(catalog: Catalog) -> None:
    first = photo(1, transmission_reference="LON123")
    second = photo(2, transmission_reference="LON123", credit="REUTERS/Someone")
    catalog.add(first, {})
    catalog.add(second, {})
    picture = catalog.picture(second.record.sha256)
    assert len(picture.versions) in (1, 2)  # the identity rules decide; the same on both
    assert catalog.picture(first.record.sha256).picture_id in (
        first.record.sha256,
        second.record.sha256,
    )


def test_writers_follow_one_another(location: CatalogLocation) -> None:
    """Two connections adding photos at once: every photo once, none lost."""
    Catalog(location, create=True).close()
    errors: list[BaseException] = []

    def add(start: int) -> None:
        mine = Catalog(location)
        try:
            for n in range(start, start + 20):
                mine.add(photo(n), {})
                mine.add(photo(100 + n - start), {})  # 100..119 by both: duplicates
        except BaseException as exc:
            errors.append(exc)
        finally:
            mine.close()

    threads = [threading.Thread(target=add, args=(s,)) for s in (1, 101)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    reader = Catalog(location, readonly=True)
    try:
        assert reader.count() == 20 + 20 + 1  # 1..20, 101..120 and 100
    finally:
        reader.close()


def test_a_missing_catalog_is_refused(location: CatalogLocation) -> None:
    with pytest.raises(CatalogMissingError):
        Catalog(location)
    if isinstance(location, ServerCatalog):
        Catalog(location, create=True).close()
        with pytest.raises(PhotoArchiveError, match="already holds an archive's catalog"):
            Catalog(location, create=True)


def test_the_archive_identity_and_schema(catalog: Catalog) -> None:
    from photoarchive.catalog import MIGRATIONS

    archive_id = catalog.archive_id()
    assert archive_id and len(archive_id) == 32
    assert catalog.schema_version() == len(MIGRATIONS)


def test_a_statement_failing_mid_transaction_never_passes_for_saved(catalog: Catalog) -> None:
    """SQLite goes on after a failed statement; PostgreSQL rolls the whole transaction back
    at COMMIT. Either way, what is reported saved is saved."""
    sha = "01" * 32
    catalog.add(photo(1), {})
    try:
        with catalog.transaction() as conn:
            conn.execute("UPDATE photos SET caption = 'changed' WHERE sha256 = ?", (sha,))
            with contextlib.suppress(Exception):
                conn.execute("SELECT * FROM no_such_table")
    except PhotoArchiveError as exc:
        assert catalog.on_server and "nothing of it was recorded" in str(exc)
        assert catalog.get(sha).record.caption == photo(1).record.caption
    else:
        assert not catalog.on_server
        assert catalog.get(sha).record.caption == "changed"
