"""Ingest: new, duplicate and rejected files; desk values; renditions; nothing half-written."""

from __future__ import annotations

import io
import os
import shutil
from pathlib import Path

import pytest
from PIL import Image

from photoarchive import Archive
from photoarchive.atomic import TEMP_PREFIX
from photoarchive.ingest import IngestOptions
from photoarchive.store import ORIGINALS, RENDITIONS, original_key, rendition_key
from photoarchive.store.local import FolderStore
from tests.conftest import FIXTURES
from tests.hostile import good_jpeg, write_bad_files
from tests.stores import stored_keys


def test_new_then_duplicate(archive: Archive, tmp_path: Path) -> None:
    src = tmp_path / "in"
    src.mkdir()
    shutil.copy(FIXTURES / "iim_utf8.jpg", src / "a.jpg")
    shutil.copy(FIXTURES / "iim_utf8.jpg", src / "same-bytes-other-name.jpg")
    first = archive.ingest([src])
    assert (first.count("new"), first.count("duplicate")) == (1, 1)
    second = archive.ingest([src])
    assert (second.count("new"), second.count("duplicate")) == (0, 2)
    assert archive.catalog.count() == 1
    assert len(stored_keys(archive, ORIGINALS)) == 1


def test_original_stored_byte_for_byte_under_its_hash(archive: Archive) -> None:
    report = archive.ingest([FIXTURES / "xmp.webp"])
    photo = archive.stored(report.outcomes[0].id or "")
    key = original_key(photo.record.sha256, photo.ext)
    assert archive.store.read(key) == (FIXTURES / "xmp.webp").read_bytes()
    assert key == f"originals/{photo.record.sha256[:2]}/{photo.record.sha256}.webp"
    assert stored_keys(archive, ORIGINALS) == [key]
    assert photo.record.original_filename == "xmp.webp"
    assert photo.record.format == "WEBP"


def test_bad_files_are_rejected_and_the_rest_ingested(archive: Archive, tmp_path: Path) -> None:
    folder = tmp_path / "mixed"
    expected = write_bad_files(folder)
    shutil.copy(FIXTURES / "xmp_only.jpg", folder / "good.jpg")
    (folder / "sub").mkdir()
    shutil.copy(FIXTURES / "xmp.png", folder / "sub" / "good.png")
    report = archive.ingest([folder, tmp_path / "missing-folder"])
    reasons = {Path(o.path).name: o.reason for o in report.outcomes if o.status == "rejected"}
    assert set(reasons) == {*expected, "missing-folder"}
    for name, word in expected.items():
        assert word in (reasons[name] or ""), (name, reasons[name])
    assert report.count("new") == 2
    assert archive.catalog.count() == 2
    # Nothing of a rejected file reaches the archive, and no temporary file (nor an
    # unfinished upload) is left.
    assert len(stored_keys(archive, ORIGINALS)) == 2
    assert not list(archive.root.rglob(f"{TEMP_PREFIX}*"))
    assert archive.store.leftovers(None) == []
    assert len(stored_keys(archive, RENDITIONS)) == 4


def test_desk_values_apply_to_the_batch_and_outrank_embedded(archive: Archive) -> None:
    options = IngestOptions(
        caption="Desk caption", credit="REUTERS/Gleb Garanich", keywords=("Kupiansk", "flag")
    )
    report = archive.ingest([FIXTURES / "xmp_only.jpg", FIXTURES / "xmp.png"], options)
    for outcome in report.outcomes:
        rec = archive.get(outcome.id or "")
        assert rec.caption == "Desk caption"
        assert rec.credit == "REUTERS/Gleb Garanich"
        assert rec.agency == "Reuters"
        assert rec.keywords == ["Kupiansk", "flag"]
    sources = archive.sources(report.outcomes[0].id or "")
    assert sources["caption"] == {
        "desk": "Desk caption",
        "xmp": "Five Ukrainian servicemembers hold flags in Izium",
    }


def test_renditions_sizes_and_orientation(archive: Archive, tmp_path: Path) -> None:
    big = tmp_path / "big.jpg"
    Image.new("RGB", (4000, 3000), (200, 30, 30)).save(big, quality=80)
    rotated = archive.ingest([big, FIXTURES / "exif_gps_orientation.jpg"]).outcomes
    big_rec = archive.get(rotated[0].id or "")
    with Image.open(rendition(archive, big_rec.sha256, "preview")) as preview:
        assert preview.size == (1280, 960)
    with Image.open(rendition(archive, big_rec.sha256, "thumb")) as thumb:
        assert thumb.size == (320, 240)
    # The fixture is 48x32 stored with orientation 6 (rotate 90° clockwise to view).
    turned = archive.get(rotated[1].id or "")
    assert (turned.width, turned.height, turned.orientation) == (48, 32, 6)
    with Image.open(rendition(archive, turned.sha256, "thumb")) as thumb:
        assert thumb.size == (32, 48)
        # The white mark drawn top-left ends up top-right once rotated for viewing.
        assert thumb.convert("L").getpixel((28, 2)) > 200
        assert thumb.convert("L").getpixel((2, 2)) < 150


def rendition(archive: Archive, sha256: str, kind: str) -> io.BytesIO:
    """A stored rendition's bytes, to open as an image."""
    return io.BytesIO(archive.store.read(rendition_key(sha256, kind)))


def test_parallel_ingest_catalogues_the_same_as_serial(tmp_path: Path) -> None:
    from photoarchive import init_archive

    src = tmp_path / "in"
    src.mkdir()
    for i in range(12):
        (src / f"p{i:02}.jpg").write_bytes(good_jpeg((i * 20, 50, 100)))
    records = []
    for jobs in (1, 2):
        arc, _ = init_archive(tmp_path / f"a{jobs}")
        with arc:
            report = arc.ingest([src], IngestOptions(jobs=jobs))
            assert report.count("new") == 12
            records.append(
                sorted(
                    {k: v for k, v in p.record.to_dict().items() if k != "ingested_at"}.items()
                    for p in arc.catalog.iter_photos()
                )
            )
    assert records[0] == records[1]


def test_interrupted_index_is_finished_by_the_next_ingest(archive: Archive) -> None:
    report = archive.ingest([FIXTURES / "xmp.png"])
    sha = archive.resolve(report.outcomes[0].id or "")
    # As if the process died after the catalog commit but before the index commit.
    archive.index.create()
    archive.catalog.conn.execute("UPDATE photos SET needs_index = 1")
    archive.catalog.conn.commit()
    assert archive.search("soldier").total == 0
    archive.ingest([FIXTURES / "xmp.png"])
    hits = archive.search("soldier").results
    assert [h.record.sha256 for h in hits] == [sha]


def test_large_image_is_rejected_by_the_archive_limit(archive: Archive, tmp_path: Path) -> None:
    settings = archive.root / "archive.toml"
    settings.write_text(
        settings.read_text().replace("max_pixels = 200000000", "max_pixels = 1000000")
    )
    from photoarchive import open_archive

    with open_archive(archive.root) as small:
        path = tmp_path / "wide.jpg"
        buf = io.BytesIO()
        Image.new("L", (1100, 1000)).save(buf, "JPEG")
        path.write_bytes(buf.getvalue())
        outcome = small.ingest([path]).outcomes[0]
    assert outcome.status == "rejected"
    assert "1100x1000" in (outcome.reason or "")


def test_progress_is_reported_for_every_file(archive: Archive, tmp_path: Path) -> None:
    calls: list[tuple[str, int, int]] = []
    archive.ingest(
        [FIXTURES / "xmp.png", FIXTURES / "xmp.webp", tmp_path / "missing.jpg"],
        on_progress=lambda outcome, done, total: calls.append((outcome.status, done, total)),
    )
    assert [(done, total) for _, done, total in calls] == [(1, 3), (2, 3), (3, 3)]
    assert sorted(status for status, _, _ in calls) == ["new", "new", "rejected"]


def test_lying_iim_lengths_give_a_warning_and_the_photo_is_kept(
    archive: Archive, tmp_path: Path
) -> None:
    from photoarchive.metadata.iptc_writer import embed_in_jpeg, photoshop_resources

    # A caption dataset that claims 5,000 bytes where 12 follow.
    lying = b"\x1c\x02\x00\x00\x02\x00\x04" + b"\x1c\x02\x78\x13\x88" + b"short text.."
    path = tmp_path / "lying.jpg"
    path.write_bytes(embed_in_jpeg(good_jpeg(), photoshop_resources(lying, b"")))
    outcome = archive.ingest([path]).outcomes[0]
    assert outcome.status == "new"
    rec = archive.get(outcome.id or "")
    assert rec.caption in (None, "short text..")


@pytest.mark.folder_files
def test_originals_leave_the_page_cache_once_on_disk(
    archive: Archive, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Originals are written once and seldom read: their pages are released after the fsync
    # so a day's ingest does not push the index and previews out of memory. Renditions,
    # which the desk reads, stay cached.
    advised: list[tuple[str, int]] = []
    real_fadvise = os.posix_fadvise

    def spy(fd: int, offset: int, length: int, advice: int) -> None:
        advised.append((os.readlink(f"/proc/self/fd/{fd}"), advice))
        real_fadvise(fd, offset, length, advice)

    monkeypatch.setattr(os, "posix_fadvise", spy)
    report = archive.ingest([FIXTURES / "iim_utf8.jpg"])
    assert report.count("new") == 1
    assert isinstance(archive.store, FolderStore)
    assert [(Path(p).parent.parent, a) for p, a in advised] == [
        (archive.store.originals, os.POSIX_FADV_DONTNEED)
    ]
    photo = archive.stored(report.outcomes[0].id or "")
    stored = archive.store.original_path(photo.record.sha256, photo.ext)
    assert stored.read_bytes() == (FIXTURES / "iim_utf8.jpg").read_bytes()
