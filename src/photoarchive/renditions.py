"""Thumbnails and previews: one draft-mode decode, orientation applied after the reduction."""

from __future__ import annotations

import io
from dataclasses import dataclass

from PIL import Image, ImageOps


@dataclass(frozen=True)
class Renditions:
    """JPEG bytes of the preview and the thumbnail."""

    preview: bytes
    thumb: bytes


def make_renditions(
    im: Image.Image, preview_size: int, thumb_size: int, quality: int
) -> Renditions:
    """Return a preview and a thumbnail of an opened (not yet loaded) image.

    JPEGs are decoded in draft mode: the DCT scales them down by up to 8x while decoding,
    so a 24 MP photo costs a fraction of a full decode. The thumbnail is made from the preview.
    """
    if im.format == "JPEG" or im.format == "MPO":
        im.draft("RGB", (preview_size, preview_size))
    im.thumbnail((preview_size, preview_size), Image.Resampling.LANCZOS, reducing_gap=3.0)
    oriented = ImageOps.exif_transpose(im)
    rgb = _to_rgb(oriented)
    preview = _jpeg(rgb, quality)
    thumb_im = rgb.copy()
    thumb_im.thumbnail((thumb_size, thumb_size), Image.Resampling.LANCZOS)
    return Renditions(preview=preview, thumb=_jpeg(thumb_im, quality))


def _to_rgb(im: Image.Image) -> Image.Image:
    if im.mode == "RGB":
        return im
    if im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        flat = Image.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        return flat
    if im.mode in ("I;16", "I;16B", "I;16L", "I"):
        # 16-bit greyscale: scale to 8 bits rather than clip.
        return im.point(lambda v: v / 256).convert("L").convert("RGB")
    return im.convert("RGB")


def _jpeg(im: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=quality, optimize=False, progressive=False)
    return buf.getvalue()
