"""Credit lines: split them into agency, photographer and distributor; name the agency."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

# Canonical agency -> lower-case spellings that name it. The archive's rights.toml adds
# and overrides these; they let a credit be read even before a policy names the agency.
KNOWN_AGENCIES: dict[str, tuple[str, ...]] = {
    "Reuters": ("reuters", "thomson reuters"),
    "AFP": ("afp", "agence france-presse", "agence france presse"),
    "AP": ("ap", "associated press", "the associated press"),
    "Getty Images": ("getty images", "getty"),
    "EPA": ("epa", "epa-efe", "epa efe"),
    "PA": ("pa", "pa images", "pa wire", "press association"),
    "Channel 4": ("channel 4", "channel 4 news", "c4"),
    "Staff": ("staff", "staff photographer", "staff photo"),
    # Social platforms. A picture taken from one needs the poster's permission whatever
    # agency the post names, so a platform named anywhere in a credit is its agency.
    "Twitter": ("twitter", "x", "x.com", "x (formerly twitter)", "x/twitter"),
    "Instagram": ("instagram", "инстаграм", "інстаграм"),
    "Facebook": ("facebook", "фейсбук"),
    "TikTok": ("tiktok", "tik tok", "тикток", "тікток"),
    "YouTube": ("youtube", "youtu.be", "ютуб"),
    "Telegram": ("telegram", "t.me", "телеграм"),
    "VK": ("vk", "vkontakte", "вконтакте"),
    "Weibo": ("weibo",),
    "Threads": ("threads",),
    "Bluesky": ("bluesky", "bsky.app"),
    "Snapchat": ("snapchat",),
    "LinkedIn": ("linkedin",),
    "WhatsApp": ("whatsapp",),
}
SOCIAL_PLATFORMS: tuple[str, ...] = (
    "Twitter",
    "Instagram",
    "Facebook",
    "TikTok",
    "YouTube",
    "Telegram",
    "VK",
    "Weibo",
    "Threads",
    "Bluesky",
    "Snapchat",
    "LinkedIn",
    "WhatsApp",
)
# Whose licence a "X via Y" credit is judged by: the owner X or the distributor Y.
RIGHTS_FOLLOW: tuple[str, ...] = ("owner", "distributor")

_PLATFORM_ALIASES = {alias: name for name in SOCIAL_PLATFORMS for alias in KNOWN_AGENCIES[name]}
# Spellings that name a platform as a word inside a part ("Twitter: @afp"). "x" is left out:
# a lone letter in a name ("Malcolm X") is not Twitter; it counts only as a whole part.
_PLATFORM_WORD = re.compile(
    r"\b(?:"
    + "|".join(
        re.escape(alias)
        for alias in sorted(_PLATFORM_ALIASES, key=len, reverse=True)
        if alias != "x" and all(c.isalnum() or c == " " for c in alias)
    )
    + r")\b",
    re.I,
)
# The at signs a handle is written with (full-width and small forms look the same on screen).
_AT = "@\uff20\ufe6b"
# A handle starts at "@" not preceded by a letter or digit: "jane@example.com" is an address.
_HANDLE = re.compile(rf"(?<!\w)[{_AT}][\w.]+")
# Words that say how a picture was supplied, not who took it: never the photographer.
_MARKERS = frozenset(
    {"pool", "pool photo", "file", "file photo", "handout", "handout photo", "photo", "photos"}
)
# Anchored at the start, so tried at one position only: a run of spaces costs a few scans,
# not one per space.
_LABEL = re.compile(
    r"^\s*(?:"
    r"(?:credit|photos?|photograph|picture|pic|image|source|фото|автор|джерело|источник)\s*:"
    r"|(?:photo|photograph|picture)\s+by\b"
    r"|courtesy\b(?:\s+of\b)?\s*:?"
    r")\s*",
    re.I,
)
_COPYRIGHT = re.compile(r"^\s*(©|\(c\)|copyright)\s*", re.I)
_YEAR = re.compile(r"\s(?:19|20)\d\d$")
# A match may start only where a run of spaces starts, or at a slash: otherwise each position
# inside a long run would scan the rest of it again (quadratic on a credit of spaces).
# "Twitter @user/via REUTERS" writes "via" after a slash.
_VIA = re.compile(r"(?:(?<!\s)\s+|(?<!\s)\s*[/|]\s*)via\s+", re.I)
_SPLIT = re.compile(r"(?:(?<!\s)\s+)?[/|]\s*")


@dataclass(frozen=True)
class CreditLine:
    """A credit line read into its parts; `agency` is canonical when an alias matched."""

    raw: str
    agency: str | None
    photographer: str | None = None
    distributor: str | None = None
    known: bool = False


@dataclass(frozen=True)
class _Reading:
    """One side of a "via": who it names, who took the picture, and whether a platform."""

    agency: str
    photographer: str | None
    known: bool
    platform: bool


def alias_table(
    agencies: Mapping[str, tuple[str, ...] | list[str]] | None = None,
) -> dict[str, str]:
    """Return {lower-case alias: canonical agency}: the built-in names plus `agencies`."""
    table = {alias: name for name, aliases in KNOWN_AGENCIES.items() for alias in aliases}
    for name, aliases in (agencies or {}).items():
        table[_key(name)] = name
        for alias in aliases:
            table[_key(alias)] = name
    return table


def clean_credit(credit: str) -> str:
    """Return the credit without labels ('Credit:', 'Photo:', 'Фото:', 'Courtesy of', '©')
    or a trailing year."""
    text = _LABEL.sub("", credit.strip())
    text = _COPYRIGHT.sub("", text)
    return _without_year(text).strip()


def _without_year(text: str) -> str:
    """Drop a trailing year (", 2022", " 2022"), found from the end: a pattern searched
    from every position backtracked quadratically on long runs of spaces."""
    text = text.rstrip()
    if not _YEAR.search(text[-5:]):
        return text
    text = text[:-4].rstrip()
    return text[:-1] if text.endswith(",") else text


def parse_credit(credit: str | None, aliases: Mapping[str, str] | None = None) -> CreditLine | None:
    """Read a credit line; None for an empty one.

    "REUTERS/Gleb Garanich", "Gleb Garanich/Reuters", "AFP PHOTO / NAME", "NAME (Reuters)"
    give the agency and the photographer; "AFP via Getty Images" (or ".../via Getty Images")
    gives AFP distributed by Getty Images. A social platform named anywhere ("Instagram/
    @reuters", "Twitter: @afp") is the agency, with the handle as photographer. A handle is
    never read as an agency: "@reuters" or "REUTERS/@someone" gives the handle as an unknown
    agency. A credit naming no known agency keeps its cleaned text, with `known` False.
    """
    if credit is None or not credit.strip():
        return None
    table = aliases if aliases is not None else alias_table()
    text = clean_credit(credit)
    if not text:
        return None
    owner_text, distributor_text = text, None
    via = _VIA.split(text, maxsplit=1)
    # "via Reuters" with nothing before it names no owner: it is read whole (and unknown).
    if len(via) == 2 and via[0].strip() and via[1].strip():
        owner_text, distributor_text = via[0].strip(), via[1].strip()
    owner = _read(owner_text, table)
    if distributor_text is None:
        return CreditLine(credit, owner.agency, owner.photographer, None, owner.known)
    distributor = _read(distributor_text, table)
    if distributor.platform and not owner.platform:
        # "Reuters via Twitter": the picture came off a platform, and what a post says it
        # is cannot be checked, so the platform is the agency (fail closed).
        return CreditLine(credit, distributor.agency, owner_text, distributor.agency, True)
    return CreditLine(credit, owner.agency, owner.photographer, distributor.agency, owner.known)


def rights_agency(line: CreditLine, follow: str) -> str | None:
    """Return the agency whose licence decides the picture's rights: the distributor when
    `follow` is "distributor" and the credit names one, else the owner agency."""
    if follow not in RIGHTS_FOLLOW:
        raise ValueError(f"follow must be one of {', '.join(RIGHTS_FOLLOW)}, not {follow!r}")
    if follow == "distributor" and line.distributor:
        return line.distributor
    return line.agency


def normalise_agency(credit: str | None, aliases: Mapping[str, str] | None = None) -> str | None:
    """Return the agency a credit line names (canonically spelt), or None for no credit."""
    line = parse_credit(credit, aliases)
    return line.agency if line else None


def _read(text: str, table: Mapping[str, str]) -> _Reading:
    """Read one side of a "via" (no "via" left in `text`)."""
    parts = [piece for part in _SPLIT.split(text) for piece in _parenthesised(part, table)]
    handles = [h for h in (m.rstrip(".") for m in _HANDLE.findall(text)) if len(h) > 1]
    platforms = [(i, name) for i, part in enumerate(parts) if (name := _platform(part, table))]
    if platforms:
        # The platform wins over any agency beside it: "Instagram/@reuters" is an
        # Instagram post by an account calling itself reuters, not a Reuters picture.
        taken = {i for i, _ in platforms}
        rest = [p for i, p in enumerate(parts) if i not in taken and _key(p) not in _MARKERS]
        return _Reading(platforms[0][1], " / ".join(handles or rest) or None, True, True)
    if handles:
        # Anyone can register "@reuters", and a real agency credit carries no handle, so an
        # agency beside a handle ("REUTERS/@someone") is not believed (fail closed).
        return _Reading(" / ".join(handles), None, False, False)
    whole = None if _has_at(text) else table.get(_key(text))
    if whole:
        return _Reading(whole, None, True, False)
    for i, part in enumerate(parts):
        name = _agency(part, table)
        if name:
            rest = [p for j, p in enumerate(parts) if j != i and _key(p) not in _MARKERS]
            return _Reading(name, " / ".join(rest) or None, True, False)
    return _Reading(text, None, False, False)


def _parenthesised(part: str, table: Mapping[str, str]) -> list[str]:
    """Split "NAME (Reuters)" into its name and the bracketed part; found with rfind, not a
    pattern, so a credit of brackets costs one scan. An alias such as "X (formerly
    Twitter)" stays whole."""
    part = part.strip()
    if not part.endswith(")") or _key(part) in table:
        return [part] if part else []
    start = part.rfind("(")
    if start < 0:
        return [part]
    return [p for p in (part[:start].strip(), part[start + 1 : -1].strip()) if p]


def _platform(part: str, table: Mapping[str, str]) -> str | None:
    """Return the platform a part names, as a whole ("X", "t.me") or as a word in it."""
    key = _key(part)
    if key not in _PLATFORM_ALIASES:
        found = _PLATFORM_WORD.search(part)
        if found is None:
            return None
        key = _key(found.group())
        if key not in _PLATFORM_ALIASES:
            # Matched without regard to case through a letter lower() keeps ("ſ" for "s"):
            # still a platform, so still never cleared.
            key = " ".join(found.group().casefold().split())
            if key not in _PLATFORM_ALIASES:
                return found.group()
    # The policy may spell the platform its own way ("X" for Twitter).
    return table.get(key) or _PLATFORM_ALIASES[key]


def _agency(part: str, table: Mapping[str, str]) -> str | None:
    """Return the agency a whole part names: an alias, or one followed by "PHOTO(S)"."""
    if _has_at(part):
        # A handle or an address is never an agency's name, whatever follows the "@".
        return None
    key = _key(part)
    name = table.get(key)
    if name is None:
        head, _, last = key.rpartition(" ")
        if head and last in ("photo", "photos"):
            name = table.get(head)
    return name


def _has_at(text: str) -> bool:
    """Return whether text holds an at sign of any form."""
    return any(at in text for at in _AT)


def _key(text: str) -> str:
    """Return text as aliases are stored: lower case, spaces collapsed."""
    return " ".join(text.lower().split())
