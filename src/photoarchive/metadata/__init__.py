"""Metadata extraction: read EXIF, IPTC-IIM and XMP from image bytes and merge them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, BinaryIO

from PIL import Image

from photoarchive.metadata.exif import read_exif
from photoarchive.metadata.iptc import read_iim
from photoarchive.metadata.iptc_ext import add_extension
from photoarchive.metadata.merge import Merged, merge
from photoarchive.metadata.xmp import XmpPacket, find_packet, parse_xmp


@dataclass
class Extracted:
    """Merged values with their origins and per-family sources, plus reader warnings."""

    merged: Merged
    warnings: list[str] = field(default_factory=list)


def extract_metadata(
    im: Image.Image, data: bytes | BinaryIO, desk: dict[str, Any] | None = None
) -> Extracted:
    """Read every metadata family of an opened image and merge them (desk values first).

    `data` is the file's bytes or a seekable binary file open on it (read in pieces from
    its start by each reader, so a large file is never held whole).
    """
    from photoarchive.metadata.png_profiles import PngProfiles, read_png_profiles

    block = im.info.get("exif")
    # A PNG may keep EXIF, IIM and XMP as "Raw profile type ..." text (ImageMagick, exiv2).
    profiles = read_png_profiles(data) if im.format == "PNG" else PngProfiles()
    if not isinstance(block, bytes):
        block = profiles.exif
    if not isinstance(data, bytes):
        data.seek(0)
    exif = read_exif(data, block if isinstance(block, bytes) else None)
    iim = read_iim(im, profiles.iim, profiles.resources)
    if not isinstance(data, bytes):
        data.seek(0)
    packet = find_packet(im, data) or profiles.xmp
    xmp = parse_xmp(packet) if packet is not None else XmpPacket()
    merged = merge(desk or {}, exif, iim, xmp)
    add_extension(merged, packet, desk or {})
    return Extracted(merged=merged, warnings=iim.warnings + xmp.warnings + profiles.warnings)
