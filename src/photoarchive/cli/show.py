"""The show command: one photo's record, and where each value came from."""

from __future__ import annotations

import click

from photoarchive.cli.output import cell, echo, open_from_context, print_json
from photoarchive.fieldtext import field_text
from photoarchive.states import PhotoState, state_fields, superseded_by
from photoarchive.store import original_key


@click.command()
@click.argument("photo_id")
@click.option("--json", "as_json", is_flag=True, help="Print the record as a JSON object.")
@click.option(
    "--sources",
    "with_sources",
    is_flag=True,
    help="Also show each field's value in every metadata family (desk, exif, iim, xmp).",
)
@click.option(
    "--history",
    "with_history",
    is_flag=True,
    help="Also list every version of the picture (refiles) and every edit.",
)
@click.pass_context
def show(
    ctx: click.Context, photo_id: str, as_json: bool, with_sources: bool, with_history: bool
) -> None:
    """Show one photo's record and its rights verdict; the id may be a unique prefix.

    Example:

    \b
        photoarchive show 3f9a2c --sources
    """
    with open_from_context(ctx) as archive:
        stored = archive.stored(photo_id)
        sources = archive.sources(photo_id) if with_sources else None
        original = archive.store.shown(original_key(stored.record.sha256, stored.ext))
        sha = stored.record.sha256
        verdict = archive.check_rights(sha)
        revision = archive.catalog.revision(sha)
        standing = archive.states([sha])[sha]
        copies = archive.verdicts(c.record for c in archive.catalog.copies(sha))
        copy_states = archive.states(c.sha256 for c, _ in copies)
        targets = archive.catalog.notice_targets(sha) if standing.state == "notice" else None
        history = None
        if with_history:
            from photoarchive.history import picture_history

            history = picture_history(archive, stored.record.sha256)
    data = stored.record.to_dict()
    copy_rows = [
        {
            "id": c.id,
            "credit": c.credit,
            "agency": c.agency,
            "state": copy_states[c.sha256].state,
            "rights": v.status,
        }
        for c, v in copies
    ]
    if as_json:
        data.update(state_fields(standing.state, superseded_by(standing)))
        data["revision"] = revision
        data["rights"] = verdict.to_dict()
        data["copies"] = copy_rows
        if targets is not None:
            data["kills"] = {
                "pictures": [t[:12] for t in targets["killed"]],
                "names": targets["names"],
            }
        if sources is not None:
            data["sources"] = sources
        if history is not None:
            data["history"] = history
        print_json(data)
        return
    width = max(len(k) for k in data)
    echo(_state_line(standing, targets))
    for key, value in data.items():
        if value is None or value == [] or value == {}:
            continue
        echo(f"{key:<{width}}  {field_text(key, value)}")
    echo(f"{'original':<{width}}  {original}")
    echo(f"{'revision':<{width}}  {revision}")
    for warning in stored.warnings:
        echo(f"{'warning':<{width}}  {warning}")
    echo(f"{'rights':<{width}}  {verdict.status} for {verdict.use} use")
    if verdict.credit_line:
        echo(f"{'credit to print':<{width}}  {verdict.credit_line}")
    for reason in verdict.reasons:
        echo(f"{'':<{width}}  - {reason}")
    for condition in verdict.conditions:
        echo(f"{'':<{width}}  * {condition}")
    if copy_rows:
        echo()
        echo("Copies of the same frame (the same pixels from another supplier or reference):")
        for row in copy_rows:
            echo(
                f"  {row['id']}  {row['rights']:<15}  {row['state']:<10}  {cell(row['credit'], 40)}"
            )
    if sources:
        echo()
        echo("Sources:")
        for name, by_family in sources.items():
            for family, value in by_family.items():
                echo(f"  {name:<{width}}  {family:<5}  {field_text(name, value)}")

    if history:
        _print_history(history)


def _state_line(standing: PhotoState, targets: dict[str, list[str]] | None) -> str:
    """Return the first line of `show`: where the photo stands, in capitals when it must
    not be published."""
    if standing.state == "superseded":
        return (
            f"SUPERSEDED by {standing.current[:12]}: an older version of a refiled picture; "
            "publish the current version"
        )
    if standing.state == "killed":
        by = f" by {standing.killed_by}" if standing.killed_by else ""
        return f"KILLED {standing.killed_at}{by}: {standing.kill_reason}"
    if standing.state == "notice":
        killed = ", ".join(t[:12] for t in (targets or {}).get("killed", [])) or "none yet"
        names = ", ".join((targets or {}).get("names", [])) or "nothing it can be matched by"
        return f"KILL NOTICE, not a picture: it names {names}; pictures killed: {killed}"
    return "LIVE: the current version of the picture"


def _print_history(history: dict[str, object]) -> None:
    echo()
    echo("History:")
    if history["killed_at"]:
        by = f" by {history['killed_by']}" if history.get("killed_by") else ""
        echo(f"  KILLED {history['killed_at']}{by}: {history['kill_reason']}")
    for event in history.get("events", []):  # type: ignore[attr-defined]
        notice = f" (notice {event['notice']})" if event["notice"] else ""
        echo(f"  {event['action']} {event['at']} by {event['by']}{notice}: {event['reason']}")
    for v in history["versions"]:  # type: ignore[attr-defined]
        mark = " (current)" if v["current"] else ""
        echo(
            f"  version {v['version']}{mark}: {v['id']}  ingested {v['ingested_at']}  "
            f"{v['original_filename']}"
        )
        for name, change in v["changes"].items():
            echo(f"      {name}: {change['old']!r} -> {change['new']!r}")
        for e in v["edits"]:
            echo(f"      edited {e['at']} by {e['by']}: {e['field']}: {e['old']!r} -> {e['new']!r}")


COMMANDS = [show]
