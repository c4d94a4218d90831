"""The rights commands: check verdicts, report on agencies and licences, validate the policy."""

from __future__ import annotations

import re
from datetime import datetime
from typing import TYPE_CHECKING, Any

import click

from photoarchive.cli.output import cell, echo, open_from_context, print_json, say
from photoarchive.policy import USES
from photoarchive.states import state_fields, superseded_by

if TYPE_CHECKING:
    from photoarchive.archive import Archive
    from photoarchive.record import PhotoRecord


def parse_at(archive: Archive, at: str | None) -> datetime:
    """Return the moment --at names (in the policy's time zone when it gives none), or now."""
    from datetime import UTC

    from photoarchive.datetimes import parse_moment

    if at is None or at.strip().lower() == "now":
        return datetime.now(UTC)
    return parse_moment(at, archive.policy.timezone)


def targets_of(archive: Archive, targets: tuple[str, ...]) -> list[PhotoRecord]:
    """Photos named by ids (or unique prefixes), else matching the words as one query
    (`selection:NAME` there: the selection's photos in its order, whatever their state);
    with no targets, every picture (the current version of each, kill notices left out).

    Nothing found is an error, never an empty list: a publishing script must not take
    "0 of 0 photos" for consent.
    """
    from photoarchive.errors import PhotoNotFoundError

    if not targets:
        records = _every_picture(archive)
        if not records:
            raise PhotoNotFoundError(f"the archive at {archive.root} has no photos")
        return records
    if all(re.fullmatch(r"[0-9a-fA-F]{4,64}", t) for t in targets):
        try:
            return [archive.get(t) for t in targets]
        except PhotoNotFoundError:
            if len(targets) > 1:
                raise
            query = targets[0]
            if not archive.search(query, limit=1).results:
                raise PhotoNotFoundError(
                    f"no photo with id {query}, and no photo matches it as a search"
                ) from None
    from photoarchive.selections import names_selection, quoted_target, selection_records

    query = " ".join(quoted_target(t) for t in targets)
    if names_selection(query):
        # A selection's photos whatever their state: a killed one is reported, not hidden.
        records = selection_records(archive, query)
        if not records:
            raise PhotoNotFoundError(f"no photos match {query!r}")
        return records
    page = archive.search(query, limit=100_000)
    if not page.results:
        raise PhotoNotFoundError(f"no photos match {query!r}")
    return [r.record for r in page.results]


def _every_picture(archive: Archive) -> list[PhotoRecord]:
    batch: list[PhotoRecord] = []
    out: list[PhotoRecord] = []

    def keep(records: list[PhotoRecord]) -> None:
        states = archive.catalog.states(r.sha256 for r in records)
        out.extend(r for r in records if states.get(r.sha256) in ("live", "killed"))

    for photo in archive.catalog.iter_photos():
        batch.append(photo.record)
        if len(batch) == 1000:
            keep(batch)
            batch = []
    keep(batch)
    return out


@click.group()
def rights() -> None:
    """Check who may publish what: verdicts by credit, licence, embargo and restrictions.

    The policy is the archive's rights.toml (written by init; edit it to match your
    contracts).

    Example:

    \b
        photoarchive rights check credit:reuters --use editorial
        photoarchive rights report
    """


@rights.command("check")
@click.argument("targets", nargs=-1)
@click.option(
    "--use",
    type=click.Choice(USES),
    default=None,
    help="The intended use (default: the policy's, usually editorial).",
)
@click.option(
    "--at",
    "at",
    metavar="DATETIME",
    default=None,
    help="When it would be published, e.g. '2022-09-12 14:00' (default: now).",
)
@click.option(
    "--allow-superseded",
    is_flag=True,
    help="Judge older versions of refiled pictures on their own facts (by default they are "
    "blocked: a newer version replaced them).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the verdicts as JSON on stdout.")
@click.pass_context
def check(
    ctx: click.Context,
    targets: tuple[str, ...],
    use: str | None,
    at: str | None,
    allow_superseded: bool,
    as_json: bool,
) -> None:
    """Give the rights verdict for photos: by ids, by a search query, or all of them.

    Verdicts: cleared, conditional (with the conditions, such as the credit to print),
    needs-clearance, unknown (a credit no agency in the policy matches) or blocked.
    Exits 1 when any photo is neither cleared nor conditional, and when the ids or the
    query match nothing, so a publishing script can rely on it. Killed pictures, kill
    notices and older versions of refiled pictures are blocked.

    Example:

    \b
        photoarchive rights check 3f9a2c 8b01d4 --use editorial
        photoarchive rights check "credit:reuters" --at "2022-09-12 14:00 GMT" --json
        photoarchive rights check selection:front-page      # a selection, in its order
    """
    with open_from_context(ctx) as archive:
        moment = parse_at(archive, at)
        records = targets_of(archive, targets)
        judged = archive.verdicts(records, use, moment, allow_superseded=allow_superseded)
        standing = archive.states(r.sha256 for r in records)
    if as_json:
        print_json(
            [
                {
                    "id": r.id,
                    "caption": r.caption,
                    "credit": r.credit,
                    **state_fields(standing[r.sha256].state, superseded_by(standing[r.sha256])),
                    **v.to_dict(),
                }
                for r, v in judged
            ]
        )
    else:
        for record, verdict in judged:
            echo(
                f"{record.id}  {verdict.status:<15}  {cell(record.credit, 16):<16}  "
                f"{cell(record.caption, 60)}"
            )
            for reason in verdict.reasons:
                echo(f"{'':14}- {reason}")
            for condition in verdict.conditions:
                echo(f"{'':14}* {condition}")
        passing = sum(1 for _, v in judged if v.passes)
        say(
            f"{passing} of {len(judged)} photos may be used "
            f"({judged[0][1].use if judged else use or 'editorial'})."
        )
    if any(not v.passes for _, v in judged):
        raise SystemExit(1)


@rights.command("report")
@click.option("--at", "at", metavar="DATETIME", default=None, help="Report as of (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.pass_context
def report(ctx: click.Context, at: str | None, as_json: bool) -> None:
    """Per agency: photos, status, licence end, and licences ending soon; unknown credits.

    Example:

    \b
        photoarchive rights report --json
    """
    with open_from_context(ctx) as archive:
        data = rights_report(archive, parse_at(archive, at))
    if as_json:
        print_json(data)
        return
    echo(f"{'AGENCY':<16} {'PHOTOS':>6}  {'STATUS':<18} {'LICENCE END':<12} NOTE")
    for row in data["agencies"]:
        note = ""
        if row["licence_days_left"] is not None and row["licence_days_left"] < 0:
            note = "licence ended"
        elif row["ending_soon"]:
            note = f"ends in {row['licence_days_left']} days: {row['photos']} photos affected"
        echo(
            f"{row['agency']:<16} {row['photos']:>6}  {row['status']:<18} "
            f"{row['licence_end'] or '-':<12} {note}"
        )
    echo()
    echo(f"Uncredited photos: {data['uncredited']}")
    if data["unknown_credits"]:
        echo("Credits no agency matches:")
        for row in data["unknown_credits"]:
            echo(f"  {row['photos']:>6}  {row['credit']}")


def rights_report(archive: Archive, at: datetime) -> dict[str, Any]:
    """Return the data `rights report` prints."""
    from collections import Counter

    from photoarchive.credits import parse_credit
    from photoarchive.rights import licence_days_left

    policy = archive.policy
    per_agency: Counter[str] = Counter()
    unknown: Counter[str] = Counter()
    uncredited = 0
    for photo in archive.catalog.iter_photos():
        line = parse_credit(photo.record.credit, policy.aliases)
        if line is None:
            uncredited += 1
        elif policy.agency(line.agency) is None:
            unknown[photo.record.credit or ""] += 1
        else:
            per_agency[line.agency or ""] += 1
    rows = []
    for agency in policy.agencies.values():
        days = licence_days_left(agency.licence_end, at, policy)
        rows.append(
            {
                "agency": agency.name,
                "photos": per_agency[agency.name],
                "status": agency.status,
                "uses": list(agency.uses),
                "licence_end": agency.licence_end.isoformat() if agency.licence_end else None,
                "licence_days_left": days,
                "ending_soon": days is not None and 0 <= days <= policy.expiry_warning_days,
            }
        )
    return {
        "at": at.isoformat(timespec="seconds"),
        "agencies": rows,
        "uncredited": uncredited,
        "unknown_credits": [{"credit": c, "photos": n} for c, n in unknown.most_common()],
    }


@rights.command("validate")
@click.pass_context
def validate(ctx: click.Context) -> None:
    """Check the archive's rights.toml; errors name the line.

    Example:

    \b
        photoarchive rights validate
    """
    with open_from_context(ctx) as archive:
        policy = archive.policy
    say(
        f"rights.toml is valid: {len(policy.agencies)} agencies, default use "
        f"{policy.default_use}, time zone {policy.timezone}."
    )


COMMANDS = [rights]
