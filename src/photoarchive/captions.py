"""Captions and credits found in article text, such as a scraped page or a CMS export."""

from __future__ import annotations

import re
from dataclasses import dataclass

# "...didn't finish lunchCredit: Channel 4", "... in Izium. Photo: AFP", "...(Credit: Reuters)":
# a label and its colon. What stands before and after it is checked without a pattern (see
# _credited): one pattern for the whole line backtracked cubically on long lines.
_CREDIT_LABEL = re.compile(r"(?:Credit|Photo|Picture|Pic|Image|Photograph)s?\s*:")
# Page furniture: advertising, navigation, share buttons.
_FURNITURE = re.compile(
    r"^(advertisement|topics|most read.*|read more.*|share|comments?|related.*|"
    r"sign up.*|subscribe.*|follow us.*|click here.*|.*\.(com|co\.uk|net|org)/?)$",
    re.IGNORECASE,
)
_SENTENCE_END = re.compile(r"[.!?:…\"'”’)]$")
MAX_CAPTION = 400


@dataclass(frozen=True)
class CaptionEntry:
    """A caption found in text, its credit (if any) and the 1-based line it was on."""

    caption: str
    credit: str | None
    line: int


def extract_captions(text: str) -> list[CaptionEntry]:
    """Return the picture captions in article text, in order.

    A line ending in a credit ("...Credit: Reuters", glued or not) is a caption. A line
    without one is taken as a caption only when it stands in the same block (lines not
    separated by a blank line) as a credited caption and reads like one: no closing
    punctuation, several words, not page furniture, not a headline in capitals.
    """
    lines = text.splitlines()
    blocks: list[list[tuple[int, str]]] = [[]]
    for number, raw in enumerate(lines, 1):
        line = raw.strip()
        if line:
            blocks[-1].append((number, line))
        elif blocks[-1]:
            blocks.append([])
    found: list[CaptionEntry] = []
    for block in blocks:
        credited = [_credited(n, line) for n, line in block]
        if not any(credited):
            continue
        for (number, line), entry in zip(block, credited, strict=True):
            if entry:
                found.append(entry)
            elif _looks_like_caption(line):
                found.append(CaptionEntry(caption=line, credit=None, line=number))
    return found


def _credited(number: int, line: str) -> CaptionEntry | None:
    # Longer lines are never captions: they are not looked at.
    if len(line) > MAX_CAPTION:
        return None
    # The line reads "<caption> [(] <label>: <credit> [)]": the first label that has a
    # caption before it and only a credit (no brackets but one closing the line) after it.
    end = line.rstrip()
    core = end[:-1] if end.endswith((")", "]")) else end
    last_bracket = max(core.rfind(b) for b in "()[]")
    for label in _CREDIT_LABEL.finditer(line):
        after = label.end()
        if after <= last_bracket or after >= len(core):
            continue
        caption_end = _caption_end(line, label.start())
        if caption_end == 0:
            continue
        caption = line[:caption_end].rstrip(" -–—|,;")
        credit = core[after:].strip()
        if len(caption.split()) < 2 or not credit or len(credit) > 80:
            return None
        return CaptionEntry(caption=caption, credit=credit, line=number)
    return None


def _caption_end(line: str, label: int) -> int:
    """Where the caption before a label ends: spaces and one opening bracket are left out
    (0 when nothing is left)."""
    end = label
    while end > 0 and line[end - 1].isspace():
        end -= 1
    if end > 0 and line[end - 1] in "([":
        before = end - 1
        while before > 0 and line[before - 1].isspace():
            before -= 1
        if before > 0:
            return before
    return end


def _looks_like_caption(line: str) -> bool:
    if len(line) > MAX_CAPTION or _FURNITURE.match(line):
        return False
    words = line.split()
    if len(words) < 4 or line.isupper():
        return False
    return not _SENTENCE_END.search(line)
