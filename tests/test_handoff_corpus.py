"""The hand-off round trip over the whole shared corpus: every file ingest accepts gets a
caption edit and is exported, and the export is compared with its original tag by tag as
exiftool (and exiv2, where installed) reads them.

What a desk's export must do (see photoarchive.export and photoarchive.metadata.embed):
write the new caption into every family the file carries, and leave everything else as it
was: other tags, maker notes, thumbnails and previews, unknown XMP, IIM datasets such as the
embargo (release/expiration date and time), warnings, and the pixels. HEIC is copied byte for
byte, with the caption in a NAME.xmp sidecar.

The archive is built once for the module (ingest, edit, export through the Python API, as
the CLI does it); `test_cli_export_end_to_end` runs the real commands on a few files.
"""

from __future__ import annotations

import base64
import csv
import functools
import hashlib
import json
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from photoarchive import init_archive
from photoarchive.editing import edit_photo
from photoarchive.export import ExportOptions, export_photos
from photoarchive.ingest import IngestOptions
from tests.conftest import CORPUS

CAPTION = "Новий підпис — edited 2026"
EXIFTOOL = shutil.which("exiftool")
EXIV2 = shutil.which("exiv2")

# The files ingest rejects as damaged (none of them is a complete image; see
# tests/test_corpus.py): they are never exported, so they are not params here;
# test_every_accepted_file_was_exported checks that exactly these were rejected.
REJECTED_BY_INGEST = {
    "exiftool/t/images/QuickTime.heic",
    "php-image-metadata-parser/tests/Fixtures/malformedchunks.png",
    "pillow/Tests/images/truncated_jpeg.jpg",
    "pillow/Tests/images/ultrahdr.jpg",
}

# The corpus has Urgency, Category and Writer-Editor but no release or expiration date, the
# heart of an embargo: this file is built (with exiftool) from a corpus camera JPEG that has
# maker notes and a thumbnail but no IIM, so the export must keep exiftool's IIM datasets.
BUILT = "built/embargo_Canon_40D.jpg"
BUILT_FROM = "exif-samples/jpg/Canon_40D.jpg"
EMBARGO_VALUES = {
    "IPTC:ReleaseDate": "2026:11:27",
    "IPTC:ReleaseTime": "14:00:00+00:00",
    "IPTC:ExpirationDate": "2026:12:31",
    "IPTC:ExpirationTime": "23:59:00+00:00",
    "IPTC:Urgency": "2",
    "IPTC:Category": "POL",
    "IPTC:Writer-Editor": "desk",
}
EMBARGO = tuple(EMBARGO_VALUES)

# -- what may differ between an original and its export ------------------------------------
# The tags the edit writes: the caption in XMP, IIM and EXIF. Their new value is asserted by
# test_new_caption_reads_back; they must still be there if the original had them.
EDITED = {"XMP-dc:Description", "IPTC:Caption-Abstract", "IFD0:ImageDescription"}
# The IIM envelope the edit adds or refreshes: 1:90 declares UTF-8; the Photoshop digest of
# the IIM block is recomputed (File:CurrentIPTCDigest is exiftool's own digest of it).
ENVELOPE = {"IPTC:CodedCharacterSet", "Photoshop:IPTCDigest"}
# Whole groups whose values are not the file's metadata: System (file name, size, dates,
# permissions), File (exiftool's facts about the container, including CurrentIPTCDigest)
# and Composite (derived from the tags compared here, e.g. the MWG description).
FREE_GROUPS = ("System", "File", "Composite")
# Checked by their own tests: a new error (test_no_new_exiftool_error) or a new warning
# (test_no_new_exiftool_warnings); a warning that goes away (the stale IPTCDigest) is fine.
OWN_TESTS = {"SourceFile", "ExifTool:Error", "ExifTool:Warning"}
# Positions that move when a segment before them grows: IFD1:ThumbnailOffset,
# IFD0:StripOffsets, MPImage2:MPImageStart, Olympus:PreviewImageStart, ... Their tags must
# still be there; what they point at is compared instead (BINARIES, and the pixels).
POSITIONAL = re.compile(r"(Offsets?|ImageStart)$")
# The data behind positional tags, extracted with `exiftool -b` and compared by md5.
BINARIES = ("ThumbnailImage", "PreviewImage", "OriginalDecisionData")


def _manifest() -> list[str]:
    manifest = CORPUS / "manifest.csv"
    if not manifest.is_file():
        return []
    with manifest.open(encoding="utf-8", newline="") as fh:
        return [row["path"] for row in csv.DictReader(fh)]


PATHS = _manifest()
FILES = [*(p for p in PATHS if p not in REJECTED_BY_INGEST), BUILT] if PATHS else []


@dataclass(frozen=True)
class Handed:
    """One original and what export made of it."""

    original: Path
    fmt: str
    id: str
    exported: Path
    how: str
    sidecar: Path | None


@dataclass
class Handoff:
    files: dict[str, Handed] = field(default_factory=dict)
    rejected: dict[str, str] = field(default_factory=dict)
    built: bool = False


def _build_embargo(to: Path) -> Path:
    target = to / Path(BUILT).name
    assignments = [f"-{tag}={value}" for tag, value in EMBARGO_VALUES.items()]
    subprocess.run(
        [EXIFTOOL or "exiftool", "-q", *assignments, "-o", str(target), str(CORPUS / BUILT_FROM)],
        check=True,
        capture_output=True,
    )
    return target


@pytest.fixture(scope="module")
def handoff(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Handoff]:
    """Ingest the corpus (and the built embargo file) into one archive, give every photo a
    new caption as the desk, and export all of them under their ids."""
    if not PATHS:
        pytest.skip(f"corpus not found at {CORPUS}: the shared folder is not beside the checkout")
    work = tmp_path_factory.mktemp("handoff")
    sources = {rel: CORPUS / rel for rel in PATHS}
    if EXIFTOOL:
        (work / "built").mkdir()
        sources[BUILT] = _build_embargo(work / "built")
    arc, _ = init_archive(work / "archive")
    try:
        report = arc.ingest(list(sources.values()), IngestOptions(jobs=2))
        by_path = {Path(o.path).resolve(): o for o in report.outcomes}
        result = Handoff(built=BUILT in sources)
        ids: dict[str, str] = {}
        for rel, path in sources.items():
            outcome = by_path[path.resolve()]
            if outcome.status == "rejected":
                result.rejected[rel] = outcome.reason or ""
            else:
                assert outcome.id is not None
                ids[rel] = outcome.id
        unique = sorted(set(ids.values()))
        for photo_id in unique:
            edit_photo(arc, photo_id, {"caption": CAPTION}, "desk")
        # Some corpus files are linked as refiles of others (the same frame as JPEG and WebP):
        # export holds back the older version unless asked, and the hand-off wants them all.
        exported = export_photos(
            arc,
            [arc.get(photo_id) for photo_id in unique],
            work / "out",
            ExportOptions(pattern="{id}", include=("superseded",)),
        )
        done = {item.id: item for item in exported.done}
        for rel, photo_id in ids.items():
            item = done[photo_id]
            result.files[rel] = Handed(
                original=sources[rel],
                fmt=arc.get(photo_id).format,
                id=photo_id,
                exported=item.path,
                how=item.how,
                sidecar=item.sidecar,
            )
        yield result
    finally:
        arc.close()


def _handed(handoff: Handoff, rel: str) -> Handed:
    if rel == BUILT and not handoff.built:
        pytest.skip("exiftool is not installed: the embargo file cannot be built")
    if rel in handoff.rejected:
        pytest.fail(f"ingest now rejects {rel}: {handoff.rejected[rel]}")
    return handoff.files[rel]


# -- exiftool's readings, one batched call each ---------------------------------------------


def _collect(pairs: list[tuple[str, Any]]) -> dict[str, list[Any]]:
    """JSON object hook: with -a a tag can occur more than once in a group; keep them all."""
    out: dict[str, list[Any]] = {}
    for key, value in pairs:
        out.setdefault(key, []).append(value)
    return out


def _exiftool(args: list[str], files: list[Path]) -> dict[str, dict[str, list[Any]]]:
    names = sorted({str(f) for f in files})
    run = subprocess.run(
        [EXIFTOOL or "exiftool", "-j", *args, *names], capture_output=True, check=False
    )
    rows = json.loads(run.stdout.decode("utf-8"), object_pairs_hook=_collect)
    readings = {row["SourceFile"][0]: row for row in rows}
    missing = set(names) - set(readings)
    assert not missing, f"exiftool did not read {sorted(missing)}: {run.stderr!r}"
    return readings


@dataclass
class Readings:
    tags: dict[str, dict[str, list[Any]]]
    mwg: dict[str, dict[str, list[Any]]]
    binaries: dict[str, dict[str, list[Any]]]

    def of(self, path: Path) -> dict[str, list[Any]]:
        return self.tags[str(path)]


@pytest.fixture(scope="module")
def readings(handoff: Handoff) -> Readings:
    if EXIFTOOL is None:
        pytest.skip("exiftool is not installed")
    originals = [h.original for h in handoff.files.values()]
    exports = [h.exported for h in handoff.files.values()]
    sidecars = [h.sidecar for h in handoff.files.values() if h.sidecar]
    binary_args = ["-a", "-G1", "-b", *(f"-{name}" for name in BINARIES)]
    return Readings(
        tags=_exiftool(["-a", "-G1", "-n"], [*originals, *exports, *sidecars]),
        mwg=_exiftool(["-G1", "-use", "MWG", "-MWG:Description"], [*exports, *sidecars]),
        binaries=_exiftool(binary_args, [*originals, *exports]),
    )


def _has_iim(tags: dict[str, list[Any]]) -> bool:
    return any(key.startswith("IPTC:") for key in tags)


# -- 1. no corrupt output -------------------------------------------------------------------


@pytest.mark.parametrize("rel", FILES)
def test_no_new_exiftool_error(rel: str, handoff: Handoff, readings: Readings) -> None:
    handed = _handed(handoff, rel)
    before = readings.of(handed.original).get("ExifTool:Error", [])
    for path in (handed.exported, handed.sidecar):
        if path is not None:
            after = readings.of(path).get("ExifTool:Error", [])
            assert set(after) <= set(before), f"{path.name}: new exiftool error {after}"


@functools.cache
def _decoded(path: Path) -> tuple[tuple[str, tuple[int, int], str] | str, ...]:
    """Decode every frame (an MPO's second picture, a TIFF's pages) fully: (mode, size, md5 of
    the pixels) per frame, or the error that stopped it."""
    import pillow_heif
    from PIL import Image

    pillow_heif.register_heif_opener()
    frames: list[tuple[str, tuple[int, int], str] | str] = []
    with Image.open(path) as im:
        for n in range(getattr(im, "n_frames", 1)):
            try:
                im.seek(n)
                im.load()
            except (OSError, ValueError, EOFError) as exc:
                frames.append(f"{type(exc).__name__}: {exc}")
            else:
                frames.append((im.mode, im.size, hashlib.md5(im.tobytes()).hexdigest()))
    return tuple(frames)


@pytest.mark.parametrize("rel", FILES)
def test_export_opens_and_loads(rel: str, handoff: Handoff) -> None:
    handed = _handed(handoff, rel)
    if handed.fmt == "HEIF":
        assert handed.how == "sidecar"
        assert handed.exported.read_bytes() == handed.original.read_bytes()
        assert handed.sidecar == handed.exported.with_name(f"{handed.id}.xmp")
        assert handed.sidecar.is_file()
    else:
        assert (handed.how, handed.sidecar) == ("embedded", None)
    before = _decoded(handed.original)
    after = _decoded(handed.exported)
    assert isinstance(after[0], tuple), f"{handed.exported.name}: {after[0]}"
    # Other frames must load where the original's do (exiftool's own ExifTool.jpg names a
    # second MPF image beyond its end: it cannot load in either).
    broken = [n for n, f in enumerate(after) if isinstance(f, str) and n < len(before)]
    assert all(isinstance(before[n], str) for n in broken), f"{handed.exported.name}: {after}"


# -- 2. the new caption reads back ------------------------------------------------------------


@pytest.mark.parametrize("rel", FILES)
def test_new_caption_reads_back(rel: str, handoff: Handoff, readings: Readings) -> None:
    handed = _handed(handoff, rel)
    carrier = handed.sidecar or handed.exported
    assert readings.mwg[str(carrier)].get("MWG:Description") == [CAPTION]
    after = readings.of(carrier)
    assert after.get("XMP-dc:Description") == [CAPTION]
    if handed.sidecar is not None:
        return
    original = readings.of(handed.original)
    if handed.fmt in ("JPEG", "TIFF") or _has_iim(original):
        assert after.get("IPTC:Caption-Abstract") == [CAPTION]
        assert after.get("IPTC:CodedCharacterSet") == ["\x1b%G"], "IIM must declare UTF-8"
    else:
        assert not _has_iim(after), "IIM is created only in JPEG and TIFF"
    if "IFD0:ImageDescription" in original:
        assert after.get("IFD0:ImageDescription") == [CAPTION]


# -- 3. nothing lost or changed beyond the edit -----------------------------------------------


def _free(key: str) -> bool:
    return key in OWN_TESTS or key.split(":", 1)[0] in FREE_GROUPS


def _allowed_new(key: str, handed: Handed, original: dict[str, list[Any]]) -> bool:
    """May the export have this tag when the original did not?"""
    if key == "XMP-dc:Description":
        return True
    writes_iim = handed.fmt in ("JPEG", "TIFF") or _has_iim(original)
    if key in ("IPTC:Caption-Abstract", "IPTC:CodedCharacterSet", "Photoshop:IPTCDigest"):
        return writes_iim
    if key == "IPTC:ApplicationRecordVersion":
        # 2:00 comes with an IIM block the edit creates; an existing block keeps its own.
        return handed.fmt in ("JPEG", "TIFF") and not _has_iim(original)
    # IFD0:ImageDescription is written only where the file already has it.
    return False


def _short(values: list[Any]) -> str:
    text = json.dumps(values, ensure_ascii=False)
    return text if len(text) <= 120 else text[:117] + "..."


@pytest.mark.parametrize("rel", FILES)
def test_no_tag_lost_or_changed(rel: str, handoff: Handoff, readings: Readings) -> None:
    handed = _handed(handoff, rel)
    before = readings.of(handed.original)
    after = readings.of(handed.exported)
    problems = []
    for key, values in before.items():
        if _free(key):
            continue
        if key not in after:
            problems.append(f"lost {key} = {_short(values)}")
        elif key in EDITED or key in ENVELOPE or POSITIONAL.search(key):
            continue
        elif after[key] != values:
            problems.append(f"changed {key}: {_short(values)} -> {_short(after[key])}")
    for key, values in after.items():
        if key not in before and not _free(key) and not _allowed_new(key, handed, before):
            problems.append(f"new {key} = {_short(values)}")
    assert not problems, f"{handed.exported.name}:\n  " + "\n  ".join(problems)


def _md5s(row: dict[str, list[Any]]) -> dict[str, list[str]]:
    out = {}
    for key, values in row.items():
        if key == "SourceFile":
            continue
        out[key] = [
            hashlib.md5(
                base64.b64decode(v[7:]) if str(v).startswith("base64:") else str(v).encode()
            ).hexdigest()
            for v in values
        ]
    return out


@pytest.mark.parametrize("rel", FILES)
def test_thumbnails_and_previews_unchanged(rel: str, handoff: Handoff, readings: Readings) -> None:
    """What positional tags point at (thumbnail, previews, an MPO's second image) is the
    same data after the segments before it changed size."""
    handed = _handed(handoff, rel)
    before = _md5s(readings.binaries[str(handed.original)])
    after = _md5s(readings.binaries[str(handed.exported)])
    changed = {k: (v, after.get(k)) for k, v in before.items() if after.get(k) != v}
    assert not changed, f"{handed.exported.name}: extracted data differs (md5s): {changed}"


def test_binary_comparison_is_not_vacuous(handoff: Handoff, readings: Readings) -> None:
    found = {
        key.split(":", 1)[1]
        for h in handoff.files.values()
        for key in readings.binaries[str(h.original)]
        if key != "SourceFile"
    }
    assert {"ThumbnailImage", "PreviewImage"} <= found


# -- 4. no new warnings -----------------------------------------------------------------------


@pytest.mark.parametrize("rel", FILES)
def test_no_new_exiftool_warnings(rel: str, handoff: Handoff, readings: Readings) -> None:
    handed = _handed(handoff, rel)
    before = set(readings.of(handed.original).get("ExifTool:Warning", []))
    for path in (handed.exported, handed.sidecar):
        if path is not None:
            after = set(readings.of(path).get("ExifTool:Warning", []))
            assert after <= before, f"{path.name}: new warnings {sorted(after - before)}"


# -- 5. the pixels ----------------------------------------------------------------------------


@pytest.mark.parametrize("rel", FILES)
def test_pixels_identical(rel: str, handoff: Handoff) -> None:
    handed = _handed(handoff, rel)
    before = _decoded(handed.original)
    after = _decoded(handed.exported)
    assert len(after) == len(before), f"{handed.exported.name}: {len(after)} frames"
    for n, (old, new) in enumerate(zip(before, after, strict=True)):
        if isinstance(old, tuple):
            assert new == old, f"{handed.exported.name}: frame {n} decodes to other pixels"


# -- 6. the embargo and the desk's IIM fields -------------------------------------------------


@pytest.mark.parametrize("rel", FILES)
def test_embargo_fields_kept(rel: str, handoff: Handoff, readings: Readings) -> None:
    handed = _handed(handoff, rel)
    before = readings.of(handed.original)
    after = readings.of(handed.exported)
    for key in EMBARGO:
        if key in before:
            assert after.get(key) == before[key], f"{handed.exported.name}: {key}"


def test_embargo_check_is_not_vacuous(handoff: Handoff, readings: Readings) -> None:
    corpus_with = [
        rel
        for rel, h in handoff.files.items()
        if rel != BUILT and any(key in readings.of(h.original) for key in EMBARGO)
    ]
    assert corpus_with, "no corpus file carries an embargo field: the check proves nothing"
    built = readings.of(handoff.files[BUILT].original)
    # -n prints Urgency as a number; the rest as written.
    assert {k: str(built.get(k, [None])[0]) for k in EMBARGO} == EMBARGO_VALUES


# -- 7. exiv2 reads the exports ---------------------------------------------------------------


def _exiv2(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [EXIV2 or "exiv2", *args], capture_output=True, text=True, errors="replace", check=False
    )


def _errors(stderr: str) -> set[str]:
    return {line for line in stderr.splitlines() if "rror" in line or "xception" in line}


@pytest.mark.parametrize("rel", FILES)
def test_exiv2_reads_export(rel: str, handoff: Handoff) -> None:
    """A second reader: exiv2 (the library of digiKam, darktable, gThumb...) lists the export
    without failing and finds the new caption. Failures say how exiv2 read the original."""
    if EXIV2 is None:
        pytest.skip("exiv2 is not installed")
    handed = _handed(handoff, rel)
    carrier = handed.sidecar or handed.exported
    original = _exiv2("-pa", str(handed.original))
    was = f"(the original: exit {original.returncode}, {original.stderr.strip()!r})"
    listing = _exiv2("-pa", str(carrier))
    if original.returncode != 0 and handed.sidecar is None:
        # exiv2 cannot open the original either (a malformed EXIF segment the export keeps,
        # as it keeps everything it did not change): no new failure is all that can be asked.
        assert listing.returncode == original.returncode, f"{carrier.name}: {was}"
        return
    assert listing.returncode == 0, f"{carrier.name}: exiv2 -pa: {listing.stderr.strip()!r} {was}"
    new_errors = _errors(listing.stderr) - _errors(original.stderr)
    assert not new_errors, f"{carrier.name}: new exiv2 errors {sorted(new_errors)} {was}"
    if "Failed to decode XMP" in original.stderr and handed.sidecar is None:
        # The original's XMP is RDF exiv2's toolkit refuses (exiftool reads it); the packet
        # is kept as it was, so exiv2 finds the caption in the IIM the export writes.
        iim = _exiv2("-pa", "-K", "Iptc.Application2.Caption", str(carrier))
        assert CAPTION in iim.stdout, f"{carrier.name}: {iim.stdout!r} {was}"
        return
    caption = _exiv2("-pa", "-K", "Xmp.dc.description", str(carrier))
    lines = caption.stdout.splitlines()
    assert len(lines) == 1, (
        f"{carrier.name}: no Xmp.dc.description: {caption.stderr.strip()!r} {was}"
    )
    assert lines[0].startswith("Xmp.dc.description")
    assert f'lang="x-default" {CAPTION}' in lines[0], lines[0]


# -- the round trip is complete -----------------------------------------------------------------


def test_every_accepted_file_was_exported(handoff: Handoff) -> None:
    assert set(handoff.rejected) == REJECTED_BY_INGEST
    assert all(handoff.rejected.values())
    expected = set(FILES) - ({BUILT} if not handoff.built else set())
    assert set(handoff.files) == expected
    assert {h.fmt for h in handoff.files.values()} == {"JPEG", "PNG", "TIFF", "WEBP", "HEIF"}
    assert all(h.exported.is_file() for h in handoff.files.values())


# -- the real command ---------------------------------------------------------------------------

CLI_FILES = [
    "exiftool/t/images/IPTC.jpg",
    "exiftool/t/images/ExifTool.tif",
    "php-image-metadata-parser/tests/Fixtures/metapm.png",
    "php-image-metadata-parser/tests/Fixtures/exif.webp",
]


def test_cli_export_end_to_end(cli: Any, tmp_path: Path) -> None:
    if not PATHS:
        pytest.skip(f"corpus not found at {CORPUS}")
    assert cli("init").exit_code == 0
    ingest = cli("ingest", "--json", *(str(CORPUS / rel) for rel in CLI_FILES))
    assert ingest.exit_code == 0, ingest.stderr
    by_path = {Path(row["path"]).resolve(): row["id"] for row in json.loads(ingest.stdout)}
    ids = [by_path[(CORPUS / rel).resolve()] for rel in CLI_FILES]
    assert len(set(ids)) == len(CLI_FILES)
    for photo_id in ids:
        edited = cli("edit", photo_id, "--caption", CAPTION, "--by", "desk")
        assert edited.exit_code == 0, edited.stderr
    out = tmp_path / "cms"
    result = cli("export", *ids, "--to", str(out), "--name", "{id}", "--json")
    assert result.exit_code == 0, result.stderr
    listed = {row["id"]: row for row in json.loads(result.stdout)["exported"]}
    assert set(listed) == set(ids)
    for rel, photo_id in zip(CLI_FILES, ids, strict=True):
        row = listed[photo_id]
        assert (row["how"], row["changed"], row["sidecar"]) == ("embedded", ["caption"], None)
        path = Path(row["path"])
        assert path.parent == out and path.stem == photo_id
        assert path.suffix.lower() == Path(rel).suffix.lower()
    if EXIFTOOL:
        read = _exiftool(["-G1", "-XMP-dc:Description"], [Path(r["path"]) for r in listed.values()])
        assert {row["XMP-dc:Description"][0] for row in read.values()} == {CAPTION}
