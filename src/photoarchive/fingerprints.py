"""Fingerprints of a picture: the digest of its image data without metadata (same pixels),
and a difference hash that survives resizing and recompression (near-duplicates)."""

from __future__ import annotations

import hashlib
import struct

from PIL import Image

# JPEG markers whose segments are metadata, not image data: APP0-APP15 and COM.
_METADATA_MARKERS = set(range(0xE0, 0xF0)) | {0xFE}


def pixel_digest(data: bytes, fmt: str) -> str | None:
    """Return the SHA-256 of a file's image data with its metadata left out.

    For JPEG that is every segment but APPn and COM (so rewriting captions does not change
    it); for PNG the header and image data chunks. Other formats give None.
    """
    if fmt in ("JPEG", "MPO"):
        return _jpeg_digest(data)
    if fmt == "PNG":
        return _png_digest(data)
    return None


def _jpeg_digest(data: bytes) -> str | None:
    digest = hashlib.sha256()
    view = memoryview(data)  # slices of a view are not copies of megabytes of image data
    pos = 2
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            return None
        marker = data[pos + 1]
        if marker == 0xDA:  # start of scan: the rest is image data
            digest.update(view[pos:])
            return digest.hexdigest()
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        if marker not in _METADATA_MARKERS:
            digest.update(view[pos : pos + 2 + length])
        pos += 2 + length
    return None


def _png_digest(data: bytes) -> str | None:
    digest = hashlib.sha256()
    view = memoryview(data)
    pos = 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if kind in (b"IHDR", b"PLTE", b"IDAT", b"tRNS"):
            digest.update(view[pos : pos + 12 + length])
        if kind == b"IEND":
            return digest.hexdigest()
        pos += 12 + length
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
