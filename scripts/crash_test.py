#!/usr/bin/env python3
"""Kill writers with SIGKILL at random moments and check that the archive never loses,
duplicates or corrupts a photo or an edit, and that search keeps agreeing with the catalog.

Part 1, ingest: it makes a few hundred photos with captions (IIM and XMP), then, --kills
times, starts `photoarchive ingest` (with worker processes), kills the whole process group at
a random moment and checks the archive: SQLite integrity_check is ok, every catalogued photo
has its original (whose bytes hash to its name) and both renditions, and no original anywhere
is half-written. Finally it runs the ingest to the end and checks that there is exactly one
copy of each photo, in the catalog, on disk and in the index, and no temporary file left.

Part 2, the other writers: on one archive of small photos (400x300), --kills-each times each,
it starts a victim -- `reindex`, `edit --revision`, `verify --repair --prune` (with an old
orphan file planted for it to delete), `export` of every photo, `watch --once` on a folder of
new files -- while an `ingest --jobs 2 --json` of other new photos runs beside it (and, beside
reindex, verify and export, a stream of `show --json` + `edit --revision` commands), kills the
victim's whole process group at a random moment, lets the others finish, runs one more ingest
of new photos (the desk's ingests go on after a kill: what a killed writer leaves for "the
next writer" must meet one) and checks, first without any repair:
  - photos lost: every photo an ingest (or the watch) reported new, or that was catalogued
    before, is catalogued with its original (hashing to its name) and both renditions;
  - edits lost: every edit that exited 0 is in the catalog and in its photo's history (read
    as `show --json --history` reads it), a killed edit is wholly there in `show --json
    --history` (value, history entry, revision + 1) or wholly absent, every caption is the one
    the desk last gave it, and the catalog holds exactly the edits made;
  - search = catalog: `search WORD --json` for a word in every caption returns exactly the
    catalog's current ids, and for a sample of photos (every one edited in the round among
    them) the unique word of its caption finds exactly it and words of replaced captions
    find nothing;
  - verify clean: `photoarchive verify` exits 0 (when not, `verify --repair` is run and the
    checks again, to tell whether it mends what was found);
  - export: every file in the export folder decodes whole, no temporary file is left;
  - watch: every file the killed watch reported is catalogued, and a restarted `watch --once`
    moves every file to done/ with its photo catalogued once.

Part 3, faults: with catalog.sqlite deleted, then truncated to 0 bytes, every command
(including `verify --repair --prune`) must exit 1 with one `Error:` line and delete or create
nothing; with index/ deleted, `search` and `ingest` must exit 1 saying to run reindex, and
`reindex` must bring back identical search results.

Prints a summary line per victim and a final RESULT line; exits 1 if anything was lost, wrong
or unclean.

    python scripts/crash_test.py [--photos 200] [--kills 25] [--kills-each 20] [--seed 1]
    python scripts/crash_test.py --quick        # a smoke run of every part, well under a minute
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, ImageDraw

from photoarchive import open_archive
from photoarchive.archive import STORAGE_VARIABLE
from photoarchive.atomic import TEMP_PREFIX
from photoarchive.metadata.iptc_writer import embed_in_jpeg, encode_iim, photoshop_resources
from photoarchive.metadata.xmp_writer import build_xmp
from photoarchive.store import ORIGINALS

CREDITS = ("REUTERS/Gleb Garanich", "AFP", "Channel 4", "Twitter")
RENDITIONS = ("thumb", "preview")
CLI = [sys.executable, "-m", "photoarchive"]
VICTIMS = ("reindex", "edit", "verify", "export", "watch")
#: Victims beside which a stream of edits runs too.
WITH_EDIT_STREAM = ("reindex", "verify", "export")
#: A word in every caption of part 2: a search for it lists every photo.
EVERY = "Izium"
#: Letters of the unique caption words: no vowels, and none a stemmer strips ("s", "y", "l").
_LETTERS = "bcdfghjkmnpqrtvwz"
#: Counts of a victim's extra findings that are problems (the others only inform).
PROBLEM_COUNTS = ("partial files", "temporary files")
#: Seconds a victim may run unkilled (its first round, which times it) before it is killed.
KILL_TIMEOUT = 120.0


# -- part 1: ingest kills -------------------------------------------------------------------


def make_photos(folder: Path, count: int, rng: random.Random) -> None:
    folder.mkdir(parents=True)
    for n in range(count):
        im = Image.new("RGB", (1600, 1067), (rng.randrange(256), rng.randrange(256), 90))
        draw = ImageDraw.Draw(im)
        for _ in range(12):
            x, y = rng.randrange(1500), rng.randrange(1000)
            draw.rectangle([x, y, x + 120, y + 60], fill=(rng.randrange(256), 40, 40))
        values: dict[str, str | list[str]] = {
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


def ingest_kills(work: Path, photo_count: int, kill_count: int, rng: random.Random) -> bool:
    """Part 1: kill ingests; print the findings and return True if the archive stayed sound."""
    photos, root = work / "photos", work / "ingest-archive"
    make_photos(photos, photo_count, rng)
    run = [*CLI, "--archive", str(root)]
    subprocess.run([*run, "init"], check=True, capture_output=True)
    ingest = [*run, "ingest", str(photos), "--jobs", "2"]
    started = time.monotonic()
    subprocess.run(ingest, check=True, capture_output=True)
    full = time.monotonic() - started
    log(f"{photo_count} photos; a whole ingest takes {full:.1f} s")
    totals = {"integrity": 0, "lost": 0, "corrupt": 0, "half_written": 0}
    kills = temp_seen = 0
    while kills < kill_count:
        if _catalogued(root) >= photo_count:
            # Start over so each kill lands in the middle of real work.
            shutil.rmtree(root)
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
        log(f"ingest kill {kills:2}: {_catalogued(root):4} catalogued, problems {found}")
    final = subprocess.run(ingest, capture_output=True, text=True)
    with open_archive(root) as arc:
        catalogued = arc.catalog.count()
        on_disk = sum(1 for _ in arc.store.objects(ORIGINALS))
        indexed = len(arc.index.all_hashes())
        report = arc.verify()
    leftover = sum(1 for _ in root.rglob(f"{TEMP_PREFIX}*"))
    end = check(root)
    shutil.rmtree(photos)
    shutil.rmtree(root)
    print(f"ingest kills: {kills}")
    print(
        f"after each kill: integrity failures {totals['integrity']}, photos lost "
        f"{totals['lost']}, corrupt renditions {totals['corrupt']}, half-written originals "
        f"{totals['half_written']}; temporary files left by kills {temp_seen}"
    )
    print(
        f"final ingest exit {final.returncode}: {catalogued} catalogued, {on_disk} originals, "
        f"{indexed} indexed for {photo_count} photos; duplicates "
        f"{catalogued - photo_count + (on_disk - catalogued)}; temporary files left {leftover}; "
        f"verify {'ok' if report.ok else 'FAILED'}",
        flush=True,
    )
    return (
        not any(totals.values())
        and not any(end.values())
        and final.returncode == 0
        and catalogued == on_disk == indexed == photo_count
        and leftover == 0
        and report.ok
    )


def _catalogued(root: Path) -> int:
    try:
        conn = sqlite3.connect(f"file:{root / 'catalog.sqlite'}?mode=ro", uri=True)
        count = int(conn.execute("SELECT count(*) FROM photos").fetchone()[0])
        conn.close()
        return count
    except sqlite3.Error:
        return 0


# -- part 2: the desk (what the archive must hold) and its photos ----------------------------


@dataclass
class Photo:
    """A photo this test made: its hash and the caption the archive must now give it."""

    sha: str
    caption: str
    word: str


@dataclass
class EditTry:
    """One edit command and how it ended."""

    id: str
    caption: str
    word: str
    revision: int
    returncode: int
    stderr: str


class Desk:
    """The archive under test and the test's own account of what it must hold."""

    def __init__(self, root: Path, work: Path, rng: random.Random, debug: bool = True) -> None:
        self.root = root
        self.work = work
        self.rng = rng
        #: Commands run with PHOTOARCHIVE_DEBUG=1 (an internal error shows its traceback),
        #: except where the exact error output is what is checked.
        self.env = dict(os.environ)
        if debug:
            self.env["PHOTOARCHIVE_DEBUG"] = "1"
        else:
            self.env.pop("PHOTOARCHIVE_DEBUG", None)
        #: Every photo made, by id; `expected` are the ids that must be catalogued.
        self.photos: dict[str, Photo] = {}
        self.expected: set[str] = set()
        #: Edits the catalog must hold (each edit of a caption is one row).
        self.edits_applied = 0
        #: Words of captions replaced since the last check: a search for them finds nothing.
        self.retired: list[str] = []
        #: Photos whose caption changed since the last check (sampled in the search check).
        self.touched: set[str] = set()
        #: Photos whose renditions have been decoded whole once.
        self.decoded: set[str] = set()
        self._words = 0
        self._files = 0
        self._lock = threading.Lock()

    def cli(self, *args: str) -> list[str]:
        """Return the command line of `photoarchive --archive ROOT ARGS...`."""
        return [*CLI, "--archive", str(self.root), *args]

    def run(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        """Run a photoarchive command to its end."""
        return subprocess.run(
            self.cli(*args), capture_output=True, text=True, timeout=timeout, env=self.env
        )

    def word(self, prefix: str) -> str:
        """Return a new word no caption has had (fixed length, so no word holds another)."""
        with self._lock:
            n = self._words
            self._words += 1
        letters = ""
        for _ in range(5):
            n, digit = divmod(n, len(_LETTERS))
            letters += _LETTERS[digit]
        return f"{prefix}{letters}x"

    def make_batch(self, folder: Path, count: int) -> list[str]:
        """Write `count` new small captioned photos into `folder`; return their ids."""
        folder.mkdir(parents=True, exist_ok=True)
        ids = []
        for _ in range(count):
            self._files += 1
            word = self.word("q")
            caption = f"Photo {word} of the crash test near {EVERY}"
            data = small_photo(self.rng, caption, self._files)
            sha = hashlib.sha256(data).hexdigest()
            (folder / f"p{self._files:05}.jpg").write_bytes(data)
            self.photos[sha[:12]] = Photo(sha, caption, word)
            ids.append(sha[:12])
        return ids

    def edited(self, photo_id: str, caption: str, word: str) -> None:
        """Note that an edit of the photo's caption is in the archive."""
        photo = self.photos[photo_id]
        self.retired.append(photo.word)
        photo.caption, photo.word = caption, word
        self.edits_applied += 1
        self.touched.add(photo_id)

    def show(self, photo_id: str, history: bool = False) -> dict[str, Any] | None:
        """Return `show ID --json [--history]`, None if it fails."""
        args = ["show", photo_id, "--json"] + (["--history"] if history else [])
        done = self.run(*args)
        if done.returncode != 0:
            log(f"  show {photo_id} failed: {done.stderr.strip()}")
            return None
        data: dict[str, Any] = json.loads(done.stdout)
        return data


def small_photo(rng: random.Random, caption: str, n: int) -> bytes:
    """Return a 400x300 JPEG with its caption in IIM and XMP; pixels differ for every n."""
    im = Image.new("RGB", (400, 300), (rng.randrange(256), rng.randrange(256), 90))
    draw = ImageDraw.Draw(im)
    for _ in range(8):
        x, y = rng.randrange(370), rng.randrange(280)
        draw.rectangle([x, y, x + 30, y + 16], fill=(rng.randrange(256), 40, 40))
    draw.text((10, 10), str(n), fill=(255, 255, 255))
    values: dict[str, str | list[str]] = {
        "caption": caption,
        "credit": CREDITS[n % 4],
        "keywords": ["crash"],
    }
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=80, xmp=build_xmp(values))
    return embed_in_jpeg(buf.getvalue(), photoshop_resources(encode_iim(values)))


class EditStream:
    """Edits captions one after another (show --json, then edit --revision) until stopped."""

    def __init__(self, desk: Desk, ids: list[str], seed: int) -> None:
        self.desk = desk
        self.ids = ids
        self.rng = random.Random(seed)
        self.tries: list[EditTry] = []
        self.failures: list[str] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> EditStream:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join()

    def _run(self) -> None:
        while not self.stop.is_set():
            photo_id = self.rng.choice(self.ids)
            shown = self.desk.run("show", photo_id, "--json")
            if shown.returncode != 0:
                self.failures.append(f"show {photo_id}: {shown.stderr.strip()}")
                self.stop.wait(0.5)
                continue
            revision = int(json.loads(shown.stdout)["revision"])
            word = self.desk.word("v")
            caption = f"Edited {word} of the crash test near {EVERY}"
            edit = ["edit", photo_id, "--caption", caption, "--by", "stream"]
            done = self.desk.run(*edit, "--revision", str(revision))
            self.tries.append(
                EditTry(photo_id, caption, word, revision, done.returncode, done.stderr.strip())
            )
            self.stop.wait(0.25)


# -- part 2: one round -----------------------------------------------------------------------


@dataclass
class Round:
    """What one round of a victim found."""

    killed: bool
    duration: float
    lost: int = 0
    edits_lost: int = 0
    search_ok: bool = True
    verify_ok: bool = True
    #: When verify or search was not clean: whether `verify --repair` made both right.
    repaired: bool | None = None
    #: When not clean: what verify and search found (verify's keys, "search differs").
    unclean: list[str] = field(default_factory=list)
    #: Other failures (an ingest or edit beside that failed, a victim that failed unkilled).
    other: list[str] = field(default_factory=list)
    extra: dict[str, int] = field(default_factory=dict)
    #: Seconds spent letting the others finish after the kill, and checking.
    timing: dict[str, float] = field(default_factory=dict)


@contextlib.contextmanager
def group_killed_on_exit(procs: list[subprocess.Popen[Any]]) -> Iterator[None]:
    """Kill the process groups of `procs` still running when the block ends (an error in
    this script must not leave writers running)."""
    try:
        yield
    finally:
        for proc in procs:
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def play_round(desk: Desk, victim: str, number: int, delay: float, round_photos: int) -> Round:
    """Start an ingest beside (and an edit stream), start the victim, kill its process
    group after `delay` seconds unless it has finished, let the rest finish, check."""
    work = desk.work / f"{victim}{number:03}"
    work.mkdir()
    before = sorted(desk.expected)
    beside_ids = desk.make_batch(work / "beside", round_photos)
    after_ids = desk.make_batch(work / "after", max(1, round_photos // 2))
    problems: list[str] = []
    extra: dict[str, int] = {}
    # What the victim needs, made before anything starts.
    target = ""
    edit_from: dict[str, Any] = {}
    orphan: Path | None = None
    if victim == "reindex":
        args = ["reindex"]
    elif victim == "edit":
        target = desk.rng.choice(before)
        shown = desk.show(target)
        assert shown is not None
        word = desk.word("k")
        edit_from = {
            "revision": int(shown["revision"]),
            "caption": shown["caption"],
            "new": f"Killed-edit {word} of the crash test near {EVERY}",
            "word": word,
        }
        args = ["edit", target, "--caption", edit_from["new"], "--by", "victim"]
        args += ["--revision", str(edit_from["revision"])]
    elif victim == "verify":
        orphan = plant_orphan(desk)
        args = ["verify", "--repair", "--prune"]
    elif victim == "export":
        args = ["export", EVERY, "--to", str(work / "export")]
    else:
        desk.make_batch(work / "watch", round_photos)
        args = ["watch", str(work / "watch"), "--once", "--settle", "0.1", "--poll", "0.1"]
        args += ["--patience", "1"]
    out_path, err_path = work / "victim.out", work / "victim.err"
    procs: list[subprocess.Popen[Any]] = []
    stream: EditStream | None = None
    with contextlib.ExitStack() as stack:
        stack.enter_context(group_killed_on_exit(procs))
        out = stack.enter_context(out_path.open("wb"))
        err = stack.enter_context(err_path.open("wb"))
        beside = subprocess.Popen(
            desk.cli("ingest", str(work / "beside"), "--jobs", "2", "--json"),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
            env=desk.env,
        )
        procs.append(beside)
        if victim in WITH_EDIT_STREAM:
            stream = stack.enter_context(EditStream(desk, before, desk.rng.randrange(1 << 30)))
        time.sleep(desk.rng.uniform(0.0, 0.3))
        started = time.monotonic()
        proc = subprocess.Popen(
            desk.cli(*args), stdout=out, stderr=err, start_new_session=True, env=desk.env
        )
        procs.append(proc)
        killed = _kill_after(proc, delay)
        duration = time.monotonic() - started
        beside_out, beside_err = beside.communicate(timeout=600)
        # The desk's ingests go on after the kill (a hot folder writes all day): one more
        # beside ingest, so what a killed writer left for "the next writer" meets one.
        after = subprocess.run(
            desk.cli("ingest", str(work / "after"), "--jobs", "2", "--json"),
            capture_output=True,
            text=True,
            env=desk.env,
            timeout=600,
        )
    victim_err = err_path.read_text(errors="replace")
    if not killed and proc.returncode != 0:
        problems.append(f"{victim} failed without a kill: {_last_line(victim_err)}")
        log(f"  {victim} {' '.join(args)} exit {proc.returncode}:\n{_tail(victim_err)}")
    # The ingest beside: every file new, under the id its bytes give.
    problems += beside_outcomes(desk, beside.returncode, beside_out, beside_err, beside_ids)
    problems += beside_outcomes(desk, after.returncode, after.stdout, after.stderr, after_ids)
    edit_tries = stream.tries if stream else []
    if stream:
        problems += stream.failures
    for attempt in edit_tries:
        if attempt.returncode == 0:
            desk.edited(attempt.id, attempt.caption, attempt.word)
        else:
            problems.append(f"edit {attempt.id} beside failed: {_last_line(attempt.stderr)}")
            log(f"  edit {attempt.id} beside exit {attempt.returncode}:\n{_tail(attempt.stderr)}")
    result = Round(killed=killed, duration=duration, other=problems, extra=extra)
    if victim == "edit":
        result.edits_lost += judge_killed_edit(desk, target, edit_from, killed, proc.returncode)
    elif victim == "verify":
        assert orphan is not None
        extra["orphans pruned"] = int(not orphan.exists())
        orphan.unlink(missing_ok=True)  # the test's own plant: not left for verify to report
    elif victim == "export":
        extra.update(check_export(work / "export"))
    elif victim == "watch":
        problems += settle_watch(desk, work / "watch", victim_err, extra)
    checked = time.monotonic()
    audit(desk, result, [a for a in edit_tries if a.returncode == 0])
    result.timing = {
        "settle": checked - started - duration,
        "audit": time.monotonic() - checked,
    }
    shutil.rmtree(work, ignore_errors=True)
    return result


def _kill_after(proc: subprocess.Popen[Any], delay: float) -> bool:
    """Kill the process group of `proc` after `delay` s; True if SIGKILL ended it."""
    try:
        proc.wait(timeout=delay)
        return False
    except subprocess.TimeoutExpired:
        pass
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    return proc.returncode == -signal.SIGKILL


def _timed(command: list[str]) -> float:
    """Return the seconds a command takes to run to its end."""
    started = time.monotonic()
    subprocess.run(command, capture_output=True, check=False)
    return time.monotonic() - started


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join("    " + line for line in text.strip().splitlines()[-lines:])


def _last_line(text: str) -> str:
    lines = text.strip().splitlines()
    return lines[-1] if lines else "(no message)"


def plant_orphan(desk: Desk) -> Path:
    """Put an old original that no photo owns into the store, for --prune to delete."""
    data = small_photo(desk.rng, "an orphan nobody catalogued", 0)
    sha = hashlib.sha256(data).hexdigest()
    path = desk.root / "originals" / sha[:2] / f"{sha}.jpg"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(data)
    hour_ago = time.time() - 3600
    os.utime(path, (hour_ago, hour_ago))
    return path


def beside_outcomes(desk: Desk, returncode: int, out: str, err: str, ids: list[str]) -> list[str]:
    """Take the ingest beside's outcomes: its new photos must be catalogued from now on."""
    problems = []
    if returncode != 0:
        problems.append(f"ingest beside exit {returncode}: {_last_line(err)}")
        log(f"  ingest beside exit {returncode}:\n{_tail(err)}")
    try:
        outcomes: list[dict[str, Any]] = json.loads(out) if out.strip() else []
    except ValueError:
        return [*problems, "ingest beside printed no JSON"]
    for outcome in outcomes:
        if outcome["status"] == "new":
            desk.expected.add(outcome["id"])
            if outcome["id"] not in ids:
                problems.append(f"ingest beside: {outcome['path']} new as unknown {outcome['id']}")
        else:
            problems.append(
                f"ingest beside: {outcome['path']} {outcome['status']}: {outcome['reason']}"
            )
    if len(outcomes) != len(ids):
        problems.append(f"ingest beside reported {len(outcomes)} of {len(ids)} files")
    return problems


def judge_killed_edit(
    desk: Desk, photo_id: str, before: dict[str, Any], killed: bool, returncode: int | None
) -> int:
    """Return 1 if the victim edit is partly there (or, unkilled and exit 0, missing)."""
    shown = desk.show(photo_id, history=True)
    if shown is None:
        return 1
    new = before["new"]
    in_history = any(
        e["field"] == "caption" and e["new"] == new
        for v in shown["history"]["versions"]
        for e in v["edits"]
    )
    revision = int(shown["revision"])
    whole = shown["caption"] == new and in_history and revision == before["revision"] + 1
    absent = (
        shown["caption"] == before["caption"] and not in_history and revision == before["revision"]
    )
    if whole:
        desk.edited(photo_id, new, before["word"])
    else:
        desk.retired.append(before["word"])  # absent: its word must find nothing
        desk.touched.add(photo_id)
    if whole or (absent and (killed or returncode != 0)):
        return 0
    log(
        f"  killed edit of {photo_id} is partly there: caption {shown['caption']!r}, in "
        f"history {in_history}, revision {revision} (was {before['revision']})"
    )
    return 1


def check_export(folder: Path) -> dict[str, int]:
    """Count the export folder's files: complete, partial (do not decode), temporary."""
    counts = {"exported files": 0, "partial files": 0, "temporary files": 0}
    if not folder.is_dir():
        return counts
    for path in sorted(folder.iterdir()):
        if path.name.startswith(TEMP_PREFIX):
            counts["temporary files"] += 1
            continue
        counts["exported files"] += 1
        try:
            with Image.open(path) as im:
                im.load()
        except OSError:
            counts["partial files"] += 1
            log(f"  partial export: {path.name} ({path.stat().st_size} bytes)")
    return counts


def settle_watch(desk: Desk, folder: Path, victim_err: str, extra: dict[str, int]) -> list[str]:
    """Take what the killed watch reported, run the watch again to the end, and check that
    every file went to done/ and is catalogued."""
    problems = []
    reported = 0
    for line in victim_err.splitlines():
        # "new: p00012.jpg (3f9a2c...)": reported files are catalogued and moved aside.
        status, _, rest = line.partition(": ")
        if status in ("new", "duplicate") and rest.endswith(")"):
            desk.expected.add(rest.rsplit("(", 1)[1][:-1])
            reported += 1
    extra["files reported before the kill"] = reported
    again = desk.run("watch", str(folder), "--once", "--settle", "0.1", "--poll", "0.1")
    if again.returncode != 0:
        problems.append(f"watch after the kill exit {again.returncode}: {_last_line(again.stderr)}")
    left = [p.name for p in folder.iterdir() if p.is_file()]
    rejected = [p.name for p in (folder / "rejected").glob("*")]
    if left or rejected:
        problems.append(f"watch left {left} in the folder and {rejected} in rejected/")
    done = list((folder / "done").glob("*"))
    for path in done:
        desk.expected.add(hashlib.sha256(path.read_bytes()).hexdigest()[:12])
    extra["files in done/ after a restart"] = len(done)
    return problems


# -- part 2: the checks after each round -----------------------------------------------------


def audit(desk: Desk, result: Round, edits: list[EditTry]) -> None:
    """Check photos, edits, search and verify (first without repair); fill in `result`."""
    root = desk.root
    # verify and the search for every photo run beside the checks made here.
    verifying = Pending(desk, "verify", "--json")
    listing = Pending(desk, "search", EVERY, "--json", "--limit", "10000")
    conn = sqlite3.connect(f"file:{root / 'catalog.sqlite'}?mode=ro", uri=True)
    integrity = conn.execute("PRAGMA integrity_check").fetchone()[0]
    rows = conn.execute("SELECT id, sha256, ext, caption FROM photos").fetchall()
    current = {
        row[0]
        for row in conn.execute(
            "SELECT p.id FROM photos p JOIN pictures c ON c.current_sha256 = p.sha256 "
            "WHERE c.killed_at IS NULL"
        )
    }
    edit_rows = int(conn.execute("SELECT count(*) FROM edits").fetchone()[0])
    pending = {r[0] for r in conn.execute("SELECT id FROM photos WHERE needs_index = 1")}
    conn.close()
    if integrity != "ok":
        result.other.append(f"SQLite integrity_check: {integrity}")
    catalog = {r[0]: (r[1], r[2], r[3]) for r in rows}
    # Photos lost: each one that must be there is catalogued, with its files whole.
    lost = sorted(desk.expected - set(catalog))
    if lost:
        log(f"  photos not catalogued: {lost}")
    result.lost = len(lost) + check_files(desk, catalog)
    unknown = set(catalog) - set(desk.photos)
    if unknown:
        result.other.append(f"{len(unknown)} catalogued photos this test never made")
    # Edits lost: every caption is the one last given; the catalog holds exactly the edits
    # made; every edit that exited 0 is in its photo's history.
    for photo_id, (_, _, caption) in catalog.items():
        photo = desk.photos.get(photo_id)
        if photo is not None and caption != photo.caption:
            result.edits_lost += 1
            log(f"  {photo_id} says {caption!r}, the desk last gave it {photo.caption!r}")
    if edit_rows != desk.edits_applied:
        result.edits_lost += abs(edit_rows - desk.edits_applied)
        log(f"  the catalog holds {edit_rows} edits, {desk.edits_applied} were made")
    by_photo: dict[str, list[str]] = {}
    for attempt in edits:
        by_photo.setdefault(attempt.id, []).append(attempt.caption)
    if by_photo:
        # What `show ID --json --history` prints, read through the same library calls.
        from photoarchive.history import picture_history

        with open_archive(root, readonly=True) as arc:
            for photo_id, captions in by_photo.items():
                history = {
                    e["new"]
                    for v in picture_history(arc, photo_id)["versions"]
                    for e in v["edits"]
                    if e["field"] == "caption"
                }
                missing = [c for c in captions if c not in history]
                if missing:
                    result.edits_lost += len(missing)
                    log(f"  {photo_id}: edits that exited 0 missing from its history: {missing}")
    # Search = catalog, and verify, as the run left the archive (nothing repaired).
    result.search_ok = search_matches(desk, current, listing.result())
    found = verify_findings(verifying.result())
    result.verify_ok = found is None
    if found is not None:
        log(f"  verify not clean: {found}")
        result.unclean += sorted(_kind(k, v) for k, v in found.items())
    if not result.search_ok:
        result.unclean.append("search differs")
    if result.unclean:
        if pending:
            # The catalog flags a photo until the index has it; the next writer finishes it.
            result.unclean.append("catalog flags the photo pending")
            log(f"  the catalog flags {sorted(pending)} as waiting for the index")
        fixed = verify_findings(desk.run("verify", "--json", "--repair"))
        result.repaired = (
            fixed is None
            and verify_findings(desk.run("verify", "--json")) is None
            and search_matches(desk, current, desk.run(*listing.args))
        )
        log(f"  verify --repair {'mends it' if result.repaired else 'does NOT mend it'}")
    desk.expected |= set(catalog) & set(desk.photos)
    desk.retired.clear()
    desk.touched.clear()


class Pending:
    """A read-only photoarchive command started now, its result taken later."""

    def __init__(self, desk: Desk, *args: str) -> None:
        self.args = args
        self.proc = subprocess.Popen(
            desk.cli(*args), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    def result(self) -> subprocess.CompletedProcess[str]:
        out, err = self.proc.communicate(timeout=300)
        return subprocess.CompletedProcess(self.proc.args, self.proc.returncode, out, err)


def check_files(desk: Desk, catalog: dict[str, tuple[str, str, str]]) -> int:
    """Count catalogued photos whose original is missing or does not hash to its name, or
    whose renditions are missing (or, the first time they are seen, do not decode); and
    originals anywhere that are half-written."""
    root = desk.root
    bad = 0
    for photo_id, (sha, ext, _) in catalog.items():
        original = root / "originals" / sha[:2] / f"{sha}.{ext}"
        renditions = [root / "renditions" / sha[:2] / f"{sha}-{k}.jpg" for k in RENDITIONS]
        if not original.exists() or not all(r.exists() for r in renditions):
            bad += 1
            log(f"  {photo_id}: original or rendition missing")
            continue
        if photo_id in desk.decoded:
            continue
        try:
            for rendition in renditions:
                with Image.open(rendition) as im:
                    im.load()
            desk.decoded.add(photo_id)
        except OSError:
            bad += 1
            log(f"  {photo_id}: a rendition does not decode")
    for path in (root / "originals").glob("*/*"):
        if path.name.startswith(TEMP_PREFIX):
            continue
        if hashlib.sha256(path.read_bytes()).hexdigest() != path.name.split(".")[0]:
            bad += 1
            log(f"  {path.name}: half-written or damaged original")
    return bad


def search_matches(desk: Desk, current: set[str], done: subprocess.CompletedProcess[str]) -> bool:
    """True if the search for the word every caption has (`done`) listed exactly the
    current photos, and a sample of unique words (and words of replaced captions) find
    what they should."""
    if done.returncode != 0:
        log(f"  search failed: {_last_line(done.stderr)}")
        return False
    listed = [r["id"] for r in json.loads(done.stdout)]
    ok = True
    if set(listed) != current or len(listed) != len(current):
        missing, extra = sorted(current - set(listed)), sorted(set(listed) - current)
        log(
            f"  search {EVERY!r} lists {len(listed)} photos, the catalog {len(current)}: "
            f"missing {missing[:5]}, extra {extra[:5]}"
        )
        ok = False
    known = sorted(current & set(desk.photos))
    sample = set(desk.touched) | set(desk.rng.sample(known, min(5, len(known))))
    with open_archive(desk.root, readonly=True) as arc:
        for photo_id in sorted(sample & set(known)):
            word = desk.photos[photo_id].word
            hits = [r.record.id for r in arc.search(word, limit=10).results]
            if hits != [photo_id]:
                log(f"  search {word!r} (of {photo_id}'s caption) finds {hits}")
                ok = False
        for word in desk.retired:
            hits = [r.record.id for r in arc.search(word, limit=10).results]
            if hits:
                log(f"  search {word!r} (of a replaced caption) still finds {hits}")
                ok = False
    return ok


def verify_findings(done: subprocess.CompletedProcess[str]) -> dict[str, Any] | None:
    """Return None if `verify --json` found the archive clean, else what it found."""
    try:
        report: dict[str, Any] = json.loads(done.stdout)
    except ValueError:
        return {"exit": f"{done.returncode}: {_last_line(done.stderr)}"}
    if done.returncode == 0 and report.get("ok"):
        return None
    ignored = ("ok", "checked", "in_flight", "repaired")
    wrong = {k: v for k, v in report.items() if v and k not in ignored}
    return wrong or {"exit": f"{done.returncode}: {_last_line(done.stderr)}"}


def _kind(key: str, value: Any) -> str:
    """Name a kind of verify finding, e.g. 'index_stale', 'temp_files (index.rebuild)'."""
    if key == "temp_files" and isinstance(value, list):
        names = sorted({Path(v).name if "index." in Path(v).name else "store" for v in value})
        return f"temp_files ({', '.join(names)})"
    return key


# -- part 2: the victims ---------------------------------------------------------------------


@dataclass
class Tally:
    """A victim's rounds, added up."""

    kills: int = 0
    completed: int = 0
    lost: int = 0
    edits_lost: int = 0
    search_ok: int = 0
    verify_ok: int = 0
    repaired: int = 0
    not_repaired: int = 0
    #: How many rounds were left unclean by each kind of finding.
    unclean: dict[str, int] = field(default_factory=dict)
    other: list[str] = field(default_factory=list)
    extra: dict[str, int] = field(default_factory=dict)

    def add(self, r: Round) -> None:
        self.kills += r.killed
        self.completed += not r.killed
        self.lost += r.lost
        self.edits_lost += r.edits_lost
        self.search_ok += r.search_ok
        self.verify_ok += r.verify_ok
        self.repaired += r.repaired is True
        self.not_repaired += r.repaired is False
        for kind in r.unclean:
            self.unclean[kind] = self.unclean.get(kind, 0) + 1
        self.other += r.other
        for key, value in r.extra.items():
            self.extra[key] = self.extra.get(key, 0) + value

    @property
    def rounds(self) -> int:
        return self.kills + self.completed

    @property
    def sound(self) -> bool:
        return (
            self.lost == 0
            and self.edits_lost == 0
            and self.search_ok == self.verify_ok == self.rounds
            and not self.other
            and not any(self.extra.get(k) for k in PROBLEM_COUNTS)
        )

    def summary(self, victim: str) -> str:
        line = (
            f"{victim}: {self.kills} kills, {self.lost} photos lost, {self.edits_lost} edits "
            f"lost, search = catalog {self.search_ok}/{self.rounds}, verify clean "
            f"{self.verify_ok}/{self.rounds}"
        )
        if self.completed:
            line += f" ({self.completed} runs ended before their kill, checked too)"
        if self.repaired or self.not_repaired:
            kinds = ", ".join(f"{k} {n}" for k, n in sorted(self.unclean.items()))
            line += (
                f"; rounds not clean before any repair: {kinds}; verify --repair mended "
                f"{self.repaired}/{self.repaired + self.not_repaired}"
            )
        for key, value in self.extra.items():
            line += f"; {key} {value}"
        if self.other:
            line += f"; {len(self.other)} other failures"
        return line


def victim_kills(
    work: Path,
    kills_each: int,
    base_photos: int,
    round_photos: int,
    victims: list[str],
    rng: random.Random,
) -> tuple[dict[str, Tally], Desk]:
    """Part 2: kill each victim `kills_each` times beside an ingest; print a summary line
    for each and return the tallies and the desk."""
    root = work / "archive"
    desk = Desk(root, work / "rounds", rng)
    desk.work.mkdir()
    subprocess.run(desk.cli("init"), check=True, capture_output=True)
    ids = desk.make_batch(work / "base", base_photos)
    done = desk.run("ingest", str(work / "base"), "--jobs", "2")
    if done.returncode != 0:
        raise SystemExit(f"the first ingest failed: {done.stderr}")
    desk.expected.update(ids)
    shutil.rmtree(work / "base")
    # Before this a command has only started Python and the command line: a kill then
    # tests nothing, so kills land between this and the end of a run.
    startup = min(_timed(desk.cli("--version")) for _ in range(3))
    tallies: dict[str, Tally] = {}
    for victim in victims:
        tally = tallies[victim] = Tally()
        guess = 0.0
        number = 0
        while tally.kills < kills_each and number <= kills_each * 3:
            # The first round times the victim unkilled (beside the same load); then each
            # kill lands at a random moment of a run that long. Runs grow with the archive:
            # the length creeps up with each kill and comes down to what a run that ended
            # before its kill took.
            window = max(guess - startup, 0.05)
            delay = startup + rng.uniform(0.0, 0.9) * window if number else KILL_TIMEOUT
            result = play_round(desk, victim, number, delay, round_photos)
            number += 1
            tally.add(result)
            if not result.killed:
                guess = (guess + result.duration) / 2 if guess else result.duration
            else:
                guess *= 1.015
            log(
                f"{victim} {'kill' if result.killed else 'run '} {tally.rounds:2} at "
                f"{result.duration:.2f} s: lost {result.lost}, edits lost {result.edits_lost}, "
                f"search {'ok' if result.search_ok else 'WRONG'}, verify "
                f"{'clean' if result.verify_ok else 'NOT CLEAN'}"
                + "".join(f"; {p}" for p in result.other)
                + "".join(f" [{k} {v:.1f} s]" for k, v in result.timing.items())
            )
        print(tally.summary(victim), flush=True)
        for problem in tally.other[:10]:
            print(f"  {problem}")
        if tally.kills < kills_each:
            tally.other.append(f"only {tally.kills} of {kills_each} runs could be killed")
    return tallies, desk


# -- part 3: faults --------------------------------------------------------------------------


def fault_checks(desk: Desk, work: Path) -> bool:
    """Part 3, on a copy of the archive: a missing and an empty catalog, a missing index."""
    root = work / "faults"
    shutil.copytree(desk.root, root)
    faulty = Desk(root, work / "fault-work", desk.rng, debug=False)
    faulty.work.mkdir()
    faulty.photos = desk.photos
    faulty.expected = set(desk.expected)
    some = sorted(desk.expected)[0]
    incoming = work / "fault-incoming"
    faulty.make_batch(incoming, 3)
    hot = work / "fault-hot"
    faulty.make_batch(hot, 2)
    export_to = work / "fault-export"
    commands = [
        ["search", EVERY],
        ["show", some, "--json"],
        ["stats"],
        ["edit", some, "--caption", "fault", "--by", "fault"],
        ["ingest", str(incoming), "--jobs", "2"],
        ["reindex"],
        ["verify"],
        ["verify", "--repair"],
        ["verify", "--repair", "--prune"],
        ["export", EVERY, "--to", str(export_to)],
        ["watch", str(hot), "--once", "--settle", "0.1", "--poll", "0.1"],
    ]
    catalog = root / "catalog.sqlite"
    saved = work / "catalog.saved"
    shutil.copy2(catalog, saved)
    sound = True
    for fault in ("missing", "empty"):
        if fault == "missing":
            catalog.unlink()
        else:
            catalog.write_bytes(b"")
        before = _store_files(root)
        beside_catalog = sorted(p.name for p in root.glob("catalog.sqlite*"))
        right = 0
        for args in commands:
            done = faulty.run(*args)
            lines = done.stderr.strip().splitlines()
            if done.returncode == 1 and len(lines) == 1 and lines[0].startswith("Error:"):
                right += 1
            else:
                log(f"  {fault} catalog: {' '.join(args[:3])}: exit {done.returncode}, {lines}")
        after = _store_files(root)
        untouched = (
            not catalog.exists() if fault == "missing" else catalog.stat().st_size == 0
        ) and sorted(p.name for p in root.glob("catalog.sqlite*")) == beside_catalog
        unmoved = len(list(hot.glob("*.jpg"))) == 2 and not (
            export_to.exists() and any(export_to.iterdir())
        )
        print(
            f"{fault} catalog: {right}/{len(commands)} commands exit 1 with one Error: line; "
            f"originals {before[0]} before, {after[0]} after; files deleted "
            f"{len(before[1] - after[1])}, created {len(after[1] - before[1])}; catalog "
            f"{'left as it was' if untouched else 'CHANGED'}; hot folder and export "
            f"{'untouched' if unmoved else 'CHANGED'}"
        )
        sound = sound and right == len(commands) and before == after and untouched and unmoved
        shutil.copy2(saved, catalog)
    sound = missing_index(faulty, incoming) and sound
    return sound


def _store_files(root: Path) -> tuple[int, set[str]]:
    """Return how many originals the store holds, and every file of the store."""
    files = {
        str(p.relative_to(root))
        for base in ("originals", "renditions")
        for p in (root / base).rglob("*")
        if p.is_file()
    }
    return sum(1 for f in files if f.startswith("originals")), files


def missing_index(desk: Desk, incoming: Path) -> bool:
    """Delete index/: search and ingest must say to run reindex; reindex brings back
    identical search results."""
    words = [desk.photos[i].word for i in sorted(desk.expected)[:3]]

    def results() -> list[list[str]] | None:
        found = []
        for query in [EVERY, *words]:
            done = desk.run("search", query, "--json", "--limit", "10000")
            if done.returncode != 0:
                return None
            found.append(sorted(r["id"] for r in json.loads(done.stdout)))
        return found

    before = results()
    photos_before = _catalogued(desk.root)
    from photoarchive import open_archive

    with open_archive(desk.root, readonly=True) as arc:
        index = arc.index.folder  # the archive's engine's index folder
    shutil.rmtree(index)
    search = desk.run("search", EVERY)
    ingest = desk.run("ingest", str(incoming), "--jobs", "2")
    added = _catalogued(desk.root) - photos_before
    says = {
        name: done.returncode == 1 and "reindex" in done.stderr
        for name, done in (("search", search), ("ingest", ingest))
    }
    reindex = desk.run("reindex")
    after = results()
    same = before is not None and after == before
    print(
        f"missing index: search {_outcome(says['search'], search)}, ingest "
        f"{_outcome(says['ingest'], ingest)} ({added} photos added); reindex exit "
        f"{reindex.returncode}: search results {'identical' if same else 'DIFFERENT'} "
        f"({len(before[0]) if before else 0} ids, {len(words)} unique words)"
    )
    return all(says.values()) and added == 0 and reindex.returncode == 0 and same


def _outcome(right: bool, done: subprocess.CompletedProcess[str]) -> str:
    if right:
        return "exit 1 saying to run reindex"
    return f"WRONG (exit {done.returncode}: {_last_line(done.stderr)})"


# -- main ------------------------------------------------------------------------------------


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photos", type=int, default=200, help="photos of the ingest part")
    parser.add_argument("--kills", type=int, default=25, help="ingest kills (0: skip)")
    parser.add_argument("--kills-each", type=int, default=20, help="kills of each other writer")
    parser.add_argument("--base-photos", type=int, default=60, help="first photos of part 2")
    parser.add_argument("--round-photos", type=int, default=4, help="new photos per round")
    parser.add_argument(
        "--victims", default=",".join(VICTIMS), help=f"which writers to kill ({','.join(VICTIMS)})"
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="2 kills each, few photos")
    args = parser.parse_args()
    if args.quick:
        args.photos, args.kills, args.kills_each = 16, 2, 2
        args.base_photos, args.round_photos = 8, 4
    victims = [v for v in args.victims.split(",") if v]
    if set(victims) - set(VICTIMS):
        parser.error(f"--victims: choose from {', '.join(VICTIMS)}")
    # The checks read the archive folder's own files (originals, renditions, temporary
    # files): every archive made here keeps its files in its folder.
    os.environ.pop(STORAGE_VARIABLE, None)
    rng = random.Random(args.seed)
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="crash-test-") as tmp:
        work = Path(tmp)
        ingest_sound = faults_sound = True
        tallies: dict[str, Tally] = {}
        if args.kills > 0:
            ingest_sound = ingest_kills(work / "part1", args.photos, args.kills, rng)
        if victims and args.kills_each > 0:
            (work / "part2").mkdir()
            tallies, desk = victim_kills(
                work / "part2", args.kills_each, args.base_photos, args.round_photos, victims, rng
            )
            faults_sound = fault_checks(desk, work / "part2")
    minutes = (time.monotonic() - started) / 60
    sound = ingest_sound and faults_sound and all(t.sound for t in tallies.values())
    if sound:
        verdict = "zero lost, zero duplicated, zero corrupt, all clean"
    else:
        lost = sum(t.lost for t in tallies.values())
        edits = sum(t.edits_lost for t in tallies.values())
        unclean = {v: t.rounds - min(t.search_ok, t.verify_ok) for v, t in tallies.items()}
        other = sum(len(t.other) for t in tallies.values())
        other += sum(t.extra.get(k, 0) for t in tallies.values() for k in PROBLEM_COUNTS)
        verdict = (
            f"PROBLEMS FOUND: ingest kills {'sound' if ingest_sound else 'NOT SOUND'}; "
            f"{lost} photos lost, {edits} edits lost, rounds not clean before repair "
            f"{sum(unclean.values())} ("
            + ", ".join(f"{v} {n}" for v, n in unclean.items() if n)
            + f"), {other} other failures; fault checks {'ok' if faults_sound else 'FAILED'}"
        )
    print(f"RESULT: {verdict} ({minutes:.1f} min)")
    return 0 if sound else 1


if __name__ == "__main__":
    sys.exit(main())
