"""Test helpers that reach an archive's stored files the same way on every store: the
archive folder's own files, or the objects of the S3 test server (what a test does to a
file behind the archive's back, which the store's own interface has no call for)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from photoarchive import Archive
from photoarchive.atomic import TEMP_PREFIX
from photoarchive.config import SETTINGS_FILE, load_settings
from photoarchive.store import ORIGINALS, RENDITIONS, FileStore, open_store, original_key
from photoarchive.store.local import FolderStore
from photoarchive.store.s3 import S3Store
from tests.objectstore import s3_client


@contextmanager
def store_of(root: Path | str) -> Iterator[FileStore]:
    """The file store of the archive at `root` (for a test that has only its folder), as
    its archive.toml names it: opened without the catalog, which may be lost or busy."""
    store = open_store(Path(root), load_settings(Path(root) / SETTINGS_FILE))
    try:
        yield store
    finally:
        store.close()


def _store(where: Archive | FileStore) -> FileStore:
    return where.store if isinstance(where, Archive) else where


def overwrite_stored(where: Archive | FileStore, key: str, data: bytes) -> None:
    """Replace a stored file's bytes in place, as a failing disk or a careless hand would
    (an original is never rewritten by the archive itself)."""
    store = _store(where)
    if isinstance(store, FolderStore):
        path = store.path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    elif isinstance(store, S3Store):
        s3_client(store.endpoint).put_object(Bucket=store.bucket, Key=store.prefix + key, Body=data)
    else:
        raise TypeError(f"no way to overwrite a file of {type(store).__name__}")


def damage_stored(where: Archive | FileStore, key: str, at: int = -10, bits: int = 0xFF) -> bytes:
    """Flip `bits` of the byte at `at` of a stored file (bit rot); return the damaged bytes."""
    store = _store(where)
    data = bytearray(store.read(key))
    data[at] ^= bits
    overwrite_stored(store, key, bytes(data))
    return bytes(data)


def remove_stored(where: Archive | FileStore, key: str) -> None:
    """Remove a stored file behind the catalog's back (lost, or deleted by hand)."""
    store = _store(where)
    store.delete(key)
    assert not store.exists(key)


def stored_keys(where: Archive | FileStore, prefix: str | None = None) -> list[str]:
    """The keys of every stored file under `prefix` (ORIGINALS or RENDITIONS; both if
    None), in key order."""
    store = _store(where)
    prefixes = (ORIGINALS, RENDITIONS) if prefix is None else (prefix,)
    return [o.key for p in prefixes for o in store.objects(p)]


def leave_leftover(where: Archive | FileStore) -> str:
    """Leave what a writer killed half-way leaves behind: a temporary file of a process that
    has gone (the folder), an unfinished multipart upload (S3). Return what names it for
    `leftover_there`."""
    store = _store(where)
    if isinstance(store, FolderStore):
        dead = store.path(f"{ORIGINALS}00/{TEMP_PREFIX}999999-abc")
        dead.parent.mkdir(parents=True, exist_ok=True)
        dead.write_bytes(b"half a photo")
        return str(dead)
    if isinstance(store, S3Store):
        key = store.prefix + original_key("00" * 32, "jpg")
        upload = s3_client(store.endpoint).create_multipart_upload(Bucket=store.bucket, Key=key)
        return str(upload["UploadId"])
    raise TypeError(f"no way to leave a leftover in {type(store).__name__}")


def leftover_there(where: Archive | FileStore, name: str) -> bool:
    """True if the leftover `leave_leftover` returned `name` for is still there."""
    store = _store(where)
    if isinstance(store, FolderStore):
        return Path(name).exists()
    if isinstance(store, S3Store):
        client = s3_client(store.endpoint)
        answer = client.list_multipart_uploads(Bucket=store.bucket, Prefix=store.prefix)
        return any(u["UploadId"] == name for u in answer.get("Uploads", []))
    raise TypeError(f"no way to look for a leftover in {type(store).__name__}")


def files_under(root: Path) -> set[str]:
    """Every file the store of the archive at `root` holds, and every leftover of a write:
    keys and leftovers' names."""
    with store_of(root) as store:
        return {*stored_keys(store), *store.leftovers(None)}
