"""The archive folder's own store: originals/ and renditions/ beside the catalog."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from pathlib import Path
from typing import BinaryIO

from photoarchive.atomic import TEMP_PREFIX, atomic_write, write_atomically
from photoarchive.errors import (
    ObjectMissingError,
    RejectedFileError,
    StorageError,
    TargetExistsError,
)
from photoarchive.store import ORIGINALS, RENDITIONS, StoredObject, original_key, rendition_key


class FolderStore:
    """Originals under originals/ab/<sha256>.<ext>, renditions under renditions/ab/, each
    written atomically (temporary file, fsync, rename)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.originals = root / "originals"
        self.renditions = root / "renditions"
        self.where = str(root)

    def path(self, key: str) -> Path:
        """Return where the file of `key` lives."""
        return self.root / key

    def original_path(self, sha256: str, ext: str) -> Path:
        """Return where the original with this hash and extension lives."""
        return self.path(original_key(sha256, ext))

    def rendition_path(self, sha256: str, kind: str) -> Path:
        """Return where the `kind` ("thumb" or "preview") rendition lives."""
        return self.path(rendition_key(sha256, kind))

    def shown(self, key: str) -> str:
        return str(self.path(key))

    def check(self) -> None:
        if not self.root.is_dir():
            raise StorageError(f"the archive folder {self.root} is not there")

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def missing(self, keys: Iterable[str]) -> set[str]:
        return {k for k in keys if not self.exists(k)}

    def put_original_from(self, sha256: str, ext: str, source: BinaryIO, limit: int) -> bool:
        path = self.original_path(sha256, ext)
        if path.exists():
            return False

        def fill(fh: BinaryIO) -> None:
            digest = hashlib.sha256()
            total = 0
            while True:
                try:
                    piece = source.read(1 << 20)
                except OSError as exc:  # the file being ingested, not the archive's disk
                    raise RejectedFileError(f"cannot read file: {exc.strerror or exc}") from None
                if not piece:
                    break
                total += len(piece)
                if total > limit:
                    raise RejectedFileError("the file grew while it was read; ingest it again")
                digest.update(piece)
                fh.write(piece)
            if digest.hexdigest() != sha256:
                raise RejectedFileError("the file changed while it was read; ingest it again")

        write_atomically(path, fill, keep_cached=False, overwrite=True)
        return True

    def put(self, key: str, data: bytes, replace: bool = True) -> bool:
        try:
            atomic_write(self.path(key), data, overwrite=replace)
        except TargetExistsError:
            return False
        return True

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        try:
            return self.path(key).open("rb")
        except FileNotFoundError:
            raise ObjectMissingError(f"{self.shown(key)} is missing") from None
        except OSError as exc:
            raise StorageError(f"cannot read {self.shown(key)}: {exc.strerror}") from None

    def read(self, key: str) -> bytes:
        with self.open(key) as fh:
            return fh.read()

    def sha256(self, key: str) -> str:
        digest = hashlib.sha256()
        with self.open(key) as fh:
            while chunk := fh.read(1 << 20):
                digest.update(chunk)
        return digest.hexdigest()

    def delete(self, key: str) -> None:
        try:
            self.path(key).unlink(missing_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot remove {self.shown(key)}: {exc.strerror}") from None

    def objects(self, prefix: str) -> Iterator[StoredObject]:
        base = {ORIGINALS: self.originals, RENDITIONS: self.renditions}[prefix]
        if not base.is_dir():
            return
        for path in sorted(base.glob("*/*")):
            if path.name.startswith(TEMP_PREFIX):
                continue
            try:
                st = path.stat()
            except OSError:  # removed since it was listed
                continue
            yield StoredObject(f"{prefix}{path.parent.name}/{path.name}", st.st_size, st.st_mtime)

    def local_path(self, key: str) -> Path | None:
        return self.path(key)

    def url(self, key: str, seconds: int) -> str | None:
        return None

    def leftovers(self, writers_since: float | None) -> list[str]:
        # A temporary file names its writer's process: it is a leftover once that is gone.
        found: list[Path] = []
        for base in (self.originals, self.renditions):
            if base.is_dir():
                found.extend(p for p in base.glob(f"*/{TEMP_PREFIX}*") if not _writer_alive(p))
        return [str(p) for p in sorted(found)]

    def remove_leftovers(self, writers_since: float | None) -> int:
        removed = 0
        for name in self.leftovers(writers_since):
            with contextlib.suppress(OSError):
                Path(name).unlink()
                removed += 1
        return removed

    def close(self) -> None:
        pass


def _writer_alive(path: Path) -> bool:
    match = re.match(rf"{re.escape(TEMP_PREFIX)}(\d+)-", path.name)
    if not match:
        return False
    pid = int(match.group(1))
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
