"""The command line as a script drives it: exit codes, JSON on stdout only, messages on stderr."""

from __future__ import annotations

import json
import re
import shutil
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from photoarchive.cli import main
from photoarchive.store import ORIGINALS
from tests.conftest import FIXTURES
from tests.engines import remove_index
from tests.hostile import write_bad_files
from tests.stores import damage_stored, store_of, stored_keys


@pytest.fixture
def seeded_cli(cli: Any, demo_photos: Path) -> Any:
    assert cli("init").exit_code == 0
    result = cli("ingest", str(demo_photos))
    assert result.exit_code == 0, result.stderr
    return cli


def _commands(group: click.Group, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    context = click.Context(group)
    for name in group.list_commands(context):
        command = group.get_command(context, name)
        found.append((*prefix, name))
        if isinstance(command, click.Group):
            found.extend(_commands(command, (*prefix, name)))
    return found


def test_every_command_has_help_with_an_example() -> None:
    runner = CliRunner()
    assert isinstance(main, click.Group)
    names = _commands(main)
    assert ("rights", "check") in names and ("captions", "extract") in names
    for path in names:
        result = runner.invoke(main, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "Example:" in result.output, path


def test_commands_need_an_initialised_archive(cli: Any) -> None:
    result = cli("search", "tank")
    assert result.exit_code == 1
    assert "no archive at" in result.stderr and "init" in result.stderr
    assert result.stdout == ""


def test_init_is_idempotent(cli: Any) -> None:
    assert cli("init").exit_code == 0
    again = cli("init")
    assert again.exit_code == 0
    assert "Already an archive" in again.stderr


def test_ingest_summary_and_json(seeded_cli: Any, demo_photos: Path) -> None:
    again = seeded_cli("ingest", str(demo_photos), "--json")
    assert again.exit_code == 0
    outcomes = json.loads(again.stdout)
    assert [o["status"] for o in outcomes] == ["duplicate"] * 8
    assert "0 new, 8 duplicate, 0 rejected" in again.stderr


def test_ingest_names_every_bad_file_and_exits_1(cli: Any, tmp_path: Path) -> None:
    cli("init")
    folder = tmp_path / "bad"
    expected = write_bad_files(folder)
    shutil.copy(FIXTURES / "iim_utf8.jpg", folder / "good.jpg")
    result = cli("ingest", str(folder))
    assert result.exit_code == 1
    for name in expected:
        assert sum(name in line for line in result.stderr.splitlines()) == 1, name
    assert "1 new, 0 duplicate, 6 rejected" in result.stderr
    assert "Traceback" not in result.stderr


def test_ingest_with_desk_values(cli: Any) -> None:
    cli("init")
    result = cli(
        "ingest",
        str(FIXTURES / "xmp.png"),
        "--caption",
        "Desk caption",
        "--credit",
        "Credit: Channel 4",
        "--keyword",
        "a",
        "--keyword",
        "b",
        "--json",
    )
    rec_id = json.loads(result.stdout)[0]["id"]
    shown = json.loads(cli("show", rec_id, "--json").stdout)
    assert (shown["caption"], shown["credit"], shown["agency"]) == (
        "Desk caption",
        "Credit: Channel 4",
        "Channel 4",
    )
    assert shown["keywords"] == ["a", "b"]


def test_search_json_is_a_list_of_show_records(seeded_cli: Any) -> None:
    result = seeded_cli("search", "abandoned tanks river", "--json")
    assert result.exit_code == 0
    hits = json.loads(result.stdout)
    assert hits[0]["caption"] == "Tanks abandoned in a river by the fleeing Russians"
    shown = json.loads(seeded_cli("show", hits[0]["id"], "--json").stdout)
    # show adds the other suppliers' copies of the frame; everything else is the same.
    assert shown.pop("copies") == []
    assert hits[0]["state"] == shown["state"] == "live"
    # The verdict is judged as each command runs, so its time may fall in the next second.
    judged = [hits[0]["rights"].pop("at"), shown["rights"].pop("at")]
    assert all(datetime.fromisoformat(at).tzinfo is not None for at in judged)
    assert {k: v for k, v in hits[0].items() if k not in ("score", "caption_highlighted")} == shown
    assert hits[0]["score"] > 0 and "<mark" in hits[0]["caption_highlighted"]


def test_search_table(seeded_cli: Any) -> None:
    result = seeded_cli("search", "credit:afp")
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["ID", "DATE", "CREDIT", "RIGHTS", "CAPTION"]
    assert "AFP" in lines[1] and "The turret of a Russian tank" in lines[1]
    assert "cleared" in lines[1]
    assert "2022-09-11" in lines[1]
    assert "1-1 of 1" in result.stderr


def test_search_without_hits_and_with_a_bad_query(seeded_cli: Any) -> None:
    none = seeded_cli("search", "zeppelin", "--json")
    assert (none.exit_code, json.loads(none.stdout)) == (0, [])
    bad = seeded_cli("search", "date:[yesterday to nonsense]")
    assert bad.exit_code == 1 and bad.stderr.startswith("Error: cannot understand the query")


def test_show_text_sources_and_errors(seeded_cli: Any) -> None:
    hit = json.loads(seeded_cli("search", "credit:reuters", "--json").stdout)[0]
    text = seeded_cli("show", hit["id"][:6], "--sources")
    assert text.exit_code == 0
    assert "credit" in text.stdout and "Reuters" in text.stdout
    assert "Sources:" in text.stdout and "xmp" in text.stdout and "iim" in text.stdout
    with_sources = json.loads(seeded_cli("show", hit["id"], "--json", "--sources").stdout)
    assert with_sources["sources"]["caption"]["xmp"] == hit["caption"]
    assert with_sources["sources"]["caption"]["iim"] == hit["caption"]
    for bad in ("ffffffffffff", "not-hex", ""):
        result = seeded_cli("show", bad)
        assert result.exit_code == 1 and result.stderr.startswith("Error:"), bad


def test_stats(seeded_cli: Any) -> None:
    data = json.loads(seeded_cli("stats", "--json").stdout)
    assert data["photos"] == 8
    by_credit = {row["value"]: row["photos"] for row in data["by_credit"]}
    assert by_credit == {None: 3, "Channel 4": 2, "AFP": 1, "Reuters": 1, "Twitter": 1}
    assert data["by_format"][0]["value"] == "JPEG"
    assert "8 photos" in seeded_cli("stats").stdout
    assert data["search_engine"] in ("whoosh", "tantivy", "postgresql")


def test_verify_finds_bit_rot_and_reindex_repairs_the_index(seeded_cli: Any) -> None:
    assert seeded_cli("verify").exit_code == 0
    root = Path(seeded_cli.archive_dir)
    with store_of(root) as store:
        original = next(k for k in stored_keys(store, ORIGINALS) if k.endswith(".jpg"))
        damage_stored(store, original)
        shown = store.shown(original)
    remove_index(root)
    result = seeded_cli("verify", "--json")
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    assert len(report["corrupt"]) == 1 and shown in report["corrupt"][0]
    assert "reindex" in report["index_problem"]
    search = seeded_cli("search", "tank")
    assert search.exit_code == 1 and "reindex" in search.stderr
    assert seeded_cli("reindex").exit_code == 0
    assert len(json.loads(seeded_cli("search", "tank", "--json").stdout)) == 2


def test_archive_from_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PHOTOARCHIVE_ARCHIVE", str(tmp_path / "env-archive"))
    runner = CliRunner()
    assert runner.invoke(main, ["init"]).exit_code == 0
    assert (tmp_path / "env-archive" / "archive.toml").is_file()


def test_broken_settings_file_is_one_clear_error(cli: Any) -> None:
    cli("init")
    settings = Path(cli.archive_dir) / "archive.toml"
    settings.write_text("[archive]\nthumbnail_size = 'big'\n")
    result = cli("stats")
    assert result.exit_code == 1
    assert "thumbnail_size must be a whole number" in result.stderr


def test_every_command_is_found_in_the_module_the_table_names() -> None:
    """Commands are imported on demand from the table in cli/app.py: it lists each one."""
    import importlib

    from photoarchive.cli.app import COMMAND_MODULES

    defined = {}
    for module_name in set(COMMAND_MODULES.values()):
        module = importlib.import_module(f"photoarchive.cli.{module_name}")
        defined.update({command.name: module_name for command in module.COMMANDS})
    assert defined == COMMAND_MODULES


QUICK_CASES = [
    ["tank", "--json"],
    ["credit:reuters", "--json", "--limit", "2", "--page", "2"],
    ["--json", "-n", "3", "flag OR tank"],
    ["zeppelin", "--json"],
    ["tank", "--json", "--cleared-for", "editorial", "--include", "notice"],
    ["tank", "--json", "--limit=1", "--query-seconds", "5"],
    ["date:[yesterday to nonsense]", "--json"],
    ["tank", "--json", "--cleared-for", "broadcast"],
    ["k" * 150, "--json"],
]


@pytest.mark.parametrize("args", QUICK_CASES)
def test_the_quick_search_path_answers_as_the_click_command(
    seeded_cli: Any, args: list[str]
) -> None:
    """`search ... --json` is read without click; its output, errors and exit status are
    the click command's."""
    import subprocess

    argv = ["--archive", seeded_cli.archive_dir, "search", *args]
    quick = subprocess.run(
        [sys.executable, "-m", "photoarchive", *argv], capture_output=True, text=True
    )
    clicked = seeded_cli("search", *args)

    def timeless(stdout: str) -> str:
        # Each verdict names the moment it was judged for (now): the one part that differs.
        return re.sub(r'"at": "[^"]*"', '"at": ""', stdout)

    # A usage error names the program as it was run: `python -m photoarchive` here, `main`
    # under click's test runner.
    stderr = quick.stderr.replace("python -m photoarchive", "main")
    assert (quick.returncode, timeless(quick.stdout), stderr) == (
        clicked.exit_code,
        timeless(clicked.stdout),
        clicked.stderr,
    )
    assert quick.stdout.count('"at": ') == clicked.stdout.count('"at": ')


def test_the_quick_search_path_imports_no_click(seeded_cli: Any) -> None:
    import subprocess

    code = (
        "import sys; from photoarchive.cli.quick import quick_search; "
        f"status = quick_search(['--archive', {seeded_cli.archive_dir!r}, 'search', 'tank', "
        "'--json']); print(status, 'click' in sys.modules, file=sys.stderr)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stderr.split() == ["0", "False"] and json.loads(done.stdout)


@pytest.mark.parametrize(
    "args",
    [
        ["search", "tank"],  # a table for people: click's command
        ["search", "tank", "--json", "--limit", "0"],  # click says what is wrong
        ["search", "tank", "--json", "--bogus"],
        ["search", "--json"],
        ["show", "x"],
    ],
)
def test_anything_else_goes_to_click(seeded_cli: Any, args: list[str]) -> None:
    from photoarchive.cli.quick import quick_search

    assert quick_search(["--archive", seeded_cli.archive_dir, *args]) is None


def test_a_search_does_not_import_the_http_client_whoosh_asks_for(seeded_cli: Any) -> None:
    """Whoosh imports urllib.request (http.client, email, ssl) for a helper search never
    calls: the command line puts it off, and the real module still works when asked for."""
    import subprocess

    code = (
        "import sys; from photoarchive.cli import quick; from photoarchive import open_archive; "
        f"arc = open_archive({seeded_cli.archive_dir!r}); arc.reindex(engine='whoosh'); "
        "print(arc.search('tank').total, 'http.client' in sys.modules); "
        "from urllib.request import Request; print(Request.__name__, 'http.client' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    total, *rest = done.stdout.split()
    assert int(total) > 0 and rest == ["False", "Request", "True"], done.stderr
