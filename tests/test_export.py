"""Export writes like ingest: whole files only, nothing replaced unless asked, the umask kept."""

from __future__ import annotations

import io
import os
import random
import shutil
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from defusedxml import ElementTree
from PIL import Image

from photoarchive import Archive, export, init_archive, open_archive
from photoarchive.editing import edit_photo
from photoarchive.errors import TargetExistsError
from photoarchive.export import ExportOptions, export_photos
from photoarchive.fingerprints import pixel_digest
from tests.conftest import FIXTURES, ROOT

PHOTOS = 30


def noisy_jpeg(seed: int, size: tuple[int, int] = (800, 600)) -> bytes:
    """A photo-sized JPEG of noise: a few hundred KB that compress badly."""
    pixels = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", quality=90, subsampling=0)
    return buf.getvalue()


def run_cli(
    archive: Path, *args: str, umask: int | None = None
) -> subprocess.CompletedProcess[str]:
    """Run `python -m photoarchive --archive ARCHIVE ARGS` in its own process."""
    command = [sys.executable, "-m", "photoarchive", "--archive", str(archive), *args]
    if umask is not None:
        command = ["sh", "-c", f'umask {umask:03o} && exec "$@"', "sh", *command]
    return subprocess.run(command, capture_output=True, text=True, cwd=ROOT, timeout=60)


def everything_in(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()} if folder.exists() else {}


def heic(size: tuple[int, int] = (64, 48)) -> bytes:
    """A small HEIC photo, written by libheif (pillow-heif)."""
    from pillow_heif import register_heif_opener

    register_heif_opener()
    buf = io.BytesIO()
    Image.new("RGB", size, (90, 120, 30)).save(buf, "HEIF", quality=60)
    return buf.getvalue()


@pytest.fixture
def small(tmp_path: Path) -> Iterator[tuple[Archive, dict[str, str]]]:
    """An archive of a JPEG, a PNG, a WebP and a HEIC (which travels with a sidecar)."""
    archive, _ = init_archive(tmp_path / "archive")
    src = tmp_path / "in"
    src.mkdir()
    (src / "wire.jpg").write_bytes(noisy_jpeg(1, (64, 48)))
    shutil.copy(FIXTURES / "xmp.png", src / "grab.png")
    shutil.copy(FIXTURES / "xmp.webp", src / "social.webp")
    (src / "phone.heic").write_bytes(heic())
    report = archive.ingest([src])
    ids = {Path(o.path).name: o.id or "" for o in report.outcomes}
    assert all(ids.values()) and len(ids) == 4
    yield archive, ids
    archive.close()


def test_an_existing_file_is_kept_and_nothing_is_written(
    small: tuple[Archive, dict[str, str]], tmp_path: Path
) -> None:
    archive, ids = small
    archive.close()
    out = tmp_path / "out"
    out.mkdir()
    jpeg_id = ids["wire.jpg"]
    in_order = [jpeg_id, ids["grab.png"], ids["social.webp"], ids["phone.heic"]]
    (out / f"{jpeg_id}.jpg").write_bytes(b"the desk's own file")
    before = everything_in(out)
    result = run_cli(archive.root, "export", *in_order, "--to", str(out), "--name", "{id}")
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        f"Error: {out / jpeg_id}.jpg exists already: nothing was exported (--overwrite replaces it)"
    ]
    assert result.stdout == ""
    assert everything_in(out) == before
    # Two clashes, one of them a sidecar: named first and counted, still nothing written.
    (out / f"{ids['phone.heic']}.xmp").write_bytes(b"<x/>")
    before = everything_in(out)
    result = run_cli(archive.root, "export", *in_order, "--to", str(out), "--name", "{id}")
    assert result.returncode == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"Error: 2 files exist already in {out}, the first {jpeg_id}.jpg")
    assert "--overwrite replaces them" in line
    assert everything_in(out) == before

    result = run_cli(
        archive.root, "export", *in_order, "--to", str(out), "--name", "{id}", "--overwrite"
    )
    assert result.returncode == 0, result.stderr
    after = everything_in(out)
    assert sorted(after) == sorted(
        [
            f"{jpeg_id}.jpg",
            f"{ids['grab.png']}.png",
            f"{ids['social.webp']}.webp",
            f"{ids['phone.heic']}.heic",
            f"{ids['phone.heic']}.xmp",
        ]
    )
    with open_archive(archive.root) as arc:
        original = arc.store.read(arc.original_key(jpeg_id))
    exported = after[f"{jpeg_id}.jpg"]
    assert pixel_digest(exported, "JPEG") == pixel_digest(original, "JPEG")
    assert after[f"{ids['phone.heic']}.xmp"].startswith(b"<?xpacket")


def test_a_file_created_during_the_export_is_not_replaced(
    small: tuple[Archive, dict[str, str]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive, ids = small
    out = tmp_path / "out"
    for name in ("wire.jpg", "grab.png"):
        edit_photo(archive, ids[name], {"caption": "Corrected by the desk"}, "desk")
    records = [archive.get(ids["wire.jpg"]), archive.get(ids["grab.png"])]
    real = export.embed_changes

    def someone_else_writes_first(data: bytes, fmt: str, values: dict[str, Any]) -> Any:
        # After export has checked the names, another program takes the PNG's.
        if fmt == "PNG":
            (out / f"{ids['grab.png']}.png").write_bytes(b"theirs")
        return real(data, fmt, values)

    monkeypatch.setattr(export, "embed_changes", someone_else_writes_first)
    with pytest.raises(TargetExistsError):
        export_photos(archive, records, out, ExportOptions(pattern="{id}"))
    assert (out / f"{ids['wire.jpg']}.jpg").exists()  # the check came before, and passed
    assert (out / f"{ids['grab.png']}.png").read_bytes() == b"theirs"


@pytest.mark.parametrize(
    ("umask", "file_mode", "folder_mode"),
    [(0o022, 0o644, 0o755), (0o027, 0o640, 0o750)],
    ids=["umask022", "umask027"],
)
def test_exported_files_follow_the_umask(
    small: tuple[Archive, dict[str, str]],
    tmp_path: Path,
    umask: int,
    file_mode: int,
    folder_mode: int,
) -> None:
    archive, ids = small
    archive.close()
    embedded, sidecars = tmp_path / "embedded", tmp_path / "sidecars"
    for out, extra in ((embedded, ()), (sidecars, ("--sidecar",))):
        result = run_cli(
            archive.root, "export", *ids.values(), "--to", str(out), *extra, umask=umask
        )
        assert result.returncode == 0, result.stderr
        assert stat.S_IMODE(out.stat().st_mode) == folder_mode
    files = [*embedded.iterdir(), *sidecars.iterdir()]
    assert len(files) == 5 + 8  # the HEIC has a sidecar either way; --sidecar gives all one
    for path in files:
        assert stat.S_IMODE(path.stat().st_mode) == file_mode, path.name


@pytest.fixture(scope="module")
def photo_archive(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, bytes]]:
    """An archive of PHOTOS photo-sized JPEGs; returns its folder and {id: original bytes}."""
    base = tmp_path_factory.mktemp("kill")
    src = base / "in"
    src.mkdir()
    for n in range(PHOTOS):
        (src / f"photo{n:02}.jpg").write_bytes(noisy_jpeg(100 + n))
    archive, _ = init_archive(base / "archive")
    with archive:
        report = archive.ingest([src])
        originals = {
            o.id or "": archive.store.read(archive.original_key(o.id or ""))
            for o in report.outcomes
        }
    assert len(originals) == PHOTOS
    return base / "archive", originals


def check_whole(out: Path, originals: dict[str, bytes], sidecar: bool) -> int:
    """Assert every file in `out` is complete; return how many photos are there."""
    photos = 0
    for path in out.iterdir():
        name = path.name
        rec_id, _, ext = name.partition(".")
        assert rec_id in originals and ext in ("jpg", "xmp"), f"stray file {name}"
        data = path.read_bytes()
        if ext == "xmp":
            assert sidecar
            ElementTree.fromstring(data)  # the whole packet, not a cut one
            continue
        photos += 1
        with Image.open(io.BytesIO(data)) as im:
            im.load()  # raises on a truncated file
        if sidecar:
            assert data == originals[rec_id], name
        else:
            assert pixel_digest(data, "JPEG") == pixel_digest(originals[rec_id], "JPEG"), name
    return photos


def test_a_killed_export_leaves_only_whole_files(
    photo_archive: tuple[Path, dict[str, bytes]], tmp_path: Path
) -> None:
    root, originals = photo_archive
    ids = sorted(originals)
    seed = time.time_ns()
    rng = random.Random(seed)
    written = []
    for run in range(6):
        out = tmp_path / f"out{run}"
        sidecar = run % 2 == 1
        extra = ["--sidecar"] if sidecar else []
        command = [sys.executable, "-m", "photoarchive", "--archive", str(root)]
        process = subprocess.Popen(
            [*command, "export", *ids, "--to", str(out), "--name", "{id}", *extra],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        # Kill when the k-th file appears (right as a name is given, where a file written
        # in place would still be filling), or a moment later.
        k = rng.randrange(1, PHOTOS - 5)
        pause = rng.choice([0.0, rng.uniform(0, 0.01)])
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if sum(1 for _ in os.scandir(out)) >= k:
                    break
            except FileNotFoundError:
                pass
        time.sleep(pause)
        process.send_signal(signal.SIGKILL)
        assert process.wait() == -signal.SIGKILL, f"finished before the kill (seed {seed})"
        written.append(check_whole(out, originals, sidecar))
    assert all(0 < n < PHOTOS for n in written), (written, seed)
