"""Rights verdicts on the seed photos and on photos with embargoes and restrictions."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from photoarchive import Archive, init_archive, open_archive
from photoarchive.errors import ConfigError
from photoarchive.ingest import IngestOptions
from photoarchive.metadata.iptc_writer import embed_in_jpeg, encode_iim, photoshop_resources

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


@pytest.fixture
def seeded(demo_photos: Path, tmp_path: Path) -> Iterator[Archive]:
    arc, _ = init_archive(tmp_path / "archive")
    assert arc.ingest([demo_photos]).count("new") == 8
    yield arc
    arc.close()


def by_credit(arc: Archive, use: str = "editorial", at: datetime = NOW) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    for record, verdict in arc.verdicts((p.record for p in arc.catalog.iter_photos()), use, at):
        out.setdefault(record.credit or "", []).append(verdict)
    return out


def photo(tmp_path: Path, name: str, **iim: Any) -> Path:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (len(name) * 9 % 255, 80, 120)).save(buf, "JPEG")
    path = tmp_path / name
    path.write_bytes(embed_in_jpeg(buf.getvalue(), photoshop_resources(encode_iim(iim))))
    return path


def reopen(arc: Archive, edit: Any) -> Archive:
    policy = arc.root / "rights.toml"
    policy.write_text(edit(policy.read_text()))
    return open_archive(arc.root)


def test_starter_policy_on_the_seed_photos(seeded: Archive) -> None:
    verdicts = by_credit(seeded)
    assert [v.status for v in verdicts["Reuters"]] == ["cleared"]
    assert [v.status for v in verdicts["AFP"]] == ["cleared"]
    assert verdicts["Reuters"][0].credit_line == "REUTERS"
    for credit in ("Channel 4", "Twitter"):
        for v in verdicts[credit]:
            assert v.status == "needs-clearance"
            assert any("clearance" in r for r in v.reasons)
    assert [v.status for v in verdicts[""]] == ["unknown"] * 3
    assert all("no credit" in v.reasons[0] for v in verdicts[""])


def test_an_ended_licence_blocks(seeded: Archive) -> None:
    yesterday = (NOW - timedelta(days=1)).date().isoformat()
    arc = reopen(
        seeded,
        lambda t: t.replace(
            'licence_end = 2027-12-31\ncredit_line = "REUTERS',
            f'licence_end = {yesterday}\ncredit_line = "REUTERS',
        ),
    )
    with arc:
        reuters = by_credit(arc)["Reuters"][0]
        assert reuters.status == "blocked"
        assert f"licence ended on {yesterday}" in " ".join(reuters.reasons)
        assert by_credit(arc)["AFP"][0].status == "cleared"
        # Before the licence ended it was fine.
        assert by_credit(arc, at=NOW - timedelta(days=3))["Reuters"][0].status == "cleared"


def test_uses_outside_the_licence_are_blocked(seeded: Archive) -> None:
    reuters = by_credit(seeded, use="commercial")["Reuters"][0]
    assert reuters.status == "blocked"
    assert "does not cover commercial use" in reuters.reasons[0]


def test_embargo_in_instructions_blocks_until_it_passes(archive: Archive, tmp_path: Path) -> None:
    path = photo(
        tmp_path,
        "embargo.jpg",
        caption="Ukrainian forces in Kupiansk",
        credit="REUTERS/Gleb Garanich",
        special_instructions="EMBARGOED UNTIL 12 SEPTEMBER 2022 1400 GMT. NO ARCHIVES",
    )
    rec_id = archive.ingest([path]).outcomes[0].id or ""
    before = archive.check_rights(rec_id, "editorial", datetime(2022, 9, 12, 13, 59, tzinfo=UTC))
    assert before.status == "blocked"
    assert "embargoed until 2022-09-12T14:00:00+00:00" in before.reasons
    after = archive.check_rights(rec_id, "editorial", datetime(2022, 9, 12, 14, 1, tzinfo=UTC))
    assert after.status == "conditional"  # the instructions are a condition to follow
    assert after.credit_line == "REUTERS/Gleb Garanich"
    archived = archive.check_rights(rec_id, "archive", datetime(2022, 9, 13, tzinfo=UTC))
    assert archived.status == "blocked" and "NO ARCHIVES" in archived.reasons[0]


def test_iim_release_and_expiry_dates(archive: Archive, tmp_path: Path) -> None:
    path = photo(
        tmp_path,
        "release.jpg",
        caption="Turret",
        credit="AFP",
        release_date="20220912",
        release_time="090000+0300",
        expiration_date="20220930",
    )
    rec_id = archive.ingest([path]).outcomes[0].id or ""
    at = lambda *a: datetime(*a, tzinfo=UTC)  # noqa: E731
    assert archive.check_rights(rec_id, "editorial", at(2022, 9, 12, 5, 59)).status == "blocked"
    assert archive.check_rights(rec_id, "editorial", at(2022, 9, 12, 6, 0)).status == "cleared"
    assert archive.check_rights(rec_id, "editorial", at(2022, 9, 30, 23, 0)).status == "cleared"
    late = archive.check_rights(rec_id, "editorial", at(2022, 10, 1, 0, 1))
    assert late.status == "blocked" and "not to be used after" in late.reasons[0]


@pytest.mark.parametrize(
    ("caption", "instructions", "use", "status", "words"),
    [
        (
            "EDITORIAL USE ONLY. Flags over Izium",
            None,
            "commercial",
            "blocked",
            "EDITORIAL USE ONLY",
        ),
        ("EDITORIAL USE ONLY. Flags over Izium", None, "editorial", "cleared", ""),
        ("Flags", "MANDATORY CREDIT: Jane Roe/AFP", "editorial", "conditional", "Jane Roe/AFP"),
        ("Flags", "No sales", "commercial", "blocked", "NO SALES"),
        ("Flags", "NO USE AFTER 30 SEPTEMBER 2022", "editorial", "blocked", "not to be used after"),
        (
            "Flags",
            "HOLD FOR RELEASE UNTIL sometime soon",
            "editorial",
            "needs-clearance",
            "unreadable",
        ),
        ("Talks on an embargo of Russian oil", None, "editorial", "cleared", ""),
    ],
)
def test_restrictions_in_captions_and_instructions(
    archive: Archive,
    tmp_path: Path,
    caption: str,
    instructions: str | None,
    use: str,
    status: str,
    words: str,
) -> None:
    values: dict[str, Any] = {"caption": caption, "credit": "AFP"}
    if instructions:
        values["special_instructions"] = instructions
    rec_id = archive.ingest([photo(tmp_path, "r.jpg", **values)]).outcomes[0].id or ""
    verdict = archive.check_rights(rec_id, use, NOW)
    if status == "cleared" and instructions is None:
        assert verdict.status == "cleared", verdict
    else:
        assert verdict.status == status, verdict
        assert words in " ".join(verdict.reasons + verdict.conditions)


def test_an_unknown_credit_never_passes(archive: Archive, tmp_path: Path) -> None:
    path = photo(tmp_path, "u.jpg", caption="Flags", credit="Kharkiv Regional Administration")
    rec_id = archive.ingest([path]).outcomes[0].id or ""
    for use in ("editorial", "commercial", "archive", "social"):
        verdict = archive.check_rights(rec_id, use, NOW)
        assert verdict.status == "unknown" and not verdict.passes


def test_policy_aliases_name_agencies(archive: Archive, tmp_path: Path) -> None:
    arc = reopen(
        archive, lambda t: t.replace('aliases = ["afp",', 'aliases = ["agence fp", "afp",')
    )
    with arc:
        path = photo(tmp_path, "alias.jpg", caption="Flags", credit="Jane Roe / Agence FP")
        outcome = arc.ingest([path]).outcomes[0]
        assert arc.get(outcome.id or "").agency == "AFP"
        assert [r.record.id for r in arc.search("agency:afp").results] == [outcome.id]
        assert arc.check_rights(outcome.id or "", "editorial", NOW).status == "cleared"


def _getty_unlicensed(text: str) -> str:
    """The starter policy with no use licensed for Getty Images (AFP's stay licensed)."""
    getty = text.index("[agencies.getty]")
    end = text.index("[agencies.", getty + 1)
    table = text[getty:end].replace('uses = ["editorial"]', "uses = []")
    return text[:getty] + table + text[end:]


def test_rights_follow_the_owner_or_the_distributor_as_the_policy_says(
    archive: Archive, tmp_path: Path
) -> None:
    path = photo(tmp_path, "via.jpg", caption="Summit", credit="Getty Images via AFP")
    rec_id = archive.ingest([path]).outcomes[0].id or ""
    with reopen(archive, _getty_unlicensed) as owner:
        verdict = owner.check_rights(rec_id, "editorial", NOW)
        assert verdict.status == "blocked" and verdict.agency == "Getty Images"
    with reopen(
        archive, lambda t: t.replace('rights_follow = "owner"', 'rights_follow = "distributor"')
    ) as distributor:
        verdict = distributor.check_rights(rec_id, "editorial", NOW)
        assert verdict.status == "cleared" and verdict.agency == "AFP"


@pytest.mark.parametrize(
    ("edit", "marker", "words"),
    [
        (
            lambda t: t.replace('status = "licensed"', 'status = "sure"', 1),
            '"sure"',
            "status must be",
        ),
        (
            lambda t: t.replace("licence_end = 2026-12-31", 'licence_end = "end of 2026"'),
            "end of 2026",
            "must be a date",
        ),
        (
            lambda t: t.replace("[agencies.staff]", "[agencies.staff"),
            "[agencies.staff",
            "Expected ']'",
        ),
        (
            lambda t: (
                t + '\n[agencies.extra]\nname = "Extra"\nstatus = "licensed"\n'
                'aliases = ["reuters"]\n'
            ),
            'aliases = ["reuters"]',
            "names both",
        ),
        (
            lambda t: t.replace('use = "editorial"', 'use = "everything"'),
            "everything",
            "use must be",
        ),
    ],
)
def test_a_broken_policy_is_one_error_naming_the_line(
    archive: Archive, edit: Any, marker: str, words: str
) -> None:
    path = archive.root / "rights.toml"
    text = edit(path.read_text())
    path.write_text(text)
    line = next(n for n, s in enumerate(text.splitlines(), 1) if marker in s)
    with pytest.raises(ConfigError) as caught:
        open_archive(archive.root).policy  # noqa: B018
    message = str(caught.value)
    assert f"line {line}" in message and words in message
    assert "\n" not in message


def test_starter_policy_dates_are_real(archive: Archive) -> None:
    policy = archive.policy
    assert policy.agencies["reuters"].licence_end == date(2027, 12, 31)
    assert {a.name for a in policy.agencies.values()} >= {
        "Reuters",
        "AFP",
        "AP",
        "Getty Images",
        "Channel 4",
        "Twitter",
        "Staff",
    }


def test_search_cleared_for(seeded: Archive) -> None:
    page = seeded.search(
        "ukrainian OR russian OR tank OR flag", limit=20, cleared_for="editorial", at=NOW
    )
    assert sorted(r.record.credit or "" for r in page.results) == ["AFP", "Reuters"]
    assert page.total == 2
    assert all(r.verdict.passes for r in page.results)


def test_manifest_values_outrank_embedded_and_are_reported(
    archive: Archive, tmp_path: Path
) -> None:
    from photoarchive.manifest import parse_csv_manifest

    a = photo(tmp_path, "a.jpg", caption="Embedded caption", credit="Embedded credit")
    b = photo(tmp_path, "b.jpg", caption="Only embedded")
    manifest = parse_csv_manifest(
        "file,caption,credit,keywords,city,country,date_created\n"
        "a.jpg,Desk caption,Credit: Reuters,tank;river,Izium,Ukraine,2022-09-11\n"
        "missing.jpg,Never arrived,AFP,,,,\n"
    )
    report = archive.ingest([a, b], IngestOptions(manifest=manifest, keywords=("batch",)))
    assert report.unmatched_rows == ("missing.jpg",)
    assert not report.ok
    warned = {Path(o.path).name: o.warnings for o in report.outcomes}
    assert warned["b.jpg"] == ("no row in the manifest",)
    rec = archive.get(report.outcomes[0].id or "")
    assert (rec.caption, rec.credit, rec.agency) == ("Desk caption", "Credit: Reuters", "Reuters")
    assert rec.keywords == ["tank", "river"]
    assert (rec.city, rec.country, rec.date_created) == ("Izium", "Ukraine", "2022-09-11")
    assert archive.sources(rec.id)["caption"] == {"desk": "Desk caption", "iim": "Embedded caption"}
    other = archive.get(report.outcomes[1].id or "")
    assert other.caption == "Only embedded" and other.keywords == ["batch"]


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("name,caption\na.jpg,x\n", "line 1: no 'file' column"),
        ("file,caption,colour\na.jpg,x,red\n", "unknown column 'colour'"),
        ("file,caption\na.jpg,x\na.jpg,y\n", "line 3: 'a.jpg' is listed twice"),
        ("file,date_created\na.jpg,yesterday\n", "line 2: date_created 'yesterday'"),
        ("file,caption\n,x\n", "line 2: no file name"),
    ],
)
def test_bad_csv_manifests_name_the_line(text: str, words: str) -> None:
    from photoarchive.manifest import ManifestError, parse_csv_manifest

    with pytest.raises(ManifestError, match=words):
        parse_csv_manifest(text)


def test_json_manifest(tmp_path: Path) -> None:
    from photoarchive.manifest import ManifestError, load_manifest

    good = tmp_path / "m.json"
    good.write_text(json.dumps([{"file": "a.jpg", "caption": "C", "keywords": ["x", "y"]}]))
    assert load_manifest(good) == {"a.jpg": {"caption": "C", "keywords": ["x", "y"]}}
    bad = tmp_path / "bad.json"
    bad.write_text('[{"file": "a.jpg",\n "caption": }]')
    with pytest.raises(ManifestError, match="line 2"):
        load_manifest(bad)


def test_verdict_filters_judge_each_set_of_facts_once_and_agree_with_every_photo(
    seeded: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Searches filtered by verdict judge the distinct rights facts in the index, not each
    hit; they keep exactly the photos that judging every hit keeps."""
    from photoarchive.policy import USES
    from photoarchive.rights import VERDICTS
    from photoarchive.search import SearchFilters
    from tests.test_wire import wire_photo

    # Staff pictures may be used every way, so each restriction alone decides their verdict.
    restricted: list[tuple[str, str, dict[str, str]]] = [
        (
            "Tank column",
            "REUTERS/Gleb Garanich",
            {"special_instructions": "EMBARGOED UNTIL 12 SEPTEMBER 2022 1400 GMT"},
        ),
        ("EDITORIAL USE ONLY. Tank in a field", "Staff", {}),
        ("Tank crew", "Jane Roe/AFP", {"special_instructions": "MANDATORY CREDIT: Jane Roe"}),
        ("Tank crew resting", "Staff", {"special_instructions": "NO SALES"}),
        ("Tank wreck", "Staff", {"special_instructions": "HOLD FOR RELEASE UNTIL soon"}),
        ("Tank on a river bank", "Staff", {"special_instructions": "NO ARCHIVES"}),
        ("Tank parade", "Staff", {"expiration_date": "20220930"}),
        ("Tank museum", "Kharkiv Regional Administration", {}),
    ]
    paths = []
    for i, (caption, credit, more) in enumerate(restricted):
        values = {"caption": caption, "credit": credit, **more}
        paths.append(wire_photo(tmp_path / f"r{i}.jpg", colour=i * 20, **values))
    paths.append(
        wire_photo(
            tmp_path / "k0.jpg",
            colour=200,
            caption="Tank hit",
            credit="Staff",
            special_instructions="Crop the left edge",
            transmission_reference="K-1",
        )
    )
    paths.append(
        wire_photo(
            tmp_path / "k1.jpg",
            colour=201,
            caption="KILL - tank picture withdrawn",
            credit="Staff",
            transmission_reference="K-1",
            action_advised="01",
        )
    )
    # Many plain staff pictures: for some filters most photos pass, for others most fail.
    paths += [
        wire_photo(tmp_path / f"s{i}.jpg", colour=100 + i, caption="Tank drill", credit="Staff")
        for i in range(12)
    ]
    for path in paths:
        assert seeded.ingest([path]).ok
    query = "tank OR flag OR ukrainian OR russian OR lunch"
    # (cleared_for, verdicts): each verdict and some together for the default use (editorial),
    # and photos cleared for each use.
    filters = [(None, [v]) for v in VERDICTS]
    filters += [(None, ["blocked", "cleared"]), (None, ["unknown", "blocked"])]
    filters += [(use, None) for use in USES]
    checks = [
        (use, wanted, at, states)
        for use, wanted in filters
        for at in (datetime(2022, 9, 12, 13, 0, tzinfo=UTC), NOW)
        for states in (("live",), ("live", "killed", "superseded"))
    ]

    def run() -> list[Any]:
        out = []
        for use, wanted, at, states in checks:
            page = seeded.search(
                query,
                limit=50,
                cleared_for=use,
                verdicts=wanted,
                at=at,
                filters=SearchFilters(states=states),
                count_agencies=True,
            )
            out.append(
                (
                    sorted((r.record.id, r.verdict.status) for r in page.results),
                    page.total,
                    page.agency_counts,
                )
            )
        return out

    fast = run()
    monkeypatch.setattr(seeded, "_verdict_filter", lambda *args: None)
    assert fast == run()
    statuses = {status for results, _, _ in fast for _, status in results}
    assert statuses == set(VERDICTS)  # every verdict was met on the way


def test_verdict_filters_judge_every_hit_after_the_policy_time_zone_changed(
    seeded: Archive,
) -> None:
    """Facts in the index were read in the old zone; until a reindex each hit is judged."""
    from photoarchive.search import SearchFilters

    arc = reopen(seeded, lambda t: t.replace('"Europe/London"', '"Asia/Tokyo"', 1))
    with arc:
        assert str(arc.policy.timezone) == "Asia/Tokyo"
        assert arc._verdict_filter(SearchFilters(), {"cleared"}, "editorial", NOW) is None
        page = arc.search("ukrainian OR russian OR tank OR flag", cleared_for="editorial", at=NOW)
        assert sorted(r.record.credit or "" for r in page.results) == ["AFP", "Reuters"]
        arc.reindex()
        assert arc._verdict_filter(SearchFilters(), {"cleared"}, "editorial", NOW) is not None
        again = arc.search("ukrainian OR russian OR tank OR flag", cleared_for="editorial", at=NOW)
        assert [r.record.id for r in again.results] == [r.record.id for r in page.results]


def test_cleared_searches_follow_the_clock_and_the_policy(archive: Archive, tmp_path: Path) -> None:
    """One archive asked again and again (as the desk and searchd ask): the judgement of the
    index's rights facts is kept, yet a search after an embargo lifts, after a licence ends
    and after rights.toml changes finds what a first search at that moment would."""
    embargoed = photo(
        tmp_path,
        "embargo.jpg",
        caption="Ukrainian forces in Kupiansk",
        credit="REUTERS/Gleb Garanich",
        special_instructions="EMBARGOED UNTIL 12 SEPTEMBER 2022 1400 GMT",
    )
    plain = photo(tmp_path, "plain.jpg", caption="Ukrainian forces in Izium", credit="AFP")
    outcomes = archive.ingest([embargoed, plain]).outcomes
    embargo_id = outcomes[0].id or ""
    assert embargo_id and outcomes[1].id

    def cleared(at: datetime) -> set[str]:
        found = archive.search("ukrainian forces", limit=None, cleared_for="editorial", at=at)
        return {r.record.sha256[:12] for r in found.results}

    before = datetime(2022, 9, 12, 13, 59, tzinfo=UTC)
    after = datetime(2022, 9, 12, 14, 1, tzinfo=UTC)
    for _ in range(2):  # the second time from what was kept
        assert embargo_id[:12] not in cleared(before)
        assert embargo_id[:12] in cleared(after)
        assert embargo_id[:12] not in cleared(before + timedelta(seconds=30))
    assert len(cleared(after)) == 2

    # The Reuters licence of the starter policy ends; the day after, nothing of Reuters'.
    end = archive.policy.agencies["reuters"].licence_end
    assert end is not None
    last_day = datetime(end.year, end.month, end.day, 12, tzinfo=UTC)
    assert embargo_id[:12] in cleared(last_day)
    assert embargo_id[:12] not in cleared(last_day + timedelta(days=1))

    # The desk blocks AFP: the next search judges by the new policy.
    policy = archive.root / "rights.toml"
    text = policy.read_text(encoding="utf-8")
    afp = text.index("[agencies.afp]")
    policy.write_text(
        text[:afp] + text[afp:].replace('status = "licensed"', 'status = "blocked"', 1),
        encoding="utf-8",
    )
    assert cleared(after) == {embargo_id[:12]}
