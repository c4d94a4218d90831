"""The S3 test server (scripts/ceph.sh: Ceph's RGW): its address and fresh buckets on it."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

ENV = "PHOTOARCHIVE_TEST_S3"


def s3_endpoint() -> str:
    """The test server's URL, or skip the test when there is none."""
    url = os.environ.get(ENV, "").strip()
    if not url:
        pytest.skip(
            "no S3 server: run 'bash scripts/ceph.sh start' and export what it prints "
            "(the test command does)"
        )
    return url


def written_keys(bucket: str, prefix: str, settle_seconds: float = 3.0) -> list[str]:
    """Return the key of every write into `bucket` under `prefix` the test server accepted
    (200), one entry per write, as its gateway's access log records them (what the server
    did, whatever the client believes)."""
    import re
    import time

    log = os.environ.get("PHOTOARCHIVE_TEST_S3_LOG", "")
    if not log or not os.path.isfile(log):
        pytest.fail(f"the S3 test server's log is not at {log!r} ($PHOTOARCHIVE_TEST_S3_LOG)")
    line = re.compile(rf'"PUT /{re.escape(bucket)}/({re.escape(prefix)}[^ ?]*) HTTP/[0-9.]+" 200 ')
    # The gateway writes its log a moment after it answers.
    found: list[str] = []
    deadline = time.monotonic() + settle_seconds
    while True:
        with open(log, encoding="utf-8", errors="replace") as fh:
            now = [m.group(1) for m in map(line.search, fh) if m]
        if now == found and time.monotonic() >= deadline:
            return found
        found = now
        time.sleep(0.5)


def s3_client(endpoint: str) -> Any:
    """A plain boto3 client of the test server (the credentials are the environment's)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        config=Config(
            s3={"addressing_style": "path"},
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        ),
    )


@contextmanager
def fresh_bucket(endpoint: str) -> Iterator[str]:
    """A new, empty bucket on the server, emptied and removed afterwards; yields its name."""
    client = s3_client(endpoint)
    name = f"pa-test-{secrets.token_hex(6)}"
    client.create_bucket(Bucket=name)
    try:
        yield name
    finally:
        empty_bucket(client, name)
        client.delete_bucket(Bucket=name)


def empty_bucket(client: Any, name: str) -> None:
    """Remove every object (every version of it) and unfinished upload of a bucket."""
    for page in client.get_paginator("list_object_versions").paginate(Bucket=name):
        keys = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if keys:
            try:
                client.delete_objects(Bucket=name, Delete={"Objects": keys, "Quiet": True})
            except Exception:  # a key XML cannot carry (control characters): one at a time
                for key in keys:
                    client.delete_object(Bucket=name, **key)
    for page in client.get_paginator("list_multipart_uploads").paginate(Bucket=name):
        for upload in page.get("Uploads", []):
            client.abort_multipart_upload(
                Bucket=name, Key=upload["Key"], UploadId=upload["UploadId"]
            )
