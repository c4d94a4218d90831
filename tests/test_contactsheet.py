"""Contact sheets: a vector PDF whose text stays in its cells, and JPEG pages that do the same."""

from __future__ import annotations

import io
import random
from collections.abc import Iterator
from functools import partial
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
from pdfminer.high_level import extract_pages
from pdfminer.layout import LAParams, LTContainer, LTImage, LTPage, LTTextLine
from PIL import Image, ImageDraw

from photoarchive import Archive, init_archive
from photoarchive.contactsheet import (
    CAPTION,
    CREDIT,
    PAGE,
    VERDICT_COLOURS,
    Box,
    SheetEntry,
    layout_sheet,
    render_pages,
    render_pdf,
    sheet_entries,
)
from photoarchive.ingest import IngestOptions
from photoarchive.store import rendition_key

QUERY = "deskplan"
TITLE = "Planning meeting — Thursday 10:30"
# Captions that run to about 4, 6 and 12 lines in a column of the default 4 x 5 grid, one
# with words longer than a column, one in Ukrainian and Russian, and short ones.
CAPTIONS = {
    "four": "Firefighters work at the site of a missile strike on a grain terminal in Odesa, "
    "Ukraine, as smoke rises over the harbour at dawn.",
    "six": "Residents queue for drinking water from a municipal tanker in Mykolaiv, southern "
    "Ukraine, after shelling damaged the main pipeline; officials say repairs to the "
    "pumping station could take several weeks to complete.",
    "twelve": "Volunteers load humanitarian aid onto a lorry outside a warehouse in Lviv, western "
    "Ukraine, on March 5, 2024. The shipment of food, medicine, generators and winter "
    "clothing is bound for front-line towns in the Donetsk region, where heating and "
    "water supplies have been cut for weeks. Organisers said more than two hundred "
    "volunteers had worked through the night to sort donations from across Europe, and "
    "that a second convoy would leave on Friday if the roads stay open to civilian traffic.",
    "unbroken": "Livestream https://www.example.org/live/2024/03/05/zaporizhzhia-nuclear-power-"
    "plant-inspection-visit-iaea-mission-photos shows inspectors arriving as the hashtag "
    "#ZaporizhzhiaNuclearPowerPlantInspectionMissionDayThree trends worldwide.",
    "cyrillic": "Рятувальники розбирають завали житлового будинку в Харкові після нічного "
    "ракетного удару; за даними міської влади, загинули щонайменше п'ять людей. "
    "Спасатели работают всю ночь.",
    "short": "Swans on the frozen Dnipro in Kyiv.",
    "blank": "Portrait of the mayor of Dnipro at a press conference.",
    "last": "A boy rides his bicycle past a destroyed tank near Bucha.",
}
# Credits that the starter rights policy (and one line added to it) judge differently.
CREDITS = {
    "four": "REUTERS/Alina Smutko",
    "six": "AP Photo/Efrem Lukatsky",
    "twelve": "Channel 4 News",
    "unbroken": "Desk Stringer",
    "cyrillic": "Banned Wire",
    "short": "REUTERS/Gleb Garanich",
    "blank": "Staff photographer Olena Marchenko of the regional bureau in Dnipro",
    "last": "AP Photo/Vadim Ghirda",
}
BLOCKED_AGENCY = """
[agencies.banned]
name = "Banned Wire"
aliases = ["banned wire"]
status = "blocked"
uses = ["editorial"]
"""


def _photo(n: int, portrait: bool) -> bytes:
    """A small JPEG unlike the others, so each is its own picture."""
    rng = random.Random(n)
    size = (240, 360) if portrait else (360, 240)
    im = Image.new("RGB", size, (20 * n, 90, 200 - 20 * n))
    draw = ImageDraw.Draw(im)
    for _ in range(6):
        x, y = rng.randrange(size[0] - 60), rng.randrange(size[1] - 60)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.rectangle([x, y, x + rng.randrange(20, 60), y + rng.randrange(20, 60)], fill=colour)
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = f"2024:03:{n + 1:02d} 10:15:00"
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85, exif=exif)
    return buf.getvalue()


def _stock(root: Path, photos: Path) -> Archive:
    """An archive holding one photo for each caption, ingested through the public API."""
    arc, _ = init_archive(root)
    with (root / "rights.toml").open("a", encoding="utf-8") as fh:
        fh.write(BLOCKED_AGENCY)
    photos.mkdir()
    for n, key in enumerate(CAPTIONS):
        path = photos / f"{key}.jpg"
        path.write_bytes(_photo(n, portrait=n % 3 == 1))
        options = IngestOptions(caption=CAPTIONS[key], credit=CREDITS[key], keywords=(QUERY,))
        arc.ingest([path], options)
    return arc


@pytest.fixture
def stocked(tmp_path: Path) -> Iterator[tuple[Archive, list[SheetEntry]]]:
    """An archive with the captions above and its sheet entries, best match first."""
    arc = _stock(tmp_path / "archive", tmp_path / "photos")
    entries = sheet_entries(arc, [r.record for r in arc.search(QUERY, limit=50).results])
    assert len(entries) == len(CAPTIONS)
    yield arc, entries
    arc.close()


def _parts(pdf: Path) -> list[tuple[LTPage, list[LTTextLine], list[LTImage]]]:
    """Each page with its text lines and its images, as pdfminer reads them back."""
    pages = []
    # A small char_margin keeps the lines of neighbouring cells apart.
    for page in extract_pages(pdf, laparams=LAParams(char_margin=0.5)):
        lines: list[LTTextLine] = []
        images: list[LTImage] = []
        _collect(page, lines, images)
        pages.append((page, lines, images))
    return pages


def _collect(item: Any, lines: list[LTTextLine], images: list[LTImage]) -> None:
    if isinstance(item, LTTextLine):
        lines.append(item)
    elif isinstance(item, LTImage):
        images.append(item)
    elif isinstance(item, LTContainer):
        for child in item:
            _collect(child, lines, images)


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> bool:
    """True when two (x0, y0, x1, y1) boxes share more than a hair's breadth."""
    eps = 0.01
    return a[0] < b[2] - eps and b[0] < a[2] - eps and a[1] < b[3] - eps and b[1] < a[3] - eps


def _inside(
    inner: tuple[float, float, float, float], outer: tuple[float, float, float, float]
) -> bool:
    eps = 0.01
    return (
        inner[0] >= outer[0] - eps
        and inner[1] >= outer[1] - eps
        and inner[2] <= outer[2] + eps
        and inner[3] <= outer[3] + eps
    )


def _pdf_box(box: Box, page_height: float) -> tuple[float, float, float, float]:
    """A layout box (top-down) as PDF coordinates (bottom-up)."""
    return (box.x, page_height - box.bottom, box.right, page_height - box.y)


@pytest.mark.parametrize(("columns", "rows"), [(4, 5), (3, 2), (8, 10), (1, 3)])
def test_vector_pdf_keeps_every_line_in_its_cell(
    cli: Any, tmp_path: Path, columns: int, rows: int
) -> None:
    arc = _stock(Path(cli.archive_dir), tmp_path / "photos")
    with arc:
        records = [r.record for r in arc.search(QUERY, limit=50).results]
        verdicts = {r.id: v.status for r, v in arc.verdicts(records)}
    assert len(records) == len(CAPTIONS)
    assert len(set(verdicts.values())) >= 4, verdicts  # the badges differ: not one colour
    pdf = tmp_path / "sheet.pdf"
    grid = ["--columns", str(columns), "--rows", str(rows)]
    result = cli("contact-sheet", QUERY, "-o", str(pdf), "--title", TITLE, *grid)
    assert result.exit_code == 0, result.stderr
    per_page = columns * rows
    pages = _parts(pdf)
    assert len(pages) == -(-len(records) // per_page)
    assert f"on {len(pages)} page(s)" in result.stderr
    # The cells of a full page as the module lays them out (in PDF coordinates), checked
    # here before the text is judged against them: apart from each other, on the paper.
    full = [SheetEntry(records[0], bytes)] * per_page
    height = pages[0][0].height
    boxes = [_pdf_box(c.cell, height) for c in layout_sheet(full, TITLE, columns, rows)[0].cells]
    for a, b in combinations(boxes, 2):
        assert not _overlap(a, b)
    assert all(_inside(b, pages[0][0].bbox) for b in boxes)

    found = set()
    all_text = ""
    for number, (page, lines, images) in enumerate(pages):
        texts = [line.get_text().strip() for line in lines]
        all_text += "\n".join(texts) + "\n"
        on_page = records[number * per_page : (number + 1) * per_page]
        # (a) A vector page: text, one image object a thumbnail, and no page-sized picture.
        assert len(images) == len(on_page)
        for image in images:
            assert image.width * image.height < page.width * page.height / 4
        # Every thumbnail sits in exactly one cell, each cell holding one.
        image_cells = [[i for i, b in enumerate(boxes) if _inside(im.bbox, b)] for im in images]
        assert all(len(c) == 1 for c in image_cells), image_cells
        assert sorted(c[0] for c in image_cells) == list(range(len(on_page)))
        # (d) The title heads each page, with the page number, above the grid.
        header = [line for line in lines if line.y0 > max(b[3] for b in boxes)]
        assert any(TITLE in line.get_text() for line in header)
        assert any(f"page {number + 1}/{len(pages)}" in line.get_text() for line in header)
        # (b) No two text lines overlap at all, nor does any text line overlap a thumbnail.
        for a, b in combinations(lines, 2):
            assert not _overlap(a.bbox, b.bbox), (a.get_text(), b.get_text())
        for line in lines:
            for image in images:
                assert not _overlap(line.bbox, image.bbox), line.get_text()
        # Every other line lies wholly inside one cell: within its column, above the next row.
        owner: dict[int, list[str]] = {}
        for line in (line for line in lines if line not in header):
            inside = [i for i, b in enumerate(boxes) if _inside(line.bbox, b)]
            assert len(inside) == 1, (line.get_text(), line.bbox)
            col = boxes[inside[0]]
            assert col[0] - 0.01 <= line.x0 and line.x1 <= col[2] + 0.01
            owner.setdefault(inside[0], []).append(line.get_text().strip())
        # (c) Each cell shows the whole id of the photo ranked there, that photo's verdict
        # word and the start of its credit.
        assert sorted(owner) == list(range(len(on_page)))
        for i, cell_texts in owner.items():
            record = on_page[i]
            assert record.id in cell_texts, cell_texts
            assert verdicts[record.id] in cell_texts, cell_texts
            assert record.credit and any(t.startswith(record.credit[:8]) for t in cell_texts)
            found.add(record.id)
    assert found == set(verdicts)
    # (a) The captions are text: their words come back out of the PDF.
    for word in ("Firefighters", "Residents", "Volunteers", "Livestream", "Swans", "Portrait"):
        assert word in all_text, word
    # (e) Cyrillic survives: the embedded Unicode font maps its glyphs back to letters.
    assert "Рятувальн" in all_text
    if (columns, rows) == (4, 5):
        assert "Рятувальники розбирають" in all_text and "Харкові" in all_text
        assert "2024-03-0" in all_text
        # The 4-line caption prints whole; the 12-line one is cut with an ellipsis.
        assert "over the harbour at dawn." in all_text.replace("\n", " ")
        assert "…" in all_text and "civilian traffic" not in all_text


def test_verdict_colours_carry_white_text() -> None:
    def luminance(colour: str) -> float:
        channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    assert set(VERDICT_COLOURS) == {
        "cleared",
        "conditional",
        "needs-clearance",
        "unknown",
        "blocked",
    }
    for word, colour in VERDICT_COLOURS.items():
        assert 1.05 / (luminance(colour) + 0.05) >= 4.5, word


def test_unreadable_thumbnail_prints_a_grey_box(
    stocked: tuple[Archive, list[SheetEntry]], tmp_path: Path
) -> None:
    archive, entries = stocked
    # A thumbnail whose bytes are no JPEG, and one the store does not hold.
    gone = rendition_key("0" * 64, "thumb")
    sheet = [
        SheetEntry(entries[0].record, lambda: b"\xff\xd8\xff not a jpeg", "cleared"),
        SheetEntry(entries[1].record, partial(archive.store.read, gone)),
    ]
    pdf = tmp_path / "sheet.pdf"
    pdf.write_bytes(render_pdf(sheet, "Broken"))
    [(_, lines, images)] = _parts(pdf)
    texts = [line.get_text().strip() for line in lines]
    assert images == [] and texts.count("no thumbnail") == 2
    # No verdict given, no badge drawn.
    assert "cleared" in texts and not any(w in texts for w in VERDICT_COLOURS if w != "cleared")


def _ink(page: Image.Image, box: tuple[int, int, int, int]) -> tuple[int, int, int, int] | None:
    """The bounding box of everything not white within box (None if blank)."""
    region = page.crop(box).convert("L").point(lambda v: 255 if v < 245 else 0)
    found = region.getbbox()
    return (
        None
        if found is None
        else (found[0] + box[0], found[1] + box[1], found[2] + box[0], found[3] + box[1])
    )


@pytest.mark.parametrize(("columns", "rows"), [(4, 5), (2, 2), (8, 10), (1, 1)])
def test_jpeg_pages_keep_text_in_the_cell(
    stocked: tuple[Archive, list[SheetEntry]], columns: int, rows: int
) -> None:
    _, entries = stocked
    longest = next(e for e in entries if e.record.caption == CAPTIONS["twelve"])
    # One picture alone on the page: every mark under the header is inside its cell.
    [layout] = layout_sheet([longest], TITLE, columns, rows, unit="px")
    [page] = render_pages([longest], TITLE, columns, rows)
    assert page.size == PAGE
    cell = layout.cells[0].cell
    below_header = (0, int(layout.rule.bottom) + 2, PAGE[0], PAGE[1])
    ink = _ink(page, below_header)
    assert ink is not None
    assert ink[0] >= cell.x - 1 and ink[2] <= cell.right + 1, (ink, cell)
    assert ink[1] >= cell.y - 1 and ink[3] <= cell.bottom + 1, (ink, cell)
    kinds = [line.type for line in layout.cells[0].lines]
    assert layout.cells[0].lines[0].text == longest.record.id  # whole, never cut
    assert kinds[-1] == CREDIT and CAPTION in kinds
    # The credit line is the bottom of the ink: nothing under it but paper.
    credit = layout.cells[0].lines[-1]
    assert ink[3] <= credit.box.bottom + 1

    # A full page: every line and badge inside its cell, no two lines of a cell overlapping,
    # and only white paper in the gutters between the cells.
    many = [entries[i % len(entries)] for i in range(columns * rows)]
    [layout] = layout_sheet(many, TITLE, columns, rows, unit="px")
    [page] = render_pages(many, TITLE, columns, rows)
    for cell_layout in layout.cells:
        box = cell_layout.cell
        parts = [line.box for line in cell_layout.lines]
        if cell_layout.badge:
            parts.append(cell_layout.badge.box)
        assert cell_layout.lines[0].text == cell_layout.entry.record.id
        assert cell_layout.lines[-1].type == CREDIT
        for part in parts:
            assert part.x >= box.x and part.right <= box.right + 1e-6, (part, box)
            assert part.y >= cell_layout.image.bottom and part.bottom <= box.bottom + 1e-6
        for a, b in combinations(parts, 2):
            assert not (a.x < b.right and b.x < a.right and a.y < b.bottom and b.y < a.bottom)
    cells = [c.cell for c in layout.cells]
    for a in cells:
        under = [b for b in cells if b.x == a.x and b.y > a.bottom]
        if under:  # the gutter under a, down to the next row
            b = min(under, key=lambda c: c.y)
            gutter = (int(a.x) + 1, int(a.bottom) + 2, int(a.right) - 1, int(b.y) - 1)
            assert _ink(page, gutter) is None, gutter
        beside = [b for b in cells if b.y == a.y and b.x > a.right]
        if beside:  # the gutter to the right of a, up to the next column
            b = min(beside, key=lambda c: c.x)
            gutter = (int(a.right) + 2, int(a.y) + 1, int(b.x) - 1, int(a.bottom) - 1)
            assert _ink(page, gutter) is None, gutter


def test_contact_sheet_pdf_and_jpeg(cli: Any, demo_photos: Path, tmp_path: Path) -> None:
    cli("init")
    cli("ingest", str(demo_photos))
    pdf = tmp_path / "sheet.pdf"
    result = cli("contact-sheet", "ukraine", "-o", str(pdf))
    assert result.exit_code == 0, result.stderr
    assert "Wrote 8 photos on 1 page(s)" in result.stderr
    assert pdf.read_bytes().startswith(b"%PDF") and b"/Count 1" in pdf.read_bytes()
    [(_, lines, images)] = _parts(pdf)
    assert len(images) == 8 and any("Search: ukraine" in line.get_text() for line in lines)
    jpg = tmp_path / "sheet.jpg"
    result = cli("contact-sheet", "ukraine", "-o", str(jpg), "--columns", "2", "--rows", "2")
    assert result.exit_code == 0 and "on 2 page(s)" in result.stderr
    with Image.open(jpg) as page:
        assert page.size == (1240, 1754)
        # The first cell holds a thumbnail: not blank paper.
        cell = page.crop((80, 150, 600, 700)).convert("L")
        assert cell.getextrema()[0] < 200
    assert (tmp_path / "sheet-2.jpg").exists()


def test_contact_sheet_errors(cli: Any, tmp_path: Path) -> None:
    cli("init")
    none = cli("contact-sheet", "zebra", "-o", str(tmp_path / "s.pdf"))
    assert none.exit_code == 1 and "nothing to print" in none.stderr
    wrong = cli("contact-sheet", "zebra", "-o", str(tmp_path / "s.gif"))
    assert wrong.exit_code == 1 and ".pdf or a .jpg" in wrong.stderr
