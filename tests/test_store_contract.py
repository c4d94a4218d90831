"""The file-store contract, run against every store: the archive folder and S3 (Ceph RGW)."""

from __future__ import annotations

import hashlib
import io
import os
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from photoarchive.errors import ObjectMissingError, RejectedFileError
from photoarchive.store import (
    ORIGINALS,
    RENDITIONS,
    FileStore,
    original_key,
    rendition_key,
    sha_of,
)
from photoarchive.store.local import FolderStore
from photoarchive.store.s3 import PART_BYTES, S3Location, S3Store
from tests.objectstore import fresh_bucket, s3_client, s3_endpoint


@pytest.fixture(scope="module")
def bucket() -> Iterator[tuple[str, str]]:
    endpoint = s3_endpoint()
    with fresh_bucket(endpoint) as name:
        yield endpoint, name


@pytest.fixture(params=["folder", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FileStore]:
    if request.param == "folder":
        made: FileStore = FolderStore(tmp_path)
    else:
        endpoint, name = request.getfixturevalue("bucket")
        made = S3Store(S3Location(name, f"{tmp_path.name}/"), endpoint=endpoint)
    yield made
    made.close()


def _photo(size: int = 50_000) -> tuple[bytes, str]:
    data = os.urandom(size)
    return data, hashlib.sha256(data).hexdigest()


def test_an_original_is_written_once(store: FileStore) -> None:
    data, sha = _photo()
    assert store.put_original_from(sha, "jpg", io.BytesIO(data), len(data)) is True
    assert store.put_original_from(sha, "jpg", io.BytesIO(data), len(data)) is False
    key = original_key(sha, "jpg")
    assert store.exists(key)
    assert store.read(key) == data
    assert store.sha256(key) == sha
    with store.open(key) as fh:
        fh.seek(10)
        assert fh.read(5) == data[10:15]


def test_bytes_that_do_not_hash_to_the_name_are_refused_and_leave_nothing(
    store: FileStore,
) -> None:
    data, sha = _photo()
    changed = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(RejectedFileError, match="changed while it was read"):
        store.put_original_from(sha, "jpg", io.BytesIO(changed), len(changed))
    assert not store.exists(original_key(sha, "jpg"))
    assert list(store.objects(ORIGINALS)) == []
    assert store.leftovers(None) == []


def test_a_file_longer_than_its_limit_is_refused(store: FileStore) -> None:
    data, sha = _photo()
    with pytest.raises(RejectedFileError, match="grew"):
        store.put_original_from(sha, "jpg", io.BytesIO(data), len(data) - 1)
    assert not store.exists(original_key(sha, "jpg"))


def test_a_large_original_goes_up_in_parts_and_comes_back_whole(store: FileStore) -> None:
    data, sha = _photo(PART_BYTES * 2 + 12345)
    assert store.put_original_from(sha, "tif", io.BytesIO(data), len(data))
    key = original_key(sha, "tif")
    assert store.sha256(key) == sha
    [listed] = store.objects(ORIGINALS)
    assert (listed.key, listed.size) == (key, len(data))
    assert store.leftovers(None) == []


def test_a_large_original_that_changed_is_refused_and_its_upload_taken_back(
    store: FileStore,
) -> None:
    data, sha = _photo(PART_BYTES + 1000)
    changed = data[:-1] + bytes([data[-1] ^ 1])
    with pytest.raises(RejectedFileError):
        store.put_original_from(sha, "tif", io.BytesIO(changed), len(changed))
    assert list(store.objects(ORIGINALS)) == []
    assert store.leftovers(None) == []


def test_renditions_are_replaced_or_kept(store: FileStore) -> None:
    key = rendition_key("ab" * 32, "thumb")
    assert store.put(key, b"first") is True
    assert store.put(key, b"second", replace=False) is False
    assert store.read(key) == b"first"
    assert store.put(key, b"third") is True
    assert store.read(key) == b"third"


def test_missing_files_are_named(store: FileStore) -> None:
    data, sha = _photo()
    store.put_original_from(sha, "jpg", io.BytesIO(data), len(data))
    thumb = rendition_key(sha, "thumb")
    assert store.missing([original_key(sha, "jpg"), thumb]) == {thumb}
    with pytest.raises(ObjectMissingError, match="missing"):
        store.read(thumb)
    with pytest.raises(ObjectMissingError):
        store.open(thumb)
    store.delete(original_key(sha, "jpg"))
    store.delete(original_key(sha, "jpg"))  # not there: nothing to do
    assert not store.exists(original_key(sha, "jpg"))


def test_objects_are_listed_in_key_order_by_prefix(store: FileStore) -> None:
    shas = []
    for _ in range(5):
        data, sha = _photo(1000)
        store.put_original_from(sha, "jpg", io.BytesIO(data), len(data))
        store.put(rendition_key(sha, "thumb"), b"t")
        shas.append(sha)
    originals = list(store.objects(ORIGINALS))
    assert [o.key for o in originals] == sorted(original_key(s, "jpg") for s in shas)
    assert all(o.size == 1000 and o.modified > time.time() - 600 for o in originals)
    assert [sha_of(o.key) for o in store.objects(RENDITIONS)] == sorted(shas)


def test_shown_names_the_file_where_users_find_it(store: FileStore) -> None:
    key = original_key("cd" * 32, "jpg")
    shown = store.shown(key)
    assert shown.endswith(key)
    if isinstance(store, S3Store):
        assert shown.startswith(f"s3://{store.bucket}/")
    else:
        assert Path(shown).parent.parent.parent == Path(store.where)


def test_sha_of_knows_only_the_stores_own_keys() -> None:
    sha = "0f" * 32
    assert sha_of(original_key(sha, "jpg")) == sha
    assert sha_of(rendition_key(sha, "preview")) == sha
    assert sha_of(f"originals/aa/{sha}.jpg") is None  # in the wrong folder
    assert sha_of("originals/0f/notes.txt") is None
    assert sha_of("archive.id") is None


def test_links_read_a_file_without_credentials_where_the_store_has_them(
    store: FileStore,
) -> None:
    key = rendition_key("ef" * 32, "thumb")
    store.put(key, b"thumbnail bytes")
    url = store.url(key, 60)
    if isinstance(store, FolderStore):
        assert url is None
        assert store.local_path(key) == store.path(key)
        return
    assert url is not None and "Signature" in url
    assert store.local_path(key) is None
    with urllib.request.urlopen(url, timeout=10) as answer:  # no credentials sent
        assert answer.read() == b"thumbnail bytes"


def test_unfinished_uploads_of_gone_writers_are_leftovers(store: FileStore) -> None:
    if isinstance(store, FolderStore):
        # A temporary file named by a process that is gone.
        folder = store.originals / "00"
        folder.mkdir(parents=True)
        (folder / ".tmp-999999-abc").write_bytes(b"x")
        (folder / f".tmp-{os.getpid()}-def").write_bytes(b"y")  # this writer runs
    else:
        assert isinstance(store, S3Store)
        s3_client(store.endpoint).create_multipart_upload(
            Bucket=store.bucket, Key=store.prefix + original_key("00" * 32, "jpg")
        )
        # Begun before the oldest running writer started: no running writer's.
        assert store.leftovers(time.time() - 60) == []
    [left] = store.leftovers(time.time() + 60)
    assert "00" in left
    assert store.remove_leftovers(time.time() + 60) == 1
    assert store.leftovers(time.time() + 60) == []
