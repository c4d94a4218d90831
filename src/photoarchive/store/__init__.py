"""Where originals and renditions are kept: the file-store interface, its keys, its choice."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol

from photoarchive.errors import ConfigError

if TYPE_CHECKING:
    from photoarchive.config import ArchiveSettings

RENDITION_KINDS = ("thumb", "preview")
#: The two top-level folders (prefixes) of a store.
ORIGINALS, RENDITIONS = "originals/", "renditions/"
_KEY = re.compile(
    r"(originals|renditions)/([0-9a-f]{2})/([0-9a-f]{64})(?:\.[a-z0-9]+|-[a-z]+\.jpg)"
)


def original_key(sha256: str, ext: str) -> str:
    """Return the key of the original with this hash and extension."""
    return f"{ORIGINALS}{sha256[:2]}/{sha256}.{ext}"


def rendition_key(sha256: str, kind: str) -> str:
    """Return the key of the `kind` ("thumb" or "preview") rendition."""
    return f"{RENDITIONS}{sha256[:2]}/{sha256}-{kind}.jpg"


def photo_keys(sha256: str, ext: str) -> list[str]:
    """Return the keys of every file a stored photo has: its original and renditions."""
    return [original_key(sha256, ext), *(rendition_key(sha256, k) for k in RENDITION_KINDS)]


def sha_of(key: str) -> str | None:
    """Return the hash a store key names, or None if the key is not one the store writes."""
    match = _KEY.fullmatch(key)
    if match is None or match.group(2) != match.group(3)[:2]:
        return None
    return match.group(3)


@dataclass(frozen=True)
class StoredObject:
    """One file of the store: its key, size and when it was written (POSIX seconds)."""

    key: str
    size: int
    modified: float


class FileStore(Protocol):
    """Originals (written once, content-addressed) and renditions (made again at will).

    Keys are `originals/ab/<sha256>.<ext>` and `renditions/ab/<sha256>-<kind>.jpg`, the
    same in every store. Methods raise StorageError with a one-line message when the store
    cannot be reached or written, ObjectMissingError when a key is not there.
    """

    #: Where the store is, for messages: a folder, or s3://bucket/prefix.
    where: str

    def shown(self, key: str) -> str:
        """Return a key as users see it: a path, or an s3:// URL."""
        ...

    def check(self) -> None:
        """Raise StorageError (one line) unless the store can be reached and used."""
        ...

    def exists(self, key: str) -> bool:
        """True if the store holds `key`."""
        ...

    def missing(self, keys: Iterable[str]) -> set[str]:
        """Return those of `keys` the store does not hold."""
        ...

    def put_original_from(self, sha256: str, ext: str, source: BinaryIO, limit: int) -> bool:
        """Store an original copied from `source` a piece at a time; return True if this
        call wrote it, False if the store held it already (it is never rewritten).

        The bytes copied must hash to `sha256` and be at most `limit` long, or nothing is
        stored and RejectedFileError says the file changed while it was read.
        """
        ...

    def put(self, key: str, data: bytes, replace: bool = True) -> bool:
        """Write a rendition (replacing the one there, unless not `replace`); return True
        if this call wrote it."""
        ...

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        """Open a stored file to read (seekable)."""
        ...

    def read(self, key: str) -> bytes:
        """Return a stored file's bytes."""
        ...

    def sha256(self, key: str) -> str:
        """Return the SHA-256 of a stored file's bytes, read in full."""
        ...

    def delete(self, key: str) -> None:
        """Remove a stored file (nothing if it is not there)."""
        ...

    def objects(self, prefix: str) -> Iterator[StoredObject]:
        """Yield every file under `prefix` (ORIGINALS or RENDITIONS) in key order; files
        being written are not among them."""
        ...

    def local_path(self, key: str) -> Path | None:
        """Return the file's path where the store is a folder; None otherwise."""
        ...

    def url(self, key: str, seconds: int) -> str | None:
        """Return a URL that reads the file for `seconds` without credentials, or None
        where the store has none (a folder)."""
        ...

    def leftovers(self, writers_since: float | None) -> list[str]:
        """Return what interrupted writes left (temporary files, unfinished uploads) whose
        writer has gone. `writers_since` is when the oldest writer still running started
        (time.time(); None: none runs): a write begun before it is no running writer's."""
        ...

    def remove_leftovers(self, writers_since: float | None) -> int:
        """Remove what `leftovers` names; return how many."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


def open_store(root: Path, settings: ArchiveSettings) -> FileStore:
    """Return the store the archive at `root` keeps its files in: the folder's originals/
    and renditions/ (the default), or `storage = "s3://bucket/prefix"` of its settings."""
    if not settings.storage:
        from photoarchive.store.local import FolderStore

        return FolderStore(root)
    if settings.storage.startswith("s3://"):
        from photoarchive.store.s3 import S3Store

        return S3Store.from_settings(settings)
    raise ConfigError(f"storage must be empty or s3://BUCKET/PREFIX, not {settings.storage!r}")
