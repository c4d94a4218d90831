"""Damaged catalogs, indexes, settings, policies and manifests: one `Error:` line naming the
file and what is wrong, exit status 1, never a traceback or an "internal error"."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from photoarchive import init_archive
from photoarchive.cli import main
from photoarchive.errors import PhotoArchiveError
from photoarchive.policy import STARTER_POLICY
from tests.conftest import ROOT
from tests.engines import index_dir
from tests.hostile import good_jpeg

Damage = Callable[[Path], None]


def make_pristine(base: Path, engine: str | None) -> tuple[Path, str, Path]:
    """An archive of three captioned photos, its first photo's id and a new photo to ingest."""
    folder = base / "in"
    folder.mkdir()
    for n, colour in enumerate([(200, 20, 20), (20, 200, 20), (20, 20, 200)]):
        (folder / f"p{n}.jpg").write_bytes(good_jpeg(colour))
    archive, _ = init_archive(base / "archive", search_engine=engine)
    with archive:
        from photoarchive.ingest import IngestOptions

        report = archive.ingest(
            [folder], IngestOptions(caption="Abandoned tank by the river", credit="REUTERS/X Y")
        )
    first = report.outcomes[0].id
    assert first and report.ok
    extra = base / "extra.jpg"
    extra.write_bytes(good_jpeg((90, 90, 0)))
    return base / "archive", first, extra


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, Path]:
    """The pristine archive on the tests' search engine."""
    return make_pristine(tmp_path_factory.mktemp("pristine"), None)


@pytest.fixture(scope="module")
def pristine_on(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """The pristine archive on a named search engine (made once per engine)."""
    made: dict[str, Path] = {}

    def get(engine: str) -> Path:
        if engine not in made:
            made[engine] = make_pristine(tmp_path_factory.mktemp(engine), engine)[0]
        return made[engine]

    return get


@pytest.fixture
def damaged(
    pristine: tuple[Path, str, Path], pristine_on: Callable[[str], Path], tmp_path: Path
) -> Callable[..., Path]:
    """A fresh copy of the pristine archive (on `engine`, if named) with a damage applied."""

    def make(damage: Damage, engine: str | None = None) -> Path:
        copy = tmp_path / "archive"
        shutil.copytree(pristine[0] if engine is None else pristine_on(engine), copy)
        damage(copy)
        return copy

    return make


def run(archive: Path, *args: str) -> Result:
    # catch_exceptions=False: an exception escaping the CLI's edge fails the test outright.
    return CliRunner().invoke(main, ["--archive", str(archive), *args], catch_exceptions=False)


def assert_one_error(result: Result, *words: str) -> str:
    """Exit status 1 and exactly one line 'Error: ...' holding `words`; return that line."""
    errors = [line for line in result.stderr.splitlines() if line.startswith("Error:")]
    assert result.exit_code == 1, (result.exit_code, result.stderr)
    assert len(errors) == 1, result.stderr
    assert "internal error" not in result.stderr and "Traceback" not in result.stderr
    for word in words:
        assert word in errors[0], (word, errors[0])
    return errors[0]


def garbage(size: int, seed: int = 7) -> bytes:
    import random

    return random.Random(seed).randbytes(size)


# -- the catalog --------------------------------------------------------------------------


def catalog_of_garbage(root: Path) -> None:
    (root / "catalog.sqlite").write_bytes(garbage(20_000))


def catalog_truncated(root: Path) -> None:
    path = root / "catalog.sqlite"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 3])


def catalog_pages_of_garbage(root: Path) -> None:
    # The header and first page intact, so SQLite opens it; every table's pages garbage.
    path = root / "catalog.sqlite"
    data = path.read_bytes()
    path.write_bytes(data[:4096] + garbage(len(data) - 4096))


@pytest.mark.sqlite_file
@pytest.mark.parametrize(
    "damage", [catalog_of_garbage, catalog_truncated, catalog_pages_of_garbage]
)
@pytest.mark.parametrize(
    "command",
    [
        ("search", "tank"),
        ("show", "ID"),
        ("ingest", "EXTRA"),
        ("rights", "check"),
        ("stats",),
        ("verify",),
    ],
)
def test_a_damaged_catalog_is_named_by_every_command(
    damaged: Callable[[Damage], Path],
    pristine: tuple[Path, str, Path],
    damage: Damage,
    command: tuple[str, ...],
) -> None:
    root = damaged(damage)
    args = [{"ID": pristine[1], "EXTRA": str(pristine[2])}.get(a, a) for a in command]
    line = assert_one_error(run(root, *args), str(root / "catalog.sqlite"), "damaged")
    assert "restore catalog.sqlite from a backup" in line


@pytest.mark.sqlite_file
def test_the_desk_does_not_start_on_a_damaged_catalog(damaged: Callable[[Damage], Path]) -> None:
    from photoarchive.web import create_app

    root = damaged(catalog_of_garbage)
    with pytest.raises(PhotoArchiveError, match="damaged"):
        create_app(root)


# -- the search index -------------------------------------------------------------------


def _index_files(root: Path, suffix: str) -> list[Path]:
    found = [p for p in index_dir(root).iterdir() if p.name.endswith(suffix)]
    assert found, f"no index file ending {suffix}"
    return found


def toc_of_garbage(root: Path) -> None:
    for path in _index_files(root, ".toc"):
        path.write_bytes(garbage(300))


def postings_of_garbage(root: Path) -> None:
    for path in _index_files(root, ".pst"):
        path.write_bytes(garbage(path.stat().st_size))


def terms_truncated(root: Path) -> None:
    for path in _index_files(root, ".trm"):
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def stored_fields_of_garbage(root: Path) -> None:
    for path in _index_files(root, "_stored.col"):
        path.write_bytes(garbage(path.stat().st_size))


def segment_missing(root: Path) -> None:
    for path in _index_files(root, ".trm"):
        path.unlink()


# tantivy's files end in a footer with a checksum; each kind of file damaged in turn.
def tantivy_postings_of_garbage(root: Path) -> None:
    for path in _index_files(root, ".idx"):
        path.write_bytes(garbage(path.stat().st_size))


def tantivy_terms_truncated(root: Path) -> None:
    for path in _index_files(root, ".term"):
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def tantivy_stored_fields_of_garbage(root: Path) -> None:
    for path in _index_files(root, ".store"):
        path.write_bytes(garbage(path.stat().st_size))


def tantivy_positions_missing(root: Path) -> None:
    for path in _index_files(root, ".pos"):
        path.unlink()


def tantivy_files_list_of_garbage(root: Path) -> None:
    for path in _index_files(root, ".managed.json"):
        path.write_bytes(garbage(200))


def tantivy_meta_of_garbage(root: Path) -> None:
    for path in _index_files(root, "meta.json"):
        path.write_bytes(garbage(300))


INDEX_DAMAGES = [
    ("whoosh", toc_of_garbage, "tank"),
    ("whoosh", postings_of_garbage, "tank"),
    ("whoosh", terms_truncated, "tank"),
    ("whoosh", stored_fields_of_garbage, "credit:reuters"),
    ("whoosh", segment_missing, "tank"),
    ("tantivy", tantivy_postings_of_garbage, "tank"),
    ("tantivy", tantivy_terms_truncated, "tank"),
    ("tantivy", tantivy_stored_fields_of_garbage, "credit:reuters"),
    ("tantivy", tantivy_positions_missing, "tank"),
    ("tantivy", tantivy_files_list_of_garbage, "tank"),
    ("tantivy", tantivy_meta_of_garbage, "tank"),
]


@pytest.mark.parametrize(
    ("engine", "damage", "query"), INDEX_DAMAGES, ids=[d[1].__name__ for d in INDEX_DAMAGES]
)
def test_a_damaged_index_says_to_reindex_and_reindex_mends_it(
    damaged: Callable[..., Path], engine: str, damage: Damage, query: str
) -> None:
    root = damaged(damage, engine)
    for args in (("search", query), ("search", query, "--json"), ("rights", "check", query)):
        assert_one_error(run(root, *args), "search index", "damaged", "photoarchive reindex")
    assert run(root, "reindex").exit_code == 0
    mended = run(root, "search", query)
    assert mended.exit_code == 0 and "Abandoned tank" in mended.stdout


@pytest.mark.parametrize(
    ("engine", "damage"),
    [
        ("whoosh", toc_of_garbage),
        ("whoosh", terms_truncated),
        ("tantivy", tantivy_terms_truncated),
        ("tantivy", tantivy_meta_of_garbage),
    ],
)
def test_ingest_into_a_damaged_index_stops_with_one_line(
    damaged: Callable[..., Path], pristine: tuple[Path, str, Path], engine: str, damage: Damage
) -> None:
    root = damaged(damage, engine)
    assert_one_error(run(root, "ingest", str(pristine[2])), "search index", "reindex")


@pytest.mark.parametrize(
    ("engine", "damage"),
    [("whoosh", postings_of_garbage), ("tantivy", tantivy_postings_of_garbage)],
)
def test_show_reads_the_catalog_alone_while_the_index_is_damaged(
    damaged: Callable[..., Path], pristine: tuple[Path, str, Path], engine: str, damage: Damage
) -> None:
    root = damaged(damage, engine)
    result = run(root, "show", pristine[1])
    assert result.exit_code == 0 and "Abandoned tank" in result.stdout


# -- rights.toml --------------------------------------------------------------------------


def write_policy(text: str | bytes) -> Damage:
    def damage(root: Path) -> None:
        data = text.encode("utf-8") if isinstance(text, str) else text
        (root / "rights.toml").write_bytes(data)

    return damage


def line_in(text: str, needle: str) -> str:
    """'line N', N the line of `text` where `needle` is."""
    return f"line {text[: text.index(needle)].count(chr(10)) + 1}"


BROKEN_POLICIES = [
    pytest.param(
        STARTER_POLICY + "\n[agencies.x\n",
        ("not valid TOML", f"{line_in(STARTER_POLICY + chr(10) + '[agencies.x', '[agencies.x')},"),
        id="bad-toml",
    ),
    pytest.param(
        STARTER_POLICY.replace('credit_line = "REUTERS', 'credit_lin = "REUTERS'),
        (
            line_in(STARTER_POLICY, 'credit_line = "REUTERS'),
            "unknown key 'credit_lin'",
            "did you mean 'credit_line'?",
        ),
        id="typo-key",
    ),
    pytest.param(
        STARTER_POLICY.replace("[defaults]", "[defualts]"),
        (line_in(STARTER_POLICY, "[defaults]"), "'defualts'", "did you mean 'defaults'?"),
        id="typo-table",
    ),
    pytest.param(
        "defaults = 5\n" + STARTER_POLICY[STARTER_POLICY.index("[agencies.reuters]") :],
        ("line 1", "defaults must be a table"),
        id="defaults-not-a-table",
    ),
    pytest.param(
        "[[agencies]]\nname = 'Reuters'\n",
        ("agencies must be tables",),
        id="agencies-a-list",
    ),
    pytest.param(
        STARTER_POLICY.replace('"Europe/London"', '"Europe"'),
        (line_in(STARTER_POLICY, "timezone ="), "unknown time zone 'Europe'"),
        id="zone-folder",
    ),
    pytest.param(
        STARTER_POLICY.replace('status = "licensed"', "status = 5", 1),
        (line_in(STARTER_POLICY, 'status = "licensed"'), "status must be one of"),
        id="wrong-type",
    ),
    pytest.param(
        STARTER_POLICY.replace("Wire subscription", "Wire subscr\xefption").encode("latin-1"),
        (line_in(STARTER_POLICY, "Wire subscription"), "not UTF-8"),
        id="latin-1",
    ),
    pytest.param(b"", ("names no agencies",), id="empty"),
]


@pytest.mark.parametrize(("text", "words"), BROKEN_POLICIES)
@pytest.mark.parametrize("command", [("rights", "check"), ("rights", "validate"), ("search", "x")])
def test_a_broken_policy_is_one_line_naming_it(
    damaged: Callable[[Damage], Path],
    text: str | bytes,
    words: tuple[str, ...],
    command: tuple[str, ...],
) -> None:
    root = damaged(write_policy(text))
    assert_one_error(run(root, *command), str(root / "rights.toml"), *words)


@pytest.mark.parametrize(("text", "words"), BROKEN_POLICIES[:3])
def test_the_desk_does_not_start_on_a_broken_policy(
    damaged: Callable[[Damage], Path], text: str | bytes, words: tuple[str, ...]
) -> None:
    from photoarchive.web import create_app

    root = damaged(write_policy(text))
    with pytest.raises(PhotoArchiveError) as caught:
        create_app(root)
    assert all(w in str(caught.value) for w in words)
    assert "\n" not in str(caught.value)


def test_a_policy_starting_with_a_byte_order_mark_is_simply_read(
    damaged: Callable[[Damage], Path],
) -> None:
    root = damaged(write_policy(b"\xef\xbb\xbf" + STARTER_POLICY.encode("utf-8")))
    result = run(root, "rights", "validate")
    assert result.exit_code == 0, result.stderr
    assert "7 agencies" in result.stderr
    assert run(root, "search", "tank").exit_code == 0


# -- archive.toml -------------------------------------------------------------------------


def write_settings(text: str | bytes) -> Damage:
    def damage(root: Path) -> None:
        data = text.encode("utf-8") if isinstance(text, str) else text
        (root / "archive.toml").write_bytes(data)

    return damage


BROKEN_SETTINGS = [
    pytest.param(
        "[archve]\njpeg_quality = 80\n",
        ("line 1: unknown section [archve]; did you mean [archive]?",),
        id="typo-section",
    ),
    pytest.param(
        "# settings\n[archive]\njpeg_qualty = 80\n",
        ("line 3: unknown setting 'jpeg_qualty'; did you mean 'jpeg_quality'?",),
        id="typo-key",
    ),
    pytest.param("[archive\n", ("not valid TOML", "line 1"), id="bad-toml"),
    pytest.param(
        "[archive]\njpeg_quality = '80'\n",
        ("line 2: jpeg_quality must be a whole number",),
        id="type",
    ),
    pytest.param(
        "[archive]\njpeg_quality = 5\n",
        ("line 2: jpeg_quality = 5 is outside 30..100",),
        id="range",
    ),
    pytest.param(
        "jpeg_quality = 80\n", ("line 1: jpeg_quality must be under [archive]",), id="no-section"
    ),
    pytest.param(b"[archive]\n# caf\xe9\n", ("line 2: not UTF-8",), id="latin-1"),
    pytest.param("archive = 5\n", ("[archive] must be a table",), id="not-a-table"),
]


@pytest.mark.parametrize(("text", "words"), BROKEN_SETTINGS)
@pytest.mark.parametrize(
    "command", [("search", "tank"), ("show", "ID"), ("ingest", "EXTRA"), ("rights", "check")]
)
def test_broken_settings_are_one_line_naming_them(
    damaged: Callable[[Damage], Path],
    pristine: tuple[Path, str, Path],
    text: str | bytes,
    words: tuple[str, ...],
    command: tuple[str, ...],
) -> None:
    root = damaged(write_settings(text))
    args = [{"ID": pristine[1], "EXTRA": str(pristine[2])}.get(a, a) for a in command]
    assert_one_error(run(root, *args), str(root / "archive.toml"), *words)


def test_the_desk_does_not_start_on_broken_settings(damaged: Callable[[Damage], Path]) -> None:
    from photoarchive.web import create_app

    root = damaged(write_settings("[archve]\n"))
    with pytest.raises(PhotoArchiveError, match=r"did you mean \[archive\]"):
        create_app(root)


@pytest.mark.sqlite_file
def test_settings_starting_with_a_byte_order_mark_are_simply_read(
    damaged: Callable[[Damage], Path],
) -> None:
    root = damaged(write_settings(b"\xef\xbb\xbf[archive]\njpeg_quality = 80\n"), "whoosh")
    assert run(root, "search", "tank").exit_code == 0


# -- manifests ----------------------------------------------------------------------------

BROKEN_MANIFESTS = [
    pytest.param(
        "m.csv",
        'file,caption,credit\np0.jpg,"Unclosed caption,Reuters\np1.jpg,Second,AFP\n'
        "p2.jpg,Third,AP\n",
        ("line 2: a quoted cell starts here and is never closed",),
        id="csv-unclosed-quote",
    ),
    pytest.param(
        "m.csv",
        'file,caption,credit\np0.jpg,First,Reuters\np1.jpg,"Runs on,AFP\np2.jpg,"Third",AP\n',
        ("line 3: a quoted cell starts here and is not closed until line 4",),
        id="csv-quote-closed-by-the-next-row",
    ),
    pytest.param(
        "m.csv",
        'file,caption\np0.jpg,"Tank" by the river\n',
        ("line 2: text after the closing quote",),
        id="csv-text-after-quote",
    ),
    pytest.param(
        "m.csv",
        "file,caption\np0.jpg,Tank, by the river,Reuters\n",
        ("line 2: 4 cells but the header names 2 columns",),
        id="csv-too-many-cells",
    ),
    pytest.param(
        "m.csv",
        "file,captoin\np0.jpg,x\n",
        ("line 1: unknown column 'captoin'; did you mean 'caption'?",),
        id="csv-typo-column",
    ),
    pytest.param(
        "m.csv",
        "file,caption\np0.jpg,x\n".encode("utf-16"),
        ("line 1: not UTF-8",),
        id="csv-utf16",
    ),
    pytest.param(
        "m.json",
        '[{"file": "p0.jpg",\n  "caption": "x",}]',
        ("line 2, column 18: not valid JSON",),
        id="json-syntax",
    ),
    pytest.param(
        "m.json", '[{"file": 5, "caption": "x"}]', ('item 1: "file" must be text',), id="json-file"
    ),
    pytest.param(
        "m.json",
        '[{"file": "p0.jpg", "caption": ["x"]}]',
        ("item 1: caption must be text, not a list",),
        id="json-caption-list",
    ),
    pytest.param(
        "m.json",
        '[{"file": "p0.jpg", "keywords": {"a": 1}}]',
        ("item 1: keywords must be text or a list of texts",),
        id="json-keywords",
    ),
    pytest.param("m.json", '{"file": "p0.jpg"}', ("expected a JSON list",), id="json-object"),
    pytest.param(
        "m.json", '[{"file": "p0.jpg", "captoin": "x"}]', ("did you mean 'caption'?",), id="typo"
    ),
]


@pytest.mark.parametrize(("name", "text", "words"), BROKEN_MANIFESTS)
def test_a_broken_manifest_is_one_line_naming_its_line(
    damaged: Callable[[Damage], Path],
    pristine: tuple[Path, str, Path],
    tmp_path: Path,
    name: str,
    text: str | bytes,
    words: tuple[str, ...],
) -> None:
    root = damaged(lambda root: None)
    manifest = tmp_path / name
    manifest.write_bytes(text.encode("utf-8") if isinstance(text, str) else text)
    result = run(root, "ingest", str(pristine[0].parent / "in"), "--manifest", str(manifest))
    assert_one_error(result, str(manifest), *words)
    # Nothing was ingested (the three photos were there before).
    assert "new" not in result.stderr


# -- in a real process --------------------------------------------------------------------


@pytest.mark.sqlite_file
def test_a_real_process_prints_one_line_and_no_traceback(damaged: Callable[[Damage], Path]) -> None:
    root = damaged(catalog_pages_of_garbage)
    env = {k: v for k, v in os.environ.items() if k != "PHOTOARCHIVE_DEBUG"}
    done = subprocess.run(
        [sys.executable, "-m", "photoarchive", "--archive", str(root), "search", "tank"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("Error: the catalog")
    assert done.stdout == ""
