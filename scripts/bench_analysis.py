#!/usr/bin/env python3
"""The analysis section of scripts/bench.py: does the search analysis (accent folding,
Ukrainian and Russian stems, spelling keys, the thesaurus) make ingest or search slower?

Run it through bench.py (`python scripts/bench.py --analysis`, options there). "Before" is
the code at --before (a git worktree kept in the cache), "after" the checkout's own src;
each runs in its own processes with its tree's src first on PYTHONPATH and this same
Python, so both see the same libraries. Every measure takes the two in turn, round by
round (before first in even rounds, after first in odd ones), in the same run:

1. ingest: `python -m photoarchive ingest` of --files JPEGs (1200 x 800, IIM and XMP
   captions, some Cyrillic; made once into the cache) into a new archive: photos/s;
2. analysis alone: `documents.document(Entry(record))` of --documents records in a fresh
   process (after 500 others, so libraries and dictionaries are loaded): documents/s;
   and the cold start, import and the first three documents (Ukrainian, Russian, English);
3. `python -m photoarchive reindex` of an archive of --size records (entered through the
   library once and cached, keyed by each side's code and the size): seconds, peak memory;
   Whoosh and, if importable, tantivy;
4. search at --size with a warm searcher in process (`archive.search(q, limit=20)`, the
   query worker of bench_scale.py), p50/p95 per query class; and a few CLI searches.

The corpus is bench_scale.py's news captions, with 10% of them replaced by Ukrainian or
Russian captions (place names in their grammatical cases, sometimes with English after)
and 30% of the English ones naming a place or person in one of its spellings (Kyiv or
Kiev, Kharkiv or Kharkov, Zelenskyy or Zelensky...): seeded, the same for both sides.
This module also runs as a subprocess of itself (`_build`, `_analyse`) under either
side's PYTHONPATH.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import bench_scale
from bench_scale import (
    ERRORS,
    REPO,
    Worker,
    code_commit,
    disk_mb,
    failed,
    pct,
    photoarchive_exe,
    run_measured,
    say,
    table,
    tree_rss_kb,
)

#: Change when the corpus or the files change: cached archives of another version are unused.
GEN_VERSION = "analysis-1"
BEFORE = "9a70973"  # the last commit before the analysis work
CYRILLIC_SHARE = 0.10
VARIANT_SHARE = 0.30  # of the English captions
WARM_BATCH = 99  # records the analysis warms up on: not among the timed ones
FILE_SIZE = (1200, 800)
SLOWER = 1.20  # the limit: after/before time at most 1.20

# (nominative, genitive, locative)
UK_PLACES = (
    ("Харків", "Харкова", "Харкові"), ("Київ", "Києва", "Києві"), ("Ізюм", "Ізюма", "Ізюмі"),
    ("Купʼянськ", "Купʼянська", "Купʼянську"), ("Херсон", "Херсона", "Херсоні"),
    ("Одеса", "Одеси", "Одесі"), ("Бахмут", "Бахмута", "Бахмуті"), ("Львів", "Львова", "Львові"),
)  # fmt: skip
RU_PLACES = (
    ("Харьков", "Харькова", "Харькове"), ("Киев", "Киева", "Киеве"), ("Изюм", "Изюма", "Изюме"),
    ("Купянск", "Купянска", "Купянске"), ("Херсон", "Херсона", "Херсоне"),
    ("Одесса", "Одессы", "Одессе"),
)  # fmt: skip
UK_SENTENCES = (
    "Рятувальники розбирають завали зруйнованого будинку в {loc} після ракетного удару",
    "Місцеві мешканці отримують гуманітарну допомогу в центрі {gen}",
    "Українські військовослужбовці біля знищеного російського танка поблизу {gen}",
    "Зруйнований міст через річку на околиці {gen}",
    "Діти граються біля пошкодженої школи в {loc}",
    "Волонтери роздають хліб і воду жителям {gen}",
    "Пожежники гасять пожежу на ринку в {loc} після нічного обстрілу",
    "{nom}: люди ховаються в метро під час повітряної тривоги",
    "Лікарі надають допомогу пораненим у лікарні {gen}",
    "Мешканці {gen} вшановують пам'ять загиблих на центральній площі",
    "Український прапор над звільненим селом неподалік {gen}",
    "Потяг з евакуйованими відправляється з вокзалу {gen}",
)
RU_SENTENCES = (
    "Спасатели разбирают завалы разрушенного дома в {loc} после ракетного удара",
    "Местные жители получают гуманитарную помощь в центре {gen}",
    "Украинские военные возле подбитого танка недалеко от {gen}",
    "Разрушенный мост через реку на окраине {gen}",
    "Пожарные тушат пожар на рынке в {loc} после ночного обстрела",
    "Волонтёры раздают хлеб и воду жителям {gen}",
    "{nom}: люди укрываются в метро во время воздушной тревоги",
    "Врачи оказывают помощь раненым в больнице {gen}",
    "Эвакуационный поезд отправляется с вокзала {gen}",
    "Жители {gen} возвращаются в свои дома",
)
UK_MONTHS = ("січня", "лютого", "березня", "квітня", "травня", "червня", "липня", "серпня",
             "вересня", "жовтня", "листопада", "грудня")  # fmt: skip
RU_MONTHS = ("января", "февраля", "марта", "апреля", "мая", "июня", "июля", "августа",
             "сентября", "октября", "ноября", "декабря")  # fmt: skip
# A place or person and its spellings in English captions, the official one first.
VARIANTS = (
    ("Kyiv", "Kiev"), ("Kharkiv", "Kharkov"), ("Izium", "Izyum"), ("Kupiansk", "Kupyansk"),
    ("Odesa", "Odessa"), ("Zaporizhzhia", "Zaporozhye"), ("Mykolaiv", "Nikolaev"),
    ("Zelenskyy", "Zelensky", "Zelenskiy"),
)  # fmt: skip
PLACE_PHRASES = ("in {}", "near {}", "outside {}", "on the outskirts of {}", "north of {}")
PERSON_PHRASES = ("President Volodymyr {}", "{} visits", "as {} said")
# What ingest records as a caption's languages (iptc_ext.detect_language, by its letters).
_UK_LETTERS, _RU_LETTERS = re.compile("[іїєґІЇЄҐ]"), re.compile("[ыэъёЫЭЪЁ]")

# name: library query
QUERIES = {
    "one word": "tank",
    "two words": "tank river",
    "phrase": '"special forces"',
    "credit: + word": "credit:reuters flag",
    "date range, 10 days": "date:[2023-03-01 to 2023-03-10]",
    "place, spellings (kharkiv)": "kharkiv",
    "Cyrillic word (Харків)": "Харків",
    "no match": "jaquixo",  # j, q and x are in no word of the vocabulary
}
CLI_QUERIES = ("one word", "Cyrillic word (Харків)")


# -- the corpus ------------------------------------------------------------------------------
def cyrillic_caption(rng: random.Random, english: str) -> tuple[str, list[str]]:
    """A Ukrainian (60%) or Russian caption of one to three sentences about one place,
    dated in words, one in five followed by English; and its languages as ingest reads them."""
    ukrainian = rng.random() < 0.6
    places, sentences, months = (
        (UK_PLACES, UK_SENTENCES, UK_MONTHS) if ukrainian else (RU_PLACES, RU_SENTENCES, RU_MONTHS)
    )
    nom, gen, loc = rng.choice(places)
    said = [s.format(nom=nom, gen=gen, loc=loc) for s in rng.sample(sentences, rng.randint(1, 3))]
    year = "року" if ukrainian else "года"
    date = f"{rng.randint(1, 28)} {rng.choice(months)} {rng.choice((2022, 2023))} {year}"
    text = f"{nom.upper()}, {date}. " + ". ".join(said) + "."
    if rng.random() < 0.2:
        text += " / " + english.split(": ", 1)[-1]
    langs = [lang for lang, rx in (("uk", _UK_LETTERS), ("ru", _RU_LETTERS)) if rx.search(text)]
    return text, langs if len(langs) == 1 else []


def with_variants(rng: random.Random, caption: str) -> str:
    """The caption with one or two names put in, each in one of its spellings."""
    words = caption.split(" ")
    for _ in range(rng.randint(1, 2)):
        spellings = rng.choice(VARIANTS)
        name = spellings[0] if rng.random() < 0.6 else rng.choice(spellings[1:])
        phrases = PERSON_PHRASES if spellings[0] == "Zelenskyy" else PLACE_PHRASES
        at = rng.randint(3, len(words))  # after the dateline
        words[at:at] = rng.choice(phrases).format(name).split(" ")
    return " ".join(words)


def batch_records(index: int) -> list[Any]:
    """bench_scale.py's batch `index`, with its share of Cyrillic captions and of names
    spelt in their several ways."""
    records = bench_scale.batch_records(index)
    rng = random.Random(f"{GEN_VERSION}/{index}")
    for r in records:
        roll = rng.random()
        if roll < CYRILLIC_SHARE:
            r.caption, r.languages = cyrillic_caption(rng, r.caption)
        else:
            if roll < CYRILLIC_SHARE + VARIANT_SHARE:
                r.caption = with_variants(rng, r.caption)
            r.languages = ["en"]
    return records


def corpus(n: int) -> Iterator[list[Any]]:
    """The first n records, a batch at a time."""
    for index in range((n + bench_scale.BATCH - 1) // bench_scale.BATCH):
        yield batch_records(index)[: n - index * bench_scale.BATCH]


def build(root: Path, n: int, engine: str) -> dict[str, Any]:
    """Enter n records through the library and index them (subprocess, either side)."""
    bench_scale.corpus = corpus  # build_archive enters bench_scale.corpus(n): ours here
    return bench_scale.build_archive(root, n, engine)


def analyse(n: int) -> dict[str, Any]:
    """documents/s of n records after 500 others; the cold start first (subprocess)."""
    started = time.perf_counter()
    import photoarchive
    from photoarchive.record import PhotoRecord
    from photoarchive.search.documents import Entry, document

    for text, langs in (
        (UK_SENTENCES[0].format(loc=UK_PLACES[0][2]), ["uk"]),
        (RU_SENTENCES[0].format(loc=RU_PLACES[0][2]), ["ru"]),
        ("Ukrainian servicemen near a destroyed tank outside Kharkiv", ["en"]),
    ):
        record = PhotoRecord("c", "c" * 64, "c.jpg", "JPEG", 1, 1, 1, caption=text)
        record.languages = langs
        document(Entry(record))
    cold = time.perf_counter() - started
    records = [r for batch in corpus(n) for r in batch]
    for r in batch_records(WARM_BATCH)[:500]:
        document(Entry(r))
    started = time.perf_counter()
    for r in records:
        document(Entry(r))
    seconds = time.perf_counter() - started
    return {
        "code": photoarchive.__file__,
        "per_second": n / seconds,
        "cold_ms": cold * 1000,
        "peak_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


# -- ingest files ----------------------------------------------------------------------------
def make_file(job: tuple[Path, dict[str, Any], int]) -> None:
    import io

    import numpy as np
    from PIL import Image

    from photoarchive.metadata.iptc_writer import embed_in_jpeg, encode_iim, photoshop_resources
    from photoarchive.metadata.xmp_writer import build_xmp

    path, values, seed = job
    w, h = FILE_SIZE
    rng = np.random.default_rng(seed)
    coarse = Image.fromarray(rng.integers(0, 256, (h // 8, w // 8, 3), dtype=np.uint8))
    pixels = np.asarray(coarse.resize((w, h), Image.Resampling.BICUBIC), dtype=np.int16)
    pixels = pixels + rng.normal(0, 6, (h, w, 3)).astype(np.int16)  # grain
    buf = io.BytesIO()
    Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8)).save(
        buf, "JPEG", quality=88, xmp=build_xmp(values)
    )
    path.write_bytes(embed_in_jpeg(buf.getvalue(), photoshop_resources(encode_iim(values))))


def ingest_files(folder: Path, count: int, rebuild: bool) -> Path:
    """--files JPEGs with the captions of the corpus's first records (made once)."""
    done = folder / ".done"
    if done.exists() and not rebuild:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    say(f"files: making {count} JPEGs in {folder}")
    jobs = []
    for k, r in enumerate(r for batch in corpus(count) for r in batch):
        values = {
            "caption": r.caption,
            "credit": r.credit,
            "keywords": r.keywords,
            "city": r.city,
            "country": r.country,
            "date_created": r.date_created,
            **({"byline": r.byline} if r.byline else {}),
        }
        jobs.append((folder / f"{k:05}.jpg", values, k))
    with ProcessPoolExecutor(2) as pool:
        list(pool.map(make_file, jobs, chunksize=10))
    done.touch()
    return folder


# -- the two sides ---------------------------------------------------------------------------
@dataclass
class Side:
    name: str  # "before" or "after"
    tree: Path  # a checkout; its src/ goes first on PYTHONPATH
    commit: str = ""
    key: str = ""  # of its code, for the cache

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPATH"] = str(self.tree / "src")
        return env

    @property
    def label(self) -> str:
        return f"{self.name} ({self.commit})"

    def check(self, code_file: str) -> None:
        if not Path(code_file).resolve().is_relative_to((self.tree / "src").resolve()):
            raise SystemExit(f"{self.name} imported {code_file}, not code from {self.tree}")


def code_key(tree: Path) -> str:
    """A digest of the package's code as it is on disk (commits and edits alike)."""
    digest = hashlib.blake2b(digest_size=5)
    package = tree / "src" / "photoarchive"
    for f in sorted(package.rglob("*")):
        if f.suffix in (".py", ".toml", ".sql") and "__pycache__" not in f.parts:
            digest.update(str(f.relative_to(package)).encode() + b"\0" + f.read_bytes())
    return digest.hexdigest()


def worktree(cache: Path, rev: str) -> Path:
    """A checkout of `rev` under the cache (made once, kept)."""
    sha = subprocess.run(
        ["git", "-C", str(REPO), "rev-parse", "--verify", f"{rev}^{{commit}}"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    return bench_scale.git_worktree(cache / f"src-{sha[:12]}", sha)


def cached_archive(
    cache: Path, side: Side, engine: str, size: int, rebuild: bool
) -> tuple[Path, dict[str, Any]]:
    """An archive of `size` records entered by `side`'s code (built once per code and size)."""
    path = cache / f"{side.name}-{engine}-{size}-{side.key}"
    meta_path = cache / f"{path.name}.json"
    if path.is_dir() and meta_path.exists() and not rebuild:
        return path, json.loads(meta_path.read_text())
    building = cache / f"{path.name}.building"
    for stale in (path, building):
        shutil.rmtree(stale, ignore_errors=True)
    say(f"cache: building {side.label} {engine} {size:,} at {path}")
    result = cache / f"{path.name}.result"
    args = ["nice", "-n", "10", sys.executable, __file__, "_build", str(building), str(size)]
    seconds, peak = run_measured([*args, engine, str(result)], env=side.env, quiet=False)
    meta = json.loads(result.read_text())
    result.unlink()
    side.check(meta["code"])
    meta.update(build_s=seconds, build_peak_mb=peak / 1024, built_at=time.strftime("%H:%M"))
    meta.update(built_on=time.strftime("%Y-%m-%d"), commit=side.commit, this_run=True)
    building.rename(path)
    meta_path.write_text(json.dumps({**meta, "this_run": False}, indent=1))
    say(f"cache: built in {seconds:.0f} s, peak {peak / 1024:.0f} MB")
    return path, meta


# -- measuring -------------------------------------------------------------------------------
def call(args: list[str], side: Side) -> str:
    """Run a command of `side`'s code; return its output, or stop saying why it failed."""
    done = subprocess.run(args, capture_output=True, text=True, env=side.env)
    if done.returncode:
        raise SystemExit(f"{side.label}: {' '.join(args)} failed:\n{done.stderr[-3000:]}")
    return done.stdout


def in_turn(rounds: int, sides: list[Side]) -> Iterator[tuple[int, Side]]:
    """(round, side): before first in even rounds, after first in odd ones."""
    for n in range(rounds):
        for side in sides if n % 2 == 0 else sides[::-1]:
            yield n, side


def ingest(sides: list[Side], files: Path, work: Path, rounds: int) -> dict[str, dict]:
    out: dict[str, dict] = {s.name: {"s": [], "peak": [], "count": set()} for s in sides}
    count = len(list(files.glob("*.jpg")))
    for n, side in in_turn(rounds, sides):
        say(f"ingest: round {n + 1}/{rounds}, {side.label}")
        root = work / f"ingest-{side.name}"
        shutil.rmtree(root, ignore_errors=True)
        exe = [*photoarchive_exe(), "--archive", str(root)]
        call([*exe, "init", "--engine", "whoosh"], side)
        seconds, peak = run_measured([*exe, "ingest", str(files)], env=side.env)
        catalogued = call(
            [sys.executable, "-c", "import sys; from photoarchive import open_archive; "
             "print(open_archive(sys.argv[1], readonly=True).catalog.count())", str(root)],
            side,
        )  # fmt: skip
        shutil.rmtree(root)
        out[side.name]["s"].append(seconds)
        out[side.name]["peak"].append(peak / 1024)
        out[side.name]["count"].add(int(catalogued))
    for name, o in out.items():
        if o["count"] != {count}:
            failed("ingest", "catalogued", name, f"{sorted(o['count'])} of {count} files")
    return out


def analysis(sides: list[Side], n: int, rounds: int) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {s.name: [] for s in sides}
    for r, side in in_turn(rounds, sides):
        say(f"analysis: round {r + 1}/{rounds}, {side.label}")
        reply = json.loads(call([sys.executable, __file__, "_analyse", str(n)], side))
        side.check(reply["code"])
        out[side.name].append(reply)
    return out


def reindex(
    sides: list[Side], archives: dict[str, Path], rounds: int
) -> dict[str, dict[str, list[float]]]:
    out: dict[str, dict[str, list[float]]] = {s.name: {"s": [], "peak": []} for s in sides}
    for r, side in in_turn(rounds, sides):
        say(f"reindex: round {r + 1}/{rounds}, {side.label}, {archives[side.name].name}")
        args = [*photoarchive_exe(), "--archive", str(archives[side.name]), "reindex"]
        try:
            seconds, peak = run_measured(args, env=side.env)
        except SystemExit as exc:
            failed("reindex", archives[side.name].name, side.name, str(exc))
            continue
        out[side.name]["s"].append(seconds)
        out[side.name]["peak"].append(peak / 1024)
    return out


def search(
    sides: list[Side], archives: dict[str, Path], repeat: int
) -> tuple[dict[str, dict[str, list[float]]], dict[str, dict[str, int]], dict[str, float]]:
    """p50/p95 ms and hits per query class and side; each side's searcher memory (MB)."""
    workers = {}
    for side in sides:
        target = SimpleNamespace(label=side.label, path=archives[side.name], env=side.env)
        workers[side.name] = Worker(target)
        side.check(workers[side.name].hello["code"])
    times: dict[str, dict[str, list[float]]] = {}
    hits: dict[str, dict[str, int]] = {}
    for name, query in QUERIES.items():
        say(f"search: {name}")
        request = {"op": "search", "query": query, "api": "archive"}
        times[name] = {s.name: [] for s in sides}
        hits[name] = {}
        for side in sides:
            workers[side.name].ask(request)  # warm
            hits[name][side.name] = int(workers[side.name].ask(request).get("total", -1))
        for _, side in in_turn(repeat, sides):
            reply = workers[side.name].ask(request)
            if "error" in reply:
                failed("search", name, side.name, reply["error"])
            else:
                times[name][side.name].append(float(reply["ms"]))
    memory = {name: tree_rss_kb(w.proc.pid) / 1024 for name, w in workers.items()}
    for w in workers.values():
        w.close()
    return times, hits, memory


def cli_search(
    sides: list[Side], archives: dict[str, Path], repeat: int
) -> dict[str, dict[str, list[float]]]:
    times: dict[str, dict[str, list[float]]] = {}
    for name in CLI_QUERIES:
        say(f"CLI search: {name}")
        times[name] = {s.name: [] for s in sides}
        commands = {
            s.name: [*photoarchive_exe(), "--archive", str(archives[s.name]), "search",
                     QUERIES[name], "--json"]
            for s in sides
        }  # fmt: skip
        for s in sides:  # compiled modules and page cache warm
            subprocess.run(commands[s.name], capture_output=True, env=s.env)
        for _, side in in_turn(repeat, sides):
            started = time.perf_counter()
            done = subprocess.run(commands[side.name], capture_output=True, text=True,
                                  env=side.env)  # fmt: skip
            if done.returncode:
                failed("CLI search", name, side.name, f"exit {done.returncode}: {done.stderr}")
            else:
                times[name][side.name].append((time.perf_counter() - started) * 1000)
    return times


# -- tables ----------------------------------------------------------------------------------
#: what was slower or larger by more than SLOWER: "time" and "memory"
FLAGGED: dict[str, list[str]] = {"time": [], "memory": []}


def flag(value: float | None, what: str, kind: str = "time", more: str = "") -> str:
    """A ratio for a table, flagged (and remembered) above SLOWER; `more` is said beside it."""
    if not value:
        return "–"
    if value > SLOWER:
        FLAGGED[kind].append(f"{what} {value:.2f}{more}")
        return f"**{value:.2f} ⚠**{more}"
    return f"{value:.2f}"


def latency(before: list[float], after: list[float], q: int, what: str) -> str:
    """The ratio of the q-th percentiles, and by how many ms where flagged."""
    if not before or not after:
        return "–"
    b, a = pct(before, q), pct(after, q)
    return flag(a / b, f"{what} p{q}", more=f" (+{a - b:.2g} ms)")


def row(what: str, before: float, after: float, fmt: str, slower: float | None = None) -> list:
    """A table row: the values and their ratio, after / before unless `slower` is given (for
    rates, before / after), so above 1 is slower or larger."""
    if slower is None and before and after:
        slower = after / before
    kind = "memory" if what.endswith("MB") else "time"
    return [what, format(before, fmt), format(after, fmt), flag(slower, what, kind)]


def med(values: list[float]) -> float:
    return statistics.median(values) if values else 0.0


def run(options: Any) -> None:
    """The analysis section; `options` from bench.py's arguments."""
    wall = time.perf_counter()
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    root = Path(options.cache).expanduser()
    cache = root / GEN_VERSION
    cache.mkdir(parents=True, exist_ok=True)
    after = worktree(root, options.after) if options.after else REPO
    sides = [Side("before", worktree(root, options.before)), Side("after", after)]
    for side in sides:
        side.commit, side.key = code_commit(side.env), code_key(side.tree)
        say(f"{side.name}: {side.commit} from {side.tree / 'src'} (code {side.key})")
    engines = ["whoosh"]
    try:
        import tantivy  # noqa: F401

        engines.append("tantivy")
    except ImportError:
        say("tantivy is not installed: Whoosh only")
    size, rounds = options.size, options.rounds
    whoosh_rounds = options.whoosh_rounds or (options.rounds if size < 50_000 else 1)
    try:
        import pymorphy3  # noqa: F401

        ukrainian = "pymorphy3 lemmas"
    except ImportError:
        ukrainian = "the light stemmer (no pymorphy3)"

    files = ingest_files(cache / f"files-{options.files}", options.files, options.rebuild)
    archives: dict[str, dict[str, Path]] = {e: {} for e in engines}
    builds = []
    for engine in engines:
        for side in sides:
            path, meta = cached_archive(cache, side, engine, size, options.rebuild)
            archives[engine][side.name] = path
            builds.append((engine, side, meta))

    print(f"\n## Search analysis: before and after at {size:,} photos\n")
    print(
        f"Before: {sides[0].commit} ({sides[0].tree}); after: {sides[1].commit} "
        f"({sides[1].tree}); each with its own src first on PYTHONPATH and {sys.executable}. "
        f"Ukrainian in the after code: {ukrainian}. Corpus {GEN_VERSION}: bench_scale.py's "
        f"news captions, {CYRILLIC_SHARE:.0%} Ukrainian or Russian, {VARIANT_SHARE:.0%} of the "
        f"English naming places and people in their several spellings. {os.cpu_count()} cores. "
        f"Before and after take turns round by round. Ratios are after / before of times "
        f"(of rates: before / after), so above 1 is slower; above {SLOWER:.2f} is flagged ⚠. "
        f"Cache: {cache}.\n"
    )

    work = cache / "tmp"
    work.mkdir(exist_ok=True)
    ing = ingest(sides, files, work, rounds)
    b, a = (med(ing[s.name]["s"]) for s in sides)
    megabytes = disk_mb(files)
    print(
        f"### 1. Ingest: `python -m photoarchive ingest` of {options.files} JPEGs "
        f"({FILE_SIZE[0]} x {FILE_SIZE[1]}, {megabytes:.0f} MB, IIM and XMP captions) into a "
        f"new Whoosh archive, the CLI's default jobs ({os.cpu_count()}); median of {rounds} "
        "rounds\n"
    )
    print(
        table(
            ["measure", "before", "after", "after/before"],
            [
                row("ingest photos/s", options.files / b, options.files / a, ".1f", a / b),
                row("ingest peak MB", *(max(ing[s.name]["peak"]) for s in sides), ".0f"),
            ],
        )
    )

    ana = analysis(sides, options.documents, rounds)
    rate = [med([r["per_second"] for r in ana[s.name]]) for s in sides]
    cold = [med([r["cold_ms"] for r in ana[s.name]]) for s in sides]
    peak = [max(r["peak_mb"] for r in ana[s.name]) for s in sides]
    print(
        f"\n### 2. Analysis alone: `document(Entry(record))` of {options.documents:,} records "
        f"in a fresh process, after 500 others; median of {rounds} rounds\n"
    )
    print(
        table(
            ["measure", "before", "after", "after/before"],
            [
                row("documents/s", *rate, ".0f", rate[0] / rate[1]),
                row("cold start ms (imports, first uk, ru, en documents)", *cold, ".0f"),
                row("process peak MB", *peak, ".0f"),
            ],
        )
    )

    rows = []
    for engine in engines:
        n = whoosh_rounds if engine == "whoosh" else rounds
        got = reindex(sides, archives[engine], n)
        note = f"median of {n}" if n > 1 else "one round each"
        s_b, s_a = (med(got[s.name]["s"]) for s in sides)
        p_b, p_a = (max(got[s.name]["peak"], default=0) for s in sides)
        rows.append(row(f"{engine} reindex s ({note})", s_b, s_a, ".1f"))
        rows.append(row(f"{engine} reindex peak MB", p_b, p_a, ".0f"))
    print(
        f"\n### 3. Index build: `python -m photoarchive reindex` of {size:,} photos "
        "(Whoosh at 50,000 photos or more: one round each unless --whoosh-rounds)\n"
    )
    print(table(["measure", "before", "after", "after/before"], rows))
    print(
        "\nThe cached archives, entered through the library (`catalog.add_many`, then "
        "`finish_pending_index`), as built:\n"
    )
    print(
        table(
            ["engine", "side", "code", "catalog s", "index s", "peak MB", "disk MB", "built"],
            [
                [engine, side.name, m.get("commit", "?"), f"{m['catalog_s']:.1f}",
                 f"{m['index_s']:.1f}", f"{m['build_peak_mb']:.0f}",
                 f"{disk_mb(archives[engine][side.name]):.0f}",
                 "this run" if m.get("this_run") else f"{m['built_on']} {m['built_at']}"]
                for engine, side, m in builds
            ],
        )
    )  # fmt: skip

    for engine in engines:
        times, hits, memory = search(sides, archives[engine], options.repeat)
        print(
            f"\n### 4. Search, {engine}, {size:,} photos: `archive.search(q, limit=20)` in "
            f"process, warm, p50 / p95 ms of {options.repeat} runs\n"
        )
        rows = []
        for name, row_times in times.items():
            tb, ta = row_times["before"], row_times["after"]
            rows.append(
                [
                    f"{name}: `{QUERIES[name]}`",
                    bench_scale.fmt_ms(tb), bench_scale.fmt_ms(ta),
                    latency(tb, ta, 50, f"{engine} {name}"),
                    latency(tb, ta, 95, f"{engine} {name}"),
                    f"{hits[name]['before']:,}", f"{hits[name]['after']:,}",
                ]
            )  # fmt: skip
        rows.append(
            ["searcher process MB", f"{memory['before']:.0f}", f"{memory['after']:.0f}",
             flag(memory["after"] / memory["before"], f"{engine} searcher MB", "memory"), "",
             "", ""]
        )  # fmt: skip
        print(
            table(
                ["query", "before", "after", "p50 ratio", "p95 ratio", "hits before",
                 "hits after"],
                rows,
            )
        )  # fmt: skip
        if any(h["before"] != h["after"] for h in hits.values()):
            print(
                "\nWhere the hits differ, the after code finds the other spellings and forms "
                "of the word too: its time is that of the larger answer."
            )
        cli = cli_search(sides, archives[engine], options.cli_repeat)
        print(
            f"\n`python -m photoarchive search Q --json` ({engine}), median ms of "
            f"{options.cli_repeat}:\n"
        )
        print(
            table(
                ["query", "before", "after", "after/before"],
                [
                    row(f"{engine} CLI {name}", *(med(t[s.name]) for s in sides), ".0f")
                    for name, t in cli.items()
                ],
            )
        )

    if ERRORS:
        print("\n### Failures (left out of the figures above)\n")
        for (section, name, label), messages in ERRORS.items():
            print(f"- {section}, {name}, {label}: {len(messages)}× {messages[0]}")
    slower, larger = FLAGGED["time"], FLAGGED["memory"]
    print(
        f"\n**Verdict:** {len(slower)} time ratio(s) above {SLOWER:.2f}"
        + (": " + "; ".join(slower) if slower else "")
        + (f"; memory above {SLOWER:.2f}: " + "; ".join(larger) if larger else "")
        + f". Section took {(time.perf_counter() - wall) / 60:.1f} min; cache "
        f"{disk_mb(cache) / 1000:.1f} GB in {cache}."
    )
    others = [p.name for p in cache.iterdir() if p.is_dir() and p.name.split("-")[-1] not in
              {s.key for s in sides} and p.name.startswith(("before-", "after-"))]  # fmt: skip
    shutil.rmtree(work, ignore_errors=True)
    if others:
        say(f"cache: archives of other code, not used (remove?): {', '.join(sorted(others))}")


def options(argv: list[str]) -> argparse.Namespace:
    """bench.py --analysis's options."""
    parser = argparse.ArgumentParser(
        prog="bench.py --analysis", description="The search analysis: before against after."
    )
    parser.add_argument("--analysis", action="store_true", help="this section")
    parser.add_argument("--before", default=BEFORE, help="the code before: a git revision")
    parser.add_argument(
        "--after", help="the code after: a git revision (default: this checkout as it is)"
    )
    parser.add_argument("--size", type=int, default=100_000, help="photos reindexed, searched")
    parser.add_argument("--files", type=int, default=300, help="JPEGs ingested")
    parser.add_argument("--documents", type=int, default=20_000, help="records analysed alone")
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds a side of ingest, analysis, reindex"
    )
    parser.add_argument(
        "--whoosh-rounds", type=int, help="of Whoosh reindex (default: 1 at 50,000 or more)"
    )
    parser.add_argument("--repeat", type=int, default=30, help="runs of each query in process")
    parser.add_argument("--cli-repeat", type=int, default=7, help="runs of each CLI search")
    parser.add_argument("--cache", default="~/.cache/photoarchive-bench", help="kept between runs")
    parser.add_argument("--rebuild", action="store_true", help="make the cached files again")
    return parser.parse_args(argv)


def main(argv: list[str]) -> int:
    commands: dict[str, Callable[[], Any]] = {
        "_build": lambda: Path(argv[-1]).write_text(
            json.dumps(build(Path(argv[1]), int(argv[2]), argv[3]))
        ),
        "_analyse": lambda: print(json.dumps(analyse(int(argv[1])))),
    }
    if not argv or argv[0] not in commands:
        raise SystemExit("run through scripts/bench.py --analysis")
    commands[argv[0]]()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
