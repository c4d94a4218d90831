"""Contact sheets: printed pages of thumbnails with id, caption and credit under each."""

from __future__ import annotations

import io
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from PIL import Image, ImageDraw, ImageFont

from photoarchive.record import PhotoRecord

if TYPE_CHECKING:
    from photoarchive.archive import Archive

# A4 portrait at 150 dots per inch.
PAGE = (1240, 1754)
DPI = 150
MARGIN = 70
_FONT_PATHS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
)
_BOLD_PATHS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
)

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass(frozen=True)
class SheetEntry:
    """One picture on the sheet: its record and the path of its thumbnail."""

    record: PhotoRecord
    thumbnail: Path


def sheet_entries(archive: Archive, records: Sequence[PhotoRecord]) -> list[SheetEntry]:
    """Return the sheet entries for records: each with its archived thumbnail."""
    return [SheetEntry(r, archive.store.rendition_path(r.sha256, "thumb")) for r in records]


def _font(size: int, bold: bool = False) -> Font:
    for path in _BOLD_PATHS if bold else _FONT_PATHS:
        if Path(path).exists():
            return ImageFont.truetype(path, size)
    return ImageFont.load_default(size)


def render_pages(
    entries: Sequence[SheetEntry],
    title: str,
    columns: int = 4,
    rows: int = 5,
    when: datetime | None = None,
) -> list[Image.Image]:
    """Return the pages of a contact sheet, `columns` x `rows` pictures a page."""
    per_page = columns * rows
    chunks = [entries[i : i + per_page] for i in range(0, len(entries), per_page)] or [[]]
    stamp = (when or datetime.now()).strftime("%Y-%m-%d %H:%M")
    heading, small, bold = _font(30, bold=True), _font(17), _font(17, bold=True)
    cell_w = (PAGE[0] - 2 * MARGIN) // columns
    top = MARGIN + 70
    cell_h = (PAGE[1] - top - MARGIN) // rows
    image_h = int(cell_h * 0.6)
    pages = []
    for number, chunk in enumerate(chunks, 1):
        page = Image.new("RGB", PAGE, "white")
        draw = ImageDraw.Draw(page)
        draw.text(
            (MARGIN, MARGIN),
            _fit(draw, title, heading, PAGE[0] - 2 * MARGIN - 300),
            fill="black",
            font=heading,
        )
        right = f"{stamp}   page {number}/{len(chunks)}   {len(entries)} photos"
        draw.text((PAGE[0] - MARGIN, MARGIN + 10), right, fill="#444", font=small, anchor="ra")
        draw.line([(MARGIN, top - 15), (PAGE[0] - MARGIN, top - 15)], fill="#999", width=2)
        for i, entry in enumerate(chunk):
            x = MARGIN + (i % columns) * cell_w
            y = top + (i // columns) * cell_h
            _cell(page, draw, entry, (x, y, cell_w - 16, image_h), small, bold)
        pages.append(page)
    return pages


def _cell(
    page: Image.Image,
    draw: ImageDraw.ImageDraw,
    entry: SheetEntry,
    box: tuple[int, int, int, int],
    small: Font,
    bold: Font,
) -> None:
    x, y, w, h = box
    draw.rectangle([x, y, x + w, y + h], fill="#eeeeee")
    try:
        with Image.open(entry.thumbnail) as opened:
            thumb = opened.convert("RGB")
            thumb.thumbnail((w, h))
            page.paste(thumb, (x + (w - thumb.width) // 2, y + (h - thumb.height) // 2))
    except OSError:
        draw.text((x + w // 2, y + h // 2), "no thumbnail", fill="#888", font=small, anchor="mm")
    rec = entry.record
    ty = y + h + 8
    draw.text((x, ty), rec.id, fill="black", font=bold)
    ty += 24
    lines = textwrap.wrap(rec.caption or "(no caption)", width=max(10, w // 10))
    for line in lines[:4]:
        draw.text((x, ty), _fit(draw, line, small, w), fill="#222", font=small)
        ty += 21
    if len(lines) > 4:
        draw.text((x, ty - 21), _fit(draw, lines[3] + "…", small, w), fill="#222", font=small)
    credit = " · ".join(p for p in (rec.credit, (rec.date_created or "")[:10]) if p)
    if credit:
        draw.text((x, ty + 4), _fit(draw, credit, small, w), fill="#555", font=small)


def _fit(draw: ImageDraw.ImageDraw, text: str, font: Font, width: int) -> str:
    if draw.textlength(text, font=font) <= width:
        return text
    while text and draw.textlength(text + "…", font=font) > width:
        text = text[:-1]
    return text + "…"


def encode_pdf(pages: Sequence[Image.Image]) -> bytes:
    """Return the pages as one PDF."""
    buf = io.BytesIO()
    pages[0].save(buf, "PDF", save_all=True, append_images=list(pages[1:]), resolution=DPI)
    return buf.getvalue()


def encode_jpeg(page: Image.Image) -> bytes:
    """Return one page as a JPEG."""
    buf = io.BytesIO()
    page.save(buf, "JPEG", quality=88, dpi=(DPI, DPI))
    return buf.getvalue()
