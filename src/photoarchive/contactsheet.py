"""Contact sheets: A4 pages of thumbnails with id, rights verdict, caption and credit under each.

One layout serves both outputs: a vector PDF drawn with reportlab (text measured with
reportlab's font metrics) and JPEG pages drawn with Pillow at 150 dpi (text measured with
Pillow's). Every text line is measured and placed inside its own cell: a caption gets only
the lines that fit the room left under the thumbnail, so nothing reaches a neighbour.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from functools import cache, partial
from pathlib import Path
from typing import TYPE_CHECKING, Literal, Protocol

from PIL import Image, ImageDraw, ImageFont
from reportlab.lib.pagesizes import A4  # type: ignore[import-untyped]
from reportlab.lib.utils import ImageReader  # type: ignore[import-untyped]
from reportlab.pdfbase import pdfmetrics  # type: ignore[import-untyped]
from reportlab.pdfbase.ttfonts import TTFont  # type: ignore[import-untyped]
from reportlab.pdfgen.canvas import Canvas  # type: ignore[import-untyped]

from photoarchive.errors import PhotoArchiveError
from photoarchive.record import PhotoRecord
from photoarchive.store import rendition_key

if TYPE_CHECKING:
    from photoarchive.archive import Archive

# JPEG pages: A4 portrait at 150 dots per inch. The layout itself is in points (1/72 inch).
PAGE = (1240, 1754)
DPI = 150
MARGIN = 34.0
GUTTER = 10.0
#: The thumbnail's share of a cell's height, when the cell has room for the text under it.
IMAGE_SHARE = 0.55
#: Most caption lines under a thumbnail; fewer where the cell has less room.
MAX_CAPTION_LINES = 6
_FONT_PATHS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
)
_BOLD_PATHS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf",
    "/usr/share/fonts/TTF/DejaVuSans-Bold.ttf",
)
#: Badge colours for the rights verdicts; white text on each passes WCAG AA (4.5:1).
VERDICT_COLOURS = {
    "cleared": "#1e7b34",
    "conditional": "#8a5a00",
    "needs-clearance": "#b03a00",
    "unknown": "#5a6268",
    "blocked": "#a93226",
}


@dataclass(frozen=True)
class Type:
    """A type style: size in points, weight and ink."""

    size: float
    bold: bool = False
    ink: str = "#000000"


TITLE = Type(14, bold=True)
META = Type(8, ink="#444444")
ID = Type(7.5, bold=True)
BADGE = Type(6, bold=True, ink="#ffffff")
CAPTION = Type(7, ink="#222222")
CREDIT = Type(6.5, ink="#555555")
NOTE = Type(7, ink="#888888")
#: The smallest size an id or a verdict is set in to fit a narrow column whole.
_SMALLEST = 5.0
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_ELLIPSIS = "…"
#: Line spacing as a multiple of the type size.
_LEADING = 1.2
#: Room, in points, kept at the right of a cell's text for glyphs that ink a little past
#: their advance width.
_OVERHANG = 0.75
#: Space around the verdict word inside its badge, in points: across, then up and down.
_BADGE_PAD = (2.5, 1.2)


@dataclass(frozen=True)
class SheetEntry:
    """One picture on the sheet: its record, what reads its thumbnail's bytes and its rights
    verdict."""

    record: PhotoRecord
    thumbnail: Callable[[], bytes]
    verdict: str | None = None


def sheet_entries(archive: Archive, records: Sequence[PhotoRecord]) -> list[SheetEntry]:
    """Return the sheet entries for records: each with its archived thumbnail and verdict."""
    return [
        SheetEntry(r, partial(archive.store.read, rendition_key(r.sha256, "thumb")), verdict.status)
        for r, verdict in archive.verdicts(records)
    ]


@dataclass(frozen=True)
class Box:
    """A rectangle in layout units, measured from the page's top-left corner."""

    x: float
    y: float
    w: float
    h: float

    @property
    def right(self) -> float:
        return self.x + self.w

    @property
    def bottom(self) -> float:
        return self.y + self.h


@dataclass(frozen=True)
class TextLine:
    """One line of text: where it starts, its baseline, and its slot (its advance width by the
    line's height, ascent and descent with the leading round them)."""

    text: str
    type: Type
    x: float
    baseline: float
    box: Box


@dataclass(frozen=True)
class Badge:
    """The verdict badge: a rounded rectangle with the verdict word in white."""

    box: Box
    colour: str
    label: TextLine


@dataclass(frozen=True)
class CellLayout:
    """Where one entry's thumbnail, badge and text lines go, all inside `cell`."""

    entry: SheetEntry
    cell: Box
    image: Box
    placeholder: TextLine
    badge: Badge | None
    lines: tuple[TextLine, ...]


@dataclass(frozen=True)
class PageLayout:
    """One page: the header lines, the rule under them and the cells."""

    size: tuple[float, float]
    header: tuple[TextLine, ...]
    rule: Box
    cells: tuple[CellLayout, ...]


class _Metrics(Protocol):
    """How wide and tall text comes out in one output, in that output's units."""

    scale: float

    def width(self, text: str, type_: Type) -> float: ...

    def extent(self, type_: Type) -> tuple[float, float]:
        """Return the ascent and descent (both positive) of the type's font."""
        ...


def _font_path(bold: bool) -> str | None:
    candidates = (*_BOLD_PATHS, *_FONT_PATHS) if bold else _FONT_PATHS
    return next((p for p in candidates if Path(p).is_file()), None)


@cache
def _pdf_fonts() -> tuple[str, str]:
    """Register the Unicode TrueType fonts with reportlab; return the regular and bold names."""
    regular, bold = _font_path(False), _font_path(True)
    if regular is None or bold is None:
        return "Helvetica", "Helvetica-Bold"
    pdfmetrics.registerFont(TTFont("PhotoarchiveSans", regular))
    pdfmetrics.registerFont(TTFont("PhotoarchiveSans-Bold", bold))
    return "PhotoarchiveSans", "PhotoarchiveSans-Bold"


class _PdfMetrics:
    scale = 1.0

    def __init__(self) -> None:
        self.regular, self.bold = _pdf_fonts()

    def font(self, type_: Type) -> str:
        return self.bold if type_.bold else self.regular

    def width(self, text: str, type_: Type) -> float:
        return float(pdfmetrics.stringWidth(text, self.font(type_), type_.size))

    def extent(self, type_: Type) -> tuple[float, float]:
        ascent, descent = pdfmetrics.getAscentDescent(self.font(type_), type_.size)
        return float(ascent), float(-descent)


@cache
def _pillow_font(bold: bool, pixels: float) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    path = _font_path(bold)
    return ImageFont.truetype(path, pixels) if path else ImageFont.load_default(pixels)


class _PillowMetrics:
    scale = DPI / 72

    def font(self, type_: Type) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
        return _pillow_font(type_.bold, type_.size * self.scale)

    def width(self, text: str, type_: Type) -> float:
        return float(self.font(type_).getlength(text))

    def extent(self, type_: Type) -> tuple[float, float]:
        font = self.font(type_)
        if isinstance(font, ImageFont.FreeTypeFont):
            ascent, descent = font.getmetrics()
            return float(ascent), float(descent)
        # A bitmap font is drawn from its top: all of its height hangs below that line.
        return 0.0, float(font.getbbox("Ág")[3])


def page_count(photos: int, columns: int, rows: int) -> int:
    """Return how many pages a sheet of `photos` takes (one, with only a header, for none)."""
    return max(1, -(-photos // (columns * rows)))


def layout_sheet(
    entries: Sequence[SheetEntry],
    title: str,
    columns: int = 4,
    rows: int = 5,
    when: datetime | None = None,
    unit: Literal["pt", "px"] = "pt",
) -> list[PageLayout]:
    """Return the pages of a sheet laid out in points (the PDF) or in 150 dpi pixels (JPEG).

    Text is measured with the fonts of that output: reportlab's for points, Pillow's for pixels.
    """
    metrics = _PdfMetrics() if unit == "pt" else _PillowMetrics()
    return _layout(metrics, entries, title, columns, rows, when)


def _layout(
    m: _Metrics,
    entries: Sequence[SheetEntry],
    title: str,
    columns: int,
    rows: int,
    when: datetime | None,
) -> list[PageLayout]:
    s = m.scale
    size = (A4[0] * s, A4[1] * s)
    margin, gutter = MARGIN * s, GUTTER * s
    rule = Box(margin, margin + _slot(m, TITLE) + 3 * s, size[0] - 2 * margin, 0.75 * s)
    top = rule.bottom + 9 * s
    cell_w = (size[0] - 2 * margin - (columns - 1) * gutter) / columns
    cell_h = (size[1] - top - margin - (rows - 1) * gutter) / rows
    per_page = columns * rows
    total = page_count(len(entries), columns, rows)
    stamp = (when or datetime.now()).strftime("%Y-%m-%d %H:%M")
    pages = []
    for number in range(total):
        meta = f"{stamp}   page {number + 1}/{total}   {len(entries)} photos"
        meta_w = m.width(meta, META)
        meta_top = margin + _slot(m, TITLE) - _slot(m, META)
        heading = _fit(m, _clean(title), TITLE, size[0] - 2 * margin - meta_w - 14 * s)
        header = (
            _line(m, heading, TITLE, margin, margin),
            _line(m, meta, META, size[0] - margin - meta_w, meta_top),
        )
        chunk = entries[number * per_page : (number + 1) * per_page]
        cells = tuple(
            _layout_cell(
                m,
                entry,
                Box(
                    margin + (i % columns) * (cell_w + gutter),
                    top + (i // columns) * (cell_h + gutter),
                    cell_w,
                    cell_h,
                ),
            )
            for i, entry in enumerate(chunk)
        )
        pages.append(PageLayout(size, header, rule, cells))
    return pages


def _layout_cell(m: _Metrics, entry: SheetEntry, cell: Box) -> CellLayout:
    """Lay out one cell: thumbnail area on top, then id and badge, caption lines, credit.

    The thumbnail leaves room under it for the id, the badge, one caption line and the credit;
    the caption then gets as many lines as fit above the credit (MAX_CAPTION_LINES at most),
    and no line is placed unless it ends inside the cell.
    """
    s = m.scale
    gap, small_gap = 4 * s, 1.5 * s
    pad_x, pad_y = (p * s for p in _BADGE_PAD)
    badge_h = sum(m.extent(BADGE)) + 2 * pad_y
    reserve = gap + _slot(m, ID) + badge_h + _slot(m, CAPTION) + _slot(m, CREDIT) + 3 * small_gap
    image = Box(cell.x, cell.y, cell.w, max(0.0, min(cell.h * IMAGE_SHARE, cell.h - reserve)))
    note = _fit(m, "no thumbnail", NOTE, image.w)
    placeholder = _line(
        m,
        note,
        NOTE,
        image.x + max(0.0, (image.w - m.width(note, NOTE)) / 2),
        image.y + max(0.0, (image.h - _slot(m, NOTE)) / 2),
    )

    rec = entry.record
    lines: list[TextLine] = []
    y = image.bottom + gap
    bottom = cell.bottom + 1e-6  # what rounding leaves over is not a reason to drop a line
    width = cell.w - _OVERHANG * s
    ident, word = _clean(rec.id), _clean(entry.verdict or "")
    colour = VERDICT_COLOURS.get(word, VERDICT_COLOURS["unknown"])
    badge_w = m.width(word, BADGE) + 2 * pad_x if word else 0.0
    beside = bool(word) and m.width(ident, ID) + gap + badge_w <= width
    row_h = max(_slot(m, ID), badge_h) if beside else _slot(m, ID)
    badge: Badge | None = None
    if y + row_h <= bottom:
        text, type_ = _shrunk(m, ident, ID, width)
        lines.append(_line(m, text, type_, cell.x, y + (row_h - _slot(m, type_)) / 2))
        if beside:
            badge_y = y + (row_h - badge_h) / 2
            badge = _badge(m, word, BADGE, colour, cell.right - badge_w, badge_y)
        y += row_h + small_gap
    if word and not beside and y + badge_h <= bottom:
        badge = _badge(m, *_shrunk(m, word, BADGE, width - 2 * pad_x), colour, cell.x, y)
        y += badge_h + small_gap

    credit = " · ".join(
        p for p in (_clean(rec.credit or ""), _clean(rec.date_created or "")[:10]) if p
    )
    credit_h = _slot(m, CREDIT) + small_gap if credit else 0.0
    fits = math.floor((bottom - y - credit_h) / _slot(m, CAPTION))
    caption, cut = _wrap(
        _clean(rec.caption or "") or "(no caption)",
        width,
        lambda text: m.width(text, CAPTION),
        max(0, min(MAX_CAPTION_LINES, fits)),
    )
    if cut and caption:
        caption[-1] = _with_ellipsis(m, caption[-1], CAPTION, width)
    for text in caption:
        lines.append(_line(m, text, CAPTION, cell.x, y))
        y += _slot(m, CAPTION)
    if credit and y + credit_h <= bottom:
        lines.append(_line(m, _fit(m, credit, CREDIT, width), CREDIT, cell.x, y + small_gap))
    return CellLayout(entry, cell, image, placeholder, badge, tuple(lines))


def _shrunk(m: _Metrics, text: str, type_: Type, width: float) -> tuple[str, Type]:
    """Text whole in a smaller size where it is too wide for width (down to a smallest size,
    below which it is cut with an ellipsis), and the type it is set in."""
    while m.width(text, type_) > width and type_.size > _SMALLEST:
        type_ = replace(type_, size=max(_SMALLEST, type_.size - 0.25))
    return _fit(m, text, type_, width), type_


def _badge(m: _Metrics, word: str, type_: Type, colour: str, x: float, y: float) -> Badge:
    """The badge with its top-left corner at (x, y): the word's glyphs and padding round them."""
    pad_x, pad_y = (p * m.scale for p in _BADGE_PAD)
    ascent, descent = m.extent(type_)
    width = m.width(word, type_)
    text_box = Box(x + pad_x, y + pad_y, width, ascent + descent)
    label = TextLine(word, type_, x + pad_x, y + pad_y + ascent, text_box)
    return Badge(Box(x, y, width + 2 * pad_x, ascent + descent + 2 * pad_y), colour, label)


def _slot(m: _Metrics, type_: Type) -> float:
    """The height one line of a type takes: its leading, or its font's ascent and descent
    where they take more."""
    return max(sum(m.extent(type_)), _LEADING * type_.size * m.scale)


def _line(m: _Metrics, text: str, type_: Type, x: float, top: float) -> TextLine:
    """The line of text whose slot starts at `top`."""
    ascent, descent = m.extent(type_)
    slot = _slot(m, type_)
    box = Box(x, top, m.width(text, type_), slot)
    return TextLine(text, type_, x, top + (slot - ascent - descent) / 2 + ascent, box)


def _clean(text: str) -> str:
    """Return text on one line: control characters and runs of white space become one space
    (and a lone surrogate, which no font or PDF can hold, a question mark)."""
    text = text.encode("utf-8", "replace").decode("utf-8")
    return " ".join(_CONTROL.sub(" ", text).split())


def _wrap(
    text: str, width: float, measure: Callable[[str], float], limit: int
) -> tuple[list[str], bool]:
    """Return at most `limit` lines no wider than `width`, and whether any text was left over.

    Lines break between words; a word wider than a whole line is broken where it reaches
    the edge, so no line ever runs past the cell.
    """
    words = text.split()
    lines: list[str] = []
    line = ""
    i = 0
    while i < len(words):
        if len(lines) == limit:
            return lines, True
        candidate = f"{line} {words[i]}" if line else words[i]
        if measure(candidate) <= width:
            line, i = candidate, i + 1
        elif line:
            lines.append(line)
            line = ""
        else:
            head = _prefix(words[i], width, measure) or words[i][0]
            lines.append(head)
            words[i] = words[i][len(head) :]
    if line and len(lines) == limit:
        return lines, True
    return [*lines, line] if line else lines, False


def _prefix(text: str, width: float, measure: Callable[[str], float]) -> str:
    """The longest start of text no wider than width (measured as `measure` says)."""
    low, high = 0, len(text)
    while low < high:
        mid = (low + high + 1) // 2
        if measure(text[:mid]) <= width:
            low = mid
        else:
            high = mid - 1
    return text[:low]


def _fit(m: _Metrics, text: str, type_: Type, width: float) -> str:
    """Return text, cut with an ellipsis if it is wider than width."""
    return text if m.width(text, type_) <= width else _with_ellipsis(m, text, type_, width)


def _with_ellipsis(m: _Metrics, text: str, type_: Type, width: float) -> str:
    """Return as much of text as fits in width with an ellipsis after it."""
    return _prefix(text, width, lambda t: m.width(t + _ELLIPSIS, type_)).rstrip() + _ELLIPSIS


class _Painter(Protocol):
    """Draws a page's parts in one output, in top-down layout units."""

    def text(self, line: TextLine) -> None: ...

    def rect(self, box: Box, fill: str, radius: float = 0) -> None: ...

    def thumbnail(self, read: Callable[[], bytes], area: Box) -> bool:
        """Draw the thumbnail scaled into area; return False if it cannot be read."""
        ...


def _paint(page: PageLayout, painter: _Painter) -> None:
    for line in page.header:
        painter.text(line)
    painter.rect(page.rule, "#999999")
    for cell in page.cells:
        if not painter.thumbnail(cell.entry.thumbnail, cell.image):
            painter.rect(cell.image, "#eeeeee")
            painter.text(cell.placeholder)
        if cell.badge:
            painter.rect(cell.badge.box, cell.badge.colour, radius=cell.badge.box.h / 4)
            painter.text(cell.badge.label)
        for line in cell.lines:
            painter.text(line)


def _open_thumbnail(read: Callable[[], bytes]) -> tuple[Image.Image, bytes | None] | None:
    """Return the decoded thumbnail, with the file's bytes when they are an RGB or grey JPEG
    a PDF can hold as they are; None if it cannot be read."""
    try:
        data = read()
        with Image.open(io.BytesIO(data)) as opened:
            opened.load()
            if opened.mode in ("RGB", "L"):
                return opened.copy(), data if opened.format == "JPEG" else None
            return opened.convert("RGB"), None
    except (OSError, ValueError, Image.DecompressionBombError, PhotoArchiveError):
        return None  # missing, damaged, or the store cannot be read: "no thumbnail"


def _placed(area: Box, size: tuple[int, int]) -> Box:
    """The box an image of `size` pixels fills when scaled into area, centred, aspect kept."""
    scale = min(area.w / size[0], area.h / size[1])
    w, h = size[0] * scale, size[1] * scale
    return Box(area.x + (area.w - w) / 2, area.y + (area.h - h) / 2, w, h)


class _PdfPainter:
    def __init__(self, canvas: Canvas, metrics: _PdfMetrics, height: float) -> None:
        self.canvas, self.metrics, self.height = canvas, metrics, height

    def text(self, line: TextLine) -> None:
        self.canvas.setFillColor(line.type.ink)
        self.canvas.setFont(self.metrics.font(line.type), line.type.size)
        self.canvas.drawString(line.x, self.height - line.baseline, line.text)

    def rect(self, box: Box, fill: str, radius: float = 0) -> None:
        self.canvas.setFillColor(fill)
        y = self.height - box.bottom
        if radius:
            self.canvas.roundRect(box.x, y, box.w, box.h, radius, stroke=0, fill=1)
        else:
            self.canvas.rect(box.x, y, box.w, box.h, stroke=0, fill=1)

    def thumbnail(self, read: Callable[[], bytes], area: Box) -> bool:
        opened = _open_thumbnail(read)
        if opened is None or area.h <= 0:
            return False
        image, jpeg = opened
        # A JPEG goes into the PDF as it is; anything else as the decoded pixels.
        source = io.BytesIO(jpeg) if jpeg is not None else image
        box = _placed(area, image.size)
        self.canvas.drawImage(ImageReader(source), box.x, self.height - box.bottom, box.w, box.h)
        return True


class _PillowPainter:
    def __init__(self, page: Image.Image, metrics: _PillowMetrics) -> None:
        self.page, self.metrics = page, metrics
        self.draw = ImageDraw.Draw(page)

    def text(self, line: TextLine) -> None:
        ascent = self.metrics.extent(line.type)[0]
        font = self.metrics.font(line.type)
        self.draw.text((line.x, line.baseline - ascent), line.text, fill=line.type.ink, font=font)

    def rect(self, box: Box, fill: str, radius: float = 0) -> None:
        # Pillow's corners are the first and the last pixel inside the box.
        corners = (box.x, box.y, max(box.x, box.right - 1), max(box.y, box.bottom - 1))
        self.draw.rounded_rectangle(corners, radius, fill=fill)

    def thumbnail(self, read: Callable[[], bytes], area: Box) -> bool:
        opened = _open_thumbnail(read)
        if opened is None or area.h < 1:
            return False
        box = _placed(area, opened[0].size)
        size = (max(1, round(box.w)), max(1, round(box.h)))
        thumb = opened[0].resize(size, Image.Resampling.LANCZOS)
        self.page.paste(thumb, (round(box.x), round(box.y)))
        return True


def render_pdf(
    entries: Sequence[SheetEntry],
    title: str,
    columns: int = 4,
    rows: int = 5,
    when: datetime | None = None,
) -> bytes:
    """Return the contact sheet as a vector PDF: A4 pages, `columns` x `rows` pictures a page."""
    buf = io.BytesIO()
    canvas = Canvas(buf, pagesize=A4, pageCompression=1)
    canvas.setTitle(_clean(title))
    canvas.setCreator("photoarchive")
    metrics = _PdfMetrics()
    painter = _PdfPainter(canvas, metrics, A4[1])
    for page in _layout(metrics, entries, title, columns, rows, when):
        _paint(page, painter)
        canvas.showPage()
    canvas.save()
    return buf.getvalue()


def render_pages(
    entries: Sequence[SheetEntry],
    title: str,
    columns: int = 4,
    rows: int = 5,
    when: datetime | None = None,
) -> list[Image.Image]:
    """Return the pages of a contact sheet as 150 dpi images (see `encode_jpeg`)."""
    metrics = _PillowMetrics()
    pages = []
    for layout in _layout(metrics, entries, title, columns, rows, when):
        page = Image.new("RGB", PAGE, "white")
        _paint(layout, _PillowPainter(page, metrics))
        pages.append(page)
    return pages


def encode_jpeg(page: Image.Image) -> bytes:
    """Return one page as a JPEG."""
    buf = io.BytesIO()
    page.save(buf, "JPEG", quality=88, dpi=(DPI, DPI))
    return buf.getvalue()
