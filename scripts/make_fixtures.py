#!/usr/bin/env python3
"""Regenerate the small test images in tests/fixtures/ and what exiftool reads from them.

Each fixture is a tiny image (a few KB) carrying one metadata situation the readers must get
right. When exiftool is installed, tests/fixtures/exiftool.json is rewritten with
`exiftool -j -G1 -n -struct -use MWG` output, which the tests compare against.

    python scripts/make_fixtures.py
"""

from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image, ImageDraw, PngImagePlugin

from photoarchive.metadata.iptc_writer import embed_in_jpeg, encode_iim, photoshop_resources
from photoarchive.metadata.xmp_writer import build_xmp

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures"

UTF8_WIRE = {
    "title": "UKRAINE-CRISIS/KUPIANSK",
    "headline": "Ukrainian forces enter Kupiansk",
    "caption": "Українські спецпризначенці в Куп'янську: special forces after capturing "
    "the key town of Kupiansk",
    "credit": "REUTERS/Gleb Garanich",
    "byline": "Gleb Garanich",
    "byline_title": "Staff Photographer",
    "source": "Reuters",
    "copyright": "© Reuters 2022",
    "special_instructions": "EDITORIAL USE ONLY. NO RESALES. NO ARCHIVES.",
    "keywords": ["Ukraine", "Kupiansk", "special forces", "війна"],
    "city": "Kupiansk",
    "sublocation": "Town centre",
    "province_state": "Kharkiv region",
    "country": "Ukraine",
    "country_code": "UKR",
    "date_created": "2022-09-10T14:30:00+03:00",
    "transmission_reference": "KUP-20220910-001",
}


def picture(
    size: tuple[int, int] = (48, 32), colour: tuple[int, int, int] = (40, 90, 60), mode: str = "RGB"
) -> Image.Image:
    im = Image.new(mode, size, colour if mode == "RGB" else 0)
    draw = ImageDraw.Draw(im)
    # A mark in the top-left corner shows which way up the picture is.
    draw.rectangle(
        [0, 0, size[0] // 3, size[1] // 3], fill=(250, 250, 250) if mode == "RGB" else 255
    )
    return im


def jpeg(im: Image.Image, **kwargs: object) -> bytes:
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=70, **kwargs)
    return buf.getvalue()


def with_iim(
    data: bytes, values: dict, charset: str | None = "utf-8", digest: bytes | None = b""
) -> bytes:
    return embed_in_jpeg(data, photoshop_resources(encode_iim(values, charset), digest))


def exif_block(
    description: str | None = None,
    gps: bool = False,
    orientation: int = 1,
    artist: str | None = None,
) -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "NIKON CORPORATION"
    exif[0x0110] = "NIKON D5"
    exif[0x0112] = orientation
    if description is not None:
        exif[0x010E] = description
    if artist is not None:
        exif[0x013B] = artist
    sub = exif.get_ifd(0x8769)
    sub[0x9003] = "2022:09:10 14:30:05"
    sub[0xA434] = "AF-S NIKKOR 24-70mm f/2.8E ED VR"
    if gps:
        g = exif.get_ifd(0x8825)
        g[1], g[2] = "N", (49.0, 42.0, 36.0)  # Kupiansk: 49.71 N
        g[3], g[4] = "E", (37.0, 36.0, 54.0)  # 37.615 E
    return exif


def build() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    files["iim_utf8.jpg"] = with_iim(jpeg(picture()), UTF8_WIRE)
    files["iim_latin1.jpg"] = with_iim(
        jpeg(picture(colour=(120, 60, 40))),
        {
            "caption": "José Mourinho à Zürich, façade du stade",
            "credit": "AFP",
            "byline": "Jérôme Dupré",
            "city": "Zürich",
            "keywords": ["football", "entraîneur"],
        },
        charset="latin-1",
    )
    files["xmp_only.jpg"] = jpeg(
        picture(colour=(60, 60, 140)),
        xmp=build_xmp(
            {
                "caption": "Five Ukrainian servicemembers hold flags in Izium",
                "credit": "Twitter",
                "byline": "@izium_now",
                "copyright": "© the author",
                "usage_terms": "Clearance required before publication",
                "keywords": ["flag", "soldiers", "Izium"],
                "city": "Izium",
                "country": "Ukraine",
                "date_created": "2022-09-10T18:00:00+03:00",
            }
        ),
    )
    conflict_xmp = {
        "caption": "XMP caption, edited last in a digest-aware tool",
        "credit": "XMP credit",
        "keywords": ["xmp-keyword"],
    }
    conflict_iim = {
        "caption": "IIM caption, edited last in an older tool",
        "credit": "IIM credit",
        "keywords": ["iim-keyword"],
    }
    base = jpeg(picture(colour=(90, 90, 90)), xmp=build_xmp(conflict_xmp))
    files["conflict_stale_digest.jpg"] = with_iim(base, conflict_iim, digest=b"\x01" * 16)
    files["conflict_synced_digest.jpg"] = with_iim(base, conflict_iim, digest=None)
    files["conflict_no_digest.jpg"] = with_iim(base, conflict_iim, digest=b"")
    files["exif_gps_orientation.jpg"] = jpeg(
        picture(),
        exif=exif_block(
            "Tank turret near Kupiansk", gps=True, orientation=6, artist="Gleb Garanich"
        ),
        xmp=build_xmp({"caption": "XMP caption loses to EXIF ImageDescription"}),
    )
    files["camera_boilerplate.jpg"] = with_iim(
        jpeg(picture(), exif=exif_block("OLYMPUS DIGITAL CAMERA")),
        {"caption": "Mounds of munitions left behind on the battlefield", "credit": "Channel 4"},
    )
    png = io.BytesIO()
    info = PngImagePlugin.PngInfo()
    info.add_itxt(
        "XML:com.adobe.xmp",
        build_xmp(
            {
                "caption": "A victorious Ukrainian soldier flying his country's flag",
                "credit": "Staff",
                "keywords": ["flag", "soldier"],
            }
        ).decode("utf-8"),
    )
    picture().save(png, "PNG", pnginfo=info)
    files["xmp.png"] = png.getvalue()
    webp = io.BytesIO()
    picture().save(
        webp,
        "WEBP",
        quality=60,
        xmp=build_xmp(
            {
                "caption": "The turret of a Russian tank destroyed by Ukrainian forces",
                "credit": "AFP",
                "keywords": ["tank", "turret"],
            }
        ),
    )
    files["xmp.webp"] = webp.getvalue()
    tif = io.BytesIO()
    picture((24, 16)).save(
        tif, "TIFF", exif=exif_block("Tanks abandoned in a river", artist="Staff photographer")
    )
    files["exif.tif"] = tif.getvalue()
    return files


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    files = build()
    for name, data in files.items():
        (OUT / name).write_bytes(data)
    print(f"wrote {len(files)} fixtures to {OUT}", file=sys.stderr)
    exiftool = shutil.which("exiftool")
    if exiftool is None:
        print("exiftool not found: tests/fixtures/exiftool.json left as it was", file=sys.stderr)
        return 0
    result = subprocess.run(
        [
            exiftool,
            "-j",
            "-G1",
            "-n",
            "-struct",
            "-use",
            "MWG",
            "-a",
            "-All",
            "-MWG:All",
            *sorted(files),
        ],
        cwd=OUT,
        capture_output=True,
        text=True,
        check=True,
    )
    readings = {entry["SourceFile"]: _trim(entry) for entry in json.loads(result.stdout)}
    (OUT / "exiftool.json").write_text(
        json.dumps(readings, ensure_ascii=False, indent=1) + "\n", encoding="utf-8"
    )
    print("wrote tests/fixtures/exiftool.json", file=sys.stderr)
    return 0


def _trim(entry: dict) -> dict:
    # File-system facts differ from machine to machine; they are not metadata.
    return {
        k: v
        for k, v in entry.items()
        if not k.startswith("System:") and k not in ("SourceFile", "ExifTool:ExifToolVersion")
    }


if __name__ == "__main__":
    sys.exit(main())
