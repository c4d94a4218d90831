"""Small broken files made on the fly for ingest tests."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

from PIL import Image


def good_jpeg(
    colour: tuple[int, int, int] = (10, 120, 200), size: tuple[int, int] = (64, 48)
) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG", quality=80)
    return buf.getvalue()


def write_bad_files(folder: Path) -> dict[str, str]:
    """Write broken files; return {file name: word its rejection reason must contain}."""
    folder.mkdir(parents=True, exist_ok=True)
    jpeg = good_jpeg()
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "letter.jpg").write_text("Dear desk, not a picture.")
    (folder / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    # The hostile corpus's decompression bomb (made by scripts/make_hostile.py).
    shutil.copy(Path(__file__).parent / "fixtures" / "hostile" / "bomb.png", folder / "bomb.png")
    (folder / "dangling.jpg").symlink_to(folder / "no-such-target.jpg")
    (folder / "header-only.jpg").write_bytes(jpeg[:20])
    return {
        "empty.jpg": "empty",
        "letter.jpg": "not a recognised image",
        "truncated.jpg": "truncated",
        "bomb.png": "decompression bomb",
        "dangling.jpg": "link",
        "header-only.jpg": "image",
    }
