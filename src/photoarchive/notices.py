"""Agency notices on a picture: REFILE, CORRECTION, REPEAT and KILL."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from photoarchive.record import PhotoRecord

_PREFIX = re.compile(
    r"^\s*(?P<kind>REFILE|CORRECTION|CORRECTED|REPEAT|RETRANSMISSION|KILL|KILLED|"
    r"MANDATORY KILL|ADVISORY KILL|ELIMINATION)\b\s*[-–—:]*\s*(?P<rest>.*)$",
    re.S,
)
_KINDS = {
    "CORRECTED": "correction",
    "RETRANSMISSION": "repeat",
    "KILLED": "kill",
    "MANDATORY KILL": "kill",
    "ADVISORY KILL": "kill",
    "ELIMINATION": "kill",
}


@dataclass(frozen=True)
class Notice:
    """What a photo announces about an earlier one, and the sender's words."""

    kind: str  # "refile", "correction", "repeat" or "kill"
    reason: str


def read_notice(record: PhotoRecord, sources: Mapping[str, Mapping[str, Any]]) -> Notice | None:
    """Return the notice in a photo's IIM Action Advised, caption, headline or instructions."""
    action = sources.get("action_advised", {}).get("iim")
    if isinstance(action, str) and action.strip() == "01":
        return Notice("kill", record.special_instructions or record.caption or "object kill")
    for text in (record.caption, record.headline, record.special_instructions):
        if not text:
            continue
        match = _PREFIX.match(text)
        if match:
            word = " ".join(match.group("kind").upper().split())
            return Notice(_KINDS.get(word, word.lower()), text.strip()[:300])
    return None
