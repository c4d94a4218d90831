"""The PostgreSQL test server is real: version 15, fresh separate databases, a stable address."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.postgres import ENV, fresh_database, postgres_url

psycopg = pytest.importorskip("psycopg")


def test_fresh_database_is_postgresql_15(postgresql_url: str) -> None:
    with psycopg.connect(postgresql_url) as conn:
        row = conn.execute("SELECT version(), current_database()").fetchone()
    assert row is not None
    version, database = row
    assert "PostgreSQL 15" in version
    assert database.startswith("pa_test_")
    assert postgresql_url.endswith("/" + database)


def test_two_fresh_databases_are_separate(postgresql_url: str) -> None:
    with fresh_database(postgres_url()) as other:
        assert other != postgresql_url
        with psycopg.connect(postgresql_url) as conn:
            conn.execute("CREATE TABLE photos (id integer PRIMARY KEY, caption text)")
            conn.execute("INSERT INTO photos VALUES (1, 'Київ, 2024')")
        with psycopg.connect(postgresql_url) as conn:
            assert conn.execute("SELECT caption FROM photos").fetchall() == [("Київ, 2024",)]
        with psycopg.connect(other) as conn:
            assert conn.execute("SELECT to_regclass('photos')").fetchone() == (None,)
            # The other one is usable too.
            conn.execute("CREATE TABLE photos (id integer)")
            assert conn.execute("SELECT count(*) FROM photos").fetchone() == (0,)


def test_fresh_database_is_dropped_afterwards() -> None:
    base = postgres_url()
    with fresh_database(base) as url:
        name = url.rsplit("/", 1)[1]
        # A connection left open does not keep it: the drop forces it closed.
        lingering = psycopg.connect(url)
        lingering.execute("SELECT 1")
        with psycopg.connect(base) as admin:
            assert exists(admin, name)
    try:
        with psycopg.connect(base) as admin:
            assert not exists(admin, name)
    finally:
        lingering.close()


def exists(conn: Any, name: str) -> bool:
    row = conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,)).fetchone()
    return bool(row == (1,))


def test_starting_again_prints_the_same_address() -> None:
    url = postgres_url()
    if sys.platform != "linux":
        pytest.skip("scripts/postgres.sh drives Debian's PostgreSQL clusters")
    done = subprocess.run(
        ["bash", str(ROOT / "scripts" / "postgres.sh"), "start"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert done.stdout == f"export {ENV}={url}\n"
