"""Contact sheets from the command line: PDF pages and JPEG pages of thumbnails."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PIL import Image


def test_contact_sheet_pdf_and_jpeg(cli: Any, demo_photos: Path, tmp_path: Path) -> None:
    cli("init")
    cli("ingest", str(demo_photos))
    pdf = tmp_path / "sheet.pdf"
    result = cli("contact-sheet", "ukraine", "-o", str(pdf))
    assert result.exit_code == 0, result.stderr
    assert "Wrote 8 photos on 1 page(s)" in result.stderr
    assert pdf.read_bytes().startswith(b"%PDF") and b"/Count 1" in pdf.read_bytes()
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
