"""Captions and credits found in article text, such as a scraped page or a CMS export."""

from __future__ import annotations

import re
from dataclasses import dataclass

# "...didn't finish lunchCredit: Channel 4", "... in Izium. Photo: AFP", "...(Credit: Reuters)"
_CREDIT = re.compile(
    r"^(?P<caption>.*?\S)\s*[(\[]?\s*(?P<label>Credit|Photo|Picture|Pic|Image|Photograph)s?"
    r"\s*:\s*(?P<credit>[^()\[\]]+?)\s*[)\]]?\s*$"
)
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
    match = _CREDIT.match(line)
    if not match or len(line) > MAX_CAPTION:
        return None
    caption = match.group("caption").rstrip(" -–—|,;")
    credit = match.group("credit").strip()
    if len(caption.split()) < 2 or not credit or len(credit) > 80:
        return None
    return CaptionEntry(caption=caption, credit=credit, line=number)


def _looks_like_caption(line: str) -> bool:
    if _FURNITURE.match(line) or len(line) > MAX_CAPTION:
        return False
    words = line.split()
    if len(words) < 4 or line.isupper():
        return False
    return not _SENTENCE_END.search(line)
