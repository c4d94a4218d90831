"""Property-based fuzzing of what export writes with: damaged files and blocks give a clear
PhotoArchiveError (or are left as they were), never an exception from deep inside.

CI runs a short, deterministic version (the profile is set in tests/test_fuzz.py):
    HYPOTHESIS_PROFILE=long pytest tests/test_fuzz_writers.py
"""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from photoarchive.errors import PhotoArchiveError
from photoarchive.metadata import exif_edit, iim_edit
from photoarchive.metadata.embed import embed_changes
from photoarchive.metadata.iptc_ext import read_extension
from photoarchive.metadata.xmp_edit import UnreadablePacket, edit_packet, split_packet
from tests.conftest import FIXTURES
from tests.test_fuzz import SEEDS, XMP_PACKET, mutated

CHANGES = {
    "caption": "Новий підпис — edited",
    "keywords": ["a", "b"],
    "country_code": "UA",
    "date_created": "2022-09-11T10:00:00+03:00",
    "byline": "Jo; Al",
}
FORMATS = {b"\xff\xd8": "JPEG", b"\x89P": "PNG", b"II": "TIFF", b"MM": "TIFF", b"RI": "WEBP"}
EXIF = (FIXTURES / "exif_gps_orientation.jpg").read_bytes()
EXIF_BLOCK = EXIF[EXIF.find(b"Exif\x00\x00") + 6 : EXIF.find(b"Exif\x00\x00") + 4000]


@given(mutated(SEEDS))
def test_writing_changes_into_damaged_files_is_a_clear_error_or_works(data: bytes) -> None:
    fmt = FORMATS.get(data[:2], "JPEG")
    try:
        out = embed_changes(data, fmt, CHANGES)
    except PhotoArchiveError:
        return
    assert isinstance(out.data, bytes) and all(isinstance(n, str) for n in out.notes)


@given(st.one_of(st.binary(max_size=2048), mutated([XMP_PACKET])))
def test_xmp_editing_refuses_only_with_unreadable_packet(packet: bytes) -> None:
    try:
        edited = edit_packet(packet, CHANGES)
        split_packet(edited, 4096)
    except UnreadablePacket:
        return
    assert edited.startswith(b"<?xpacket") or b"<x:xmpmeta" in edited


@given(st.binary(max_size=1024))
def test_iim_editing_never_raises(block: bytes) -> None:
    edited, _notes = iim_edit.edit_iim(block, CHANGES)
    assert iim_edit.parse_datasets(edited)
    iim_edit.replace_in_resources(block, edited)
    iim_edit.iim_in_resources(block)


@given(st.one_of(st.binary(max_size=512), mutated([EXIF_BLOCK])))
def test_exif_strings_refuse_only_with_value_error(block: bytes) -> None:
    try:
        exif_edit.set_strings(block, {0x010E: "caption", 0x013B: None})
    except ValueError:
        return
    exif_edit.present_tags(block)


@given(st.one_of(st.binary(max_size=2048), mutated([XMP_PACKET])))
def test_iptc_extension_reader_never_raises(packet: bytes) -> None:
    assert isinstance(read_extension(packet), dict)
