"""Small broken files made on the fly for ingest tests."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from PIL import Image


def good_jpeg(
    colour: tuple[int, int, int] = (10, 120, 200), size: tuple[int, int] = (64, 48)
) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, colour).save(buf, "JPEG", quality=80)
    return buf.getvalue()


def png_bomb(width: int = 100_000, height: int = 100_000) -> bytes:
    """A PNG whose header claims enormous dimensions, with a few bytes of pixel data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 1024))
        + chunk(b"IEND", b"")
    )


def write_bad_files(folder: Path) -> dict[str, str]:
    """Write broken files; return {file name: word its rejection reason must contain}."""
    folder.mkdir(parents=True, exist_ok=True)
    jpeg = good_jpeg()
    (folder / "empty.jpg").write_bytes(b"")
    (folder / "letter.jpg").write_text("Dear desk, not a picture.")
    (folder / "truncated.jpg").write_bytes(jpeg[: len(jpeg) // 2])
    (folder / "bomb.png").write_bytes(png_bomb())
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
