"""Archives whose files are on S3-compatible object storage (the real Ceph RGW of
scripts/ceph.sh): init, moving a folder's files there, verify, two ingests at once, kills
during uploads, the server down, slow or refusing, and the desk's renditions."""

from __future__ import annotations

import hashlib
import io
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
import tomllib
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from photoarchive import open_archive
from photoarchive.locking import storing_photo
from photoarchive.store import original_key, photo_keys, rendition_key
from photoarchive.store.local import FolderStore
from photoarchive.store.s3 import PART_BYTES, S3Location, S3Store
from photoarchive.web import create_app
from tests.objectstore import empty_bucket, fresh_bucket, s3_client, s3_endpoint, written_keys


@pytest.fixture(scope="module")
def bucket() -> Iterator[tuple[str, str]]:
    """The test server's URL and a bucket of its own for this module's archives."""
    endpoint = s3_endpoint()
    with fresh_bucket(endpoint) as name:
        yield endpoint, name


@pytest.fixture(autouse=True)
def own_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test says where its archive's files go, whatever the test run's backend."""
    monkeypatch.delenv("PHOTOARCHIVE_STORAGE", raising=False)


def _cli(root: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    return subprocess.run(
        [sys.executable, "-m", "photoarchive", "--archive", str(root), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )


def _noisy(path: Path, seed: int, size: tuple[int, int] = (600, 400), fmt: str = "JPEG") -> Path:
    rng = random.Random(seed)
    im = Image.frombytes("RGB", size, rng.randbytes(size[0] * size[1] * 3))
    if fmt == "JPEG":
        im.save(path, fmt, quality=90)
    else:
        im.save(path, fmt)
    return path


def _photos(folder: Path, count: int, size: tuple[int, int] = (600, 400)) -> Path:
    """A folder of `count` distinct noise JPEGs."""
    folder.mkdir()
    for seed in range(count):
        _noisy(folder / f"p{seed}.jpg", seed, size)
    return folder


def _s3_archive(root: Path, endpoint: str, bucket: str, prefix: str) -> Path:
    result = _cli(
        root, "init", "--storage", f"s3://{bucket}/{prefix}", "--storage-endpoint", endpoint
    )
    assert result.returncode == 0, result.stderr
    return root


def _ids(root: Path, query: str) -> list[str]:
    return sorted(r["id"] for r in json.loads(_cli(root, "search", query, "--json").stdout))


def _settings(root: Path) -> dict[str, Any]:
    table: dict[str, Any] = tomllib.loads((root / "archive.toml").read_text())["archive"]
    return table


def _one_line_error(result: Any) -> str:
    """The one error line of a command that failed (progress lines may come before it)."""
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert "Traceback" not in result.stderr
    assert [ln for ln in lines if ln.startswith("Error:")] == lines[-1:], result.stderr
    return lines[-1]


# -- init and the demo ----------------------------------------------------------------


def test_an_archive_on_s3_keeps_no_files_in_its_folder_and_finds_its_photos(
    tmp_path: Path, bucket: tuple[str, str], demo_photos: Path
) -> None:
    endpoint, name = bucket
    root = _s3_archive(tmp_path / "archive", endpoint, name, "demo-on-s3")
    assert _settings(root)["storage"] == f"s3://{name}/demo-on-s3/"
    assert _settings(root)["storage_endpoint"] == endpoint
    assert _cli(root, "ingest", str(demo_photos)).returncode == 0
    assert not (root / "originals").exists() and not (root / "renditions").exists()
    with open_archive(root) as arc:
        assert isinstance(arc.store, S3Store)
        photos = list(arc.catalog.iter_photos())
        assert len(photos) == 8
        for photo in photos:
            keys = photo_keys(photo.record.sha256, photo.ext)
            assert arc.store.missing(keys) == set()
            assert arc.store.sha256(keys[0]) == photo.record.sha256
        shown = _cli(root, "show", photos[0].record.id)
        assert f"s3://{name}/demo-on-s3/originals/" in shown.stdout
    found = json.loads(_cli(root, "search", "Kharkiv", "--json").stdout)
    assert len(found) >= 1
    assert _cli(root, "verify").returncode == 0


def test_an_s3_prefix_holding_another_archive_is_refused(
    tmp_path: Path, bucket: tuple[str, str]
) -> None:
    endpoint, name = bucket
    _s3_archive(tmp_path / "first", endpoint, name, "taken")
    line = _one_line_error(
        _cli(
            tmp_path / "second",
            "init",
            "--storage",
            f"s3://{name}/taken",
            "--storage-endpoint",
            endpoint,
        )
    )
    assert "another archive" in line
    assert not (tmp_path / "second" / "archive.toml").exists()


# -- failures: one line, nothing catalogued -----------------------------------------------


def test_a_missing_bucket_or_wrong_credentials_are_one_line(
    tmp_path: Path, bucket: tuple[str, str]
) -> None:
    endpoint, _ = bucket
    line = _one_line_error(
        _cli(
            tmp_path / "a",
            "init",
            "--storage",
            "s3://no-such-bucket-here/x",
            "--storage-endpoint",
            endpoint,
        )
    )
    assert "no-such-bucket-here" in line and "does not exist" in line
    wrong = {"AWS_SECRET_ACCESS_KEY": "not-the-secret"}
    line = _one_line_error(
        _cli(
            tmp_path / "b",
            "init",
            "--storage",
            f"s3://{bucket[1]}/x",
            "--storage-endpoint",
            endpoint,
            env=wrong,
        )
    )
    assert "refused the credentials" in line and "not-the-secret" not in line
    unknown = {"AWS_ACCESS_KEY_ID": "NOBODY"}
    line = _one_line_error(
        _cli(
            tmp_path / "c",
            "init",
            "--storage",
            f"s3://{bucket[1]}/x",
            "--storage-endpoint",
            endpoint,
            env=unknown,
        )
    )
    assert "refused the credentials" in line


def _set_endpoint(root: Path, endpoint: str, attempts: int = 2, timeout: int = 1) -> None:
    text = (root / "archive.toml").read_text()
    lines = [
        ln
        for ln in text.splitlines()
        if not ln.startswith(("storage_endpoint", "storage_attempts", "storage_timeout"))
    ]
    lines += [
        f'storage_endpoint = "{endpoint}"',
        f"storage_attempts = {attempts}",
        f"storage_timeout_seconds = {timeout}",
    ]
    (root / "archive.toml").write_text("\n".join(lines) + "\n")


def _silent_server() -> tuple[str, socket.socket]:
    """A server that accepts connections and never answers (a hung object store)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    held: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                held.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    return f"http://127.0.0.1:{listener.getsockname()[1]}", listener


@pytest.mark.parametrize("server", ["down", "silent"])
def test_a_store_down_or_silent_is_one_line_after_bounded_retries_and_nothing_catalogued(
    tmp_path: Path, bucket: tuple[str, str], server: str
) -> None:
    endpoint, name = bucket
    root = _s3_archive(tmp_path / "archive", endpoint, name, f"gone-{server}")
    photo = _noisy(tmp_path / "photo.jpg", 1)
    if server == "down":
        spare = socket.socket()
        spare.bind(("127.0.0.1", 0))
        gone = f"http://127.0.0.1:{spare.getsockname()[1]}"
        spare.close()  # nothing listens there
        listener = None
    else:
        gone, listener = _silent_server()
    _set_endpoint(root, gone)
    started = time.monotonic()
    line = _one_line_error(_cli(root, "ingest", str(photo)))
    took = time.monotonic() - started
    if listener is not None:
        listener.close()
    assert "object store" in line and gone in line
    assert took < 60  # two tries of at most a second's wait each, and the backoff between
    _set_endpoint(root, endpoint, attempts=5, timeout=20)
    stats = json.loads(_cli(root, "stats", "--json").stdout)
    assert stats["photos"] == 0
    # Back up: the same file goes in.
    assert _cli(root, "ingest", str(photo)).returncode == 0
    assert json.loads(_cli(root, "stats", "--json").stdout)["photos"] == 1


# -- verify ---------------------------------------------------------------------------------


def test_verify_on_s3_finds_deleted_corrupted_and_stray_objects_and_repairs_what_it_may(
    tmp_path: Path, bucket: tuple[str, str]
) -> None:
    endpoint, name = bucket
    root = _s3_archive(tmp_path / "archive", endpoint, name, "verify")
    folder = _photos(tmp_path / "in", 4)
    assert _cli(root, "ingest", str(folder)).returncode == 0
    client = s3_client(endpoint)
    with open_archive(root) as arc:
        store = arc.store
        assert isinstance(store, S3Store)
        photos = sorted(arc.catalog.iter_photos(), key=lambda p: p.record.id)
        gone, damaged, thumbless, _ = photos
        prefix = store.prefix
        client.delete_object(Bucket=name, Key=prefix + original_key(gone.record.sha256, gone.ext))
        client.put_object(
            Bucket=name,
            Key=prefix + original_key(damaged.record.sha256, damaged.ext),
            Body=b"not the photo any more",
        )
        client.delete_object(
            Bucket=name, Key=prefix + rendition_key(thumbless.record.sha256, "thumb")
        )
        stray = original_key("ee" * 32, "jpg")
        client.put_object(Bucket=name, Key=prefix + stray, Body=b"stray")
    time.sleep(2.5)  # the stray is older than any writer that starts now
    result = _cli(root, "verify", "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert [m.split()[0] for m in report["missing_originals"]] == [gone.record.id]
    assert [m.split()[0] for m in report["corrupt"]] == [damaged.record.id]
    assert [m.split()[0] for m in report["missing_renditions"]] == [thumbless.record.id]
    assert report["orphan_files"] == [f"s3://{name}/verify/{stray}"]
    # --repair remakes the thumbnail; it deletes no object, stray or not, without --prune.
    repaired = json.loads(_cli(root, "verify", "--repair", "--json").stdout)
    assert any(thumbless.record.id in r for r in repaired["repaired"])
    assert repaired["orphan_files"] == [f"s3://{name}/verify/{stray}"]
    with open_archive(root) as arc:
        assert arc.store.exists(stray)
        assert arc.store.exists(rendition_key(thumbless.record.sha256, "thumb"))
        assert arc.store.exists(original_key(damaged.record.sha256, damaged.ext))
    pruned = json.loads(_cli(root, "verify", "--repair", "--prune", "--json").stdout)
    assert pruned["orphan_files"] == []
    with open_archive(root) as arc:
        assert not arc.store.exists(stray)
        # The damaged original is the catalog's: never deleted, still reported.
        assert arc.store.exists(original_key(damaged.record.sha256, damaged.ext))
    assert [m.split()[0] for m in pruned["corrupt"]] == [damaged.record.id]


# -- migrate --storage ------------------------------------------------------------------------


@pytest.fixture
def embedded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Archives made here keep their files in the folder, whatever the test run's backend."""
    monkeypatch.delenv("PHOTOARCHIVE_STORAGE", raising=False)
    return tmp_path


def test_the_demo_archive_moves_to_s3_with_every_object_checked(
    embedded: Path, bucket: tuple[str, str], demo_photos: Path
) -> None:
    endpoint, name = bucket
    root = embedded / "archive"
    assert _cli(root, "init").returncode == 0
    assert _cli(root, "ingest", str(demo_photos)).returncode == 0
    before = {q: _ids(root, q) for q in ("*:*", "Kharkiv", "credit:reuters")}
    folder_files = sorted(p for p in (root / "originals").rglob("*") if p.is_file())
    moved = _cli(
        root, "migrate", "--storage", f"s3://{name}/moved", "--storage-endpoint", endpoint, "--json"
    )
    assert moved.returncode == 0, moved.stderr
    report = json.loads(moved.stdout)["storage"]
    assert report["copied"] == 24 and report["checked"] == 24 and report["already_there"] == 0
    assert _settings(root)["storage"] == f"s3://{name}/moved/"
    # The folder's files are left as they were.
    assert sorted(p for p in (root / "originals").rglob("*") if p.is_file()) == folder_files
    with open_archive(root) as arc:
        assert isinstance(arc.store, S3Store)
        for photo in arc.catalog.iter_photos():
            key = original_key(photo.record.sha256, photo.ext)
            assert arc.store.sha256(key) == photo.record.sha256
            assert arc.store.read(key) == (root / key).read_bytes()
    after = {q: _ids(root, q) for q in before}
    assert after == before
    assert _cli(root, "verify").returncode == 0
    export = embedded / "export"
    assert _cli(root, "export", "*:*", "--to", str(export)).returncode == 0
    assert len(list(export.iterdir())) >= 8
    # Moved once: a second move is refused in one line.
    again = _one_line_error(_cli(root, "migrate", "--storage", f"s3://{name}/other"))
    assert "already" in again


def test_a_move_killed_midway_changes_nothing_and_is_resumed(
    embedded: Path, bucket: tuple[str, str]
) -> None:
    endpoint, name = bucket
    root = embedded / "archive"
    folder = embedded / "in"
    folder.mkdir()
    for seed in range(20):
        _noisy(folder / f"p{seed}.png", seed, (700, 500), "PNG")  # about 1 MB each
    assert _cli(root, "init").returncode == 0
    assert _cli(root, "ingest", "-j", "2", str(folder)).returncode == 0
    client = s3_client(endpoint)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "photoarchive",
            "--archive",
            str(root),
            "migrate",
            "--storage",
            f"s3://{name}/resumed",
            "--storage-endpoint",
            endpoint,
        ],
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        listed = client.list_objects_v2(Bucket=name, Prefix="resumed/originals/")
        if listed.get("KeyCount", 0) >= 5:
            break
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert "storage" not in _settings(root)
    with open_archive(root) as arc:
        assert isinstance(arc.store, FolderStore)
    assert _cli(root, "verify").returncode == 0
    resumed = _cli(
        root,
        "migrate",
        "--storage",
        f"s3://{name}/resumed",
        "--storage-endpoint",
        endpoint,
        "--json",
    )
    assert resumed.returncode == 0, resumed.stderr
    report = json.loads(resumed.stdout)["storage"]
    assert report["already_there"] >= 5 and report["checked"] == 60
    assert report["copied"] + report["already_there"] == 60
    assert _cli(root, "verify").returncode == 0


def test_a_move_replaces_an_object_that_differs_from_its_file(
    embedded: Path, bucket: tuple[str, str]
) -> None:
    endpoint, name = bucket
    root = embedded / "archive"
    photo = _noisy(embedded / "p.jpg", 7)
    assert _cli(root, "init").returncode == 0
    assert _cli(root, "ingest", str(photo)).returncode == 0
    with open_archive(root) as arc:
        [stored] = arc.catalog.iter_photos()
        archive_id = arc.catalog.archive_id() or ""
    # The store holds a rendition of the same size but other bytes (a half-done earlier
    # move to a damaged server): the check finds it and sends the file again.
    thumb = rendition_key(stored.record.sha256, "thumb")
    data = (root / thumb).read_bytes()
    S3Store(S3Location(name, "differs/"), endpoint=endpoint).claim(archive_id)
    s3_client(endpoint).put_object(Bucket=name, Key=f"differs/{thumb}", Body=bytes(len(data)))
    moved = _cli(
        root,
        "migrate",
        "--storage",
        f"s3://{name}/differs",
        "--storage-endpoint",
        endpoint,
        "--json",
    )
    assert moved.returncode == 0, moved.stderr
    report = json.loads(moved.stdout)["storage"]
    assert report["already_there"] == 1 and report["replaced"] == 1 and report["copied"] == 2
    with open_archive(root) as arc:
        assert arc.store.read(thumb) == data


# -- two ingests at once; kills during uploads --------------------------------------------------


def test_two_ingests_of_the_same_files_at_once_store_each_object_once(
    tmp_path: Path, bucket: tuple[str, str]
) -> None:
    endpoint, name = bucket
    root = _s3_archive(tmp_path / "archive", endpoint, name, "twice")
    folder = _photos(tmp_path / "in", 16, (900, 700))
    ingests = [
        subprocess.Popen(
            [sys.executable, "-m", "photoarchive", "--archive", str(root), "ingest", "--json",
             str(folder)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        for _ in range(2)
    ]  # fmt: skip
    outs = [p.communicate(timeout=300)[0] for p in ingests]
    assert [p.returncode for p in ingests] == [0, 0]
    statuses = [o["status"] for out in outs for o in json.loads(out)]
    assert statuses.count("new") == 16 and statuses.count("duplicate") == 16
    # The server's own record: one accepted write per original and rendition.
    writes = [k for k in written_keys(name, "twice/") if not k.endswith("archive.id")]
    assert len(set(writes)) == 16 * 3
    assert len(writes) == 16 * 3, sorted(k for k in set(writes) if writes.count(k) > 1)
    assert _cli(root, "verify").returncode == 0


def test_writers_of_the_same_photo_at_the_same_moment_write_it_once(
    tmp_path: Path, bucket: tuple[str, str]
) -> None:
    """Writers of one photo's files released at the same instant take turns under its lock,
    so the second finds them there: on a bucket whose server does not honour conditional
    writes too (Ceph before Reef ignores If-None-Match on a versioned bucket)."""
    endpoint = bucket[0]
    with fresh_bucket(endpoint) as name:
        s3_client(endpoint).put_bucket_versioning(
            Bucket=name, VersioningConfiguration={"Status": "Enabled"}
        )
        _write_at_once(tmp_path, endpoint, name)


def _write_at_once(tmp_path: Path, endpoint: str, name: str) -> None:
    barrier = threading.Barrier(2)
    photos = [os.urandom(20_000) for _ in range(20)]
    errors: list[BaseException] = []

    def writer() -> None:
        store = S3Store(S3Location(name, "same-moment/"), endpoint=endpoint)
        try:
            for data in photos:
                sha = hashlib.sha256(data).hexdigest()
                barrier.wait(timeout=30)
                with storing_photo(tmp_path, sha):
                    store.put_original_from(sha, "jpg", io.BytesIO(data), len(data))
                    store.put(rendition_key(sha, "thumb"), data[:100], replace=False)
        except BaseException as exc:  # reported below
            errors.append(exc)
            barrier.abort()
        finally:
            store.close()

    threads = [threading.Thread(target=writer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    writes = written_keys(name, "same-moment/")
    assert len(writes) == 40 and len(set(writes)) == 40


def test_ingests_killed_during_uploads_lose_nothing_and_the_rerun_completes(
    tmp_path: Path, bucket: tuple[str, str]
) -> None:
    endpoint, name = bucket
    root = _s3_archive(tmp_path / "archive", endpoint, name, "killed")
    folder = tmp_path / "in"
    folder.mkdir()
    # Uncompressed TIFFs larger than a part: each original goes up in several requests.
    side = int((PART_BYTES * 1.6 / 3) ** 0.5)
    for seed in range(6):
        _noisy(folder / f"big{seed}.tif", seed, (side, side), "TIFF")
    client = s3_client(endpoint)
    caught_mid_upload = 0
    for delay in (0.8, 1.6, 2.4):
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "photoarchive",
                "--archive",
                str(root),
                "ingest",
                "-j",
                "2",
                str(folder),
            ],
            stderr=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(delay)
        os.killpg(proc.pid, signal.SIGKILL)  # the ingest and its worker processes
        proc.wait()
        if client.list_multipart_uploads(Bucket=name, Prefix="killed/").get("Uploads"):
            caught_mid_upload += 1
        with open_archive(root) as arc:
            for photo in arc.catalog.iter_photos():
                assert arc.store.missing(photo_keys(photo.record.sha256, photo.ext)) == set()
    assert caught_mid_upload >= 1  # at least one kill fell in the middle of an upload
    assert _cli(root, "ingest", str(folder)).returncode == 0
    with open_archive(root) as arc:
        assert arc.catalog.count() == 6
        for photo in arc.catalog.iter_photos():
            key = original_key(photo.record.sha256, photo.ext)
            assert arc.store.sha256(key) == photo.record.sha256
    # What the killed uploads left (parts the server keeps until told) is taken back by
    # the next ingest or verify --repair once no writer of that time runs.
    repaired = _cli(root, "verify", "--repair", "--json")
    assert json.loads(repaired.stdout)["temp_files"] == []
    assert client.list_multipart_uploads(Bucket=name, Prefix="killed/").get("Uploads") is None
    assert _cli(root, "verify").returncode == 0


# -- the desk -------------------------------------------------------------------------------------


def test_the_desk_serves_renditions_through_itself_or_by_signed_links(
    tmp_path: Path, bucket: tuple[str, str]
) -> None:
    endpoint, name = bucket
    root = _s3_archive(tmp_path / "archive", endpoint, name, "desk")
    photo = _noisy(tmp_path / "p.jpg", 3)
    assert _cli(root, "ingest", str(photo)).returncode == 0
    with open_archive(root) as arc:
        [stored] = arc.catalog.iter_photos()
        thumb = arc.store.read(rendition_key(stored.record.sha256, "thumb"))
    rec = stored.record
    client = create_app(root).test_client()
    answer = client.get(f"/photos/{rec.id}/thumb.jpg")
    assert answer.status_code == 200 and answer.data == thumb
    again = client.get(
        f"/photos/{rec.id}/thumb.jpg", headers={"If-None-Match": answer.headers["ETag"]}
    )
    assert again.status_code == 304
    original = client.get(f"/photos/{rec.id}/original")
    assert original.status_code == 200 and original.data == photo.read_bytes()
    ranged = client.get(f"/photos/{rec.id}/original", headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and ranged.data == photo.read_bytes()[:100]

    linked = create_app(root, rendition_links=True).test_client()
    page = linked.get("/")
    assert endpoint in page.headers["Content-Security-Policy"]
    moved = linked.get(f"/photos/{rec.id}/thumb.jpg")
    assert moved.status_code == 302
    url = moved.headers["Location"]
    assert url.startswith(f"{endpoint}/{name}/desk/renditions/") and "X-Amz-Signature" in url
    with urllib.request.urlopen(url, timeout=10) as fetched:
        assert fetched.read() == thumb
    # Originals are only ever sent by id, through the desk.
    assert linked.get(f"/photos/{rec.id}/original").status_code == 200
    # A rendition gone from the store is a 404, not an error page.
    s3_client(endpoint).delete_object(
        Bucket=name, Key=f"desk/{rendition_key(rec.sha256, 'preview')}"
    )
    assert client.get(f"/photos/{rec.id}/preview.jpg").status_code == 404


def test_the_move_leaves_no_unused_bucket_contents(bucket: tuple[str, str]) -> None:
    """Emptying the module's bucket works (the fixture relies on it)."""
    endpoint, name = bucket
    client = s3_client(endpoint)
    client.put_object(Bucket=name, Key="scratch/x", Body=b"x")
    empty_bucket(client, name)
    assert client.list_objects_v2(Bucket=name).get("KeyCount") == 0
