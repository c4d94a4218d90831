"""The show command: one photo's record, and where each value came from."""

from __future__ import annotations

import click

from photoarchive.cli.output import echo, open_from_context, print_json


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
        original = archive.store.original_path(stored.record.sha256, stored.ext)
        verdict = archive.check_rights(stored.record.sha256)
        revision = archive.catalog.revision(stored.record.sha256)
        history = None
        if with_history:
            from photoarchive.history import picture_history

            history = picture_history(archive, stored.record.sha256)
    data = stored.record.to_dict()
    if as_json:
        data["revision"] = revision
        data["rights"] = verdict.to_dict()
        if sources is not None:
            data["sources"] = sources
        if history is not None:
            data["history"] = history
        print_json(data)
        return
    width = max(len(k) for k in data)
    for key, value in data.items():
        if value is None or value == []:
            continue
        shown = "; ".join(value) if isinstance(value, list) else value
        echo(f"{key:<{width}}  {shown}")
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
    if sources:
        echo()
        echo("Sources:")
        for name, by_family in sources.items():
            for family, value in by_family.items():
                shown = "; ".join(value) if isinstance(value, list) else value
                echo(f"  {name:<{width}}  {family:<5}  {shown}")

    if history:
        _print_history(history)


def _print_history(history: dict[str, object]) -> None:
    echo()
    echo("History:")
    if history["killed_at"]:
        echo(f"  KILLED {history['killed_at']}: {history['kill_reason']}")
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
