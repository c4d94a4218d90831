#!/usr/bin/env python3
"""Draw the seed article's eight pictures and embed their captions and credits (XMP and IIM).

The captions, credits, places and keywords come from the seed table (captions.tsv). The
pictures are simple drawings made with Pillow: nothing is downloaded.

    python scripts/make_demo_photos.py [--seed ../shared/seed/captions.tsv] [--out demo-photos]
        [--wire demo-wire]
"""

from __future__ import annotations

import argparse
import csv
import io
import random
import sys
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageFilter

from photoarchive.metadata.iptc_writer import embed_in_jpeg, encode_iim, photoshop_resources
from photoarchive.metadata.xmp_writer import build_xmp

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SEED = ROOT.parent / "shared" / "seed" / "captions.tsv"
SIZE = (1200, 800)
# The article reports the weekend Izium and Kupiansk were retaken; the exact hour of each
# picture is not known, so only the date is embedded.
DATE = "2022-09-11"

Draw = ImageDraw.ImageDraw


def sky_and_ground(
    d: Draw, sky: tuple[int, int, int], ground: tuple[int, int, int], horizon: int
) -> None:
    w, h = SIZE
    for y in range(horizon):
        t = y / horizon
        d.line([(0, y), (w, y)], fill=tuple(int(c * (0.75 + 0.25 * t)) for c in sky))
    d.rectangle([0, horizon, w, h], fill=ground)


def tank(d: Draw, x: int, y: int, scale: float = 1.0, colour=(74, 83, 52), wrecked=False) -> None:
    s = scale
    d.rounded_rectangle([x, y, x + 320 * s, y + 70 * s], radius=int(25 * s), fill=(45, 45, 40))
    for i in range(6):
        cx = x + (30 + i * 52) * s
        d.ellipse([cx - 20 * s, y + 15 * s, cx + 20 * s, y + 55 * s], fill=(30, 30, 28))
    d.polygon(
        [(x + 20 * s, y), (x + 300 * s, y), (x + 280 * s, y - 50 * s), (x + 40 * s, y - 50 * s)],
        fill=colour,
    )
    d.ellipse([x + 100 * s, y - 100 * s, x + 230 * s, y - 30 * s], fill=colour)
    angle = 25 if wrecked else 0
    d.line(
        [(x + 220 * s, y - 70 * s), (x + 400 * s, y - 70 * s - angle * s)],
        fill=(40, 45, 30),
        width=int(14 * s),
    )


def figure(d: Draw, x: int, y: int, scale: float = 1.0, colour=(85, 95, 60)) -> None:
    s = scale
    d.ellipse([x - 12 * s, y - 95 * s, x + 12 * s, y - 70 * s], fill=(200, 160, 130))
    d.rectangle([x - 18 * s, y - 70 * s, x + 18 * s, y - 20 * s], fill=colour)
    d.rectangle([x - 16 * s, y - 20 * s, x - 3 * s, y + 20 * s], fill=(60, 65, 45))
    d.rectangle([x + 3 * s, y - 20 * s, x + 16 * s, y + 20 * s], fill=(60, 65, 45))


def flag(d: Draw, x: int, y: int, w: int = 120, h: int = 80) -> None:
    d.rectangle([x, y, x + w, y + h // 2], fill=(0, 87, 183))
    d.rectangle([x, y + h // 2, x + w, y + h], fill=(255, 215, 0))


def river_tanks(d: Draw) -> None:
    sky_and_ground(d, (170, 190, 210), (96, 110, 70), 300)
    d.polygon([(0, 420), (1200, 380), (1200, 800), (0, 800)], fill=(70, 100, 120))
    tank(d, 180, 520, 1.1)
    tank(d, 700, 470, 0.8, colour=(80, 75, 50))
    d.rectangle([0, 585, 1200, 800], fill=(60, 92, 115))


def defeat(d: Draw) -> None:
    sky_and_ground(d, (150, 150, 150), (110, 100, 70), 330)
    tank(d, 120, 560, 0.9, colour=(60, 55, 45), wrecked=True)
    d.rectangle([650, 470, 1000, 580], fill=(70, 70, 60))
    d.rectangle([700, 420, 900, 470], fill=(60, 60, 55))
    for cx in (720, 930):
        d.ellipse([cx - 45, 550, cx + 45, 640], fill=(25, 25, 25))


def lunch(d: Draw) -> None:
    d.rectangle([0, 0, *SIZE], fill=(120, 100, 80))
    d.rectangle([150, 250, 1050, 650], fill=(150, 110, 70))
    for cx, cy in ((320, 380), (560, 360), (820, 400), (430, 530), (740, 540)):
        d.ellipse([cx - 80, cy - 50, cx + 80, cy + 50], fill=(235, 235, 225))
        d.ellipse([cx - 45, cy - 25, cx + 40, cy + 25], fill=(170, 110, 60))
    d.rectangle([960, 300, 1000, 420], fill=(90, 120, 60))


def munitions(d: Draw) -> None:
    sky_and_ground(d, (180, 185, 190), (100, 95, 70), 280)
    rng = random.Random(4)
    for _ in range(140):
        x, y = rng.randint(100, 1100), rng.randint(420, 760)
        d.rounded_rectangle([x, y, x + 90, y + 26], radius=12, fill=(150, 120, 50))
        d.ellipse([x + 76, y, x + 102, y + 26], fill=(180, 150, 70))
    for x in (200, 620):
        d.rectangle([x, 360, x + 220, 440], fill=(80, 90, 55))


def flag_mast(d: Draw) -> None:
    sky_and_ground(d, (120, 170, 225), (110, 120, 80), 560)
    d.rectangle([595, 120, 607, 700], fill=(180, 180, 180))
    flag(d, 607, 130, 260, 170)
    figure(d, 560, 700, 2.0)


def izium_flags(d: Draw) -> None:
    sky_and_ground(d, (140, 170, 210), (120, 115, 110), 330)
    d.rectangle([150, 330, 1050, 800], fill=(215, 205, 180))
    for x in range(200, 1000, 130):
        for y in (420, 600):
            d.rectangle([x, y, x + 70, y + 110], fill=(80, 90, 110))
    for i in range(5):
        x = 260 + i * 170
        figure(d, x, 320, 1.2)
        d.line([(x + 20, 320), (x + 20, 150)], fill=(90, 80, 60), width=5)
        flag(d, x + 20, 150, 90, 60)


def kupiansk(d: Draw) -> None:
    sky_and_ground(d, (160, 175, 190), (115, 105, 85), 380)
    for x, h in ((60, 200), (260, 260), (520, 180), (760, 240), (980, 210)):
        d.rectangle([x, 380 - h, x + 180, 380], fill=(170, 160, 150))
    for i in range(6):
        figure(d, 200 + i * 150, 700, 1.6, colour=(50, 60, 45))


def turret(d: Draw) -> None:
    sky_and_ground(d, (165, 160, 150), (95, 90, 70), 420)
    d.ellipse([380, 430, 820, 620], fill=(60, 60, 50))
    d.line([(760, 500), (1050, 420)], fill=(50, 50, 40), width=26)
    for r, c in ((160, (90, 90, 90)), (110, (120, 120, 120)), (70, (150, 150, 150))):
        d.ellipse([520 - r, 300 - r, 520 + r, 300 + r], fill=c)


SCENES: dict[str, Callable[[Draw], None]] = {
    "1": river_tanks,
    "2": defeat,
    "3": lunch,
    "4": munitions,
    "5": flag_mast,
    "6": izium_flags,
    "7": kupiansk,
    "8": turret,
}


def place_fields(place: str) -> dict[str, str]:
    """Split the table's place ("Izium, Ukraine", "Kharkiv region, Ukraine") into fields."""
    head, _, country = (p.strip() for p in place.rpartition(","))
    fields = {"country": country or head}
    if head and country:
        fields["province_state" if "region" in head.lower() else "city"] = head
    fields["country_code"] = "UKR"
    return fields


def make_photo(row: dict[str, str], mirror: bool = False, **extra: str) -> bytes:
    """Return JPEG bytes of one seed photo with XMP and IIM metadata (`extra` fields too);
    `mirror` draws the scene mirrored (another frame of it)."""
    im = Image.new("RGB", SIZE)
    SCENES[row["photo"]](ImageDraw.Draw(im))
    im = im.filter(ImageFilter.GaussianBlur(1.2))
    if mirror:
        im = im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)
    values: dict[str, str | list[str]] = {"caption": row["caption"]}
    if row["credit"]:
        values["credit"] = row["credit"]
    values["keywords"] = [k for k in row["keywords"].split(";") if k]
    values.update(place_fields(row["place"]))
    values["date_created"] = DATE
    values.update(extra)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=88, xmp=build_xmp(values))
    return embed_in_jpeg(buf.getvalue(), photoshop_resources(encode_iim(values)))


def wire_follow_ups(rows: list[dict[str, str]]) -> dict[str, bytes]:
    """Return what the wires send after the seed photos: a Reuters refile of its Kupiansk
    picture (the same pixels), the AFP turret reposted as "Instagram/@afp" (the same frame
    from another supplier), and an AFP picture with the kill notice that withdraws it."""
    by_credit = {row["credit"]: row for row in rows if row["credit"]}
    reuters, afp = by_credit["Reuters"], by_credit["AFP"]
    withdrawn = {**afp, "photo": by_credit["Channel 4"]["photo"], "credit": "AFP"}
    return {
        "reuters-refile.jpg": make_photo(
            {
                **reuters,
                "caption": "REFILE - ADDING REGION " + reuters["caption"] + ", Kharkiv region",
            }
        ),
        "instagram-repost.jpg": make_photo({**afp, "credit": "Instagram/@afp"}),
        "afp-munitions.jpg": make_photo(
            {**withdrawn, "caption": "Shells left behind near Balakliia"},
            mirror=True,
            transmission_reference="AFP33XY7QK",
        ),
        "afp-kill-notice.jpg": make_photo(
            {
                **withdrawn,
                "caption": "MANDATORY KILL - PICTURE AFP33XY7QK HAS BEEN WITHDRAWN: "
                "the location is wrong.",
            },
            mirror=True,
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=Path, default=DEFAULT_SEED, help="the seed captions.tsv")
    parser.add_argument("--out", type=Path, default=ROOT / "demo-photos", help="output folder")
    parser.add_argument(
        "--wire", type=Path, default=None, help="also write the wires' follow-ups here"
    )
    args = parser.parse_args()
    if not args.seed.is_file():
        print(f"error: seed table not found at {args.seed} (give --seed)", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    with args.seed.open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t"))
    for row in rows:
        slug = "-".join(row["caption"].lower().split()[:4]).replace("'", "")
        path = args.out / f"seed{row['photo']}-{slug}.jpg"
        path.write_bytes(make_photo(row))
    print(f"wrote {len(rows)} demo photos to {args.out}", file=sys.stderr)
    if args.wire:
        args.wire.mkdir(parents=True, exist_ok=True)
        follow_ups = wire_follow_ups(rows)
        for name, data in follow_ups.items():
            (args.wire / name).write_bytes(data)
        print(f"wrote {len(follow_ups)} wire follow-ups to {args.wire}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
