#!/usr/bin/env python3
"""Measure and print the peak memory of ingesting hostile files, a 100 MP JPEG, and serving.

Each figure stands beside a baseline measured in the same run: an empty ingest (a folder with
nothing in it) for ingests, an idle server for downloads. For an ingest, `max process` is the
largest peak resident set of any one process (ru_maxrss from wait4: the CLI and its workers)
and `sum of peaks` adds every process's own peak (VmHWM, read from /proc while it runs): an
upper bound on what the processes held at once. Files are made in a temporary folder by
scripts/make_hostile.py's functions at full size (the committed fixtures are small copies).

    python scripts/memory_limits.py                  # everything (about 5 minutes)
    python scripts/memory_limits.py --only png-rgba  # rows whose name contains the word
    python scripts/memory_limits.py --code DIR       # another checkout's src/ (before/after)
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import io
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MB = 1024 * 1024
# Pillow's own bomb limit is 89.5 MP (warning) and 179 MP (error): 13,000 x 13,000 = 169 MP
# passes Pillow and the archive's default max_pixels (200 MP).
SIDE = 13_000


def _hostile() -> object:
    spec = importlib.util.spec_from_file_location("make_hostile", ROOT / "scripts/make_hostile.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _cases(h: object) -> dict[str, Callable[[], bytes]]:
    """name -> maker of the file's bytes."""
    big = h.big_png  # type: ignore[attr-defined]
    return {
        "png-rgba8-169mp": lambda: big(SIDE, SIDE, 6, 8),
        "png-rgba16-169mp": lambda: big(SIDE, SIDE, 6, 16),
        "png-la8-169mp": lambda: big(SIDE, SIDE, 4, 8),
        "png-rgb8-169mp": lambda: big(SIDE, SIDE, 2, 8),
        "png-grey16-169mp": lambda: big(SIDE, SIDE, 0, 16),
        "png-palette-169mp": lambda: big(SIDE, SIDE, 3, 8),
        "png-rgba8-interlaced-169mp": lambda: big(SIDE, SIDE, 6, 8, interlace=True),
        "png-ztxt-60x1mb": lambda: h.text_bomb_png(b"zTXt", 60),  # type: ignore[attr-defined]
        "png-itxt-60x1mb": lambda: h.text_bomb_png(b"iTXt", 60),  # type: ignore[attr-defined]
        "png-iccp-200x1mb": lambda: h.icc_bomb_png(200),  # type: ignore[attr-defined]
        "png-40k-chunks": lambda: h.many_chunks_png(40_000),  # type: ignore[attr-defined]
    }


def _variant(data: bytes, n: int) -> bytes:
    # Distinct bytes after the end of the image, so four copies are four photos.
    return data + b"\x00" * (n + 1)


def _jpeg_100mp() -> bytes:
    from PIL import Image

    width, height = 12_000, 8_400
    small = Image.effect_noise((width // 16, height // 16), 40).convert("RGB")
    im = small.resize((width, height), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    im.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def _made_apart(path: Path) -> bytes:
    subprocess.run([sys.executable, __file__, "--make-jpeg", str(path)], check=True)
    data = path.read_bytes()
    path.unlink()
    return data


def _sparse(path: Path, size: int) -> None:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (64, 48), (20, 90, 160)).save(buf, "JPEG")
    path.write_bytes(buf.getvalue())
    os.truncate(path, size)  # the rest is a hole: 4 KB on disk


def _tree(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        found.append(p)
        with contextlib.suppress(OSError):
            for task in os.listdir(f"/proc/{p}/task"):
                with open(f"/proc/{p}/task/{task}/children") as fh:
                    todo.extend(int(c) for c in fh.read().split())
    return found


def _hwm(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def _hwm_tree(pid: int) -> int:
    """The sum of the peaks (VmHWM) of a process and its children: the desk's worker
    processes, which serve the requests, and their master."""
    total = _hwm(pid)
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, ValueError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                if int(stat[stat.rindex(")") + 2 :].split()[1]) == pid:
                    total += _hwm(int(entry))
    return total


def _run(cmd: list[str], env: dict[str, str]) -> tuple[int, int, float, int]:
    """Run a command; return (largest process peak, sum of per-process peaks, seconds, rc)."""
    started = time.monotonic()
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    peaks: dict[int, int] = {}
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            for p in _tree(proc.pid):
                with contextlib.suppress(OSError):
                    peaks[p] = max(peaks.get(p, 0), _hwm(p))
            time.sleep(0.005)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    assert proc.stderr is not None
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    done.set()
    sampler.join()
    seconds = time.monotonic() - started
    if proc.returncode not in (0, 1):
        sys.stderr.write(err.decode(errors="replace"))
    # ru_maxrss is in KB on Linux.
    largest = usage.ru_maxrss * 1024
    return largest, max(sum(peaks.values()), largest), seconds, proc.returncode


def _env(code: Path | None) -> dict[str, str]:
    env = dict(os.environ)
    if code is not None:
        env["PYTHONPATH"] = str(code / "src")
    return env


def _cli(archive: Path, *args: str) -> list[str]:
    return [sys.executable, "-m", "photoarchive", "--archive", str(archive), *args]


def _ingest(work: Path, env: dict[str, str], name: str, files: list[Path], jobs: int) -> tuple:
    archive = work / f"archive-{name}-{jobs}"
    shutil.rmtree(archive, ignore_errors=True)
    subprocess.run(_cli(archive, "init"), env=env, check=True, capture_output=True)
    folder = work / f"in-{name}-{jobs}"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for f in files:
        os.link(f, folder / f.name)
    result = _run(_cli(archive, "ingest", "--jobs", str(jobs), str(folder)), env)
    shutil.rmtree(archive, ignore_errors=True)
    shutil.rmtree(folder, ignore_errors=True)
    return result


def _row(name: str, what: str, result: tuple, base: tuple) -> str:
    largest, total, seconds, rc = result
    outcome = {0: "ingested", 1: "rejected"}.get(rc, f"exit {rc}")
    return (
        f"| {name} | {what} | {largest / MB:,.0f} | {total / MB:,.0f} | "
        f"{(largest - base[0]) / MB:+,.0f} | {seconds:.1f} | {outcome} |"
    )


@contextlib.contextmanager
def _server(archive: Path, env: dict[str, str]) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        _cli(archive, "serve", "--port", str(port)),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            with contextlib.suppress(OSError):
                urllib.request.urlopen(f"http://127.0.0.1:{port}/api/search?q=x", timeout=2)
                break
            time.sleep(0.05)
        yield proc, port
    finally:
        proc.terminate()
        proc.wait(10)


def _downloads(work: Path, env: dict[str, str]) -> list[str]:
    archive = work / "archive-serve"
    shutil.rmtree(archive, ignore_errors=True)
    subprocess.run(_cli(archive, "init"), env=env, check=True, capture_output=True)
    big = work / "original-200mb.jpg"
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (640, 480), (200, 120, 40)).save(buf, "JPEG")
    with big.open("wb") as fh:
        fh.write(buf.getvalue())
        for _ in range(200):
            fh.write(os.urandom(MB))  # real bytes after the image: not sparse
    out = subprocess.run(
        _cli(archive, "ingest", "--json", str(big)), env=env, capture_output=True, check=False
    )
    import json

    photo_id = json.loads(out.stdout)[0]["id"]
    rows = []
    with _server(archive, env) as (proc, port):
        idle = _hwm_tree(proc.pid)
        errors: list[str] = []

        def fetch() -> None:
            url = f"http://127.0.0.1:{port}/photos/{photo_id}/original"
            try:
                with urllib.request.urlopen(url, timeout=120) as response:
                    got = 0
                    while piece := response.read(MB):
                        got += len(piece)
                if got != big.stat().st_size:
                    errors.append(f"got {got} bytes")
            except OSError as exc:
                errors.append(str(exc))

        started = time.monotonic()
        threads = [threading.Thread(target=fetch) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        seconds = time.monotonic() - started
        after = _hwm_tree(proc.pid)
    what = "server VmHWM, all processes"
    rows.append(f"| serve, idle (baseline) | {what} | {idle / MB:,.0f} | | | | |")
    rows.append(
        f"| serve, 4 parallel downloads of a 200 MB original | {what} | {after / MB:,.0f} "
        f"| | {(after - idle) / MB:+,.0f} | {seconds:.1f} | {'; '.join(errors) or 'all complete'} |"
    )
    shutil.rmtree(archive, ignore_errors=True)
    return rows


# Pathological inputs (48 KB lines of the worst shape found for each pattern) for the
# functions that run regular expressions over untrusted text; timed, not tested (see
# tests/test_limits.py for their results).
LINE = 48_000


def _regex_cases() -> dict[str, Callable[[], object]]:
    from datetime import UTC

    from photoarchive.captions import extract_captions
    from photoarchive.credits import clean_credit, parse_credit
    from photoarchive.datetimes import DateParseError, parse_moment
    from photoarchive.metadata.xmp import parse_xmp
    from photoarchive.notices import read_notice
    from photoarchive.record import PhotoRecord
    from photoarchive.restrictions import read_restrictions

    def record(**values: str) -> PhotoRecord:
        return PhotoRecord("x", "0" * 64, "x.jpg", "JPEG", 1, 1, 1, **values)  # type: ignore[arg-type]

    def date(text: str) -> object:
        try:
            return parse_moment(text, UTC)
        except DateParseError as exc:
            return exc

    return {
        "captions extract: 'a' + 48 KB of spaces + 'b'": lambda: extract_captions(
            "a" + " " * LINE + "b"
        ),
        "captions extract: 'ab Photo:' + 48 KB of spaces + '('": lambda: extract_captions(
            "ab Photo:" + " " * LINE + "("
        ),
        "captions extract: 'Photo:(' x 6,857": lambda: extract_captions("ab " + "Photo:(" * 6857),
        "captions extract: 120 lines of 'ab Photo:' + 390 spaces + '(' (400 characters each)": (
            lambda: extract_captions(("ab Photo:" + " " * 390 + "(\n") * 120)
        ),
        "credit: 'AFP' + 48 KB of spaces + 'x' (year)": lambda: clean_credit(
            "AFP" + " " * LINE + "x"
        ),
        "credit: 'A' + 48 KB of spaces + 'x' (via)": lambda: parse_credit("A" + " " * LINE + "x"),
        "credit: 'A' + 48 KB of tabs + 'x' (split)": lambda: parse_credit("A" + "\t" * LINE + "x"),
        "XMP: '<?xml' x 9,600": lambda: parse_xmp(b"<?xml" * (LINE // 5)),
        "restrictions: 'EMBARGO ' x 6,000": lambda: read_restrictions(
            record(special_instructions="EMBARGO " * (LINE // 8)), {}, UTC
        ),
        "restrictions: 'EMBARGOED UNTIL ' + 48 KB of digits": lambda: read_restrictions(
            record(special_instructions="EMBARGOED UNTIL " + "1" * LINE), {}, UTC
        ),
        "restrictions: 'FOR' + 48 KB of spaces": lambda: read_restrictions(
            record(usage_terms="FOR" + " " * LINE + "x"), {}, UTC
        ),
        "restrictions: 'NO USE AFTER ' + 48 KB of dots": lambda: read_restrictions(
            record(caption="NO USE AFTER " + "." * LINE), {}, UTC
        ),
        "dates: '1 ' + 48 KB of letters + ' 2022'": lambda: date("1 " + "A" * LINE + " 2022"),
        "notices: 'REFILE' + 48 KB of spaces": lambda: read_notice(
            record(caption="REFILE" + " " * LINE + "x"), {}
        ),
    }


def _regex_child(limit: int) -> None:
    """Time each case in this process (run with the code under test on PYTHONPATH)."""
    import signal

    class TooLong(BaseException):
        pass

    def alarm(_signum: int, _frame: object) -> None:
        raise TooLong

    signal.signal(signal.SIGALRM, alarm)
    for name, run in _regex_cases().items():
        started = time.perf_counter()
        signal.alarm(limit)
        try:
            run()
            shown = f"{time.perf_counter() - started:.4f}"
        except TooLong:
            shown = f"over {limit}"
        finally:
            signal.alarm(0)
        print(f"| {name} | {shown} |", flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="only rows whose name contains this")
    parser.add_argument("--code", type=Path, default=None, help="a checkout whose src/ to run")
    parser.add_argument("--no-serve", action="store_true", help="leave out the download rows")
    parser.add_argument("--regex-child", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--make-jpeg", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.make_jpeg:
        args.make_jpeg.write_bytes(_jpeg_100mp())
        return 0
    if args.regex_child:
        _regex_child(args.regex_child)
        return 0
    env = _env(args.code)
    h = _hostile()
    rows = [
        "| file | ingest | max process MB | sum of peaks MB | over baseline MB | s | outcome |",
        "| --- | --- | ---: | ---: | ---: | ---: | --- |",
    ]
    with tempfile.TemporaryDirectory(prefix="memory-limits-") as tmp:
        work = Path(tmp)
        empty = work / "empty"
        empty.mkdir()
        base = {}
        for jobs in (1, 2):
            archive = work / f"archive-empty-{jobs}"
            subprocess.run(_cli(archive, "init"), env=env, check=True, capture_output=True)
            base[jobs] = _run(_cli(archive, "ingest", "--jobs", str(jobs), str(empty)), env)
            rows.append(_row("(empty folder: baseline)", f"--jobs {jobs}", base[jobs], base[jobs]))
        cases: dict[str, Callable[[], bytes]] = dict(_cases(h))
        # Made in a process of its own: a forked child's peak counts its parent's pages until
        # it runs the command, and drawing 100 MP takes 400 MB.
        jpeg = work / "jpeg-100mp.source"
        cases["jpeg-100mp"] = lambda: _made_apart(jpeg)
        for name, make in cases.items():
            if args.only not in name:
                continue
            data = make()
            ext = "jpg" if name.startswith("jpeg") else "png"
            one = work / f"{name}.{ext}"
            one.write_bytes(data)
            four = []
            for n in range(4):
                path = work / f"{name}-{n}.{ext}"
                path.write_bytes(_variant(data, n))
                four.append(path)
            size = f"{len(data) / 1024:,.0f} KB"
            rows.append(
                _row(f"{name} ({size})", "--jobs 1", _ingest(work, env, name, [one], 1), base[1])
            )
            rows.append(_row(f"4 x {name}", "--jobs 2", _ingest(work, env, name, four, 2), base[2]))
            for path in [one, *four]:
                path.unlink()
            print(rows[-2], rows[-1], sep="\n", file=sys.stderr)
        if args.only in "sparse-499mb":
            sparse = [work / f"sparse-{n}.jpg" for n in range(4)]
            for n, path in enumerate(sparse):
                _sparse(path, 499 * 1000 * 1000 + n)
            disk = sparse[0].stat().st_blocks * 512
            label = f"sparse-499mb ({disk / 1024:,.0f} KB on disk)"
            rows.append(
                _row(label, "--jobs 1", _ingest(work, env, "sparse", sparse[:1], 1), base[1])
            )
            rows.append(
                _row(
                    "4 x sparse-499mb", "--jobs 2", _ingest(work, env, "sparse", sparse, 2), base[2]
                )
            )
        if not args.no_serve and args.only in "serve-downloads":
            rows.extend(_downloads(work, env))
    print("\n".join(rows))
    if args.only in "regex":
        print("\n| pathological input (48 KB) | seconds |\n| --- | ---: |", flush=True)
        script = [sys.executable, __file__, "--regex-child", "60"]
        subprocess.run(script, env=env, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
