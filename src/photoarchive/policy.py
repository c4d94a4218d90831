"""The desk's rights policy (rights.toml): agencies, aliases and licences, checked line by line."""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from photoarchive.credits import RIGHTS_FOLLOW, alias_table
from photoarchive.errors import ConfigError

POLICY_FILE = "rights.toml"
USES = ("editorial", "commercial", "archive", "social")
STATUSES = ("licensed", "clearance-required", "blocked")
_AGENCY_KEYS = {
    "name",
    "aliases",
    "status",
    "uses",
    "licence_start",
    "licence_end",
    "credit_line",
    "mandatory_credit",
    "note",
}
_DEFAULT_KEYS = {"use", "timezone", "expiry_warning_days", "rights_follow"}


@dataclass(frozen=True)
class AgencyPolicy:
    """What the desk may do with one agency's pictures."""

    key: str
    name: str
    status: str
    aliases: tuple[str, ...] = ()
    uses: tuple[str, ...] = ()
    licence_start: date | None = None
    licence_end: date | None = None
    credit_line: str | None = None
    mandatory_credit: bool = False
    note: str | None = None

    def credit_for(self, photographer: str | None) -> str:
        """Return the credit line to print, with the photographer where the format has one."""
        template = self.credit_line or self.name
        if "{photographer}" not in template:
            return template
        if photographer:
            return template.replace("{photographer}", photographer)
        bare = re.sub(r"^[\s/|,-]+|[\s/|,-]+$", "", template.replace("{photographer}", ""))
        return bare or self.name


PROVENANCE_STATUSES = ("allowed", "clearance-required", "blocked")
_PROVENANCE_KEYS = ("ai_generated", "screen_capture", "c2pa_invalid")


@dataclass(frozen=True)
class ProvenancePolicy:
    """What a picture's making does to its verdict, per use: "allowed", "clearance-required"
    or "blocked" for AI-generated pictures, screen captures, and Content Credentials that
    fail validation. Without a [provenance] table the cautious defaults below apply."""

    ai_generated: dict[str, str] = field(
        default_factory=lambda: {**dict.fromkeys(USES, "blocked"), "archive": "allowed"}
    )
    screen_capture: dict[str, str] = field(
        default_factory=lambda: dict.fromkeys(USES, "clearance-required")
    )
    c2pa_invalid: dict[str, str] = field(
        default_factory=lambda: dict.fromkeys(USES, "clearance-required")
    )


@dataclass(frozen=True)
class RightsPolicy:
    """The whole policy: defaults and agencies, with the alias table credits are read with."""

    agencies: dict[str, AgencyPolicy]
    default_use: str = "editorial"
    timezone: tzinfo = field(default_factory=lambda: ZoneInfo("UTC"))
    expiry_warning_days: int = 30
    aliases: dict[str, str] = field(default_factory=dict)
    #: Whose licence an "X via Y" credit is judged by: "owner" (X) or "distributor" (Y).
    rights_follow: str = "owner"
    #: How pictures are judged by how they were made (IPTC digital source type, C2PA).
    provenance: ProvenancePolicy = field(default_factory=lambda: ProvenancePolicy())

    def agency(self, name: str | None) -> AgencyPolicy | None:
        """Return the policy for a canonical agency name, or None if the policy has none."""
        if name is None:
            return None
        for agency in self.agencies.values():
            if agency.name == name:
                return agency
        return None


STARTER_POLICY = """\
# photoarchive rights policy: which agencies' pictures this desk may publish, and how.
# Edit it to match your contracts, then run `photoarchive rights validate`.
# Each [agencies.KEY] table:
#   name              the agency as it is shown and stored (the "agency" of a photo)
#   aliases           how credit lines spell it (matched without regard to case)
#   status            "licensed", "clearance-required" (ask before each use) or "blocked"
#   uses              what a licence covers: editorial, commercial, archive, social
#   licence_start/end dates of the licence (inclusive); outside them the pictures are blocked
#   credit_line       the credit to print; {photographer} is filled in from the credit
#   mandatory_credit  true: the credit line is a condition of every use
#   note              shown with every verdict for this agency
# A credit that matches no agency here is "unknown" and is never cleared.

[defaults]
use = "editorial"             # the use `show` and `rights check` assume
timezone = "Europe/London"    # for embargo times that name no time zone
expiry_warning_days = 30      # `rights report` lists licences ending this soon
rights_follow = "owner"       # "AFP via Getty": judge by AFP ("owner") or by Getty ("distributor")

[agencies.reuters]
name = "Reuters"
aliases = ["reuters", "thomson reuters", "reuters tv"]
status = "licensed"
uses = ["editorial", "archive"]
licence_start = 2022-01-01
licence_end = 2027-12-31
credit_line = "REUTERS/{photographer}"
note = "Wire subscription: editorial use and archive."

[agencies.afp]
name = "AFP"
aliases = ["afp", "agence france-presse", "agence france presse"]
status = "licensed"
uses = ["editorial", "archive"]
licence_start = 2022-01-01
licence_end = 2027-12-31
credit_line = "{photographer}/AFP"
note = "Wire subscription: editorial use and archive."

[agencies.ap]
name = "AP"
aliases = ["ap", "associated press", "the associated press", "ap photo"]
status = "licensed"
uses = ["editorial", "archive"]
licence_start = 2022-01-01
licence_end = 2027-12-31
credit_line = "AP Photo/{photographer}"
mandatory_credit = true

[agencies.getty]
name = "Getty Images"
aliases = ["getty images", "getty", "gettyimages"]
status = "licensed"
uses = ["editorial"]
licence_start = 2022-01-01
licence_end = 2026-12-31
credit_line = "{photographer}/Getty Images"
mandatory_credit = true

[agencies.channel4]
name = "Channel 4"
aliases = ["channel 4", "channel 4 news", "c4", "c4 news"]
status = "clearance-required"
uses = ["editorial"]
note = "Broadcast screen grab: clear each use with Channel 4 News."

[agencies.twitter]
name = "Twitter"
aliases = ["twitter", "x", "x (formerly twitter)", "x/twitter"]
status = "clearance-required"
uses = ["editorial"]
note = "User-generated content: verify it and get the owner's permission first."

[agencies.staff]
name = "Staff"
aliases = ["staff", "staff photographer", "staff photo", "our photographer"]
status = "licensed"
uses = ["editorial", "commercial", "archive", "social"]
credit_line = "{photographer}"

[provenance]
# How a picture was made, as its IPTC digital source type or C2PA Content Credentials say:
# "allowed", "clearance-required" or "blocked", for every use or per use, e.g.
# screen_capture = { editorial = "clearance-required", commercial = "blocked" }
screen_capture = "clearance-required" # a grab from a screen: who owns what it shows?
c2pa_invalid = "clearance-required"   # Content Credentials that fail validation

[provenance.ai_generated]
# Made by generative AI, wholly or in part: not published, but kept in the archive.
editorial = "blocked"
commercial = "blocked"
social = "blocked"
archive = "allowed"
"""


def load_policy(path: Path) -> RightsPolicy:
    """Read and validate rights.toml; any problem raises ConfigError naming the line."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"{path} is missing: the archive has no rights policy "
            "(run 'photoarchive init' to write the starter policy)"
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        # Editors on Windows start UTF-8 files with a byte order mark: it is not content.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}, line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); "
            "save rights.toml as UTF-8"
        ) from None
    return parse_policy(text, str(path))


def parse_policy(text: str, where: str = POLICY_FILE) -> RightsPolicy:
    """Validate policy text; ConfigError messages read '<where>, line N: problem'."""
    text = text.removeprefix("\ufeff")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None

    def fail(table: str, key: str | None, problem: str) -> ConfigError:
        return ConfigError(f"{where}, line {_line_of(text, table, key)}: {problem}")

    tables = ["defaults", "agencies", "provenance"]
    unknown_top = set(data) - set(tables)
    if unknown_top:
        name = sorted(unknown_top)[0]
        raise fail(
            name,
            None,
            f"unknown table or key '{name}'{_did_you_mean(name, tables)} "
            "(expected [defaults], [agencies.*], [provenance])",
        )
    defaults = data.get("defaults", {})
    if not isinstance(defaults, dict):
        raise fail("defaults", None, "defaults must be a table: [defaults]")
    for key in defaults:
        if key not in _DEFAULT_KEYS:
            raise fail(
                "defaults",
                key,
                f"unknown setting '{key}' in [defaults]{_did_you_mean(key, _DEFAULT_KEYS)}",
            )
    use = defaults.get("use", "editorial")
    if use not in USES:
        raise fail("defaults", "use", f"use must be one of {', '.join(USES)}, not {use!r}")
    zone_name = defaults.get("timezone", "UTC")
    try:
        zone = ZoneInfo(str(zone_name))
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # OSError: a name that is a folder of the zone database ("Europe"), or too long.
        raise fail("defaults", "timezone", f"unknown time zone {zone_name!r}") from None
    warn_days = defaults.get("expiry_warning_days", 30)
    if not isinstance(warn_days, int) or isinstance(warn_days, bool) or warn_days < 0:
        raise fail("defaults", "expiry_warning_days", "expiry_warning_days must be a whole number")
    follow = defaults.get("rights_follow", "owner")
    if follow not in RIGHTS_FOLLOW:
        raise fail(
            "defaults",
            "rights_follow",
            f"rights_follow must be one of {', '.join(RIGHTS_FOLLOW)}, not {follow!r}",
        )

    agencies_data = data.get("agencies", {})
    if not isinstance(agencies_data, dict):
        raise fail("agencies", None, "agencies must be tables such as [agencies.reuters]")
    if not agencies_data:
        raise fail("agencies", None, "the policy names no agencies: add [agencies.NAME] tables")
    agencies: dict[str, AgencyPolicy] = {}
    seen_aliases: dict[str, str] = {}
    for key, table in agencies_data.items():
        path = f"agencies.{key}"
        if not isinstance(table, dict):
            raise fail(path, None, f"agencies.{key} must be a table")
        agency = _agency(key, table, lambda k, p, path=path: fail(path, k, p))
        for alias in (agency.name.lower(), *agency.aliases):
            other = seen_aliases.get(alias)
            if other is not None and other != agency.name:
                raise fail(path, "aliases", f"alias {alias!r} names both {other} and {agency.name}")
            seen_aliases[alias] = agency.name
        agencies[key] = agency
    aliases = alias_table({a.name: a.aliases for a in agencies.values()})
    return RightsPolicy(
        agencies=agencies,
        default_use=use,
        timezone=zone,
        expiry_warning_days=warn_days,
        aliases=aliases,
        rights_follow=follow,
        provenance=_provenance(data.get("provenance", {}), fail),
    )


def _provenance(table: Any, fail: Any) -> ProvenancePolicy:
    """Read [provenance]: each setting a status for every use, or a table of them per use."""
    if not isinstance(table, dict):
        raise fail("provenance", None, "provenance must be a table: [provenance]")
    chosen: dict[str, dict[str, str]] = {}
    default = ProvenancePolicy()
    for key, value in table.items():
        if key not in _PROVENANCE_KEYS:
            raise fail(
                "provenance",
                key,
                f"unknown setting '{key}' in [provenance]{_did_you_mean(key, _PROVENANCE_KEYS)}",
            )
        per_use = dict(getattr(default, key))
        if isinstance(value, str):
            per_use = dict.fromkeys(USES, value)
        elif isinstance(value, dict):
            for use, status in value.items():
                if use not in USES:
                    raise fail("provenance", key, f"{key}: unknown use {use!r}")
                per_use[use] = status
        else:
            raise fail("provenance", key, f"{key} must be a status or a table of them by use")
        for status in per_use.values():
            if status not in PROVENANCE_STATUSES:
                raise fail(
                    "provenance",
                    key,
                    f"{key} must be one of {', '.join(PROVENANCE_STATUSES)}, not {status!r}",
                )
        chosen[key] = per_use
    return ProvenancePolicy(**chosen)


def _agency(key: str, table: dict[str, Any], fail: Any) -> AgencyPolicy:
    for field_name in table:
        if field_name not in _AGENCY_KEYS:
            raise fail(
                field_name,
                f"unknown key '{field_name}' for agency '{key}'"
                f"{_did_you_mean(field_name, _AGENCY_KEYS)}",
            )
    name = table.get("name")
    if not isinstance(name, str) or not name.strip():
        raise fail(None, f"agency '{key}' needs a name")
    status = table.get("status")
    if status not in STATUSES:
        raise fail("status", f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    aliases = table.get("aliases", [])
    if not isinstance(aliases, list) or not all(isinstance(a, str) and a.strip() for a in aliases):
        raise fail("aliases", "aliases must be a list of names")
    uses = table.get("uses", [])
    if not isinstance(uses, list) or any(u not in USES for u in uses):
        raise fail("uses", f"uses must be a list drawn from {', '.join(USES)}")
    dates: dict[str, date | None] = {}
    for which in ("licence_start", "licence_end"):
        value = table.get(which)
        if isinstance(value, datetime):
            value = value.date()
        if value is not None and not isinstance(value, date):
            raise fail(which, f"{which} must be a date such as 2026-12-31 (no quotes)")
        dates[which] = value
    if (
        dates["licence_start"]
        and dates["licence_end"]
        and (dates["licence_end"] < dates["licence_start"])
    ):
        raise fail("licence_end", "licence_end is before licence_start")
    credit_line = table.get("credit_line")
    if credit_line is not None and not isinstance(credit_line, str):
        raise fail("credit_line", "credit_line must be text")
    mandatory = table.get("mandatory_credit", False)
    if not isinstance(mandatory, bool):
        raise fail("mandatory_credit", "mandatory_credit must be true or false")
    note = table.get("note")
    if note is not None and not isinstance(note, str):
        raise fail("note", "note must be text")
    return AgencyPolicy(
        key=key,
        name=name.strip(),
        status=status,
        aliases=tuple(a.strip().lower() for a in aliases),
        uses=tuple(uses),
        licence_start=dates["licence_start"],
        licence_end=dates["licence_end"],
        credit_line=credit_line,
        mandatory_credit=mandatory,
        note=note,
    )


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    close = difflib.get_close_matches(name, sorted(known), n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _line_of(text: str, table: str, key: str | None) -> int:
    """Return the 1-based line of `key` inside [table] (or of the table's header)."""
    header_line = 1
    current = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        header = re.match(r"^\[\s*([^\]]+?)\s*\]", stripped)
        if header:
            current = header.group(1).replace(" ", "").replace('"', "")
            if current == table:
                header_line = number
            continue
        if key and current == table and re.match(rf"^{re.escape(key)}\s*=", stripped):
            return number
        if current is None and re.match(rf"^{re.escape(table)}\s*=", stripped):
            return number
    return header_line
