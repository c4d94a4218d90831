"""Property-based fuzzing of the EXIF, IIM and XMP readers and of a whole file's ingest work.

CI runs a short, deterministic version. For a longer local run:
    HYPOTHESIS_PROFILE=long pytest tests/test_fuzz.py
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from photoarchive import init_archive
from photoarchive.config import ArchiveSettings
from photoarchive.ingest import FileOutcome, _Job, _prepare
from photoarchive.metadata import extract_metadata
from photoarchive.metadata.exif import read_exif
from photoarchive.metadata.iptc import decode_iim_text
from photoarchive.metadata.iptc_writer import embed_in_jpeg, photoshop_resources
from photoarchive.metadata.xmp import parse_xmp
from tests.conftest import FIXTURES
from tests.hostile import good_jpeg

settings.register_profile(
    "ci",
    max_examples=150,
    derandomize=True,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long", max_examples=20_000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

SEEDS = [
    (FIXTURES / n).read_bytes()
    for n in (
        "iim_utf8.jpg",
        "exif_gps_orientation.jpg",
        "xmp_only.jpg",
        "xmp.png",
        "xmp.webp",
        "exif.tif",
        "conflict_stale_digest.jpg",
    )
]
XMP = (FIXTURES / "xmp_only.jpg").read_bytes()
XMP_PACKET = XMP[XMP.find(b"<?xpacket") : XMP.find(b"<?xpacket end") + 20]


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A seed file with a few bytes flipped, some inserted or the end cut off."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 8))):
        action = draw(st.sampled_from(["flip", "insert", "delete", "cut"]))
        at = draw(st.integers(0, max(0, len(data) - 1)))
        if action == "flip" and data:
            data[at] ^= draw(st.integers(1, 255))
        elif action == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif action == "delete":
            del data[at : at + draw(st.integers(1, 16))]
        elif action == "cut":
            del data[max(2, at) :]
    return bytes(data)


@given(st.binary(max_size=2048))
def test_exif_reader_never_raises_on_random_bytes(data: bytes) -> None:
    read_exif(data, data)
    read_exif(b"II*\x00" + data, b"Exif\x00\x00MM\x00*" + data)


@given(st.binary(max_size=512), st.booleans())
def test_iim_text_always_decodes(raw: bytes, utf8: bool) -> None:
    assert isinstance(decode_iim_text(raw, utf8), str)


@given(
    st.one_of(
        st.binary(max_size=2048), st.text(max_size=512).map(str.encode), mutated([XMP_PACKET])
    )
)
def test_xmp_parser_never_raises(packet: bytes) -> None:
    result = parse_xmp(packet)
    assert isinstance(result.values, dict)


@given(st.binary(max_size=1024))
def test_iim_block_of_random_bytes_never_raises(block: bytes) -> None:
    data = embed_in_jpeg(good_jpeg(), photoshop_resources(block, b""))
    try:
        im = Image.open(io.BytesIO(data))
    except (OSError, SyntaxError, ValueError):
        return  # Pillow refuses the file: ingest rejects it with a reason
    extract_metadata(im, data)


@settings(max_examples=60)
@given(mutated(SEEDS))
def test_a_damaged_file_is_ingested_or_rejected_never_raises(
    tmp_path_factory: pytest.TempPathFactory, data: bytes
) -> None:
    root = tmp_path_factory.getbasetemp() / "fuzz-archive"
    if not (root / "archive.toml").exists():
        init_archive(root)[0].close()
    incoming = tmp_path_factory.getbasetemp() / "fuzz-in"
    incoming.mkdir(exist_ok=True)
    path = incoming / "fuzzed.bin"
    path.write_bytes(data)
    result = _prepare(_Job(str(path), str(root), ArchiveSettings(max_seconds_per_file=20)))
    if isinstance(result, FileOutcome):
        assert result.status in ("rejected", "duplicate")
        assert result.reason is None or "\n" not in result.reason
    else:
        assert result.photo.record.sha256
    Path(path).unlink()
