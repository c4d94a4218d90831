"""All 95 real-world files of the shared corpus: ingested or rejected with a reason, and read
as exiftool reads them (by the Metadata Working Group's rules)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from photoarchive import Archive, init_archive
from photoarchive.ingest import IngestOptions
from tests.conftest import CORPUS
from tests.truth import expected

# Files that are rejected, and why: none of them is a complete image.
REJECTED = {
    "exiftool/t/images/QuickTime.heic": "metadata-only test file: no image data",
    "php-image-metadata-parser/tests/Fixtures/malformedchunks.png": "PNG with broken chunks",
    "pillow/Tests/images/truncated_jpeg.jpg": "truncated",
    "pillow/Tests/images/ultrahdr.jpg": "truncated (Pillow's metadata-only sample)",
}
# Where exiftool's truth is mojibake and the right text can be shown.
RIGHT_TEXT = {
    # IIM in Mac Roman with no 1:90 record; exiftool shows the CP1252 reading "JosŽ".
    ("php-image-metadata-parser/tests/Fixtures/metapm.jpg", "caption"): "José Mourinho",
    # IIM cut the reference at its 32-byte limit; XMP holds the whole text, which MWG's
    # truncation recovery (applied to every field here, not only MWG's own) restores.
    (
        "exiftool/t/images/ExifTool.jpg",
        "transmission_reference",
    ): "What is a transmission reference?",
}


def _truths() -> list[dict[str, Any]]:
    if not (CORPUS / "truth").is_dir():
        return []
    return [
        json.loads(p.read_text(encoding="utf-8")) for p in sorted((CORPUS / "truth").glob("*.json"))
    ]


TRUTHS = _truths()


def _path(truth: dict[str, Any]) -> str:
    return str(truth["numeric"]["SourceFile"])


@pytest.fixture(scope="module")
def corpus_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Archive, Any]]:
    if not TRUTHS:
        pytest.skip(f"corpus not found at {CORPUS}: the shared folder is not beside the checkout")
    arc, _ = init_archive(tmp_path_factory.mktemp("corpus") / "archive")
    report = arc.ingest([CORPUS], IngestOptions(jobs=2))
    yield arc, report
    arc.close()


def test_corpus_has_95_files() -> None:
    if not TRUTHS:
        pytest.skip(f"corpus not found at {CORPUS}")
    assert len(TRUTHS) == 95


def test_every_file_is_ingested_or_rejected_with_a_reason(corpus_archive: Any) -> None:
    arc, report = corpus_archive
    by_path = {str(Path(o.path).relative_to(CORPUS)): o for o in report.outcomes}
    assert len(by_path) == 95
    rejected = {p: o.reason for p, o in by_path.items() if o.status == "rejected"}
    assert set(rejected) == set(REJECTED)
    assert all(reason and "\n" not in reason for reason in rejected.values())
    assert report.count("new") == 91
    assert arc.catalog.count() == 91


@pytest.mark.parametrize("truth", TRUTHS, ids=_path)
def test_fields_agree_with_exiftool(corpus_archive: Any, truth: dict[str, Any]) -> None:
    arc, _ = corpus_archive
    rel = _path(truth)
    if rel in REJECTED:
        return
    sha = hashlib.sha256((CORPUS / rel).read_bytes()).hexdigest()
    rec = arc.catalog.get(sha).record
    want = expected(truth["numeric"])
    record = rec.to_dict()
    got = {
        **record,
        "caption": rec.caption,
        "credit": rec.credit,
        "byline": rec.byline,
        "keywords": rec.keywords,
        "camera_make": rec.camera_make,
        "camera_model": rec.camera_model,
        "gps": (round(rec.gps_lat, 5), round(rec.gps_lon, 5)) if rec.gps_lat is not None else None,
        "date": rec.date_created[:19] if rec.date_created else None,
    }
    for field, value in want.items():
        right = RIGHT_TEXT.get((rel, field), value)
        assert got[field] == right, f"{rel}: {field}"
    size = truth["numeric"].get("Composite:ImageSize")
    if size:
        assert f"{rec.width} {rec.height}" == size.replace("x", " "), f"{rel}: size"
