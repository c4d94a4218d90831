"""Rights, captions and manifests from the command line, as a desk script drives them."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

import pytest

from photoarchive.store import ORIGINALS
from tests.conftest import SEED, SHARED
from tests.stores import store_of

ARTICLE = SHARED / "seed" / "article.txt"
ROWS = list(csv.DictReader(SEED.open(encoding="utf-8"), delimiter="\t")) if SEED.is_file() else []


@pytest.fixture
def seeded_cli(cli: Any, demo_photos: Path) -> Any:
    cli("init")
    assert cli("ingest", str(demo_photos)).exit_code == 0
    return cli


def ids_by_credit(cli: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for hit in json.loads(cli("search", "ukraine", "--json", "--limit", "50").stdout):
        out.setdefault(hit["credit"] or "", []).append(hit["id"])
    return out


def test_rights_check_exit_status_follows_the_verdicts(seeded_cli: Any) -> None:
    ids = ids_by_credit(seeded_cli)
    cleared = seeded_cli("rights", "check", ids["Reuters"][0], ids["AFP"][0], "--json")
    assert cleared.exit_code == 0
    assert [v["status"] for v in json.loads(cleared.stdout)] == ["cleared", "cleared"]
    everything = seeded_cli("rights", "check")
    assert everything.exit_code == 1
    assert "2 of 8 photos may be used (editorial)" in everything.stderr
    twitter = seeded_cli("rights", "check", "credit:twitter", "--json")
    verdict = json.loads(twitter.stdout)[0]
    assert twitter.exit_code == 1
    assert verdict["status"] == "needs-clearance" and verdict["agency"] == "Twitter"
    assert any("permission" in r for r in verdict["reasons"])


def test_show_and_search_carry_the_verdict(seeded_cli: Any) -> None:
    reuters = ids_by_credit(seeded_cli)["Reuters"][0]
    shown = json.loads(seeded_cli("show", reuters, "--json").stdout)
    assert shown["rights"]["status"] == "cleared" and shown["rights"]["use"] == "editorial"
    text = seeded_cli("show", reuters).stdout
    assert "rights" in text and "cleared for editorial use" in text
    assert "credit to print" in text and "REUTERS" in text
    flags = seeded_cli("search", "flag").stdout
    assert "needs-clearance" in flags and "unknown" in flags
    cleared = json.loads(
        seeded_cli("search", "ukraine", "--cleared-for", "editorial", "--json").stdout
    )
    assert sorted(h["credit"] for h in cleared) == ["AFP", "Reuters"]


def test_embargo_from_a_manifest_and_at(seeded_cli: Any, tmp_path: Path, demo_photos: Path) -> None:
    from tests.hostile import good_jpeg

    folder = tmp_path / "wire"
    folder.mkdir()
    (folder / "kup.jpg").write_bytes(good_jpeg((1, 2, 3)))
    manifest = tmp_path / "m.csv"
    manifest.write_text(
        "file,caption,credit,special_instructions\n"
        'kup.jpg,Special forces in Kupiansk,REUTERS/Gleb Garanich,"EMBARGOED UNTIL '
        '12 September 2022 14:00 BST"\n'
    )
    out = seeded_cli("ingest", str(folder), "--manifest", str(manifest), "--json")
    assert out.exit_code == 0, out.stderr
    rec_id = json.loads(out.stdout)[0]["id"]
    before = seeded_cli("rights", "check", rec_id, "--at", "2022-09-12 13:59 BST", "--json")
    assert before.exit_code == 1
    assert "embargoed until 2022-09-12T14:00:00+01:00" in json.loads(before.stdout)[0]["reasons"]
    after = seeded_cli("rights", "check", rec_id, "--at", "2022-09-12T14:00:00+01:00")
    assert after.exit_code == 0
    bad_at = seeded_cli("rights", "check", rec_id, "--at", "soonish")
    assert bad_at.exit_code == 1 and "cannot read the date 'soonish'" in bad_at.stderr


def test_rights_report(seeded_cli: Any) -> None:
    data = json.loads(seeded_cli("rights", "report", "--at", "2026-12-15 12:00", "--json").stdout)
    rows = {r["agency"]: r for r in data["agencies"]}
    assert rows["Channel 4"]["photos"] == 2 and rows["Channel 4"]["status"] == "clearance-required"
    assert rows["Reuters"]["photos"] == 1 and not rows["Reuters"]["ending_soon"]
    assert rows["Getty Images"]["ending_soon"] and rows["Getty Images"]["licence_days_left"] == 16
    assert data["uncredited"] == 3 and data["unknown_credits"] == []
    text = seeded_cli("rights", "report", "--at", "2026-12-15 12:00").stdout
    assert "ends in 16 days" in text


def test_rights_validate_and_a_broken_policy_stops_every_command(seeded_cli: Any) -> None:
    ok = seeded_cli("rights", "validate")
    assert ok.exit_code == 0 and "7 agencies" in ok.stderr
    policy = Path(seeded_cli.archive_dir) / "rights.toml"
    policy.write_text(
        policy.read_text().replace(
            'uses = ["editorial", "archive"]', 'uses = ["editorial", "archives"]', 1
        )
    )
    for args in (
        ["rights", "validate"],
        ["rights", "check"],
        ["search", "tank"],
        ["show", ids_prefix(policy)],
        ["ingest", str(policy.parent / "nothing")],
    ):
        result = seeded_cli(*args)
        assert result.exit_code == 1, args
        assert "rights.toml, line 24: uses must be a list" in result.stderr, args
        assert "Traceback" not in result.stderr


def ids_prefix(policy: Path) -> str:
    with store_of(policy.parent) as store:
        original = next(store.objects(ORIGINALS)).key
    return original.rsplit("/", 1)[1][:8]


@pytest.mark.skipif(not ARTICLE.is_file(), reason="seed article not beside the checkout")
def test_captions_extract_recovers_the_seed_captions(cli: Any) -> None:
    result = cli("captions", "extract", str(ARTICLE))
    assert result.exit_code == 0
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["file", "caption", "credit"]
    found = {(r["caption"], r["credit"]) for r in rows}
    credited = {(r["caption"], r["credit"]) for r in ROWS if r["credit"]}
    assert len(credited) == 5 and credited <= found
    # Nothing but the table's captions: no body text, navigation or advertising.
    assert found == {(r["caption"], r["credit"]) for r in ROWS}
    assert "8 captions found (5 with a credit)" in result.stderr
    as_json = json.loads(cli("captions", "extract", str(ARTICLE), "--format", "json").stdout)
    assert [(r["caption"], r["credit"]) for r in as_json] == [
        (r["caption"], r["credit"]) for r in rows
    ]


@pytest.mark.skipif(not ARTICLE.is_file(), reason="seed article not beside the checkout")
def test_extracted_captions_become_a_manifest(cli: Any, tmp_path: Path) -> None:
    from tests.hostile import good_jpeg

    cli("init")
    rows = json.loads(cli("captions", "extract", str(ARTICLE), "--format", "json").stdout)
    folder = tmp_path / "grabs"
    folder.mkdir()
    for n, row in enumerate(rows, 1):
        row["file"] = f"grab{n}.jpg"
        (folder / row["file"]).write_bytes(good_jpeg((n * 25, 40, 40)))
    manifest = tmp_path / "captions.json"
    manifest.write_text(json.dumps(rows))
    assert cli("ingest", str(folder), "--manifest", str(manifest)).exit_code == 0
    hits = json.loads(cli("search", 'credit:"channel 4" lunch', "--json").stdout)
    assert [h["caption"] for h in hits] == [
        "The Russians reportedly left in such a hurry they didn't finish lunch"
    ]
    assert hits[0]["agency"] == "Channel 4"


def test_manifest_rows_without_files_exit_1(cli: Any, tmp_path: Path) -> None:
    from tests.hostile import good_jpeg

    cli("init")
    (tmp_path / "a.jpg").write_bytes(good_jpeg())
    manifest = tmp_path / "m.csv"
    manifest.write_text("file,caption\na.jpg,Here\nb.jpg,Not here\n")
    result = cli("ingest", str(tmp_path / "a.jpg"), "--manifest", str(manifest))
    assert result.exit_code == 1
    assert "manifest row without a file: b.jpg" in result.stderr
    assert "1 new, 0 duplicate, 0 rejected, 1 manifest rows without a file" in result.stderr
    broken = tmp_path / "broken.csv"
    broken.write_text("file,colour\na.jpg,red\n")
    bad = cli("ingest", str(tmp_path / "a.jpg"), "--manifest", str(broken))
    assert bad.exit_code == 1 and "line 1: unknown column 'colour'" in bad.stderr
