"""The hot folder: whole files only, partial names left alone, patient retries, safe moves."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from photoarchive import Archive
from photoarchive.errors import PhotoArchiveError
from photoarchive.ingest import FileOutcome, IngestOptions, IngestReport
from photoarchive.watch import fitted_name, watch_folder
from tests.hostile import good_jpeg

LONG_STEM = "é" * 125 + "a"  # 251 bytes: with ".jpg", a name of exactly 255 bytes
LONG_NAME = LONG_STEM + ".jpg"


def jpeg(n: int) -> bytes:
    """A small JPEG whose bytes differ for each n."""
    return good_jpeg((n * 37 % 256, n * 11 % 256, 200), (64, 48))


class Recorder:
    """Collects what the watcher reports, and counts ingests per file name."""

    def __init__(self, archive: Archive) -> None:
        self.outcomes: list[tuple[str, str]] = []
        self.problems: list[tuple[str, str]] = []
        self.tries: dict[str, int] = {}
        real = archive.ingest

        def counting(paths: Any, options: IngestOptions | None = None) -> IngestReport:
            paths = list(paths)
            for path in paths:
                self.tries[Path(path).name] = self.tries.get(Path(path).name, 0) + 1
            return real(paths, options)

        archive.ingest = counting  # type: ignore[method-assign]

    def outcome(self, outcome: FileOutcome, path: Path) -> None:
        self.outcomes.append((path.name, outcome.status))

    def problem(self, path: Path, message: str) -> None:
        self.problems.append((path.name, message))


def run_until(
    archive: Archive,
    hot: Path,
    done: Callable[[], bool],
    limit: float = 8.0,
    **kwargs: Any,
) -> Recorder:
    """Run the watcher here (the archive's connections belong to this thread) until
    `done()` holds or `limit` seconds pass; fail if it returned on its own before."""
    recorder = Recorder(archive)
    stop = threading.Event()

    def finished() -> bool:
        try:
            return done()
        except OSError:  # a folder not made yet
            return False

    def stopper() -> None:
        deadline = time.monotonic() + limit
        while not finished() and time.monotonic() < deadline:
            time.sleep(0.02)
        stop.set()

    watcher = threading.Thread(target=stopper)
    watcher.start()
    watch_folder(
        archive,
        hot,
        stop=stop,
        on_outcome=recorder.outcome,
        on_problem=recorder.problem,
        **kwargs,
    )
    assert stop.is_set(), "the watcher ended by itself"
    watcher.join()
    return recorder


def names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_a_missing_folder_is_an_error_and_is_not_created(archive: Archive, tmp_path: Path) -> None:
    missing = tmp_path / "no" / "such"
    with pytest.raises(PhotoArchiveError, match="no such folder"):
        watch_folder(archive, missing, once=True)
    assert not (tmp_path / "no").exists()
    a_file = tmp_path / "file.jpg"
    a_file.write_bytes(jpeg(1))
    with pytest.raises(PhotoArchiveError, match="no such folder"):
        watch_folder(archive, a_file, once=True)
    assert names(tmp_path) == ["archive", "file.jpg"]


def test_the_cli_refuses_a_missing_folder_with_one_error_line(cli: Any, tmp_path: Path) -> None:
    cli("init")
    missing = tmp_path / "no" / "such" / "folder"
    result = cli("watch", str(missing), "--once")
    assert result.exit_code == 1
    assert result.stderr.splitlines() == [f"Error: no such folder: {missing}"]
    assert result.stdout == ""
    assert not (tmp_path / "no").exists()


def test_partial_names_are_never_ingested_or_moved(archive: Archive, tmp_path: Path) -> None:
    hot = tmp_path / "hot"
    hot.mkdir()
    partial = [
        ".hidden.jpg",
        "~$draft.jpg",
        "backup.jpg~",
        "a.jpg.part",
        "b.JPG.PARTIAL",
        "c.tmp",
        "d.TEMP",
        "e.jpg.crdownload",
        "f.jpg.download",
        "g.jpg.filepart",
        "h.jpg.!ut",
        "i.jpg.!QB",
    ]
    for n, name in enumerate(partial, 2):
        (hot / name).write_bytes(jpeg(n))  # whole pictures: only the name keeps them out
    (hot / "whole.jpg").write_bytes(jpeg(1))
    recorder = Recorder(archive)
    watch_folder(archive, hot, settle=0.05, poll=0.02, once=True, on_outcome=recorder.outcome)
    assert recorder.outcomes == [("whole.jpg", "new")]
    assert set(recorder.tries) == {"whole.jpg"}
    assert archive.catalog.count() == 1
    assert names(hot) == sorted([*partial, "done", "rejected"])
    assert names(hot / "done") == ["whole.jpg"]
    assert names(hot / "rejected") == []


def test_a_copy_that_pauses_longer_than_settle_is_ingested_whole(
    archive: Archive, tmp_path: Path
) -> None:
    hot = tmp_path / "hot"
    hot.mkdir()
    data = jpeg(3)
    half = len(data) // 2

    def copy_with_a_pause() -> None:
        with (hot / "slow.jpg").open("wb") as fh:
            fh.write(data[:half])
            fh.flush()
            time.sleep(1.0)  # more than `settle`: the half file is read, and rejected
            fh.write(data[half:])

    copier = threading.Thread(target=copy_with_a_pause)
    copier.start()
    recorder = run_until(
        archive,
        hot,
        lambda: (hot / "done" / "slow.jpg").exists() or (hot / "rejected" / "slow.jpg").exists(),
        settle=0.3,
        poll=0.05,
        patience=5.0,
    )
    copier.join()
    assert recorder.tries["slow.jpg"] >= 2  # the half file was tried, then the whole one
    assert recorder.outcomes == [("slow.jpg", "new")]
    assert names(hot / "rejected") == []
    [photo] = list(archive.catalog.iter_photos())
    assert archive.store.read(archive.original_key(photo.record.id)) == data


def test_a_file_that_keeps_changing_gets_its_patience_back(
    archive: Archive, tmp_path: Path
) -> None:
    # Each pause is longer than `settle` (so the partial file is tried and rejected) but
    # the whole copy takes longer than `patience`: only a clock that restarts whenever the
    # file changes lets it arrive.
    hot = tmp_path / "hot"
    hot.mkdir()
    data = jpeg(4)
    cuts = [len(data) // 4, len(data) // 2, 3 * len(data) // 4, len(data)]

    def copy_in_pieces() -> None:
        with (hot / "piecewise.jpg").open("wb") as fh:
            start = 0
            for cut in cuts:
                fh.write(data[start:cut])
                fh.flush()
                start = cut
                if cut < len(data):
                    time.sleep(0.5)

    copier = threading.Thread(target=copy_in_pieces)
    copier.start()
    recorder = run_until(
        archive,
        hot,
        lambda: any((hot / sub / "piecewise.jpg").exists() for sub in ("done", "rejected")),
        settle=0.15,
        poll=0.03,
        patience=0.8,
    )
    copier.join()
    assert recorder.outcomes == [("piecewise.jpg", "new")]
    assert names(hot / "done") == ["piecewise.jpg"]
    assert recorder.tries["piecewise.jpg"] >= 4


def test_a_bad_file_is_retried_with_backoff_then_rejected_with_its_reason(
    archive: Archive, tmp_path: Path
) -> None:
    hot = tmp_path / "hot"
    hot.mkdir()
    (hot / "letter.jpg").write_text("Dear desk, not a picture.")
    recorder = Recorder(archive)
    started = time.monotonic()
    watch_folder(
        archive,
        hot,
        settle=0.05,
        poll=0.01,
        patience=0.6,
        once=True,  # still waits for the retries
        on_outcome=recorder.outcome,
    )
    assert time.monotonic() - started >= 0.6
    assert recorder.outcomes == [("letter.jpg", "rejected")]
    # Tried at 0, +0.1, +0.2 (doubling), then once more when patience ends; polling every
    # 10 ms without backoff would try it some 60 times.
    assert 3 <= recorder.tries["letter.jpg"] <= 6
    assert names(hot / "rejected") == ["letter.jpg", "letter.jpg.reason.txt"]
    reason = (hot / "rejected" / "letter.jpg.reason.txt").read_text(encoding="utf-8")
    assert "not a recognised image" in reason
    assert names(hot) == ["done", "rejected"]
    assert archive.catalog.count() == 0


def test_two_files_with_the_same_255_byte_name_both_end_in_done(
    archive: Archive, tmp_path: Path
) -> None:
    assert len(LONG_NAME.encode()) == 255
    hot = tmp_path / "hot"
    hot.mkdir()
    dropped: list[int] = []

    def drop_one_after_the_other() -> None:
        for n in (1, 2):
            # Written under a hidden name, then renamed: the watcher sees only whole files.
            staging = hot / f".incoming-{n}"
            staging.write_bytes(jpeg(10 + n))
            staging.rename(hot / LONG_NAME)
            dropped.append(n)
            deadline = time.monotonic() + 5
            while (hot / LONG_NAME).exists() and time.monotonic() < deadline:
                time.sleep(0.02)

    dropper = threading.Thread(target=drop_one_after_the_other)
    dropper.start()
    recorder = run_until(
        archive,
        hot,
        lambda: len(dropped) == 2 and not (hot / LONG_NAME).exists(),
        settle=0.05,
        poll=0.02,
    )
    dropper.join()
    assert recorder.outcomes == [(LONG_NAME, "new"), (LONG_NAME, "new")]
    assert recorder.problems == []
    second = "é" * 124 + "-2.jpg"  # 124 whole characters: a 125th would not fit
    assert names(hot / "done") == sorted([LONG_NAME, second])
    assert len(second.encode()) <= 255
    assert names(hot) == ["done", "rejected"]
    assert archive.catalog.count() == 2


def test_rejected_files_with_long_names_keep_their_reasons(
    archive: Archive, tmp_path: Path
) -> None:
    hot = tmp_path / "hot"
    hot.mkdir()
    for round_ in range(2):
        (hot / LONG_NAME).write_text(f"not a picture, round {round_}")
        watch_folder(archive, hot, settle=0.02, poll=0.01, patience=0, once=True)
        assert names(hot) == ["done", "rejected"]
    moved = names(hot / "rejected")
    assert len(moved) == 4
    for name in moved:
        assert len(name.encode()) <= 255
    pictures = [n for n in moved if not n.endswith(".reason.txt")]
    for name in pictures:
        assert f"{name}.reason.txt" in moved
        assert name.endswith(".jpg") and LONG_STEM.startswith(name.removesuffix(".jpg")[:100])
    # The first is shortened only to make room for ".reason.txt"; the second also for "-2".
    assert sorted(pictures) == sorted(["é" * 120 + ".jpg", "é" * 119 + "-2.jpg"])


@pytest.mark.parametrize(
    ("name", "n", "limit"),
    [
        ("short.jpg", 1, 255),
        ("short.jpg", 7, 255),
        (LONG_NAME, 1, 255),
        (LONG_NAME, 2, 255),
        (LONG_NAME, 12, 244),
        ("📷" * 70 + ".jpeg", 3, 255),
        ("x" * 300, 2, 255),
        ("photo." + "e" * 260, 2, 255),
    ],
)
def test_fitted_names_fit_and_keep_whole_characters(name: str, n: int, limit: int) -> None:
    fitted = fitted_name(name, n, limit)
    assert len(fitted.encode()) <= limit
    tag = f"-{n}" if n > 1 else ""
    stem, dot, ext = name.rpartition(".")
    if dot and len(ext) < 200:
        assert fitted.endswith(f"{tag}.{ext}")
        kept = fitted.removesuffix(f"{tag}.{ext}")
        assert stem.startswith(kept) and kept
        # As long as it may be: one more character would not fit.
        if kept != stem:
            longer = stem[: len(kept) + 1] + f"{tag}.{ext}"
            assert len(longer.encode()) > limit
    else:
        assert fitted.endswith(tag) and name.startswith(fitted.removesuffix(tag))
    if len(name.encode()) <= limit and n == 1:
        assert fitted == name


def test_a_file_that_cannot_be_moved_is_reported_once_and_not_ingested_again(
    archive: Archive, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hot = tmp_path / "hot"
    hot.mkdir()
    (hot / "stuck.jpg").write_bytes(jpeg(20))
    real_rename = os.rename

    def rename(src: Any, dst: Any, *args: Any, **kwargs: Any) -> None:
        if Path(src).name == "stuck.jpg":
            raise PermissionError(13, "Permission denied", str(src))
        real_rename(src, dst, *args, **kwargs)

    monkeypatch.setattr(os, "rename", rename)
    started = time.monotonic()

    def later_arrival_done() -> bool:
        arrived = (hot / "later.jpg").exists() or (hot / "done" / "later.jpg").exists()
        if time.monotonic() - started > 0.3 and not arrived:
            (hot / "later.jpg").write_bytes(jpeg(21))
        return (hot / "done" / "later.jpg").exists() and time.monotonic() - started > 0.6

    recorder = run_until(archive, hot, later_arrival_done, settle=0.05, poll=0.02)
    assert recorder.tries["stuck.jpg"] == 1  # some 30 polls, one ingest
    assert recorder.outcomes == [("stuck.jpg", "new"), ("later.jpg", "new")]
    assert len(recorder.problems) == 1
    where, message = recorder.problems[0]
    assert where == "stuck.jpg" and "cannot move stuck.jpg" in message
    assert "Permission denied" in message
    assert names(hot) == ["done", "rejected", "stuck.jpg"]
    # With --once the watcher does not wait for a file it cannot move.
    recorder = Recorder(archive)
    stop = threading.Event()
    guard = threading.Timer(5.0, stop.set)
    guard.start()
    watch_folder(
        archive, hot, settle=0.02, poll=0.01, once=True, stop=stop, on_problem=recorder.problem
    )
    guard.cancel()
    assert not stop.is_set(), "--once waited for a file it cannot move"
    assert [p for p, _ in recorder.problems] == ["stuck.jpg"]
