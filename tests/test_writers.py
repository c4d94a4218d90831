"""One writer protocol: the writer lock, refusing to guess, an index that cannot lie, readers
that follow a rebuilt index, and processes that clean up after themselves."""

from __future__ import annotations

import io
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageDraw

from photoarchive import init_archive, open_archive
from photoarchive.errors import (
    ArchiveBusyError,
    CatalogMissingError,
    IndexUnavailableError,
)
from photoarchive.metadata.xmp_writer import build_xmp
from photoarchive.store import original_key
from tests.engines import index_dir, index_exists, remove_index
from tests.stores import files_under, overwrite_stored, store_of

CREDITS = ("REUTERS/Gleb Garanich", "AFP", "Channel 4", "Twitter")


def make_photos(
    folder: Path, numbers: range, size: tuple[int, int] = (96, 64), noisy: bool = False
) -> Path:
    """Distinct photos (no two share pixels) with an XMP caption naming their number;
    `noisy` ones are large files (noise does not compress)."""
    folder.mkdir(parents=True, exist_ok=True)
    for n in numbers:
        if noisy:
            im = Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3))
        else:
            im = Image.new("RGB", size, (n * 37 % 256, n * 11 % 256, (n // 7) * 29 % 256))
        ImageDraw.Draw(im).rectangle([n % 50, n % 30, n % 50 + 20, n % 30 + 15], fill=(250, 0, 0))
        values = {
            "caption": f"Photo number{n} near Izium",
            "credit": CREDITS[n % 4],
            "keywords": ["writers", f"kw{n}"],
        }
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=85, xmp=build_xmp(values))
        (folder / f"p{n:04}.jpg").write_bytes(buf.getvalue())
    return folder


def run(archive: Path, *args: str, **kwargs: Any) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "photoarchive", "--archive", str(archive), *args],
        capture_output=True,
        text=True,
        **kwargs,
    )


def start(archive: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "photoarchive", "--archive", str(archive), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )


def one_error(result: subprocess.CompletedProcess[str], *words: str) -> None:
    """The command failed with exit 1 and exactly one 'Error:' line holding `words`."""
    assert result.returncode == 1, (result.returncode, result.stderr)
    assert "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.stderr
    for word in words:
        assert word in errors[0], errors[0]


@pytest.fixture
def filled(tmp_path: Path) -> Iterator[Path]:
    """An archive with 12 photos ingested; yields its folder."""
    root = tmp_path / "archive"
    arc, _ = init_archive(root)
    report = arc.ingest([make_photos(tmp_path / "in", range(12))])
    assert report.count("new") == 12
    arc.close()
    yield root


# -- refuse instead of guessing ------------------------------------------------------------


def _lose_catalog(root: Path, how: str) -> None:
    catalog = root / "catalog.sqlite"
    for extra in ("-wal", "-shm"):
        catalog.with_name(catalog.name + extra).unlink(missing_ok=True)
    if how == "missing":
        catalog.unlink()
    elif how == "empty":
        catalog.write_bytes(b"")
    else:  # a valid SQLite database of schema version 0: no tables at all
        catalog.unlink()
        sqlite3.connect(catalog).close()
        sqlite3.connect(catalog).execute("CREATE TABLE x (y)").connection.commit()


@pytest.mark.sqlite_file
@pytest.mark.parametrize("how", ["missing", "empty", "version-0"])
def test_a_lost_catalog_stops_every_command_and_prune_deletes_nothing(
    filled: Path, tmp_path: Path, how: str
) -> None:
    before = files_under(filled)
    _lose_catalog(filled, how)
    catalog_bytes = (filled / "catalog.sqlite").read_bytes() if how != "missing" else None
    for args in (
        ("verify", "--repair", "--prune"),
        ("verify",),
        ("search", "izium"),
        ("show", "abcdef"),
        ("stats",),
        ("reindex",),
        ("ingest", str(make_photos(tmp_path / "more", range(50, 52)))),
        ("edit", "abcdef", "--caption", "x"),
        ("rights", "check", "credit:afp"),
        ("init",),
    ):
        one_error(run(filled, *args), "catalog")
    assert files_under(filled) == before  # not one original or rendition deleted
    if how == "missing":
        assert not (filled / "catalog.sqlite").exists()  # nothing made a new, empty one
    else:
        assert (filled / "catalog.sqlite").read_bytes() == catalog_bytes
    with pytest.raises(CatalogMissingError):
        open_archive(filled)


@pytest.mark.sqlite_file
def test_prune_refuses_a_catalog_that_lost_photos(filled: Path, tmp_path: Path) -> None:
    """A catalog restored from an old backup owns far fewer originals than the disk."""
    backup = tmp_path / "backup.sqlite"
    with sqlite3.connect(filled / "catalog.sqlite") as conn:
        conn.execute("VACUUM INTO ?", (str(backup),))
    assert (
        run(filled, "ingest", str(make_photos(tmp_path / "more", range(100, 130)))).returncode == 0
    )
    for extra in ("-wal", "-shm"):
        (filled / f"catalog.sqlite{extra}").unlink(missing_ok=True)
    shutil.copy(backup, filled / "catalog.sqlite")
    before = files_under(filled)
    result = run(filled, "verify", "--repair", "--prune")
    assert result.returncode == 1
    assert "--prune refused" in result.stderr and "Nothing was deleted" in result.stderr
    assert files_under(filled) == before


def test_prune_still_deletes_a_few_leftovers(filled: Path) -> None:
    orphan = original_key("f" * 64, "jpg")
    with store_of(filled) as store:
        overwrite_stored(store, orphan, b"left by something")
        path = store.local_path(orphan)
        if path is not None:  # an hour old (an object store dates it itself)
            os.utime(path, (time.time() - 3600, time.time() - 3600))
        result = run(filled, "verify", "--repair", "--prune")
        assert result.returncode == 0, result.stderr
        assert not store.exists(orphan)


@pytest.mark.parametrize("command", ["ingest", "edit", "watch"])
def test_writers_refuse_a_missing_index_instead_of_making_a_partial_one(
    filled: Path, tmp_path: Path, command: str
) -> None:
    remove_index(filled)
    new = make_photos(tmp_path / "new", range(200, 202))
    with open_archive(filled) as arc:
        some_id = next(arc.catalog.iter_photos()).record.id
    args = {
        "ingest": ("ingest", str(new)),
        "edit": ("edit", some_id, "--caption", "A corrected caption", "--by", "desk"),
        "watch": ("watch", str(new), "--once", "--settle", "0.1", "--poll", "0.1"),
    }[command]
    result = run(filled, *args)
    assert not index_exists(filled)  # never re-created holding only new photos
    if command == "edit":
        # The edit itself is saved; search catching up waits for the rebuild.
        assert result.returncode == 0 and "search does not show it yet" in result.stderr
        assert "reindex" in result.stderr
    else:
        one_error(result, "reindex")
    one_error(run(filled, "search", "izium"), "reindex")
    assert run(filled, "reindex").returncode == 0
    found = json.loads(run(filled, "search", "writers", "--json", "--limit", "100").stdout)
    with open_archive(filled) as arc:
        assert {r["id"] for r in found} == {p.record.id for p in arc.catalog.iter_photos()}
        if command == "edit":
            assert arc.search('"corrected caption"').total == 1
        assert arc.verify().ok


@pytest.mark.index_files
def test_an_index_copied_from_another_archive_is_refused(filled: Path, tmp_path: Path) -> None:
    other, _ = init_archive(tmp_path / "other")
    other.close()
    shutil.rmtree(index_dir(filled))
    shutil.copytree(index_dir(tmp_path / "other"), index_dir(filled))
    one_error(run(filled, "search", "izium"), "another archive", "reindex")
    one_error(run(filled, "ingest", str(make_photos(tmp_path / "n", range(300, 301)))), "reindex")


# -- an index that cannot lie about rights -------------------------------------------------


def _make_stale(root: Path, sha: str, credit: str, agency: str) -> None:
    """Change a photo's credit in the catalog (file or server) behind the index's back."""
    with open_archive(root) as arc, arc.catalog.transaction() as conn:
        conn.execute(
            "UPDATE photos SET credit = ?, agency = ? WHERE sha256 = ?", (credit, agency, sha)
        )
        conn.execute("DELETE FROM sources WHERE sha256 = ? AND field = 'credit'", (sha,))


def test_cleared_for_never_returns_a_photo_whose_verdict_fails_even_with_a_stale_index(
    filled: Path,
) -> None:
    with open_archive(filled) as arc:
        cleared = arc.search("izium", limit=100, cleared_for="editorial")
        reuters = [r.record for r in cleared.results if r.record.agency == "Reuters"]
        assert reuters
        target = reuters[0]
        _make_stale(filled, target.sha256, "Some Unknown Agency", "Some Unknown Agency")
    with open_archive(filled) as arc:
        assert arc.check_rights(target.sha256).status == "unknown"
        for page in range(1, 4):
            found = arc.search("izium", limit=5, page=page, cleared_for="editorial")
            assert all(r.verdict.passes for r in found.results)
            assert target.sha256 not in {r.record.sha256 for r in found.results}
        passing = arc.search("izium", limit=100, verdicts=["cleared", "conditional"])
        assert target.sha256 not in {r.record.sha256 for r in passing.results}
        assert passing.total == len(passing.results)
        # verify sees the stale entry; --repair writes it again from the catalog
        report = arc.verify()
        assert report.index_stale == [target.id] and not report.ok
    cli = run(filled, "search", "izium", "--cleared-for", "editorial", "--json", "--limit", "100")
    assert target.id not in {r["id"] for r in json.loads(cli.stdout)}
    assert run(filled, "verify").returncode == 1
    repaired = run(filled, "verify", "--repair")
    assert repaired.returncode == 0 and "mended" in repaired.stderr
    with open_archive(filled) as arc:
        assert arc.verify().ok
        assert arc.search('credit:"unknown agency"').total == 1


def test_verify_finds_damaged_postings_behind_good_stored_fields(filled: Path) -> None:
    """An entry whose stored digest matches but whose words are gone from the postings."""
    from photoarchive.search import Entry

    with open_archive(filled) as arc:
        arc.reindex(engine="whoosh")  # Whoosh's postings (tantivy's: test_damaged_inputs.py)
        victim = next(arc.catalog.iter_photos()).record
        (entry,) = arc._entries([victim])
        # Index the photo under words it does not have, keeping the digest of the truth.
        from photoarchive.search.documents import document

        good = document(entry)
        wrong = Entry(victim.__class__(**{**victim.to_dict(), "caption": "nothing alike"}))
        with arc.writing("test"):
            ix = arc.index._open()
            writer = ix.writer()
            doc = document(wrong)
            doc["digest"] = good["digest"]
            writer.update_document(**doc)
            writer.commit()
        report = arc.verify()
        assert report.index_stale == [victim.id]


# -- edits ---------------------------------------------------------------------------------


def test_an_edit_on_a_stale_revision_is_refused_with_both_values(filled: Path) -> None:
    with open_archive(filled) as arc:
        photo = next(arc.catalog.iter_photos()).record
    shown = json.loads(run(filled, "show", photo.id, "--json").stdout)
    seen = shown["revision"]
    first = run(
        filled, "edit", photo.id, "--caption", "Alice's caption", "--by", "alice",
        "--revision", str(seen),
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    second = run(
        filled, "edit", photo.id, "--caption", "Bob's caption", "--by", "bob",
        "--revision", str(seen),
    )  # fmt: skip
    one_error(second, "changed since you read it", "Alice's caption", "Bob's caption", "alice")
    history = json.loads(run(filled, "show", photo.id, "--json", "--history").stdout)["history"]
    edits = [e for v in history["versions"] for e in v["edits"]]
    assert [(e["by"], e["old"], e["new"]) for e in edits] == [
        ("alice", photo.caption, "Alice's caption")
    ]
    assert json.loads(run(filled, "show", photo.id, "--json").stdout)["revision"] == seen + 1


def test_simultaneous_edits_each_start_from_the_value_before(filled: Path) -> None:
    with open_archive(filled) as arc:
        photo = next(arc.catalog.iter_photos()).record
    procs = [
        start(filled, "edit", photo.id, "--caption", f"Caption by editor {n}", "--by", f"ed{n}")
        for n in range(6)
    ]
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err
    with open_archive(filled) as arc:
        edits = arc.catalog.edits(photo.sha256)
        assert len(edits) == 6
        chain = [photo.caption] + [e["new"] for e in edits]
        assert [e["old"] for e in edits] == chain[:-1]  # each edit starts where one ended
        assert arc.get(photo.id).caption == chain[-1]
        assert arc.verify().ok


def test_an_edit_whose_index_update_fails_is_saved_and_finished_by_the_next_writer(
    filled: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from photoarchive.editing import edit_photo

    with open_archive(filled) as arc:
        photo = next(arc.catalog.iter_photos()).record

        def busy(*_a: Any, **_k: Any) -> int:
            raise IndexUnavailableError("the search index is locked by another process")

        with monkeypatch.context() as patch:
            patch.setattr(type(arc.index), "add", busy)
            result = edit_photo(arc, photo.id, {"caption": "Tanks by the river"}, "desk")
        assert result.index_pending and "locked" in result.index_pending
        assert result.record.caption == "Tanks by the river"
        assert arc.search("river").total == 0  # search has not caught up yet
        again = edit_photo(arc, photo.id, {"caption": "Tanks by the river"}, "desk")
        assert again.changed == () and again.index_pending is None
        assert arc.search("river").total == 1
        assert len(arc.catalog.edits(photo.sha256)) == 1


# -- the writer lock -----------------------------------------------------------------------


def test_a_second_reindex_waits_and_says_for_whom(filled: Path) -> None:
    with open_archive(filled) as holder, holder.writing("reindex"):
        waiting = start(filled, "reindex")
        time.sleep(1.5)
        assert waiting.poll() is None  # waits, no traceback, no hang after release
    _, err = waiting.communicate(timeout=60)
    assert waiting.returncode == 0, err
    assert "waiting for reindex (process" in err and "Traceback" not in err


def test_a_writer_that_waits_too_long_says_who_holds_the_lock(filled: Path) -> None:
    settings = filled / "archive.toml"
    settings.write_text(
        settings.read_text().replace("lock_wait_seconds = 600", "lock_wait_seconds = 1")
    )
    with open_archive(filled) as holder, holder.writing("reindex"):
        some_id = next(holder.catalog.iter_photos()).record.id
        result = run(filled, "edit", some_id, "--caption", "x")
        other = open_archive(filled)
        with pytest.raises(ArchiveBusyError, match="reindex"), other.writing("edit"):
            pass
        other.close()
    one_error(result, "busy", "reindex (process")


def test_a_lock_held_by_a_killed_process_is_free_at_once(filled: Path) -> None:
    code = (
        "import sys, time; from photoarchive import open_archive\n"
        "arc = open_archive(sys.argv[1])\n"
        "with arc.writing('reindex'):\n"
        "    print('held', flush=True); time.sleep(60)\n"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code, str(filled)], stdout=subprocess.PIPE, text=True
    )
    assert holder.stdout and holder.stdout.readline().strip() == "held"
    settings = filled / "archive.toml"
    settings.write_text(
        settings.read_text().replace("lock_wait_seconds = 600", "lock_wait_seconds = 1")
    )
    one_error(run(filled, "reindex"), "busy")
    holder.kill()
    holder.wait()
    assert run(filled, "reindex").returncode == 0


def test_reindex_loses_nothing_written_while_it_runs(filled: Path, tmp_path: Path) -> None:
    """Ingests and edits started during a reindex wait for it, then land in the new index."""
    make_photos(tmp_path / "during", range(400, 440))
    with open_archive(filled) as arc:
        photo = next(arc.catalog.iter_photos()).record
    with open_archive(filled) as holder, holder.writing("reindex"):
        ingest = start(filled, "ingest", str(tmp_path / "during"), "--json")
        edit = start(filled, "edit", photo.id, "--caption", "Izium, edited during the rebuild")
        time.sleep(1.0)
        holder._rebuild_index(None)
    _, err = ingest.communicate(timeout=120)
    assert ingest.returncode == 0, err
    assert edit.wait(timeout=60) == 0
    with open_archive(filled) as arc:
        assert arc.search("izium", limit=1).total == 52
        assert arc.search('"during the rebuild"').total == 1
        assert arc.verify().ok


def test_prune_beside_running_ingests_deletes_nothing_they_wrote(
    filled: Path, tmp_path: Path
) -> None:
    make_photos(tmp_path / "big", range(500, 620), size=(900, 600))
    ingest = start(filled, "ingest", str(tmp_path / "big"), "--json", "--jobs", "2")
    prunes = 0
    while ingest.poll() is None:
        result = run(filled, "verify", "--repair", "--prune")
        assert "Traceback" not in result.stderr
        prunes += 1
    out, err = ingest.communicate()
    assert ingest.returncode == 0, err
    new = [o["id"] for o in json.loads(out) if o["status"] == "new"]
    assert len(new) == 120 and prunes >= 1
    with open_archive(filled) as arc:
        for photo_id in new:
            assert arc.store.exists(arc.original_key(photo_id))
        report = arc.verify()
        assert report.ok, report


def test_killing_only_the_main_process_takes_its_workers_with_it(
    filled: Path, tmp_path: Path
) -> None:
    make_photos(tmp_path / "slow", range(700, 760), size=(1600, 1200))
    proc = start(filled, "ingest", str(tmp_path / "slow"), "--jobs", "2")
    deadline = time.monotonic() + 30
    workers: list[int] = []
    while time.monotonic() < deadline and len(workers) < 2:
        workers = _children(proc.pid)
        time.sleep(0.05)
    assert len(workers) >= 2
    os.kill(proc.pid, signal.SIGKILL)  # the main process alone, as the OOM killer does
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_alive(w) for w in workers):
        time.sleep(0.05)
    assert not any(_alive(w) for w in workers)
    assert run(filled, "reindex").returncode == 0  # and the writer lock is free


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# -- long-lived readers --------------------------------------------------------------------


@pytest.mark.index_files
def test_the_desk_follows_a_rebuilt_index_and_a_changed_policy(
    filled: Path, tmp_path: Path
) -> None:
    from photoarchive.web import create_app

    client = create_app(filled).test_client()
    assert client.get("/api/search?q=izium&limit=100").get_json()["total"] == 12
    assert run(filled, "reindex").returncode == 0
    make_photos(tmp_path / "after", range(800, 803))
    assert run(filled, "ingest", str(tmp_path / "after")).returncode == 0
    response = client.get("/api/search?q=izium&limit=100")
    assert response.status_code == 200 and response.get_json()["total"] == 15
    index_files = {str(p) for p in index_dir(filled).iterdir()}
    for fd in Path("/proc/self/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if "index" in target and str(filled) in target:
            assert target in index_files, f"a file of the old index is still open: {target}"
    # The policy is read again when rights.toml changes: AFP's licence is blocked now.
    api = client.get("/api/search?q=izium&limit=100").get_json()["results"]
    afp = next(r for r in api if r["agency"] == "AFP")
    assert afp["rights"]["status"] in ("cleared", "conditional")
    policy = filled / "rights.toml"
    text = policy.read_text()
    head, afp_table = text.split("[agencies.afp]", 1)
    afp_table = afp_table.replace('status = "licensed"', 'status = "blocked"', 1)
    policy.write_text(head + "[agencies.afp]" + afp_table)
    again = client.get(f"/api/photos/{afp['id']}").get_json()
    assert again["rights"]["status"] == "blocked"


# -- read-only and full disks --------------------------------------------------------------


def _mount(kind: str, target: Path, options: str, source: str = "tmpfs") -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a small or read-only file system needs root")
    args = ["mount", "-t", kind, "-o", options, source, str(target)]
    if kind == "bind":
        args = ["mount", "--bind", source, str(target)]
    result = subprocess.run(args, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.skip(f"cannot mount here: {result.stderr.strip()}")


def test_a_read_only_archive_serves_search_and_the_desk(filled: Path, tmp_path: Path) -> None:
    from photoarchive.web import create_app

    view = tmp_path / "ro"
    view.mkdir()
    _mount("bind", view, "", source=str(filled))
    try:
        subprocess.run(["mount", "-o", "remount,bind,ro", str(view)], check=True)
        found = run(view, "search", "izium", "--json", "--limit", "100")
        assert found.returncode == 0, found.stderr
        assert len(json.loads(found.stdout)) == 12
        assert run(view, "show", json.loads(found.stdout)[0]["id"]).returncode == 0
        assert run(view, "verify").returncode == 0
        assert run(view, "rights", "check", "credit:afp").returncode in (0, 1)
        one_error(run(view, "reindex"), "read-only")
        client = create_app(view).test_client()
        assert client.get("/?q=izium").status_code == 200
        assert client.get("/api/search?q=izium&limit=100").get_json()["total"] == 12
    finally:
        subprocess.run(["umount", "-l", str(view)], check=False)


@pytest.mark.folder_files
def test_a_full_disk_keeps_what_was_complete_and_stays_searchable(tmp_path: Path) -> None:
    from photoarchive.web import create_app

    small = tmp_path / "small"
    small.mkdir()
    _mount("tmpfs", small, "size=16m")
    try:
        root = small / "archive"
        init_archive(root)[0].close()
        assert run(root, "ingest", str(make_photos(tmp_path / "first", range(6)))).returncode == 0
        make_photos(tmp_path / "big", range(900, 920), size=(1200, 900), noisy=True)
        # Made while there is room: on a full tmpfs even an empty file may not be made.
        filler = small / "filler"
        filler.touch()
        result = run(root, "ingest", str(tmp_path / "big"), "--json", "--jobs", "2")
        one_error(result, "disk full")
        with open_archive(root, readonly=True) as arc:
            catalogued = {p.record.sha256 for p in arc.catalog.iter_photos()}
        originals = {p.name.split(".")[0] for p in (root / "originals").rglob("*.jpg")}
        assert originals == catalogued  # everything complete is catalogued, nothing else
        with filler.open("ab") as fh:  # fill what is left to the last byte
            try:
                while True:
                    fh.write(b"\0" * 65536)
                    fh.flush()
            except OSError:
                pass
        found = run(root, "search", "izium", "--json", "--limit", "500")
        assert found.returncode == 0, found.stderr
        assert len(json.loads(found.stdout)) == len(catalogued)
        client = create_app(root).test_client()
        assert client.get("/api/search?q=izium&limit=500").get_json()["total"] == len(catalogued)
        filler.unlink()
        again = run(root, "ingest", str(tmp_path / "big"))
        assert "Traceback" not in again.stderr
    finally:
        subprocess.run(["umount", "-l", str(small)], check=False)


# -- files the archive writes -------------------------------------------------------------


def test_archive_files_follow_the_umask(tmp_path: Path) -> None:
    code = "import os, sys; os.umask(0o022)\nfrom photoarchive.cli import main; main()\n"
    root = tmp_path / "archive"
    photos = make_photos(tmp_path / "in", range(3))
    for args in (("init",), ("ingest", str(photos))):
        done = subprocess.run(
            [sys.executable, "-c", code, "--archive", str(root), *args],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
    for path in root.rglob("*"):
        mode = path.stat().st_mode & 0o777
        if path.name.endswith("WRITELOCK"):  # Whoosh's own lock file (0777 & ~umask)
            continue
        assert mode == (0o755 if path.is_dir() else 0o644), (path, oct(mode))


def test_watch_in_a_thread_leaves_the_writer_lock_free(filled: Path, tmp_path: Path) -> None:
    """A long-lived writer holds the lock only while it writes a batch."""
    from photoarchive.watch import watch_folder

    folder = tmp_path / "hot"
    folder.mkdir()
    stop = threading.Event()

    def watch() -> None:
        with open_archive(filled) as arc:  # SQLite connections stay in their thread
            watch_folder(arc, folder, settle=0.1, poll=0.1, stop=stop)

    thread = threading.Thread(target=watch)
    thread.start()
    try:
        make_photos(folder, range(1000, 1003))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(list((folder / "done").glob("*"))) < 3:
            time.sleep(0.1)
        assert run(filled, "reindex").returncode == 0
        make_photos(folder, range(1003, 1005))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and len(list((folder / "done").glob("*"))) < 5:
            time.sleep(0.1)
    finally:
        stop.set()
        thread.join()
    with open_archive(filled) as arc:
        assert arc.search("izium", limit=1).total == 17
        assert arc.verify().ok


def test_verify_cleans_up_after_a_killed_rebuild(filled: Path) -> None:
    index = index_dir(filled)
    half_built = index.with_name(index.name + ".rebuild")
    half_built.mkdir()
    (half_built / "_photos_1.toc").write_bytes(b"half a table of contents")
    found = run(filled, "verify")
    assert found.returncode == 1 and half_built.name in found.stderr
    assert run(filled, "verify", "--repair").returncode == 0
    assert not half_built.exists()
