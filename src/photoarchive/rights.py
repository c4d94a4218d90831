"""Rights verdicts: may this photo be used this way at this moment, and on what conditions."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from typing import Any

from photoarchive.credits import parse_credit
from photoarchive.policy import USES, RightsPolicy
from photoarchive.record import PhotoRecord
from photoarchive.restrictions import read_restrictions

# From best to worst: a verdict is the worst any check gives.
VERDICTS = ("cleared", "conditional", "needs-clearance", "unknown", "blocked")
PASSING = ("cleared", "conditional")


@dataclass
class Verdict:
    """The answer for one photo, use and moment, with every reason and condition."""

    status: str
    use: str
    at: str
    agency: str | None
    credit_line: str | None
    reasons: list[str] = field(default_factory=list)
    conditions: list[str] = field(default_factory=list)

    @property
    def passes(self) -> bool:
        """True when the photo may be published (cleared, or on the stated conditions)."""
        return self.status in PASSING

    def to_dict(self) -> dict[str, Any]:
        """Return the verdict as JSON-ready data."""
        return asdict(self)


def check_rights(
    record: PhotoRecord,
    sources: Mapping[str, Mapping[str, Any]],
    policy: RightsPolicy,
    use: str,
    at: datetime,
    killed: str | None = None,
) -> Verdict:
    """Return the verdict for using `record` for `use` at the aware moment `at`.

    `killed` is the reason when the sender has killed the picture: it is then blocked.
    """
    if use not in USES:
        raise ValueError(f"unknown use {use!r}")
    statuses: list[str] = []
    reasons: list[str] = []
    conditions: list[str] = []

    def add(status: str, reason: str) -> None:
        statuses.append(status)
        reasons.append(reason)

    if killed:
        add("blocked", f"{killed}: must not be published")
    line = parse_credit(record.credit, policy.aliases)
    agency = policy.agency(line.agency) if line else None
    credit_line = None
    if line is None:
        add("unknown", "no credit: where the picture comes from is not known")
    elif agency is None:
        add("unknown", f"credit '{record.credit}' matches no agency in the rights policy")
    else:
        credit_line = agency.credit_for(line.photographer)
        if agency.status == "blocked":
            add("blocked", f"{agency.name} is blocked by the rights policy")
        elif agency.status == "clearance-required":
            add("needs-clearance", f"{agency.name} pictures need clearance before each use")
        if use not in agency.uses and agency.status != "blocked":
            add("blocked", f"the {agency.name} licence does not cover {use} use")
        day = at.astimezone(policy.timezone).date()
        if agency.licence_start and day < agency.licence_start:
            add("blocked", f"the {agency.name} licence starts on {agency.licence_start}")
        if agency.licence_end and day > agency.licence_end:
            add("blocked", f"the {agency.name} licence ended on {agency.licence_end}")
        if agency.mandatory_credit:
            conditions.append(f"print the credit: {credit_line}")

    found = read_restrictions(record, sources, policy.timezone)
    if found.embargo_until and at < found.embargo_until:
        add("blocked", f"embargoed until {found.embargo_until.isoformat()}")
    if found.expires_after and at > found.expires_after:
        add("blocked", f"not to be used after {found.expires_after.isoformat()}")
    if found.editorial_only and use != "editorial":
        add("blocked", f"EDITORIAL USE ONLY: not for {use} use")
    if found.no_archive and use == "archive":
        add("blocked", "NO ARCHIVES: not to be archived")
    if found.no_sales and use == "commercial":
        add("blocked", "NO SALES: not for commercial use")
    for problem in found.problems:
        add("needs-clearance", f"{problem}: check with the sender")
    if found.mandatory_credit is not None:
        conditions.append(
            f"print the credit: {found.mandatory_credit or credit_line or record.credit}"
        )
    if record.special_instructions:
        conditions.append(f"follow the instructions: {record.special_instructions}")
    if agency is not None and agency.note:
        reasons.append(agency.note)
    if conditions:
        statuses.append("conditional")
    status = max(statuses, key=VERDICTS.index) if statuses else "cleared"
    return Verdict(
        status=status,
        use=use,
        at=at.isoformat(timespec="seconds"),
        agency=agency.name if agency else (line.agency if line else None),
        credit_line=credit_line,
        reasons=reasons,
        conditions=_unique(conditions),
    )


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def licence_days_left(end: date | None, at: datetime, policy: RightsPolicy) -> int | None:
    """Return whole days from `at` to the end of a licence (negative once it has ended)."""
    if end is None:
        return None
    today = at.astimezone(policy.timezone).date()
    return (end - today).days
