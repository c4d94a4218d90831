"""Agency notices on a picture: REFILE, CORRECTION, REPEAT, UPDATE and KILL, and what they name."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from photoarchive.record import PhotoRecord

# A notice word opens the caption, headline or instructions: "REFILE - CORRECTING ...".
# Agencies write it in capitals; a caption that merely starts "Killed soldiers ..." is not one.
_PREFIX = re.compile(
    r"^\s*(?:PICTURE\s+|PHOTO\s+)?(?P<kind>REFILE[DS]?|CORRECTION|CORRECTED|CORRECTS|"
    r"REPEAT(?:ING)?|RETRANSMISSION|RESEND(?:ING)?|UPDATE[DS]?|"
    r"(?:MANDATORY\s+|ADVISORY\s+|URGENT\s+)?KILL(?:ED)?|ELIMINATION|WITHDRAWN|WITHDRAWAL)"
    r"(?![A-Za-z])\s*(?:\d{1,2}(?!\d))?\s*[-–—:,]*\s*(?P<rest>.*)$",
    re.S,
)
# A kill that does not open the text: "... PICTURE RC2... HAS BEEN WITHDRAWN", "MANDATORY KILL".
_KILL_ANYWHERE = re.compile(
    r"\b(?:MANDATORY\s+KILL|ADVISORY\s+KILL|KILL\s+NOTICE|PICTURE\s+KILL|PHOTO\s+KILL)\b|"
    r"\b(?:PICTURE|PHOTO|IMAGE)S?\b[^.\n]{0,80}?\bHA(?:S|VE)\s+BEEN\s+(?:WITHDRAWN|KILLED)\b"
)
_KINDS = {
    "refiled": "refile",
    "refiles": "refile",
    "corrected": "correction",
    "corrects": "correction",
    "repeating": "repeat",
    "retransmission": "repeat",
    "resend": "repeat",
    "resending": "repeat",
    "updated": "update",
    "updates": "update",
    "elimination": "kill",
    "withdrawn": "kill",
    "withdrawal": "kill",
    "killed": "kill",
}
#: Notices that make a photo a new version of the picture with its transmission reference.
VERSION_NOTICES = frozenset({"refile", "correction", "repeat", "update", "replace"})
# IIM 2:42 Action Advised: 01 object kill, 02 object replace (03 append, 04 reference).
_ACTIONS = {"01": "kill", "02": "replace"}
# Only the head of a caption is read for a notice: the story below may quote anything.
_HEAD = 300
# Picture ids agencies name in notices and file names: letters and digits mixed
# (RC2ABC9XYZ12, LYNXMPEI890AB, DV1234567), or long numbers (Getty's 1242805640).
_TOKEN = re.compile(r"[A-Za-z0-9]{5,40}")
# Dates and times in file names and texts are not ids: 20220911, 20220911101010, 11T101010Z.
_DATE_LIKE = re.compile(r"(?:19|20)\d{6}(?:\d{4,6})?|\d{0,8}T\d{4,6}Z?", re.I)


@dataclass(frozen=True)
class Notice:
    """What a photo announces about an earlier one, and the sender's words."""

    kind: str  # "refile", "correction", "repeat", "update", "replace" or "kill"
    reason: str


def read_notice(record: PhotoRecord, sources: Mapping[str, Mapping[str, Any]]) -> Notice | None:
    """Return the notice in a photo's IIM Action Advised or Edit Status, caption, headline
    or instructions; None for an ordinary photo."""
    texts = [t for t in (record.caption, record.headline, record.special_instructions) if t]
    action = _iim(sources, "action_advised")
    if action is not None and action.strip() in _ACTIONS:
        kind = _ACTIONS[action.strip()]
        return Notice(kind, _reason(texts) or ("object kill" if kind == "kill" else "replace"))
    # A kill anywhere in the head of the texts outranks a refile word opening one of them:
    # "REPEAT - MANDATORY KILL ..." withdraws the picture.
    for text in texts:
        if _KILL_ANYWHERE.search(text[:_HEAD]):
            return Notice("kill", text.strip()[:_HEAD])
    status = _iim(sources, "edit_status")
    candidates = [*texts, *([status.upper()] if status else [])]
    for text in candidates:
        match = _PREFIX.match(text[:_HEAD])
        if match:
            word = " ".join(match.group("kind").split()).lower()
            kind = "kill" if word.endswith(("kill", "killed")) else _KINDS.get(word, word)
            return Notice(kind, text.strip()[:_HEAD])
    return None


def _iim(sources: Mapping[str, Mapping[str, Any]], name: str) -> str | None:
    value = sources.get(name, {}).get("iim")
    return value if isinstance(value, str) and value.strip() else None


def _reason(texts: list[str]) -> str:
    return texts[-1].strip()[:_HEAD] if texts else ""


def picture_ids_in(texts: Iterable[str | None]) -> list[str]:
    """Return the picture ids a notice's texts name (RC2ABC9XYZ12), lower-cased, in order."""
    found: dict[str, None] = {}
    for text in texts:
        for token in _TOKEN.findall(text or ""):
            if _looks_like_id(token, 5):
                found[token.lower()] = None
    return list(found)


def photo_refs(record: PhotoRecord) -> list[str]:
    """Return the names a photo may be named by in a notice: its transmission reference,
    and the agency picture ids in its object name and original file name (lower-cased)."""
    refs: dict[str, None] = {}
    reference = reference_key(record.transmission_reference)
    if reference:
        refs[reference] = None
    title = (record.title or "").strip()
    if _looks_like_id(title, 5):
        refs[title.lower()] = None
    stem = record.original_filename.rsplit(".", 1)[0]
    for token in re.split(r"[^A-Za-z0-9]+", stem):
        # File names carry dates and counters too: only long, mixed tokens are ids.
        if _looks_like_id(token, 8):
            refs[token.lower()] = None
    return list(refs)


def reference_key(reference: str | None) -> str | None:
    """Return a transmission reference as compared: spaces collapsed, case folded."""
    if reference is None:
        return None
    key = " ".join(reference.split()).casefold()
    return key or None


def _looks_like_id(token: str, shortest: int) -> bool:
    if not (shortest <= len(token) <= 40) or not token.isascii() or not token.isalnum():
        return False
    digits = sum(c.isdigit() for c in token)
    if digits == len(token):
        return len(token) >= 7 and not _DATE_LIKE.fullmatch(token)
    return digits >= 1 and digits < len(token) and not _DATE_LIKE.fullmatch(token)
