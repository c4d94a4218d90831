"""Archive safety: concurrent ingests, a full disk, a lost or damaged index, verify --repair."""

from __future__ import annotations

import errno
import io
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from photoarchive import Archive, init_archive, open_archive
from photoarchive.atomic import TEMP_PREFIX
from photoarchive.errors import IndexUnavailableError, StorageError
from photoarchive.store import ORIGINALS, original_key, rendition_key
from tests.conftest import FIXTURES
from tests.engines import remove_index
from tests.hostile import good_jpeg
from tests.stores import (
    damage_stored,
    leave_leftover,
    leftover_there,
    overwrite_stored,
    remove_stored,
    store_of,
    stored_keys,
)


def photos(folder: Path, numbers: range) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        (folder / f"p{n:03}.jpg").write_bytes(
            good_jpeg((n * 3 % 256, n * 7 % 256, 90), size=(64, 48))
        )
    return folder


def test_three_concurrent_ingests_catalogue_each_photo_once(tmp_path: Path) -> None:
    arc, _ = init_archive(tmp_path / "archive")
    arc.close()
    folders = [
        photos(tmp_path / "a", range(0, 30)),
        photos(tmp_path / "b", range(15, 45)),
        photos(tmp_path / "c", range(30, 60)),
    ]
    photos(tmp_path / "c", range(0, 10))  # overlaps a's first ten too
    exe = [
        sys.executable,
        "-m",
        "photoarchive",
        "--archive",
        str(tmp_path / "archive"),
        "ingest",
        "--json",
        "--jobs",
        "1",
    ]
    procs = [
        subprocess.Popen([*exe, str(f)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for f in folders
    ]
    searches = 0
    with open_archive(tmp_path / "archive", readonly=True) as reader:
        while any(p.poll() is None for p in procs):
            try:
                reader.search("ukraine OR photo")
            except IndexUnavailableError:
                pytest.fail("a search failed while ingests ran")
            searches += 1
            time.sleep(0.01)
    import json

    new = 0
    for proc in procs:
        out, err = proc.communicate()
        assert proc.returncode == 0, err
        new += sum(1 for o in json.loads(out) if o["status"] == "new")
    assert new == 60  # each photo reported new by exactly one process
    with open_archive(tmp_path / "archive") as done:
        assert done.catalog.count() == 60
        assert done.index.all_hashes() == done.catalog.all_hashes()
        assert len(stored_keys(done, ORIGINALS)) == 60
        assert done.verify().ok
    assert searches > 0


@pytest.mark.folder_files
def test_a_full_disk_stops_with_one_message_and_leaves_nothing_half_done(
    cli: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from photoarchive import atomic

    cli("init")
    folder = photos(tmp_path / "in", range(6))
    real_fdopen = os.fdopen
    writes = {"n": 0}

    class FullDisk(io.BufferedWriter):
        def write(self, data: Any) -> int:
            writes["n"] += 1
            if writes["n"] > 7:  # room for two photos (3 files each) and a bit
                raise OSError(errno.ENOSPC, "No space left on device")
            return super().write(data)

    def fdopen(fd: int, mode: str = "r", *args: Any, **kwargs: Any) -> Any:
        if "w" in mode:
            return FullDisk(io.FileIO(fd, "w"))
        return real_fdopen(fd, mode, *args, **kwargs)

    monkeypatch.setattr(atomic.os, "fdopen", fdopen)
    result = cli("ingest", str(folder), "--jobs", "1")
    assert result.exit_code == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "disk full" in errors[0]
    monkeypatch.undo()
    root = Path(cli.archive_dir)
    assert not list(root.rglob(f"{TEMP_PREFIX}*"))
    with open_archive(root) as arc:
        assert arc.catalog.count() == 2
        report = arc.verify()
        assert report.ok, report
    again = cli("ingest", str(folder))
    assert again.exit_code == 0 and "4 new, 2 duplicate" in again.stderr


@pytest.mark.folder_files
def test_read_only_storage_is_one_clear_error(
    archive: Archive, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import tempfile

    from photoarchive import atomic

    def refuse(*_a: Any, **_k: Any) -> Any:
        raise OSError(errno.EROFS, "Read-only file system")

    monkeypatch.setattr(atomic, "_unnamed_files_work", False)
    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    shutil.copy(FIXTURES / "xmp.png", tmp_path / "x.png")
    with pytest.raises(StorageError, match="read-only"):
        archive.ingest([tmp_path / "x.png"])
    assert archive.catalog.count() == 0


def test_a_damaged_index_says_so_and_reindex_restores_the_results(archive: Archive) -> None:
    archive.reindex(engine="whoosh")  # Whoosh's files (tantivy's: test_damaged_inputs.py)
    archive.ingest([FIXTURES])
    before = [r.record.id for r in archive.search("caption OR flag OR tank").results]
    assert before
    for toc in archive.index.folder.glob("*.toc"):
        toc.write_bytes(b"\x00garbage")
    damaged = open_archive(archive.root)
    with pytest.raises(IndexUnavailableError, match="reindex"):
        damaged.search("tank")
    damaged.reindex()
    assert [r.record.id for r in damaged.search("caption OR flag OR tank").results] == before
    damaged.close()


def test_verify_repair_and_prune(archive: Archive, tmp_path: Path) -> None:
    report = archive.ingest([FIXTURES / "xmp.png", FIXTURES / "iim_utf8.jpg"])
    first = archive.get(report.outcomes[0].id or "")
    remove_stored(archive, rendition_key(first.sha256, "thumb"))
    remove_index(archive.root)
    dead = leave_leftover(archive)
    orphan = original_key("f" * 64, "jpg")
    overwrite_stored(archive, orphan, good_jpeg())
    original = archive.original_key(first.id)
    original_bytes = archive.store.read(original)

    found = open_archive(archive.root).verify()
    assert not found.ok
    assert found.missing_renditions and found.temp_files and found.orphan_files
    assert found.index_problem and "reindex" in found.index_problem

    repaired = open_archive(archive.root).verify(repair=True)
    assert repaired.missing_renditions == [] and repaired.temp_files == []
    assert repaired.index_problem is None and not leftover_there(archive, dead)
    assert repaired.orphan_files == [archive.store.shown(orphan)] and not repaired.ok
    assert archive.store.exists(orphan)  # never deleted without --prune

    pruned = open_archive(archive.root).verify(repair=True, prune=True)
    assert pruned.ok and not archive.store.exists(orphan)
    assert archive.store.read(original) == original_bytes
    with open_archive(archive.root) as arc:
        assert arc.search("soldier").total == 1


def test_verify_reports_bit_rot_by_id_and_path(cli: Any) -> None:
    cli("init")
    cli("ingest", str(FIXTURES / "xmp.webp"))
    with store_of(cli.archive_dir) as store:
        [original] = stored_keys(store, ORIGINALS)
        assert original.endswith(".webp")
        damage_stored(store, original, at=100, bits=0x01)
        result = cli("verify", "--repair")
        assert result.exit_code == 1
        name = original.rsplit("/", 1)[1]
        assert f"bit rot): {name[:12]} {store.shown(original)}" in result.stderr
        assert store.exists(original)  # reported, never "repaired" away


def test_prune_needs_repair(cli: Any) -> None:
    cli("init")
    result = cli("verify", "--prune")
    assert result.exit_code == 1 and "together with --repair" in result.stderr


def test_an_index_from_another_version_asks_for_reindex(archive: Archive) -> None:
    from whoosh import fields, index

    archive.reindex(engine="whoosh")  # an older photoarchive's Whoosh index
    archive.ingest([FIXTURES / "xmp.png"])
    shutil.rmtree(archive.index.folder)
    archive.index.folder.mkdir()
    old = fields.Schema(sha256=fields.ID(stored=True, unique=True), caption=fields.TEXT())
    index.create_in(str(archive.index.folder), old, indexname="photos").close()
    stale = open_archive(archive.root)
    with pytest.raises(IndexUnavailableError, match=r"another version.*reindex"):
        stale.search("soldier")
    stale.reindex()
    assert stale.search("soldier").total == 1
    stale.close()


@pytest.mark.index_files
def test_an_ingest_refuses_an_index_from_another_version(archive: Archive) -> None:
    """Writers never guess around an index they cannot trust: they say to run reindex."""
    from whoosh import fields, index

    archive.ingest([FIXTURES / "xmp.png"])
    archive.close()
    shutil.rmtree(archive.index.folder)
    archive.index.folder.mkdir()
    old = fields.Schema(sha256=fields.ID(stored=True, unique=True), caption=fields.TEXT())
    index.create_in(str(archive.index.folder), old, indexname="photos").close()
    with open_archive(archive.root) as stale:
        with pytest.raises(IndexUnavailableError, match="reindex"):
            stale.ingest([FIXTURES / "iim_utf8.jpg"])
        assert stale.catalog.count() == 1  # nothing was ingested
        stale.reindex()
        report = stale.ingest([FIXTURES / "xmp.png", FIXTURES / "iim_utf8.jpg"])
        assert (report.count("duplicate"), report.count("new")) == (1, 1)
        assert stale.search("soldier").total == 1


def test_the_photo_count_follows_every_writer(archive: Archive) -> None:
    """The catalog keeps its count until it changes: its own writes and another process's
    both show at once."""
    reader = open_archive(archive.root, readonly=True)
    assert reader.catalog.count() == archive.catalog.count() == 0
    archive.ingest([FIXTURES / "xmp.png"])
    assert archive.catalog.count() == 1  # this connection's own write
    assert reader.catalog.count() == 1  # another connection's
    archive.ingest([FIXTURES / "iim_utf8.jpg"])
    assert (archive.catalog.count(), reader.catalog.count()) == (2, 2)
    reader.close()
