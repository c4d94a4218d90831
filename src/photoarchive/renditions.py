"""Thumbnails and previews: JPEGs decoded in draft mode, large images reduced a band at a time."""

from __future__ import annotations

import io
import math
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import numpy as np
from PIL import Image, ImageOps, PngImagePlugin

# Images of more pixels than this are reduced a band at a time: a whole-image resize keeps
# the decoded picture and a converted copy of it at once (Pillow converts RGBA and LA to
# premultiplied copies before reducing), which cost 1.4 GB for a 169 MP RGBA PNG.
BANDED_PIXELS = 8_000_000
# Raw (decoded, unfiltered) bytes of one band of a PNG decoded a band at a time.
BAND_BYTES = 4 * 1024 * 1024
# Memory for the subsampled picture of a large interlaced PNG (see _interlaced_grid).
GRID_BYTES = 48 * 1024 * 1024
# Banded reductions stop at twice the preview size before the final resampling: within a
# hair of fair resampling, and the reduced copy (the one thing kept whole) takes less than
# half the memory it takes at Pillow's usual three times.
_REDUCING_GAP = 2.0
_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I")
_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class Renditions:
    """JPEG bytes of the preview and the thumbnail."""

    preview: bytes
    thumb: bytes


def make_renditions(
    im: Image.Image,
    preview_size: int,
    thumb_size: int,
    quality: int,
    band_bytes: int = BAND_BYTES,
) -> Renditions:
    """Return a preview and a thumbnail of an opened (not yet loaded) image.

    JPEGs are decoded in draft mode: the DCT scales them down by up to 8x while decoding,
    so a 24 MP photo costs a fraction of a full decode. Large non-interlaced PNGs are decoded
    a band of rows at a time, straight from the file, and each band is flattened and reduced
    before the next is decoded, so a 169 MP PNG never exists whole in memory. Other large
    images are decoded once and reduced band by band, without a converted copy of the whole.
    The thumbnail is made from the preview.
    """
    if im.format == "JPEG" or im.format == "MPO":
        im.draft("RGB", (preview_size, preview_size))
    width, height = im.size
    if width * height > BANDED_PIXELS:
        rgb = _reduced_large(im, preview_size, band_bytes)
    elif im.mode in _SIXTEEN_BIT:
        # Pillow cannot reduce 16-bit greyscale ("image has wrong mode"): 8 bits first.
        rgb = _to_rgb(ImageOps.exif_transpose(im))
        rgb.thumbnail((preview_size, preview_size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    else:
        im.thumbnail((preview_size, preview_size), Image.Resampling.LANCZOS, reducing_gap=3.0)
        rgb = _to_rgb(ImageOps.exif_transpose(im))
    preview = _jpeg(rgb, quality)
    thumb_im = rgb.copy()
    thumb_im.thumbnail((thumb_size, thumb_size), Image.Resampling.LANCZOS)
    return Renditions(preview=preview, thumb=_jpeg(thumb_im, quality))


def _reduced_large(im: Image.Image, preview_size: int, band_bytes: int) -> Image.Image:
    """Return the oriented RGB preview of a large image, made without a whole-image copy."""
    png = _png_header(im) if im.format == "PNG" else None
    # Pillow's PNG getexif() decodes the whole image to look for EXIF after the image data.
    orientation = _png_orientation(im, png) if png else im.getexif().get(0x0112)
    target = _fit(im.size, preview_size)
    if png is not None and png.interlaced and _decoded_bytes(im) > GRID_BYTES:
        reduced = _interlaced_grid(im, png)
    else:
        factor = (_factor(im.width, target[0]), _factor(im.height, target[1]))
        rows = max(1, band_bytes // (im.width * 4) // factor[1]) * factor[1]
        bands = _png_bands(im, png, rows) if png and not png.interlaced else _crop_bands(im, rows)
        reduced = Image.new("RGB", (-(-im.width // factor[0]), -(-im.height // factor[1])))
        for top, band in bands:
            reduced.paste(_to_rgb(band).reduce(factor), (0, top // factor[1]))
    out = reduced.resize(target, Image.Resampling.LANCZOS)
    if isinstance(orientation, int) and orientation in _ORIENTATION:
        out = out.transpose(_ORIENTATION[orientation])
    return out


def _factor(size: int, target: int) -> int:
    """How much to reduce an edge in the bands: to twice the target or more, but at least
    by 2 where that still leaves the target's size (the reduced copy is what stays whole)."""
    ratio = size / target
    factor = int(ratio / _REDUCING_GAP)
    return factor if factor >= 2 else (2 if ratio >= 2 else 1)


def _fit(size: tuple[int, int], bound: int) -> tuple[int, int]:
    width, height = size
    scale = min(1.0, bound / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def _decoded_bytes(im: Image.Image) -> int:
    per_pixel = {"1": 1, "L": 1, "P": 1, "I;16": 2, "I;16B": 2, "I;16L": 2}.get(im.mode, 4)
    return im.width * im.height * per_pixel


def _crop_bands(im: Image.Image, rows: int) -> Iterator[tuple[int, Image.Image]]:
    """Decode the image once and hand it on a band at a time (each band a small copy)."""
    im.load()
    for top in range(0, im.height, rows):
        yield top, im.crop((0, top, im.width, min(im.height, top + rows)))


@dataclass(frozen=True)
class _PngHeader:
    width: int
    height: int
    bit_depth: int
    colour_type: int
    interlaced: bool
    #: File offset of each IDAT chunk's data and its length.
    idat: tuple[tuple[int, int], ...]
    #: File offset and length of an eXIf chunk after the image data.
    exif_after: tuple[int, int] | None = None

    @property
    def bits_per_pixel(self) -> int:
        return {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[self.colour_type] * self.bit_depth

    def row_bytes(self, width: int) -> int:
        return (width * self.bits_per_pixel + 7) // 8


def _png_header(im: Image.Image) -> _PngHeader | None:
    """Read the IHDR and where the IDAT chunks are, from the file Pillow opened."""
    fp: IO[bytes] | None = getattr(im, "fp", None)
    if fp is None:
        return None
    fp.seek(8)
    head = fp.read(25)
    if len(head) < 25 or head[4:8] != b"IHDR":
        return None
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", head[8:21])
    if (depth, colour) not in PngImagePlugin._MODES:
        return None
    idat: list[tuple[int, int]] = []
    exif: tuple[int, int] | None = None
    pos = 33
    while True:
        fp.seek(pos)
        header = fp.read(8)
        if len(header) < 8:
            break
        length, kind = struct.unpack(">I4s", header)
        if kind == b"IDAT":
            if exif:
                break  # IDAT after IDAT's end: not one run of image data
            idat.append((pos + 8, length))
        elif kind == b"eXIf" and idat:
            exif = (pos + 8, length)
        elif kind == b"IEND":
            break
        pos += 12 + length
    return _PngHeader(width, height, depth, colour, bool(interlace), tuple(idat), exif)


def _png_orientation(im: Image.Image, png: _PngHeader) -> int | None:
    """The EXIF orientation of a PNG, from an eXIf chunk before or after the image data."""
    block = im.info.get("exif")
    if not isinstance(block, bytes) and png.exif_after and png.exif_after[1] < 1 << 20:
        fp: IO[bytes] = getattr(im, "fp")  # noqa: B009 - _png_header read it
        fp.seek(png.exif_after[0])
        block = fp.read(png.exif_after[1])
    if not isinstance(block, bytes):
        return None
    exif = Image.Exif()
    try:
        exif.load(block)
    except Exception:  # a damaged EXIF block: no orientation, as Pillow would give
        return None
    value = exif.get(0x0112)
    return value if isinstance(value, int) else None


class _Inflater:
    """A PNG's image data, inflated on demand: `read(n)` returns exactly n bytes."""

    def __init__(self, fp: IO[bytes], idat: tuple[tuple[int, int], ...]) -> None:
        self._pieces = self._inflate(fp, idat)
        self._buffer = bytearray()

    @staticmethod
    def _inflate(fp: IO[bytes], idat: tuple[tuple[int, int], ...]) -> Iterator[bytes]:
        inflater = zlib.decompressobj()
        for offset, length in idat:
            fp.seek(offset)
            left = length
            while left > 0:
                data = fp.read(min(left, 1 << 16))
                if not data:
                    raise OSError("image data truncated")
                left -= len(data)
                while data:
                    # Bounded output: 64 KB of zeros may inflate to 64 MB.
                    out = inflater.decompress(data, 1 << 20)
                    data = inflater.unconsumed_tail
                    if out:
                        yield out

    def read(self, n: int) -> bytes:
        while len(self._buffer) < n:
            piece = next(self._pieces, None)
            if piece is None:
                raise OSError("image data truncated")
            self._buffer += piece
        out = bytes(self._buffer[:n])
        del self._buffer[:n]
        return out


def _unfilter(
    filtered: bytes, previous: list[bytes], bpp: int, row_bytes: int
) -> list[Image.Image]:
    """Undo PNG row filters with Pillow's decoder; return the rows as one or two images.

    Pillow undoes filters only while inflating, so the rows are wrapped in a stored (level 0)
    zlib stream, after the previous band's last row as an unfiltered row: the first row's
    Up, Average and Paeth filters need it. Pillow's modes hold 1, 2, 3 or 4 bytes a pixel
    exactly (L, LA, RGB, RGBA), so those rows come back as one image whose bytes are the
    PNG's; 6- and 8-byte pixels (16-bit RGB, RGBA) are split into two halves, each filtered
    on its own (a filter looks back one whole pixel, which is the same byte of the half).
    """
    count = len(filtered) // (row_bytes + 1)
    if bpp <= 4:
        return [_unfilter_side(filtered, previous[0], bpp, row_bytes, count)]
    half, width = bpp // 2, row_bytes // bpp
    rows = np.frombuffer(filtered, np.uint8).reshape(count, row_bytes + 1)
    # Pixels as opaque items of `half` bytes: copying whole items is far faster than bytes.
    pixels = np.ascontiguousarray(rows[:, 1:]).view(f"V{half}").reshape(count, width, 2)
    sides = []
    for side in (0, 1):
        part = np.empty((count, 1 + width * half), np.uint8)
        part[:, 0] = rows[:, 0]
        part[:, 1:].view(f"V{half}")[...] = pixels[:, :, side]
        sides.append(_unfilter_side(part.data, previous[side], half, width * half, count))
    return sides


def _unfilter_side(
    filtered: bytes | memoryview, previous: bytes, bpp: int, row_bytes: int, count: int
) -> Image.Image:
    mode = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}[bpp]
    width = row_bytes // bpp
    band = Image.new(mode, (width, count + 1))
    decoder = Image._getdecoder(mode, "zip", (mode,))
    decoder.setimage(band.im, (0, 0, width, count + 1))
    packer = zlib.compressobj(0)
    stream = packer.compress(b"\x00" + previous) + packer.compress(filtered) + packer.flush()
    consumed, error = decoder.decode(stream)
    decoder.cleanup()
    if consumed >= 0 or error < 0:
        raise OSError("image data damaged")
    return band.crop((0, 1, width, count + 1))


def _pass_rows(
    source: _Inflater, png: _PngHeader, width: int, height: int, band: int
) -> Iterator[tuple[int, list[Image.Image]]]:
    """Yield (first row, rows as images) of one image (or Adam7 pass), `band` rows at a time."""
    row_bytes = png.row_bytes(width)
    bpp = max(1, png.bits_per_pixel // 8)
    sides = 1 if bpp <= 4 else 2
    previous = [bytes(row_bytes // sides)] * sides
    for top in range(0, height, band):
        count = min(band, height - top)
        images = _unfilter(source.read(count * (row_bytes + 1)), previous, bpp, row_bytes)
        previous = [i.crop((0, count - 1, i.width, count)).tobytes() for i in images]
        yield top, images


def _band_image(
    im: Image.Image, png: _PngHeader, width: int, sides: list[Image.Image]
) -> Image.Image:
    """Turn unfiltered rows into an 8-bit image of the file's kind (palette, transparency)."""
    first = sides[0]
    if png.bit_depth == 16:
        # The rows' bytes are big-endian 16-bit samples: each sample's high byte is kept.
        if png.colour_type == 0:
            return first.getchannel(0)
        if png.colour_type == 4:
            return Image.merge("LA", (first.getchannel(0), first.getchannel(2)))
        second = sides[1]
        if png.colour_type == 2:
            return Image.merge(
                "RGB", (first.getchannel(0), first.getchannel(2), second.getchannel(1))
            )
        channels = (
            first.getchannel(0),
            first.getchannel(2),
            second.getchannel(0),
            second.getchannel(2),
        )
        return Image.merge("RGBA", channels)
    if png.bit_depth == 8 and png.colour_type != 3:
        return first  # L, LA, RGB or RGBA: the bytes are the pixels
    mode, rawmode = PngImagePlugin._MODES[(png.bit_depth, png.colour_type)]
    band = Image.frombytes(mode, (width, first.height), first.tobytes(), "raw", rawmode)
    if mode == "P" and im.palette is not None:
        palette_mode, palette = im.palette.getdata()
        band.putpalette(palette, palette_mode)
    if "transparency" in im.info:
        band.info["transparency"] = im.info["transparency"]
    return band


def _png_bands(im: Image.Image, png: _PngHeader, rows: int) -> Iterator[tuple[int, Image.Image]]:
    """Decode a non-interlaced PNG from its file, `rows` rows at a time."""
    source = _Inflater(getattr(im, "fp"), png.idat)  # noqa: B009 - _png_header checked it
    for top, sides in _pass_rows(source, png, png.width, png.height, rows):
        yield top, _band_image(im, png, png.width, sides)


# Adam7 passes: (x start, y start, x step, y step).
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2))


def _interlaced_grid(im: Image.Image, png: _PngHeader) -> Image.Image:
    """Return every 2nd, 4th or 8th pixel of a large interlaced PNG, whichever fits.

    Adam7's first passes hold exactly such a grid (the first pass every 8th pixel of every
    8th row, the first three every 4th, the first five every 2nd), so only those passes are
    inflated and the rest of the file is never decoded: a sample, not a reduction, which is
    enough for a preview of a picture this large that nobody should have interlaced.
    """
    step = next(
        (
            s
            for s in (2, 4)
            if math.ceil(png.width / s) * math.ceil(png.height / s) * 3 <= GRID_BYTES
        ),
        8,
    )
    passes = {2: 5, 4: 3, 8: 1}[step]
    grid = np.zeros((-(-png.height // step), -(-png.width // step), 3), np.uint8)
    source = _Inflater(getattr(im, "fp"), png.idat)  # noqa: B009 - _png_header checked it
    for x0, y0, dx, dy in _ADAM7[:passes]:
        width = -(-(png.width - x0) // dx)
        height = -(-(png.height - y0) // dy)
        if width <= 0 or height <= 0:
            continue
        band = max(1, BAND_BYTES // (png.row_bytes(width) + 1))
        for top, sides in _pass_rows(source, png, width, height, band):
            pixels = np.asarray(_to_rgb(_band_image(im, png, width, sides)))
            first = y0 // step + top * (dy // step)
            rows = slice(first, first + len(pixels) * (dy // step), dy // step)
            grid[rows, x0 // step :: dx // step] = pixels
    return Image.fromarray(grid, "RGB")


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode == "RGB":
        return im
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im if im.mode == "RGBA" else im.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    if im.mode in _SIXTEEN_BIT:
        # 16-bit greyscale: scale to 8 bits rather than clip.
        return im.point(lambda v: v / 256).convert("L").convert("RGB")
    return im.convert("RGB")


def _jpeg(im: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality, optimize=False, progressive=False)
    return buf.getvalue()
