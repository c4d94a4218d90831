"""Rights verdicts: may this photo be used this way at this moment, and on what conditions."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, tzinfo
from typing import Any

from photoarchive.credits import parse_credit, rights_agency
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


@dataclass(frozen=True)
class RightsFacts:
    """What a photo itself says that its verdict depends on, apart from the policy."""

    credit: str | None
    instructions: str | None
    editorial_only: bool = False
    no_archive: bool = False
    no_sales: bool = False
    #: None when no MANDATORY CREDIT notice; "" for one that names no credit.
    mandatory_credit: str | None = None
    embargo_until: str | None = None
    expires_after: str | None = None
    problems: tuple[str, ...] = ()
    #: The time zone embargo and expiry times without one were read in.
    zone: str = "UTC"
    #: How it was made: the IPTC digital source type's code, and the C2PA state (with
    #: whether the manifest says generative AI made it).
    source_type: str | None = None
    c2pa_state: str | None = None
    c2pa_ai: bool = False

    def status_key(self) -> str:
        """Return, as one string, the facts a verdict's status depends on (not its wording).

        Photos with equal keys get the same status for a use at a moment, so a search
        filtering by verdict judges each key in the index once rather than each photo.
        """
        return json.dumps(
            [
                self.credit,
                self.editorial_only,
                self.no_archive,
                self.no_sales,
                self.embargo_until,
                self.expires_after,
                bool(self.problems),
                bool(self.instructions) or self.mandatory_credit is not None,
                self.zone,
                self.source_type,
                self.c2pa_state,
                self.c2pa_ai,
            ],
            ensure_ascii=False,
        )

    @classmethod
    def from_status_key(cls, key: str) -> RightsFacts:
        """Return facts with the status a `status_key()` string stands for."""
        values = json.loads(key)
        credit, editorial, no_archive, no_sales, embargo, expiry, unclear, conditional, zone = (
            values[:9]
        )
        # Keys written before provenance was judged have nine parts.
        source_type, c2pa_state, c2pa_ai = [*values[9:12], None, None, False][:3]
        return cls(
            source_type=source_type,
            c2pa_state=c2pa_state,
            c2pa_ai=bool(c2pa_ai),
            credit=credit,
            instructions=None,
            editorial_only=editorial,
            no_archive=no_archive,
            no_sales=no_sales,
            mandatory_credit="" if conditional else None,
            embargo_until=embargo,
            expires_after=expiry,
            problems=("a restriction could not be read",) if unclear else (),
            zone=zone,
        )


def rights_facts(
    record: PhotoRecord, sources: Mapping[str, Mapping[str, Any]], zone: tzinfo
) -> RightsFacts:
    """Return the facts of a photo's verdict: its credit, instructions and restrictions."""
    found = read_restrictions(record, sources, zone)
    return RightsFacts(
        credit=record.credit,
        instructions=record.special_instructions,
        editorial_only=found.editorial_only,
        no_archive=found.no_archive,
        no_sales=found.no_sales,
        mandatory_credit=found.mandatory_credit,
        embargo_until=found.embargo_until.isoformat() if found.embargo_until else None,
        expires_after=found.expires_after.isoformat() if found.expires_after else None,
        problems=tuple(found.problems),
        zone=str(zone),
        source_type=record.digital_source_type,
        c2pa_state=record.c2pa.get("state") if record.c2pa else None,
        c2pa_ai=bool(record.c2pa.get("ai_generated")) if record.c2pa else False,
    )


def check_rights(
    record: PhotoRecord,
    sources: Mapping[str, Mapping[str, Any]],
    policy: RightsPolicy,
    use: str,
    at: datetime,
    withheld: str | None = None,
) -> Verdict:
    """Return the verdict for using `record` for `use` at the aware moment `at`.

    `withheld` says why the photo must not be published whatever its rights (the picture
    was killed, a newer version replaced it, it is a kill notice): it is then blocked.
    """
    facts = rights_facts(record, sources, policy.timezone)
    return judge_facts(facts, policy, use, at, withheld)


def judge_facts(
    facts: RightsFacts,
    policy: RightsPolicy,
    use: str,
    at: datetime,
    withheld: str | None = None,
) -> Verdict:
    """Return the verdict for a photo with these facts, used for `use` at the moment `at`."""
    if use not in USES:
        raise ValueError(f"unknown use {use!r}")
    statuses: list[str] = []
    reasons: list[str] = []
    conditions: list[str] = []

    def add(status: str, reason: str) -> None:
        statuses.append(status)
        reasons.append(reason)

    if withheld:
        add("blocked", withheld)
    line = parse_credit(facts.credit, policy.aliases)
    # "X via Y": the owner's or the distributor's licence, as rights.toml's rights_follow says.
    agency = policy.agency(rights_agency(line, policy.rights_follow)) if line else None
    credit_line = None
    if line is None:
        add("unknown", "no credit: where the picture comes from is not known")
    elif agency is None:
        add("unknown", f"credit '{facts.credit}' matches no agency in the rights policy")
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

    embargo_until = _moment(facts.embargo_until)
    expires_after = _moment(facts.expires_after)
    if embargo_until and at < embargo_until:
        add("blocked", f"embargoed until {embargo_until.isoformat()}")
    if expires_after and at > expires_after:
        add("blocked", f"not to be used after {expires_after.isoformat()}")
    if facts.editorial_only and use != "editorial":
        add("blocked", f"EDITORIAL USE ONLY: not for {use} use")
    if facts.no_archive and use == "archive":
        add("blocked", "NO ARCHIVES: not to be archived")
    if facts.no_sales and use == "commercial":
        add("blocked", "NO SALES: not for commercial use")
    for problem in facts.problems:
        add("needs-clearance", f"{problem}: check with the sender")
    for status, reason in _provenance(facts, policy, use):
        add(status, reason)
    if facts.mandatory_credit is not None:
        conditions.append(
            f"print the credit: {facts.mandatory_credit or credit_line or facts.credit}"
        )
    if facts.instructions:
        conditions.append(f"follow the instructions: {facts.instructions}")
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


# Provenance settings' statuses as verdicts.
_PROVENANCE_VERDICT = {"blocked": "blocked", "clearance-required": "needs-clearance"}


def _provenance(facts: RightsFacts, policy: RightsPolicy, use: str) -> list[tuple[str, str]]:
    """Return (verdict, reason) for what the picture's making means under the policy."""
    from photoarchive.provenance import is_ai, is_screen_capture, source_type_words

    found: list[tuple[str, str, str]] = []
    code = facts.source_type
    if (code and is_ai(code)) or facts.c2pa_ai:
        said = (
            f"its digital source type is {source_type_words(code)} ({code})"
            if code and is_ai(code)
            else "its C2PA Content Credentials say generative AI made it"
        )
        found.append(("ai_generated", "AI-generated", said))
    if code and is_screen_capture(code):
        found.append(
            ("screen_capture", "a screen capture", "who owns what it shows must be cleared")
        )
    if facts.c2pa_state in ("invalid", "unreadable"):
        found.append(
            (
                "c2pa_invalid",
                "Content Credentials that fail validation",
                "the picture may have been changed since it was signed",
            )
        )
    out = []
    for setting, what, why in found:
        status = getattr(policy.provenance, setting).get(use, "allowed")
        if status in _PROVENANCE_VERDICT:
            verb = "blocks" if status == "blocked" else "needs clearance for"
            out.append(
                (
                    _PROVENANCE_VERDICT[status],
                    f"{what} ({why}): the rights policy {verb} such pictures for {use} use",
                )
            )
    return out


def _moment(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def licence_days_left(end: date | None, at: datetime, policy: RightsPolicy) -> int | None:
    """Return whole days from `at` to the end of a licence (negative once it has ended)."""
    if end is None:
        return None
    today = at.astimezone(policy.timezone).date()
    return (end - today).days
