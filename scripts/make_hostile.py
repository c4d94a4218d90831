#!/usr/bin/env python3
"""Regenerate tests/fixtures/hostile/: broken and malicious files ingest must survive.

Each file is small (a few KB) and carries one hostile trait; `expected.json` beside them says
whether ingest should take it (with what could be read, perhaps with a warning) or reject it
with a one-line reason. Traits that git cannot hold (a newline or a non-UTF-8 byte in a file
name, symbolic link loops, a pipe, an unreadable file) are made by `make_special()` in a
temporary folder when the tests run.

    python scripts/make_hostile.py
"""

from __future__ import annotations

import io
import json
import os
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, PngImagePlugin

from photoarchive.metadata.iptc_writer import embed_in_jpeg, encode_iim, photoshop_resources
from photoarchive.metadata.xmp_writer import build_xmp

OUT = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "hostile"
RDF = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"


def jpeg(size: tuple[int, int] = (48, 32), **kwargs: object) -> bytes:
    im = Image.new("RGB", size, (90, 110, 70))
    ImageDraw.Draw(im).rectangle([2, 2, 20, 12], fill=(240, 240, 240))
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=60, **kwargs)
    return buf.getvalue()


def png(colour: tuple[int, int, int] = (10, 60, 160), **kwargs: object) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), colour).save(buf, "PNG", **kwargs)
    return buf.getvalue()


def app_segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def after_soi(data: bytes, segment: bytes) -> bytes:
    return data[:2] + segment + data[2:]


def tiff_ifd(entries: list[tuple[int, int, int, bytes]], next_ifd: int, at: int) -> bytes:
    """Big-endian IFD at offset `at`: (tag, type, count, 4-byte value/offset) entries."""
    body = struct.pack(">H", len(entries))
    for tag, kind, count, value in entries:
        body += struct.pack(">HHI", tag, kind, count) + value.ljust(4, b"\x00")[:4]
    return body + struct.pack(">I", next_ifd)


def exif_app1(tiff: bytes) -> bytes:
    return app_segment(0xE1, b"Exif\x00\x00" + tiff)


def exif_ifd_loop() -> bytes:
    # IFD0 at 8 whose "next IFD" is itself.
    tiff = b"MM\x00*" + struct.pack(">I", 8)
    tiff += tiff_ifd([(0x010F, 2, 4, b"Loo\x00")], next_ifd=8, at=8)
    return after_soi(jpeg(), exif_app1(tiff))


def exif_out_of_range() -> bytes:
    tiff = b"MM\x00*" + struct.pack(">I", 8)
    tiff += tiff_ifd(
        [
            (0x010E, 2, 400, struct.pack(">I", 0x7FFFFFF0)),  # description far away
            (0x8769, 4, 1, struct.pack(">I", 0xFFFFFF00)),
        ],
        next_ifd=0,
        at=8,
    )
    return after_soi(jpeg(), exif_app1(tiff))


def exif_huge_count() -> bytes:
    tiff = b"MM\x00*" + struct.pack(">I", 8)
    tiff += tiff_ifd([(0x010F, 2, 0xFFFFFFFF, struct.pack(">I", 26))], next_ifd=0, at=8)
    return after_soi(jpeg(), exif_app1(tiff))


def gps_impossible() -> bytes:
    exif = Image.Exif()
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2] = "N", (200.0, 75.0, 99.0)
    gps[3], gps[4] = "E", (999.0, 0.0, 0.0)
    return jpeg(exif=exif)


def gps_zero_denominator() -> bytes:
    # GPSLatitude as rationals with zero denominators, written by hand.
    tiff = b"MM\x00*" + struct.pack(">I", 8)
    ifd0 = tiff_ifd([(0x8825, 4, 1, struct.pack(">I", 26))], next_ifd=0, at=8)
    gps_at = 26
    gps_ifd = tiff_ifd(
        [(1, 2, 2, b"N\x00"), (2, 5, 3, struct.pack(">I", gps_at + 30))], next_ifd=0, at=gps_at
    )
    rationals = struct.pack(">6I", 50, 0, 30, 0, 10, 0)
    return after_soi(jpeg(), exif_app1(tiff + ifd0 + gps_ifd + rationals))


def date_zero() -> bytes:
    exif = Image.Exif()
    exif.get_ifd(0x8769)[0x9003] = "0000:00:00 00:00:00"
    data = jpeg(exif=exif)
    iim = b"\x1c\x02\x00\x00\x02\x00\x04" + b"\x1c\x02\x37\x00\x08" + b"00000000"
    return embed_in_jpeg(data, photoshop_resources(iim, b""))


def iim(raw: bytes) -> bytes:
    return embed_in_jpeg(jpeg(), photoshop_resources(raw, b""))


def xmp_jpeg(packet: bytes) -> bytes:
    return after_soi(jpeg(), app_segment(0xE1, b"http://ns.adobe.com/xap/1.0/\x00" + packet))


def billion_laughs() -> bytes:
    entities = '<!ENTITY a0 "ha">' + "".join(
        f'<!ENTITY a{i} "{("&a" + str(i - 1) + ";") * 10}">' for i in range(1, 10)
    )
    packet = (
        f'<?xml version="1.0"?><!DOCTYPE x:xmpmeta [{entities}]>'
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{RDF}">'
        '<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/">'
        "<dc:description>&a9;</dc:description></rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    return xmp_jpeg(packet.encode())


def deeply_nested() -> bytes:
    depth = 1500
    inner = "<a>" * depth + "deep" + "</a>" * depth
    packet = (
        f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF xmlns:rdf="{RDF}">'
        f'<rdf:Description xmlns:dc="http://purl.org/dc/elements/1.1/">'
        f'<dc:description><rdf:Alt><rdf:li xml:lang="x-default">Nested caption</rdf:li>'
        f"</rdf:Alt></dc:description><dc:x>{inner}</dc:x></rdf:Description></rdf:RDF>"
        "</x:xmpmeta>"
    )
    return xmp_jpeg(packet.encode())


def long_caption() -> bytes:
    # Words no other fixture uses: the search tests' rankings over tests/fixtures stay as they
    # were when this caption was 100,000 characters in the index (it is now cut to 10,000).
    caption = ("Smoke rises over grain silos at dawn near the wrecked harbour " * 1700)[:100_000]
    info = PngImagePlugin.PngInfo()
    info.add_itxt(
        "XML:com.adobe.xmp", build_xmp({"caption": caption, "credit": "AFP"}).decode(), zip=True
    )
    return png((160, 60, 10), pnginfo=info)


def chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk: length, type, body, CRC."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# PNG colour type -> samples per pixel
_SAMPLES = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
# Adam7: (x start, y start, x step, y step) of each pass
_ADAM7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2))
_ADAM7 += ((0, 1, 1, 2),)


def bomb_png() -> bytes:
    ihdr = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 2, 0, 0, 0)
    return (
        PNG_SIGNATURE
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00" * 4096, 9))
        + chunk(b"IEND", b"")
    )


def big_png(
    width: int,
    height: int,
    colour_type: int = 6,
    bit_depth: int = 8,
    interlace: bool = False,
    before_idat: bytes = b"",
) -> bytes:
    """A complete, valid PNG of `width` x `height` zero pixels: deflate packs them about
    1,000 to 1, so 169 MP of RGBA (676 MB decoded) fit in 656 KB. Made a row at a time."""
    ihdr = struct.pack(">IIBBBBB", width, height, bit_depth, colour_type, 0, 0, int(interlace))
    bits = _SAMPLES[colour_type] * bit_depth
    packer = zlib.compressobj(9)
    parts = []
    passes = _ADAM7 if interlace else ((0, 0, 1, 1),)
    for x0, y0, dx, dy in passes:
        pass_width = (width - x0 + dx - 1) // dx
        rows = (height - y0 + dy - 1) // dy
        if pass_width <= 0 or rows <= 0:
            continue
        row = bytes(1 + (pass_width * bits + 7) // 8)  # filter byte 0, then zero samples
        for _ in range(rows):
            parts.append(packer.compress(row))
    parts.append(packer.flush())
    data = b"".join(parts)
    plte = chunk(b"PLTE", bytes(range(256)) * 3) if colour_type == 3 else b""
    # IDAT in 64 KB chunks, as encoders write it.
    idat = b"".join(chunk(b"IDAT", data[i : i + 65536]) for i in range(0, len(data), 65536))
    return PNG_SIGNATURE + chunk(b"IHDR", ihdr) + plte + before_idat + idat + chunk(b"IEND", b"")


def text_bomb_png(kind: bytes = b"zTXt", chunks: int = 60, each: int = 1_000_000) -> bytes:
    """A small PNG whose compressed text chunks each inflate to `each` bytes."""
    packed = zlib.compress(b"A" * each, 9)
    bodies = b""
    for i in range(chunks):
        key = f"Comment{i}".encode()
        if kind == b"zTXt":
            bodies += chunk(b"zTXt", key + b"\x00\x00" + packed)
        else:  # iTXt: compressed flag 1, method 0, no language, no translated keyword
            bodies += chunk(b"iTXt", key + b"\x00\x01\x00\x00\x00" + packed)
    return big_png(40, 30, 2, before_idat=bodies)


def icc_bomb_png(chunks: int = 200, each: int = 1_000_000) -> bytes:
    """A PNG with many iCCP chunks, each inflating to about 1 MB."""
    body = b"bomb\x00\x00" + zlib.compress(b"\x00" * each, 9)
    return big_png(40, 30, 2, before_idat=chunk(b"iCCP", body) * chunks)


def many_chunks_png(count: int = 40_000) -> bytes:
    """A PNG with tens of thousands of small ancillary chunks: text with distinct keys,
    and private chunks no reader knows."""
    text = b"".join(chunk(b"tEXt", b"k%d\x00v" % i) for i in range(count // 2))
    private = chunk(b"prVt", b"x") * (count - count // 2)
    return big_png(40, 30, 2, before_idat=text + private)


def xmp_many_keywords() -> bytes:
    words = [f"keyword {i:04d} " + "x" * 88 for i in range(5000)]
    info = PngImagePlugin.PngInfo()
    info.add_itxt("XML:com.adobe.xmp", build_xmp({"keywords": words}).decode(), zip=True)
    return png((60, 160, 10), pnginfo=info)


def bomb_jpeg() -> bytes:
    data = bytearray(jpeg())
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", 65000, 65000)  # height, width
    return bytes(data)


def png_bad_crc() -> bytes:
    data = bytearray(png())
    data[29] ^= 0xFF  # inside the IHDR chunk's CRC
    return bytes(data)


def broken_tiff() -> bytes:
    return b"II*\x00" + struct.pack("<I", 0x00FFFFFF) + b"\x00" * 64


def truncated_webp() -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (200, 50, 50)).save(buf, "WEBP", quality=50)
    data = buf.getvalue()
    return data[: len(data) // 2]


def many_segments() -> bytes:
    return after_soi(jpeg(), b"".join(app_segment(0xE5, b"x" * 4) for _ in range(600)))


# name -> (maker, "ingest" or "reject", what the trait is)
KINDS: dict[str, tuple[Callable[[], bytes], str, str]] = {
    "zero-bytes.jpg": (lambda: b"", "reject", "an empty file"),
    "truncated-header.jpg": (lambda: jpeg()[:20], "reject", "cut inside the header"),
    "truncated-mid-scan.jpg": (
        lambda: jpeg()[: len(jpeg()) * 3 // 5],
        "reject",
        "cut in the middle of the image data",
    ),
    "truncated-no-eoi.jpg": (
        lambda: jpeg()[:-2],
        "reject",
        "only the end marker missing: maybe still being copied",
    ),
    "png-named.jpg": (png, "ingest", "a PNG with a .jpg name"),
    "text-named.jpg": (
        lambda: b"Dear picture desk,\nthis is not a photo.\n",
        "reject",
        "text with a .jpg name",
    ),
    "polyglot-jpeg-then-png.jpg": (lambda: jpeg() + png(), "ingest", "a JPEG with a PNG after it"),
    "polyglot-png-then-jpeg.png": (lambda: png() + jpeg(), "ingest", "a PNG with a JPEG after it"),
    "bomb.png": (bomb_png, "reject", "a PNG claiming 100,000 x 100,000 pixels"),
    "bomb.jpg": (bomb_jpeg, "reject", "a JPEG claiming 65,000 x 65,000 pixels"),
    "caption-100k.png": (long_caption, "ingest", "a 100,000-character caption"),
    "iim-invalid-utf8.jpg": (
        lambda: iim(encode_iim({}) + b"\x1c\x02\x78\x00\x06\xff\xfebad!"),
        "ingest",
        "IIM declared UTF-8 holding invalid UTF-8",
    ),
    "iim-invalid-cp1252.jpg": (
        lambda: iim(b"\x1c\x02\x00\x00\x02\x00\x04\x1c\x02\x78\x00\x07\x81\x8d\x8f\x90\x9dok"),
        "ingest",
        "undeclared IIM with bytes CP1252 does not define",
    ),
    "iim-lying-length.jpg": (
        lambda: iim(b"\x1c\x02\x00\x00\x02\x00\x04\x1c\x02\x78\x13\x88short caption"),
        "ingest",
        "an IIM dataset claiming 5,000 bytes where 13 follow",
    ),
    "iim-extended-length.jpg": (
        lambda: iim(b"\x1c\x02\x78\x80\x04\x7f\xff\xff\xffhuge?"),
        "ingest",
        "an IIM extended length of 2 GB",
    ),
    "iim-garbage.jpg": (
        lambda: iim(bytes(range(256)) * 4),
        "ingest",
        "APP13 full of bytes that are not IIM",
    ),
    "xmp-billion-laughs.jpg": (billion_laughs, "ingest", "XMP with an entity-expansion bomb"),
    "xmp-deeply-nested.jpg": (deeply_nested, "ingest", "XMP nested 1,500 elements deep"),
    "xmp-not-xml.jpg": (
        lambda: xmp_jpeg(b"<x:xmpmeta <<< not xml \x00\xff"),
        "ingest",
        "an XMP packet that is not XML",
    ),
    "exif-ifd-loop.jpg": (exif_ifd_loop, "ingest", "an EXIF IFD that points to itself"),
    "exif-offsets-out-of-range.jpg": (
        exif_out_of_range,
        "ingest",
        "EXIF offsets far past the block",
    ),
    "exif-huge-count.jpg": (exif_huge_count, "ingest", "an EXIF tag claiming 4 billion values"),
    "gps-impossible.jpg": (gps_impossible, "ingest", "GPS latitude 200 degrees"),
    "gps-zero-denominator.jpg": (gps_zero_denominator, "ingest", "GPS rationals over zero"),
    "date-zero.jpg": (date_zero, "ingest", "dates 0000:00:00 in EXIF and IIM"),
    "tiff-broken-ifd.tif": (broken_tiff, "reject", "a TIFF whose first IFD is past the end"),
    "truncated.webp": (truncated_webp, "reject", "a WebP cut in half"),
    "png-bad-crc.png": (png_bad_crc, "reject", "a PNG with a damaged header checksum"),
    "many-app-segments.jpg": (many_segments, "ingest", "600 application segments"),
    # Costly PNG constructions: each costs a few MB at most (scripts/memory_limits.py measures
    # the full-size ones, 169 MP in 656 KB).
    "png-rgba-8mp.png": (
        lambda: big_png(2900, 2900, 6, 8),
        "ingest",
        "8.4 MP of RGBA (34 MB decoded) in 32 KB: decoded a band at a time",
    ),
    "png-la16-interlaced-12mp.png": (
        lambda: big_png(3500, 3500, 4, 16, interlace=True),
        "ingest",
        "12 MP of 16-bit grey and alpha, interlaced (49 MB decoded) in 47 KB",
    ),
    "png-ztxt-bomb.png": (
        lambda: text_bomb_png(b"zTXt", 10),
        "reject",
        "10 zTXt chunks of 1 KB each inflating to 1 MB",
    ),
    "png-itxt-bomb.png": (
        lambda: text_bomb_png(b"iTXt", 10),
        "reject",
        "10 iTXt chunks of 1 KB each inflating to 1 MB",
    ),
    "png-ztxt-5mb.png": (
        lambda: text_bomb_png(b"zTXt", 1, 5_000_000),
        "reject",
        "one zTXt chunk of 5 KB inflating to 5 MB",
    ),
    "png-iccp-many.png": (
        lambda: icc_bomb_png(20),
        "ingest",
        "20 iCCP chunks each inflating to 1 MB (each replaces the last)",
    ),
    "png-many-chunks.png": (
        lambda: many_chunks_png(3000),
        "ingest",
        "3,000 small ancillary chunks: text with distinct keys and private chunks",
    ),
    "iim-2000-keywords.jpg": (
        lambda: iim(encode_iim({"keywords": [f"kw{i:04d}" for i in range(2000)]})),
        "ingest",
        "2,000 IIM keywords (cut to max_keywords)",
    ),
    "xmp-5000-keywords.png": (
        xmp_many_keywords,
        "ingest",
        "5,000 XMP keywords of 100 characters (cut to max_keywords, max_keyword_chars)",
    ),
}


def make_special(folder: Path) -> dict[str, str]:
    """Make the traits git cannot hold; return {file name: expectation}."""
    folder.mkdir(parents=True, exist_ok=True)
    good = jpeg((30, 20))
    expected = {}
    newline = "line\nbreak.jpg"
    (folder / newline).write_bytes(good + b"\x00")
    expected[newline] = "ingest"
    raw_name = os.fsdecode(b"caf\xe9-latin1-name.jpg")
    (folder / raw_name).write_bytes(good + b"\x01")
    expected[raw_name] = "ingest"
    os.symlink("loop-b.jpg", folder / "loop-a.jpg")
    os.symlink("loop-a.jpg", folder / "loop-b.jpg")
    expected["loop-a.jpg"] = expected["loop-b.jpg"] = "reject"
    os.symlink(".", folder / "dir-loop")  # a folder loop: never followed
    os.mkfifo(folder / "pipe.jpg")
    expected["pipe.jpg"] = "reject"
    locked = folder / "unreadable.jpg"
    locked.write_bytes(good + b"\x02")
    locked.chmod(0)
    # Root reads anything: there the file is simply ingested.
    expected["unreadable.jpg"] = "ingest" if os.geteuid() == 0 else "reject"
    (folder / "folder-named.jpg").mkdir()
    # 20 MB long, 4 KB on disk: the rest is a hole.
    (folder / "sparse.jpg").write_bytes(good + b"\x03")
    os.truncate(folder / "sparse.jpg", 20_000_000)
    expected["sparse.jpg"] = "reject"
    return expected


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    expected = {}
    for name, (make, outcome, trait) in KINDS.items():
        (OUT / name).write_bytes(make())
        expected[name] = {"expect": outcome, "trait": trait}
    (OUT / "expected.json").write_text(json.dumps(expected, indent=1) + "\n")
    print(f"wrote {len(KINDS)} hostile files to {OUT}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
