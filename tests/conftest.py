"""Shared test fixtures: fresh archives, the committed fixture images, the corpus and demo set."""

from __future__ import annotations

import importlib.util
import os
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from click.testing import CliRunner, Result

from photoarchive import Archive, init_archive
from photoarchive.archive import CATALOG_VARIABLE, STORAGE_VARIABLE
from photoarchive.cli import main
from tests.objectstore import fresh_bucket, s3_endpoint
from tests.postgres import fresh_database, postgres_url

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
SHARED = ROOT.parent / "shared"
CORPUS = SHARED / "corpus"
SEED = SHARED / "seed" / "captions.tsv"


#: Set to "postgresql" to run the tests with every new archive's catalog on the test server.
CATALOG_BACKEND = "PHOTOARCHIVE_TEST_CATALOG"


@pytest.fixture(scope="session", autouse=True)
def catalog_backend() -> Iterator[str]:
    """Which catalog the tests' archives have: "sqlite", or "postgresql" (with
    $PHOTOARCHIVE_TEST_CATALOG=postgresql), each then in its own schema of a database made
    for the run on the test server, which `init` (and the CLI the tests start) is pointed at
    by $PHOTOARCHIVE_CATALOG."""
    backend = os.environ.get(CATALOG_BACKEND, "sqlite")
    if backend != "postgresql":
        yield "sqlite"
        return
    with fresh_database(postgres_url()) as url:
        os.environ[CATALOG_VARIABLE] = url
        try:
            yield backend
        finally:
            os.environ.pop(CATALOG_VARIABLE, None)


#: Set to "s3" to run the tests with every new archive's files on the S3 test server.
STORAGE_BACKEND = "PHOTOARCHIVE_TEST_STORAGE"


@pytest.fixture(scope="session", autouse=True)
def storage_backend() -> Iterator[str]:
    """Where the tests' archives keep their files: "folder", or "s3" (with
    $PHOTOARCHIVE_TEST_STORAGE=s3), each archive then in its own folder of a bucket made for
    the run on the test server, which `init` (and the CLI the tests start) is pointed at by
    $PHOTOARCHIVE_STORAGE and $AWS_ENDPOINT_URL."""
    backend = os.environ.get(STORAGE_BACKEND, "folder")
    if backend != "s3":
        yield "folder"
        return
    endpoint = s3_endpoint()
    with fresh_bucket(endpoint) as bucket:
        os.environ[STORAGE_VARIABLE] = f"s3://{bucket}"
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        try:
            yield backend
        finally:
            os.environ.pop(STORAGE_VARIABLE, None)
            os.environ.pop("AWS_ENDPOINT_URL", None)


@pytest.fixture
def archive(tmp_path: Path) -> Iterator[Archive]:
    """A new, empty archive in a temporary folder."""
    arc, _ = init_archive(tmp_path / "archive")
    yield arc
    arc.close()


@pytest.fixture
def cli(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Run `photoarchive --archive <tmp archive> ARGS...` through click's CliRunner."""
    runner = CliRunner()
    where = str(tmp_path / "cli-archive")

    def run(*args: str) -> Result:
        return runner.invoke(main, ["--archive", where, *args], catch_exceptions=False)

    run.archive_dir = where  # type: ignore[attr-defined]
    return run


@pytest.fixture
def run(cli):  # type: ignore[no-untyped-def]
    """`cli` on a new archive, checking each command's exit status (`code=`, 0 by default)."""
    cli("init")

    def call(*args: str, code: int = 0) -> Result:
        result = cli(*args)
        assert result.exit_code == code, (args, result.stdout, result.stderr)
        return result

    return call


def load_script(name: str) -> ModuleType:
    """Import one of scripts/*.py as a module."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="session")
def demo_photos(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The eight seed photos drawn by scripts/make_demo_photos.py."""
    if not SEED.is_file():
        pytest.skip(f"seed table not found at {SEED}: the shared folder is not beside the checkout")
    out = tmp_path_factory.mktemp("demo")
    module = load_script("make_demo_photos")
    import csv

    with SEED.open(encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            (out / f"seed{row['photo']}.jpg").write_bytes(module.make_photo(row))
    return out


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright, for one test module."""
    from playwright.sync_api import sync_playwright

    from tests.test_browser import CHROMIUM, CHROMIUM_ARGS

    with sync_playwright() as pw:
        launched = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


@pytest.fixture
def postgresql_url() -> Iterator[str]:
    """The URL of a new, empty database on the PostgreSQL test server, dropped afterwards."""
    with fresh_database(postgres_url()) as url:
        yield url
