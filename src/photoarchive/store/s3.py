"""Originals and renditions on S3-compatible object storage (boto3; plain S3 API only)."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, TypeVar

from photoarchive.errors import ConfigError, ObjectMissingError, RejectedFileError, StorageError
from photoarchive.store import ORIGINALS, RENDITIONS, StoredObject, original_key

if TYPE_CHECKING:
    from photoarchive.config import ArchiveSettings

#: Files larger than this go up in parts of this size (S3 allows 10,000 parts: 160 GB).
PART_BYTES = 16 << 20
#: Downloads larger than this are kept in a temporary file rather than in memory.
SPOOL_BYTES = 32 << 20
#: The object naming the archive whose files are under the prefix.
ARCHIVE_MARKER = "archive.id"
#: HEAD requests sent at once when many keys are checked.
PARALLEL_REQUESTS = 8
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_CONTENT_TYPES = {
    "jpg": "image/jpeg",
    "png": "image/png",
    "tif": "image/tiff",
    "webp": "image/webp",
    "heic": "image/heic",
    "gif": "image/gif",
}
_T = TypeVar("_T")
_clients: dict[tuple[object, ...], Any] = {}
_clients_lock = threading.Lock()


@dataclass(frozen=True)
class S3Location:
    """A bucket and the prefix (empty, or ending in "/") the archive's files are under."""

    bucket: str
    prefix: str

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def parse_location(url: str) -> S3Location:
    """Return the bucket and prefix of `s3://bucket[/prefix]`; raise ConfigError if it
    cannot name one."""
    match = re.fullmatch(r"s3://([^/]+)(?:/(.*))?", url)
    if match is None or not _BUCKET.fullmatch(match.group(1)):
        raise ConfigError(
            f"{url[:80]!r} is not an S3 location (s3://BUCKET/PREFIX; bucket names are 3-63 "
            "lower-case letters, digits, dots and hyphens)"
        )
    prefix = (match.group(2) or "").strip("/")
    if any(part in ("", ".", "..") for part in prefix.split("/")) and prefix:
        raise ConfigError(f"{url[:80]!r}: the prefix may not hold empty, . or .. parts")
    return S3Location(match.group(1), f"{prefix}/" if prefix else "")


class S3Store:
    """Keys under s3://bucket/prefix/. Originals are written once (If-None-Match: *, so two
    machines storing the same photo cannot overwrite each other) with their SHA-256 sent
    along for the server to check; a write killed half-way leaves no object, at most an
    unfinished multipart upload that `remove_leftovers` aborts."""

    def __init__(
        self,
        location: S3Location,
        endpoint: str = "",
        region: str = "",
        access_key: str = "",
        secret_key: str = "",
        attempts: int = 5,
        timeout: float = 20.0,
    ) -> None:
        self.location = location
        self._given_endpoint = endpoint
        self.bucket = location.bucket
        self.prefix = location.prefix
        self.where = str(location)
        self.endpoint = (
            endpoint
            or os.environ.get("AWS_ENDPOINT_URL_S3", "")
            or os.environ.get("AWS_ENDPOINT_URL", "")
        )
        self._region = region
        self._keys = (access_key, secret_key)
        self._attempts = attempts
        self._timeout = timeout

    @classmethod
    def from_settings(cls, settings: ArchiveSettings) -> S3Store:
        """Return the store `storage = "s3://..."` and the storage_* settings name."""
        return cls(
            parse_location(settings.storage),
            endpoint=settings.storage_endpoint,
            region=settings.storage_region,
            access_key=settings.storage_access_key,
            secret_key=settings.storage_secret_key,
            attempts=settings.storage_attempts,
            timeout=float(settings.storage_timeout_seconds),
        )

    def below(self, name: str) -> S3Store:
        """Return the same store with its files in the folder `name` under this prefix."""
        access, secret = self._keys
        return S3Store(
            S3Location(self.bucket, f"{self.prefix}{name}/"),
            self._given_endpoint,
            self._region,
            access,
            secret,
            self._attempts,
            self._timeout,
        )

    def settings_text(self) -> str:
        """Return the archive.toml lines that name this store."""
        from photoarchive.config import toml_string

        text = (
            "# originals and renditions are kept on S3-compatible object storage; credentials\n"
            "# come from storage_access_key and storage_secret_key, or AWS_ACCESS_KEY_ID,\n"
            "# AWS_SECRET_ACCESS_KEY and the AWS SDK's other usual places\n"
            f"storage = {toml_string(self.where)}\n"
        )
        if self._given_endpoint:
            text += f"storage_endpoint = {toml_string(self._given_endpoint)}\n"
        return text

    # -- the client -------------------------------------------------------------------

    def _s3(self) -> Any:
        """Return this process's client of the store's server, shared by its threads and
        its stores (the clients are thread-safe; making one takes a tenth of a second); a forked
        process makes its own."""
        access, secret = self._keys
        key = (
            os.getpid(), self.endpoint, self._region, access, secret, self._attempts,
            self._timeout,
        )  # fmt: skip
        with _clients_lock:
            client = _clients.get(key)
            if client is None:
                client = _clients[key] = self._make_client()
            return client

    def _make_client(self) -> Any:
        try:
            # boto3's own core, without boto3's transfer manager: a process that touches
            # the store starts 0.15 s sooner.
            import botocore.session
            from botocore.config import Config
        except ImportError:
            raise ConfigError("storage on S3 needs boto3: pip install 'photoarchive[s3]'") from None
        config = Config(
            # Bounded retries with exponential backoff and jitter on throttling, 5xx answers
            # and dropped connections; then one error.
            retries={"max_attempts": self._attempts, "mode": "standard"},
            connect_timeout=self._timeout,
            read_timeout=self._timeout,
            max_pool_connections=2 * PARALLEL_REQUESTS,
            signature_version="s3v4",
            # Path-style requests work on every S3 server; virtual hosts need DNS set up.
            s3={"addressing_style": "path"} if self.endpoint else {},
            # Checksums are sent where we choose (below), not the SDK's newest defaults,
            # which servers other than AWS refuse or store wrongly.
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        access, secret = self._keys
        session = botocore.session.get_session()
        region = self._region or session.get_config_variable("region")
        if not region and self.endpoint:
            region = "us-east-1"  # what S3 servers other than AWS take when none is set
        return session.create_client(
            "s3",
            region_name=region or None,
            endpoint_url=self.endpoint or None,
            aws_access_key_id=access or None,
            aws_secret_access_key=secret or None,
            config=config,
        )

    def _call(self, what: str, call: Callable[[], _T], key: str | None = None) -> _T:
        """Run one request, its errors turned into one-line StorageErrors."""
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            return call()
        except ClientError as exc:
            raise self._client_error(what, exc, key) from None
        except NoCredentialsError:
            raise StorageError(
                f"no credentials for {self.where}: set storage_access_key and "
                "storage_secret_key in archive.toml, or AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY"
            ) from None
        except BotoCoreError as exc:
            raise StorageError(
                f"cannot reach the object store {self._server()} to {what} "
                f"(tried {self._attempts} times): {exc}"
            ) from None

    def _server(self) -> str:
        return self.endpoint or "(AWS)"

    def _client_error(self, what: str, exc: Any, key: str | None) -> StorageError:
        error = exc.response.get("Error", {})
        code = str(error.get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "NoSuchBucket" or (code in ("404", "NotFound") and key is None):
            return StorageError(f"the bucket {self.bucket!r} does not exist on {self._server()}")
        if code in ("NoSuchKey", "404", "NotFound") and key is not None:
            return ObjectMissingError(f"{self.shown(key)} is missing")
        if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AuthorizationHeaderMalformed"):
            return StorageError(
                f"the object store {self._server()} refused the credentials ({code}): check "
                "storage_access_key and storage_secret_key, or AWS_ACCESS_KEY_ID and "
                "AWS_SECRET_ACCESS_KEY"
            )
        if code in ("AccessDenied", "403") or status == 403:
            return StorageError(
                f"the object store refused to {what} in {self.where} (access denied)"
            )
        if code in ("QuotaExceeded", "EntityTooLarge") or status == 507:
            return StorageError(f"the object store is full: cannot {what} in {self.where} ({code})")
        message = str(error.get("Message", "") or code or status)
        return StorageError(f"the object store cannot {what} in {self.where}: {message}")

    def _key(self, key: str) -> str:
        return self.prefix + key

    # -- the interface ----------------------------------------------------------------

    def shown(self, key: str) -> str:
        return f"{self.where}{key}"

    def check(self) -> None:
        s3 = self._s3()
        # A listing rather than HEAD: its answer's body says why it is refused.
        self._call(
            "list the bucket",
            lambda: s3.list_objects_v2(Bucket=self.bucket, Prefix=self.prefix, MaxKeys=1),
        )

    def claim(self, archive_id: str) -> None:
        """Mark the prefix as the archive `archive_id`'s; raise StorageError if it holds
        another archive's files (whose orphans a prune would otherwise take)."""
        self.check()
        s3 = self._s3()
        marker = self._key(ARCHIVE_MARKER)
        if self._call(
            "write the archive's mark",
            lambda: _created(
                lambda: s3.put_object(
                    Bucket=self.bucket, Key=marker, Body=archive_id.encode(), IfNoneMatch="*"
                )
            ),
        ):
            return
        body = self._call(
            "read the archive's mark",
            lambda: s3.get_object(Bucket=self.bucket, Key=marker)["Body"].read(),
        )
        if body.decode("utf-8", "replace").strip() != archive_id:
            raise StorageError(f"{self.where} holds another archive's files; choose another prefix")

    def owner(self) -> str | None:
        """Return the id of the archive whose files are here, or None if unmarked."""
        s3 = self._s3()
        try:
            body = self._call(
                "read the archive's mark",
                lambda: s3.get_object(Bucket=self.bucket, Key=self._key(ARCHIVE_MARKER))[
                    "Body"
                ].read(),
                ARCHIVE_MARKER,
            )
        except ObjectMissingError:
            return None
        return bytes(body).decode("utf-8", "replace").strip()

    def head(self, key: str) -> dict[str, Any] | None:
        """Return the object's headers (size, metadata), or None if it is not there."""
        s3 = self._s3()
        try:
            answer: dict[str, Any] = self._call(
                "look up a file",
                lambda: s3.head_object(Bucket=self.bucket, Key=self._key(key)),
                key,
            )
        except ObjectMissingError:
            return None
        return answer

    def exists(self, key: str) -> bool:
        return self.head(key) is not None

    def missing(self, keys: Iterable[str]) -> set[str]:
        wanted = list(keys)
        if len(wanted) <= 1:
            return {k for k in wanted if not self.exists(k)}
        with ThreadPoolExecutor(PARALLEL_REQUESTS) as pool:
            found = list(pool.map(self.exists, wanted))
        return {k for k, there in zip(wanted, found, strict=True) if not there}

    def put_original_from(self, sha256: str, ext: str, source: BinaryIO, limit: int) -> bool:
        key = original_key(sha256, ext)
        if self.exists(key):
            return False
        first = _read(source, PART_BYTES + 1)
        if len(first) > limit:
            raise RejectedFileError("the file grew while it was read; ingest it again")
        if len(first) <= PART_BYTES:
            if hashlib.sha256(first).hexdigest() != sha256:
                raise RejectedFileError("the file changed while it was read; ingest it again")
            return self._put_once(key, first, sha256, ext)
        return self._put_in_parts(key, first, source, sha256, ext, limit)

    def _put_once(self, key: str, data: bytes, sha256: str, ext: str) -> bool:
        return self._write(
            "store an original",
            key,
            data,
            _CONTENT_TYPES.get(ext, "application/octet-stream"),
            once=True,
            # Checked by the server where it takes SHA-256 checksums (AWS, Ceph from Reef);
            # the MD5 every server checks.
            ChecksumSHA256=_b64(bytes.fromhex(sha256)),
            Metadata={"sha256": sha256},
        )

    def _write(
        self, what: str, key: str, data: bytes, content_type: str, once: bool, **extra: Any
    ) -> bool:
        """PUT one object (with If-None-Match: * when `once`); return False if the server
        kept the one there. The server checks the body's MD5: a body damaged on the way
        is refused, never stored."""
        s3 = self._s3()
        condition = {"IfNoneMatch": "*"} if once else {}
        return self._call(
            what,
            lambda: _created(
                lambda: s3.put_object(
                    Bucket=self.bucket,
                    Key=self._key(key),
                    Body=data,
                    ContentMD5=_b64(hashlib.md5(data).digest()),
                    ContentType=content_type,
                    **condition,
                    **extra,
                )
            ),
            key,
        )

    def _put_in_parts(
        self, key: str, first: bytes, source: BinaryIO, sha256: str, ext: str, limit: int
    ) -> bool:
        s3 = self._s3()
        upload = self._call(
            "start an upload",
            lambda: s3.create_multipart_upload(
                Bucket=self.bucket,
                Key=self._key(key),
                ContentType=_CONTENT_TYPES.get(ext, "application/octet-stream"),
                Metadata={"sha256": sha256},
            ),
        )["UploadId"]
        try:
            digest = hashlib.sha256()
            parts = []
            piece, total, number = first[:PART_BYTES], 0, 1
            rest = first[PART_BYTES:]
            while piece:
                total += len(piece)
                if total > limit:
                    raise RejectedFileError("the file grew while it was read; ingest it again")
                digest.update(piece)
                etag = self._call(
                    "store a part of an original",
                    lambda body=piece, n=number: s3.upload_part(  # type: ignore[misc]
                        Bucket=self.bucket,
                        Key=self._key(key),
                        UploadId=upload,
                        PartNumber=n,
                        Body=body,
                        ContentMD5=_b64(hashlib.md5(body).digest()),
                    ),
                )["ETag"]
                parts.append({"PartNumber": number, "ETag": etag})
                number += 1
                piece = rest + _read(source, PART_BYTES - len(rest))
                rest = b""
            if digest.hexdigest() != sha256:
                raise RejectedFileError("the file changed while it was read; ingest it again")
            # Where the server honours If-None-Match here (AWS does; Ceph before Reef
            # ignores it and stores the same bytes again), a photo stored meanwhile by
            # another machine is kept as it is.
            created = self._call(
                "finish an upload",
                lambda: _created(
                    lambda: s3.complete_multipart_upload(
                        Bucket=self.bucket,
                        Key=self._key(key),
                        UploadId=upload,
                        MultipartUpload={"Parts": parts},
                        IfNoneMatch="*",
                    )
                ),
                key,
            )
            if not created:
                with contextlib.suppress(Exception):
                    s3.abort_multipart_upload(
                        Bucket=self.bucket, Key=self._key(key), UploadId=upload
                    )
                return False
        except BaseException:
            with contextlib.suppress(Exception):  # else left for remove_leftovers
                s3.abort_multipart_upload(Bucket=self.bucket, Key=self._key(key), UploadId=upload)
            raise
        return True

    def put(self, key: str, data: bytes, replace: bool = True) -> bool:
        # Kept: looked up first as well, for servers that ignore the condition.
        if not replace and self.exists(key):
            return False
        return self._write(
            "store a rendition",
            key,
            data,
            "image/jpeg",
            once=not replace,
            # Browsers reading renditions by a signed link may keep them a day.
            CacheControl="private, max-age=86400",
        )

    def _get(self, key: str) -> Any:
        s3 = self._s3()
        return self._call(
            "read a file", lambda: s3.get_object(Bucket=self.bucket, Key=self._key(key)), key
        )["Body"]

    def open(self, key: str) -> AbstractContextManager[BinaryIO]:
        spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115
        try:
            self._copy(key, spool.write)
            spool.seek(0)
        except BaseException:
            spool.close()
            raise
        return spool  # type: ignore[return-value]

    def _copy(self, key: str, sink: Callable[[bytes], object]) -> None:
        from botocore.exceptions import BotoCoreError

        body = self._get(key)
        try:
            for chunk in body.iter_chunks(1 << 20):
                sink(chunk)
        except BotoCoreError as exc:
            raise StorageError(f"reading {self.shown(key)} broke off: {exc}") from None
        finally:
            body.close()

    def read(self, key: str) -> bytes:
        parts: list[bytes] = []
        self._copy(key, parts.append)
        return b"".join(parts)

    def sha256(self, key: str) -> str:
        digest = hashlib.sha256()
        self._copy(key, digest.update)
        return digest.hexdigest()

    def delete(self, key: str) -> None:
        s3 = self._s3()
        self._call(
            "remove a file", lambda: s3.delete_object(Bucket=self.bucket, Key=self._key(key))
        )

    def objects(self, prefix: str) -> Iterator[StoredObject]:
        for item in self._list(prefix):
            yield StoredObject(
                item["Key"][len(self.prefix) :], int(item["Size"]), item["LastModified"].timestamp()
            )

    def list_with_etags(self, prefix: str) -> Iterator[tuple[str, int, str]]:
        """Yield (key, size, ETag without quotes) of every object under `prefix`."""
        for item in self._list(prefix):
            yield item["Key"][len(self.prefix) :], int(item["Size"]), item["ETag"].strip('"')

    def _list(self, prefix: str) -> Iterator[dict[str, Any]]:
        assert prefix in (ORIGINALS, RENDITIONS)
        s3 = self._s3()
        pages = iter(
            s3.get_paginator("list_objects_v2").paginate(
                Bucket=self.bucket, Prefix=self._key(prefix)
            )
        )
        while (page := self._call("list the files", lambda: next(pages, None))) is not None:
            yield from page.get("Contents", [])

    def local_path(self, key: str) -> Path | None:
        return None

    def url(self, key: str, seconds: int) -> str | None:
        s3 = self._s3()
        url: str = self._call(
            "sign a link",
            lambda: s3.generate_presigned_url(
                "get_object",
                Params={"Bucket": self.bucket, "Key": self._key(key)},
                ExpiresIn=seconds,
            ),
        )
        return url

    def _uploads(self, writers_since: float | None) -> list[tuple[str, str]]:
        """Return (key, upload id) of the unfinished uploads no running writer began."""
        s3 = self._s3()
        found = []
        marker: dict[str, str] = {}
        while True:
            answer = self._call(
                "list unfinished uploads",
                lambda m=marker: s3.list_multipart_uploads(  # type: ignore[misc]
                    Bucket=self.bucket, Prefix=self.prefix, **m
                ),
            )
            cutoff = None
            if writers_since is not None:
                # The server's clock dates the uploads: the writers' start is put on it.
                offset = _server_time(answer) - time.time()
                cutoff = writers_since + offset - 2.0
            for upload in answer.get("Uploads", []):
                if cutoff is None or upload["Initiated"].timestamp() < cutoff:
                    found.append((upload["Key"][len(self.prefix) :], upload["UploadId"]))
            if not answer.get("IsTruncated"):
                return found
            marker = {
                "KeyMarker": answer["NextKeyMarker"],
                "UploadIdMarker": answer["NextUploadIdMarker"],
            }

    def leftovers(self, writers_since: float | None) -> list[str]:
        return [f"{self.shown(key)} (unfinished upload)" for key, _ in self._uploads(writers_since)]

    def remove_leftovers(self, writers_since: float | None) -> int:
        s3 = self._s3()
        removed = 0
        for key, upload in self._uploads(writers_since):
            self._call(
                "abort an unfinished upload",
                lambda k=key, u=upload: s3.abort_multipart_upload(  # type: ignore[misc]
                    Bucket=self.bucket, Key=self._key(k), UploadId=u
                ),
            )
            removed += 1
        return removed

    def close(self) -> None:
        # The client is the process's, shared with its other stores: kept for them.
        pass


def _read(source: BinaryIO, size: int) -> bytes:
    """Read up to `size` bytes of the file being ingested."""
    pieces, left = [], size
    while left > 0:
        try:
            piece = source.read(min(left, 1 << 20))
        except OSError as exc:  # the file being ingested, not the store
            raise RejectedFileError(f"cannot read file: {exc.strerror or exc}") from None
        if not piece:
            break
        pieces.append(piece)
        left -= len(piece)
    return b"".join(pieces)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _created(put: Callable[[], object]) -> bool:
    """Run a write sent with If-None-Match: *; return False if the server refused it
    because the object exists (412), or another writer's write of it is under way (409)."""
    from botocore.exceptions import ClientError

    try:
        put()
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", ""))
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in ("PreconditionFailed", "ConditionalRequestConflict") or status in (409, 412):
            return False
        raise
    return True


def _server_time(answer: dict[str, Any]) -> float:
    date = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("date")
    try:
        return parsedate_to_datetime(date).timestamp() if date else time.time()
    except (TypeError, ValueError):
        return time.time()
