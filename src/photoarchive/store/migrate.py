"""Move an archive's files from its folder to object storage: resumable, every object checked."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from photoarchive.errors import RejectedFileError, StorageError
from photoarchive.store import ORIGINALS, RENDITIONS, StoredObject, sha_of
from photoarchive.store.local import FolderStore
from photoarchive.store.s3 import PART_BYTES, S3Store

#: Files sent at once: each upload waits on the network more than on the disk.
PARALLEL_UPLOADS = 8


@dataclass
class StorageMove:
    """What a move of the files did: files sent, found there already, and checked."""

    target: str
    copied: int = 0
    already_there: int = 0
    #: Objects found to differ from their file (a damaged earlier copy), sent again.
    replaced: int = 0
    checked: int = 0
    bytes_copied: int = 0
    #: Files of the folder that are not the store's own (kept out of the move).
    skipped: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON data."""
        return {
            "storage": self.target,
            "copied": self.copied,
            "already_there": self.already_there,
            "replaced": self.replaced,
            "checked": self.checked,
            "bytes_copied": self.bytes_copied,
            "skipped": self.skipped,
        }


def folder_files(source: FolderStore) -> Iterator[StoredObject]:
    """Yield every original and rendition of the folder."""
    for prefix in (ORIGINALS, RENDITIONS):
        yield from source.objects(prefix)


def copy_files(
    source: FolderStore,
    target: S3Store,
    report: StorageMove,
    on_progress: Callable[[int, int], None] | None = None,
) -> None:
    """Send every file of the folder the store does not hold yet (at the same size)."""
    there = {o.key: o.size for p in (ORIGINALS, RENDITIONS) for o in target.objects(p)}
    wanted = []
    for stored in folder_files(source):
        if sha_of(stored.key) is None:
            report.skipped.append(source.shown(stored.key))
        elif there.get(stored.key) == stored.size:
            report.already_there += 1
        else:
            wanted.append(stored)
    done = 0
    with ThreadPoolExecutor(PARALLEL_UPLOADS) as pool:
        for size in pool.map(lambda s: _send(source, target, s), wanted):
            done += 1
            report.copied += 1
            report.bytes_copied += size
            if on_progress:
                on_progress(done, len(wanted))


def _send(source: FolderStore, target: S3Store, stored: StoredObject) -> int:
    if stored.key.startswith(ORIGINALS):
        sha = sha_of(stored.key)
        assert sha is not None
        ext = stored.key.rsplit(".", 1)[1]
        try:
            with source.open(stored.key) as fh:
                target.put_original_from(sha, ext, fh, stored.size)
        except RejectedFileError:
            raise StorageError(
                f"{source.shown(stored.key)} does not hash to its name: the original is "
                "damaged (photoarchive verify); nothing of the move was kept in archive.toml"
            ) from None
    else:
        target.put(stored.key, source.read(stored.key))
    return stored.size


def check_files(
    source: FolderStore,
    target: S3Store,
    report: StorageMove,
    on_progress: Callable[[int, int], None] | None = None,
) -> None:
    """Check that the store holds every file of the folder, byte for byte: sizes from the
    listing, contents by the object's ETag (the MD5 of what the server stored, computed here
    from the file), or where the server's ETag is not that, by reading the object back. An
    object that differs from its file is sent again, once, and read back."""
    listed = {o.key: o for p in (ORIGINALS, RENDITIONS) for o in _listing(target, p)}
    files = [s for s in folder_files(source) if sha_of(s.key) is not None]
    wrong: list[str] = []

    def check(stored: StoredObject) -> str | None:
        there = listed.get(stored.key)
        if there is None:
            return f"{target.shown(stored.key)} is missing"
        if there.size != stored.size:
            return f"{target.shown(stored.key)} has {there.size} bytes, not {stored.size}"
        if there.etag in _etags(source, stored.key, stored.size):
            return None
        local = source.sha256(stored.key)
        if target.sha256(stored.key) == local:
            return None
        # Not this file's bytes (an original's object is named by them, so it is damaged):
        # replaced by the file's.
        target.delete(stored.key)
        _send(source, target, stored)
        if target.sha256(stored.key) != local:
            return f"{target.shown(stored.key)} differs from {source.shown(stored.key)}"
        return "replaced"

    with ThreadPoolExecutor(PARALLEL_UPLOADS) as pool:
        for done, problem in enumerate(pool.map(check, files), 1):
            report.checked += 1
            if problem == "replaced":
                report.replaced += 1
            elif problem:
                wrong.append(problem)
            if on_progress:
                on_progress(done, len(files))
    if wrong:
        more = f" (and {len(wrong) - 3} more)" if len(wrong) > 3 else ""
        raise StorageError(
            f"the copy on {target.where} is not complete: {'; '.join(wrong[:3])}{more}; "
            "run the move again"
        )


@dataclass(frozen=True)
class _Listed:
    key: str
    size: int
    etag: str


def _listing(target: S3Store, prefix: str) -> Iterator[_Listed]:
    for item in target.list_with_etags(prefix):
        yield _Listed(*item)


def _etags(source: FolderStore, key: str, size: int) -> set[str]:
    """Return the ETags S3 gives a file of these bytes: the MD5 of a single upload, and the
    MD5 of the parts' MD5s of an upload in parts of PART_BYTES."""
    whole = hashlib.md5()
    parts: list[bytes] = []
    with source.open(key) as fh:
        while piece := fh.read(PART_BYTES):
            whole.update(piece)
            parts.append(hashlib.md5(piece).digest())
    tags = {whole.hexdigest()}
    if size > PART_BYTES:
        tags.add(f"{hashlib.md5(b''.join(parts)).hexdigest()}-{len(parts)}")
    return tags
