"""Fingerprints of a picture: the digest of its image data without metadata (same pixels),
and a difference hash that survives resizing and recompression (near-duplicates)."""

from __future__ import annotations

import hashlib
import io
import struct
from typing import Any, BinaryIO

from PIL import Image

# JPEG markers whose segments are metadata, not image data: APP0-APP15 and COM.
_METADATA_MARKERS = set(range(0xE0, 0xF0)) | {0xFE}
_PIECE = 1 << 20


def pixel_digest(data: bytes | BinaryIO, fmt: str) -> str | None:
    """Return the SHA-256 of a file's image data with its metadata left out.

    For JPEG that is every segment but APPn and COM (so rewriting captions does not change
    it); for PNG the header and image data chunks. Other formats give None. `data` is the
    file's bytes or a binary file open at its start, read a piece at a time.
    """
    fh = io.BytesIO(data) if isinstance(data, (bytes, bytearray, memoryview)) else data
    if fmt in ("JPEG", "MPO"):
        return _jpeg_digest(fh)
    if fmt == "PNG":
        return _png_digest(fh)
    return None


def _copy_into(digest: Any, fh: BinaryIO, length: int | None) -> None:
    """Hash `length` bytes of `fh` (all that is left with None), a piece at a time."""
    while length is None or length > 0:
        piece = fh.read(_PIECE if length is None else min(_PIECE, length))
        if not piece:
            return
        digest.update(piece)
        if length is not None:
            length -= len(piece)


def _jpeg_digest(fh: BinaryIO) -> str | None:
    digest = hashlib.sha256()
    pos = 2
    while True:
        fh.seek(pos)
        header = fh.read(4)
        if len(header) < 4:
            return None
        if header[0] != 0xFF:
            return None
        marker = header[1]
        if marker == 0xDA:  # start of scan: the rest is image data
            digest.update(header)
            _copy_into(digest, fh, None)
            return digest.hexdigest()
        length = struct.unpack(">H", header[2:4])[0]
        if marker not in _METADATA_MARKERS:
            segment = 2 + length
            digest.update(header[:segment])
            _copy_into(digest, fh, segment - 4)
        pos += 2 + length


def _png_digest(fh: BinaryIO) -> str | None:
    digest = hashlib.sha256()
    fh.seek(8)
    while len(header := fh.read(8)) == 8:
        length, kind = struct.unpack(">I4s", header)
        if kind in (b"IHDR", b"PLTE", b"IDAT", b"tRNS"):
            digest.update(header)
            _copy_into(digest, fh, length + 4)
        else:
            fh.seek(length + 4, io.SEEK_CUR)
        if kind == b"IEND":
            return digest.hexdigest()
    return None


def difference_hash(im: Image.Image) -> str:
    """Return a 64-bit difference hash (16 hex digits) of an image."""
    small = im.convert("L").resize((9, 8), Image.Resampling.LANCZOS)
    pixels = small.tobytes()
    bits = 0
    for row in range(8):
        for col in range(8):
            left, right = pixels[row * 9 + col], pixels[row * 9 + col + 1]
            bits = (bits << 1) | (left > right)
    return f"{bits:016x}"
