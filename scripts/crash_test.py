#!/usr/bin/env python3
"""Kill ingests with SIGKILL at random moments and check that the archive never loses,
duplicates or corrupts a photo.

It makes a few hundred photos with captions (IIM and XMP), then, --kills times, starts
`photoarchive ingest` (with worker processes), kills the whole process group at a random
moment and checks the archive: SQLite integrity_check is ok, every catalogued photo has its
original (whose bytes hash to its name) and both renditions, and no original anywhere is
half-written. Finally it runs the ingest to the end and checks that there is exactly one copy
of each photo, in the catalog, on disk and in the index, and no temporary file left.

    python scripts/crash_test.py [--photos 300] [--kills 25] [--seed 1]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image, ImageDraw

from photoarchive import open_archive
from photoarchive.metadata.iptc_writer import embed_in_jpeg, encode_iim, photoshop_resources
from photoarchive.metadata.xmp_writer import build_xmp
from photoarchive.store import TEMP_PREFIX

CREDITS = ("REUTERS/Gleb Garanich", "AFP", "Channel 4", "Twitter")


def make_photos(folder: Path, count: int, rng: random.Random) -> None:
    folder.mkdir(parents=True)
    for n in range(count):
        im = Image.new("RGB", (1600, 1067), (rng.randrange(256), rng.randrange(256), 90))
        draw = ImageDraw.Draw(im)
        for _ in range(12):
            x, y = rng.randrange(1500), rng.randrange(1000)
            draw.rectangle([x, y, x + 120, y + 60], fill=(rng.randrange(256), 40, 40))
        values = {
            "caption": f"Photo {n} of the crash test near Izium",
            "credit": CREDITS[n % 4],
            "keywords": ["crash", f"n{n}"],
        }
        buf = io.BytesIO()
        im.save(buf, "JPEG", quality=85, xmp=build_xmp(values))
        data = embed_in_jpeg(buf.getvalue(), photoshop_resources(encode_iim(values)))
        (folder / f"photo{n:04}.jpg").write_bytes(data)


def check(root: Path) -> dict[str, int]:
    """Return counts of what is wrong (all zero when the archive is sound)."""
    problems = {"integrity": 0, "lost": 0, "corrupt": 0, "half_written": 0}
    conn = sqlite3.connect(f"file:{root / 'catalog.sqlite'}?mode=ro", uri=True)
    if conn.execute("PRAGMA integrity_check").fetchone()[0] != "ok":
        problems["integrity"] = 1
    rows = conn.execute("SELECT sha256, ext FROM photos").fetchall()
    conn.close()
    for sha, ext in rows:
        original = root / "originals" / sha[:2] / f"{sha}.{ext}"
        renditions = [
            root / "renditions" / sha[:2] / f"{sha}-{k}.jpg" for k in ("thumb", "preview")
        ]
        if not original.exists() or not all(r.exists() for r in renditions):
            problems["lost"] += 1
            continue
        for rendition in renditions:
            try:
                with Image.open(rendition) as im:
                    im.load()
            except OSError:
                problems["corrupt"] += 1
    for path in (root / "originals").glob("*/*"):
        if path.name.startswith(TEMP_PREFIX):
            continue
        if hashlib.sha256(path.read_bytes()).hexdigest() != path.name.split(".")[0]:
            problems["half_written"] += 1
    return problems


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=300)
    parser.add_argument("--kills", type=int, default=25)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory() as tmp:
        photos, root = Path(tmp) / "photos", Path(tmp) / "archive"
        make_photos(photos, args.photos, rng)
        run = [sys.executable, "-m", "photoarchive", "--archive", str(root)]
        subprocess.run([*run, "init"], check=True, capture_output=True)
        ingest = [*run, "ingest", str(photos), "--jobs", "2"]
        started = time.monotonic()
        subprocess.run(ingest, check=True, capture_output=True)
        full = time.monotonic() - started
        print(f"{args.photos} photos; a whole ingest takes {full:.1f} s", file=sys.stderr)
        totals = {"integrity": 0, "lost": 0, "corrupt": 0, "half_written": 0}
        kills = temp_seen = 0
        while kills < args.kills:
            if _catalogued(root) >= args.photos:
                # Start over so each kill lands in the middle of real work.
                subprocess.run(["rm", "-rf", str(root)], check=True)
                subprocess.run([*run, "init"], check=True, capture_output=True)
            proc = subprocess.Popen(
                ingest, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
            )
            time.sleep(rng.uniform(0.2, full * 0.9))
            if proc.poll() is not None:
                continue
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            kills += 1
            found = check(root)
            temp_seen += sum(1 for _ in root.rglob(f"{TEMP_PREFIX}*"))
            for key, value in found.items():
                totals[key] += value
            print(
                f"kill {kills:2}: {_catalogued(root):4} catalogued, problems {found}",
                file=sys.stderr,
            )
        final = subprocess.run(ingest, capture_output=True, text=True)
        with open_archive(root) as arc:
            catalogued = arc.catalog.count()
            on_disk = sum(1 for _ in arc.store.iter_originals())
            indexed = len(arc.index.all_hashes())
            report = arc.verify()
        leftover = sum(1 for _ in root.rglob(f"{TEMP_PREFIX}*"))
        end = check(root)
    print(f"kills: {kills}")
    print(
        f"after each kill: integrity failures {totals['integrity']}, photos lost "
        f"{totals['lost']}, corrupt renditions {totals['corrupt']}, half-written originals "
        f"{totals['half_written']}; temporary files left by kills {temp_seen}"
    )
    print(
        f"final ingest exit {final.returncode}: {catalogued} catalogued, {on_disk} originals, "
        f"{indexed} indexed for {args.photos} photos; duplicates "
        f"{catalogued - args.photos + (on_disk - catalogued)}; temporary files left {leftover}; "
        f"verify {'ok' if report.ok else 'FAILED'}"
    )
    sound = (
        not any(totals.values())
        and not any(end.values())
        and final.returncode == 0
        and catalogued == on_disk == indexed == args.photos
        and leftover == 0
        and report.ok
    )
    print("RESULT: " + ("zero lost, zero duplicated, zero corrupt" if sound else "PROBLEMS FOUND"))
    return 0 if sound else 1


def _catalogued(root: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{root / 'catalog.sqlite'}?mode=ro", uri=True)
        count = int(conn.execute("SELECT count(*) FROM photos").fetchone()[0])
        conn.close()
        return count
    except sqlite3.Error:
        return 0


if __name__ == "__main__":
    sys.exit(main())
