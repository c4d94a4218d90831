"""The PostgreSQL test server (scripts/postgres.sh): its address and fresh databases on it."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import pytest

ENV = "PHOTOARCHIVE_TEST_POSTGRES"


def postgres_url() -> str:
    """The test server's URL (its `postgres` database), or skip the test when there is none."""
    url = os.environ.get(ENV, "").strip()
    if not url:
        pytest.skip(
            "no PostgreSQL server: run 'bash scripts/postgres.sh start' and export what it "
            "prints (the test command does)"
        )
    return url


def database_url(base_url: str, name: str) -> str:
    """`base_url` with its database replaced by `name`."""
    parts = urlsplit(base_url)
    return urlunsplit(parts._replace(path="/" + name))


@contextmanager
def fresh_database(base_url: str) -> Iterator[str]:
    """A new, empty database on the server of `base_url`, dropped afterwards; yields its URL."""
    import psycopg
    from psycopg import sql

    name = f"pa_test_{secrets.token_hex(8)}"
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield database_url(base_url, name)
    finally:
        with psycopg.connect(base_url, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
