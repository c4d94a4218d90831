"""Limits on hostile input: pixels, sparse and over-long files, text and keywords, and
regular expressions fed pathological text (results checked, never timed: scripts/
memory_limits.py measures)."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from photoarchive import Archive, open_archive
from photoarchive.captions import extract_captions
from photoarchive.credits import clean_credit, parse_credit
from photoarchive.datetimes import DateParseError, parse_moment
from photoarchive.errors import RejectedFileError
from photoarchive.ingest import IngestOptions
from photoarchive.metadata.xmp import parse_xmp
from photoarchive.notices import read_notice
from photoarchive.record import PhotoRecord
from photoarchive.renditions import _interlaced_grid, _png_bands, _png_header, _to_rgb
from photoarchive.restrictions import read_restrictions
from photoarchive.store import ORIGINALS, original_key, rendition_key
from tests.conftest import FIXTURES, load_script
from tests.hostile import good_jpeg
from tests.stores import store_of

HOSTILE = FIXTURES / "hostile"
LINE = 48_000
# Every PNG colour type (grey, RGB, palette, grey + alpha, RGBA) with each bit depth it takes.
PNG_KINDS = [(0, d) for d in (1, 2, 4, 8, 16)] + [(2, 8), (2, 16)]
PNG_KINDS += [(3, d) for d in (1, 2, 4, 8)] + [(4, 8), (4, 16), (6, 8), (6, 16)]


@pytest.fixture(scope="module")
def hostile() -> Any:
    return load_script("make_hostile")


def _settings(archive: Archive, **values: int) -> Archive:
    """Reopen `archive` with archive.toml's settings changed."""
    path = archive.root / "archive.toml"
    text = path.read_text()
    for name, value in values.items():
        lines = [line for line in text.splitlines() if not line.startswith(f"{name} =")]
        text = "\n".join([*lines, f"{name} = {value}"]) + "\n"
    path.write_text(text)
    return open_archive(archive.root)


@pytest.fixture
def reopen(archive: Archive) -> Iterator[Any]:
    opened: list[Archive] = []

    def with_settings(**values: int) -> Archive:
        arc = _settings(archive, **values)
        opened.append(arc)
        return arc

    yield with_settings
    for arc in opened:
        arc.close()


def _outcomes(report: Any) -> dict[str, Any]:
    return {Path(o.path).name: o for o in report.outcomes}


# --- pixels -----------------------------------------------------------------------------


def test_max_pixels_below_pillows_default_is_the_ceiling(
    reopen: Any, tmp_path: Path, hostile: Any
) -> None:
    # 110 MP: over Pillow's own warning limit (89 MP), under its error limit (179 MP).
    (tmp_path / "big.png").write_bytes(hostile.big_png(11_000, 10_000, 0, 1))
    (tmp_path / "fine.png").write_bytes(hostile.big_png(2000, 1000, 2, 8))
    arc = reopen(max_pixels=100_000_000)
    report = arc.ingest([tmp_path / "big.png", tmp_path / "fine.png"])
    outcomes = _outcomes(report)
    assert outcomes["big.png"].status == "rejected"
    assert outcomes["big.png"].reason == (
        "image is 11000x10000 pixels, over the archive's limit of 100,000,000 (decompression bomb?)"
    )
    assert outcomes["fine.png"].status == "new"


def test_max_pixels_above_pillows_default_is_honoured(
    reopen: Any, tmp_path: Path, hostile: Any
) -> None:
    # 182 MP is over Pillow's default error limit (179 MP): the archive's setting decides.
    (tmp_path / "wide.png").write_bytes(hostile.big_png(13_500, 13_500, 0, 1))
    arc = reopen(max_pixels=300_000_000)
    outcome = arc.ingest([tmp_path / "wide.png"]).outcomes[0]
    assert outcome.status == "new", outcome.reason
    record = arc.get(outcome.id or "")
    assert (record.width, record.height) == (13_500, 13_500)
    preview = io.BytesIO(arc.store.read(rendition_key(record.sha256, "preview")))
    with Image.open(preview) as im:
        assert im.size == (1280, 1280)
        assert im.getpixel((640, 640)) == (0, 0, 0)  # all-zero 1-bit pixels are black


def test_over_max_pixels_by_pillows_error_margin_is_named_with_its_size(
    reopen: Any, tmp_path: Path, hostile: Any
) -> None:
    # Over twice the limit Pillow raises instead of warning: the reason still gives the size.
    (tmp_path / "huge.png").write_bytes(hostile.big_png(2100, 1000, 0, 1))
    arc = reopen(max_pixels=1_000_000)
    outcome = arc.ingest([tmp_path / "huge.png"]).outcomes[0]
    assert outcome.status == "rejected"
    assert "2100x1000 pixels" in (outcome.reason or "")


@pytest.mark.parametrize(("colour", "depth"), PNG_KINDS)
def test_a_png_decoded_in_bands_has_the_pixels_of_a_whole_decode(colour: int, depth: int) -> None:
    data = _filtered_png(37, 23, colour, depth, interlace=False)
    with Image.open(io.BytesIO(data)) as whole:
        expected = np.asarray(_to_rgb(whole.convert("RGBA") if whole.mode == "P" else whole))
    with Image.open(io.BytesIO(data)) as im:
        header = _png_header(im)
        assert header is not None
        got = np.zeros_like(expected)
        for top, band in _png_bands(im, header, 4):  # bands of 4 rows: the last is short
            rgb = np.asarray(_to_rgb(band))
            got[top : top + len(rgb)] = rgb
    assert np.array_equal(got, expected)


@pytest.mark.parametrize(("colour", "depth"), [(0, 1), (0, 16), (2, 16), (3, 4), (4, 8), (6, 16)])
def test_a_large_interlaced_png_is_sampled_from_its_first_passes(colour: int, depth: int) -> None:
    data = _filtered_png(45, 33, colour, depth, interlace=True)
    with Image.open(io.BytesIO(data)) as whole:
        expected = np.asarray(_to_rgb(whole.convert("RGBA") if whole.mode == "P" else whole))
    with Image.open(io.BytesIO(data)) as im:
        header = _png_header(im)
        assert header is not None
        grid = np.asarray(_interlaced_grid(im, header))
    assert np.array_equal(grid, expected[::2, ::2])


def test_a_large_png_preview_matches_one_made_from_the_whole_image(archive: Archive) -> None:
    # A gradient with alpha, 9 MP: over the size that is decoded a band at a time.
    x = np.linspace(0, 255, 3000, dtype=np.uint8)
    y = np.linspace(0, 255, 3000, dtype=np.uint8)[:, None]
    rgba = np.dstack(
        [
            np.broadcast_to(x, (3000, 3000)),
            np.broadcast_to(y, (3000, 3000)),
            np.full((3000, 3000), 90, np.uint8),
            np.broadcast_to(255 - y, (3000, 3000)),
        ]
    )
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgba), "RGBA").save(buf, "PNG")
    path = archive.root.parent / "gradient.png"
    path.write_bytes(buf.getvalue())
    outcome = archive.ingest([path]).outcomes[0]
    assert outcome.status == "new"
    reference = _to_rgb(Image.fromarray(np.ascontiguousarray(rgba), "RGBA"))
    reference.thumbnail((1280, 1280), Image.Resampling.LANCZOS)
    with Image.open(_preview(archive, outcome.id or "")) as im:
        assert im.size == (1280, 1280)
        difference = np.abs(np.asarray(im, np.int16) - np.asarray(reference, np.int16))
    assert difference.mean() < 2.0


def test_png_text_bombs_are_rejected_in_one_line_and_the_batch_goes_on(cli: Any) -> None:
    cli("init")
    names = ["png-ztxt-bomb.png", "png-itxt-bomb.png", "png-ztxt-5mb.png", "png-iccp-many.png"]
    result = cli("ingest", "--jobs", "1", *(str(HOSTILE / n) for n in names))
    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    for name in names[:3]:
        line = next(x for x in lines if name in x)
        assert line.startswith("rejected: ")
        assert line.endswith(
            "PNG text or ICC profile chunks inflate to more than 4 MB each, "
            "or text to more than 8 MB in all (a decompression bomb?)"
        )
    assert "1 new, 0 duplicate, 3 rejected" in result.stderr


# --- files --------------------------------------------------------------------------------


def test_a_sparse_file_is_refused(cli: Any, tmp_path: Path) -> None:
    sparse = tmp_path / "sparse.jpg"
    sparse.write_bytes(good_jpeg())
    os.truncate(sparse, 499_000_000)
    if sparse.stat().st_blocks * 512 > 1_000_000:
        pytest.fail("this file system does not make sparse files; the test cannot run here")
    fine = tmp_path / "fine.jpg"
    fine.write_bytes(good_jpeg((200, 30, 30)))
    cli("init")
    result = cli("ingest", str(sparse), str(fine))
    assert result.exit_code == 1
    assert f"rejected: {sparse}: sparse file: 499 MB long but " in result.stderr
    assert "1 new, 0 duplicate, 1 rejected" in result.stderr
    with store_of(cli.archive_dir) as store:
        assert sum(o.size for o in store.objects(ORIGINALS)) < 10_000
        assert store.leftovers(None) == []


def test_a_file_over_the_size_limit_is_refused(reopen: Any, tmp_path: Path) -> None:
    big = tmp_path / "big.jpg"
    big.write_bytes(good_jpeg() + os.urandom(1_500_000))  # real data after the image
    arc = reopen(max_file_mb=1)
    outcome = arc.ingest([big]).outcomes[0]
    assert outcome.status == "rejected"
    size = big.stat().st_size
    assert outcome.reason == f"file is {size / 1e6:.0f} MB, over the limit of 1 MB"


def test_a_large_original_is_stored_whole_and_hashes_to_its_name(
    archive: Archive, tmp_path: Path
) -> None:
    data = good_jpeg() + os.urandom(5_000_000)
    (tmp_path / "large.jpg").write_bytes(data)
    outcome = archive.ingest([tmp_path / "large.jpg"]).outcomes[0]
    photo = archive.stored(outcome.id or "")
    assert archive.store.read(original_key(photo.record.sha256, photo.ext)) == data
    assert photo.record.file_size == len(data)
    assert archive.verify().ok


def test_an_original_whose_bytes_change_while_copied_is_not_stored(archive: Archive) -> None:
    import hashlib

    data = good_jpeg()
    sha = hashlib.sha256(data).hexdigest()
    changed = io.BytesIO(data[:-1] + b"\x00")
    with pytest.raises(RejectedFileError, match="changed while it was read"):
        archive.store.put_original_from(sha, "jpg", changed, 10_000_000)
    assert not archive.store.exists(original_key(sha, "jpg"))
    assert list(archive.store.objects(ORIGINALS)) == []
    assert archive.store.leftovers(None) == []


# --- text ---------------------------------------------------------------------------------


def test_keywords_are_capped_with_a_warning_naming_the_file(cli: Any) -> None:
    cli("init")
    result = cli("ingest", "--json", str(HOSTILE / "iim-2000-keywords.jpg"))
    assert result.exit_code == 0
    assert (
        f"warning: {HOSTILE / 'iim-2000-keywords.jpg'}: kept the first 200 of 2,000 keywords, "
        "each at most 64 characters (IPTC-IIM; max_keywords, max_keyword_chars)"
    ) in result.stderr
    photo_id = json.loads(result.stdout)[0]["id"]
    shown = cli("show", photo_id, "--json", "--sources")
    assert '"kw0199"' in shown.stdout and '"kw0200"' not in shown.stdout


def test_long_keywords_are_cut_and_the_setting_is_honoured(reopen: Any) -> None:
    arc = reopen(max_keywords=10, max_keyword_chars=20)
    outcome = arc.ingest([HOSTILE / "xmp-5000-keywords.png"]).outcomes[0]
    record = arc.get(outcome.id or "")
    assert record.keywords == [f"keyword {i:04d} xxxxxxx" for i in range(10)]
    assert outcome.warnings == (
        "kept the first 10 of 5,000 keywords, each at most 20 characters "
        "(XMP; max_keywords, max_keyword_chars)",
    )


def test_desk_text_is_capped_too(archive: Archive) -> None:
    caption = "Smoke rises over the city " * 800  # 20,800 characters
    report = archive.ingest(
        [FIXTURES / "xmp_only.jpg"], IngestOptions(caption=caption, credit="R" * 3000)
    )
    outcome = report.outcomes[0]
    record = archive.get(outcome.id or "")
    assert record.caption == caption.strip()[:10_000]
    assert record.credit == "R" * 2000
    assert "caption cut from 20,799 to 10,000 characters (the desk's value; max_caption_chars)" in (
        outcome.warnings
    )
    assert "credit cut from 3,000 to 2,000 characters (the desk's value; max_text_chars)" in (
        outcome.warnings
    )


# --- regular expressions on untrusted text (each shape took seconds to minutes before) ------


def test_caption_extraction_on_pathological_lines() -> None:
    good = "Tanks abandoned in a river by fleeing troops. Credit: Reuters"
    shapes = [
        "a" + " " * LINE + "b",
        "ab Photo:" + " " * LINE + "(",
        "ab Photo:" + " " * 380 + "(",  # under the caption length limit
        "ab " + "Photo:(" * (LINE // 7),
        "x " + "Photo: x " * (LINE // 9),
    ]
    for shape in shapes:
        found = extract_captions(f"{shape}\n{good}")
        assert [(e.caption, e.credit, e.line) for e in found] == [
            ("Tanks abandoned in a river by fleeing troops.", "Reuters", 2)
        ]


def test_credit_parsing_on_pathological_credits() -> None:
    assert clean_credit("AFP" + " " * LINE + "2022") == "AFP"
    assert clean_credit("A" + " " * LINE + "x") == "A" + " " * LINE + "x"
    line = parse_credit("Reuters" + " " * LINE + "via Getty Images")
    assert line is not None and (line.agency, line.distributor) == ("Reuters", "Getty Images")
    line = parse_credit("Gleb Garanich" + "\t" * LINE + "/Reuters")
    assert line is not None and (line.agency, line.photographer) == ("Reuters", "Gleb Garanich")
    line = parse_credit("A" + " " * LINE + "x")
    assert line is not None and not line.known


def test_xmp_with_pathological_prologues() -> None:
    assert parse_xmp(b"<?xml" * (LINE // 5)).warnings == ["XMP unreadable (ParseError)"]
    packet = (FIXTURES / "xmp_only.jpg").read_bytes()
    start = packet.find(b"<x:xmpmeta")
    body = packet[start : packet.find(b"</x:xmpmeta>") + len(b"</x:xmpmeta>")]
    # A declaration 48 KB long is removed as one and the packet read.
    assert parse_xmp(b"<?xml" + b" " * LINE + b"?>" + body).values == parse_xmp(body).values
    assert parse_xmp(body).values


def _record(**values: Any) -> PhotoRecord:
    return PhotoRecord(
        id="x", sha256="0" * 64, original_filename="x.jpg", format="JPEG", width=1, height=1,
        file_size=1, **values,
    )  # fmt: skip


def test_restrictions_on_pathological_instructions() -> None:
    found = read_restrictions(_record(special_instructions="EMBARGO" + " " * LINE), {}, UTC)
    assert found.embargo_until is None and found.problems == ["embargo gives no date"]
    found = read_restrictions(
        _record(special_instructions="EMBARGOED UNTIL " + "1" * LINE), {}, UTC
    )
    assert found.problems == [
        f"embargo date unreadable: cannot read the date '{'1' * 57}...' (too long for a date)"
    ]
    found = read_restrictions(_record(special_instructions="EMBARGO " * (LINE // 8)), {}, UTC)
    assert found.embargo_until is None and len(found.problems) == 1
    found = read_restrictions(
        _record(special_instructions="MANDATORY CREDIT: " + "R" * LINE), {}, UTC
    )
    assert found.mandatory_credit == "R" * LINE
    found = read_restrictions(
        _record(usage_terms="FOR" + " " * LINE + "EDITORIAL USE ONLY"), {}, UTC
    )
    assert found.editorial_only
    found = read_restrictions(_record(caption="NO USE AFTER " + "." * LINE), {}, UTC)
    assert found.expires_after is None and len(found.problems) == 1


def test_dates_and_notices_on_pathological_text() -> None:
    with pytest.raises(DateParseError, match="too long for a date"):
        parse_moment("1 " + "A" * LINE + " 2022", UTC)
    assert parse_moment(" 12 September 2022   14:00 GMT ", UTC).hour == 14
    notice = read_notice(_record(caption="REFILE" + " " * LINE + "- CORRECTING NAME"), {})
    assert notice is not None and notice.kind == "refile" and len(notice.reason) == 300
    assert read_notice(_record(caption=" " * LINE + "x"), {}) is None


# --- helpers ------------------------------------------------------------------------------


def _filtered_png(width: int, height: int, colour: int, depth: int, interlace: bool) -> bytes:
    """A random PNG whose rows use every filter in turn (None, Sub, Up, Average, Paeth)."""
    import struct
    import zlib

    samples = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[colour]
    rng = np.random.default_rng(colour * 100 + depth)
    full = rng.integers(0, 2**depth, size=(height, width, samples), dtype=np.uint32)
    bpp = max(1, samples * depth // 8)
    adam7 = ((0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2))
    passes = (*adam7, (0, 1, 1, 2)) if interlace else ((0, 0, 1, 1),)
    data = b""
    for x0, y0, dx, dy in passes:
        sub = full[y0::dy, x0::dx]
        if sub.size == 0:
            continue
        data += _filter_rows(_pack(sub, depth), bpp)
    ihdr = struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, int(interlace))

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    extra = b""
    if colour == 3:
        extra = chunk(b"PLTE", rng.integers(0, 256, 768, dtype=np.uint8).tobytes())
        extra += chunk(b"tRNS", rng.integers(0, 256, 256, dtype=np.uint8).tobytes())
    packed = zlib.compress(data)
    idat = b"".join(chunk(b"IDAT", packed[i : i + 997]) for i in range(0, len(packed), 997))
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + idat + chunk(b"IEND", b"")


def _pack(sub: np.ndarray[Any, Any], depth: int) -> np.ndarray[Any, Any]:
    rows = sub.shape[0]
    if depth == 16:
        return np.frombuffer(sub.astype(">u2").tobytes(), np.uint8).reshape(rows, -1)
    if depth == 8:
        return sub.astype(np.uint8).reshape(rows, -1)
    flat = sub.reshape(rows, -1).astype(np.uint8)
    per = 8 // depth
    out = np.zeros((rows, -(-flat.shape[1] // per)), np.uint8)
    for i in range(flat.shape[1]):
        out[:, i // per] |= flat[:, i] << (8 - depth * (i % per + 1))
    return out


def _filter_rows(raw: np.ndarray[Any, Any], bpp: int) -> bytes:
    out = []
    previous = np.zeros(raw.shape[1], np.int16)
    for y, row in enumerate(raw.astype(np.int16)):
        left = np.concatenate([np.zeros(bpp, np.int16), row[:-bpp]])[: len(row)]
        upper_left = np.concatenate([np.zeros(bpp, np.int16), previous[:-bpp]])[: len(row)]
        kind = y % 5
        if kind == 0:
            filtered = row
        elif kind == 1:
            filtered = row - left
        elif kind == 2:
            filtered = row - previous
        elif kind == 3:
            filtered = row - (left + previous) // 2
        else:
            p = left + previous - upper_left
            pa, pb, pc = abs(p - left), abs(p - previous), abs(p - upper_left)
            guess = np.where(
                (pa <= pb) & (pa <= pc), left, np.where(pb <= pc, previous, upper_left)
            )
            filtered = row - guess
        out.append(bytes([kind]) + (filtered % 256).astype(np.uint8).tobytes())
        previous = row
    return b"".join(out)


def _jpeg_with_app_segments(megabytes: int) -> bytes:
    data = good_jpeg()
    segment = b"\xff\xe9\xff\xff" + b"m" * 0xFFFD
    count = megabytes * 1024 * 1024 // len(segment) + 1
    return data[:2] + segment * count + data[2:]


def _png_with_text(megabytes: int, hostile: Any) -> bytes:
    body = b"Comment\x00" + b"t" * (megabytes * 1024 * 1024)
    return hostile.big_png(40, 30, 2, before_idat=hostile.chunk(b"tEXt", body))


def _tiff_with_tag(megabytes: int) -> bytes:
    from PIL import TiffImagePlugin

    tags = TiffImagePlugin.ImageFileDirectory_v2()
    tags[700] = b"x" * (megabytes * 1024 * 1024)  # an XMP tag Pillow would read on opening
    tags.tagtype[700] = 7
    buf = io.BytesIO()
    Image.new("RGB", (40, 30), (10, 20, 30)).save(buf, "TIFF", tiffinfo=tags)
    return buf.getvalue()


@pytest.mark.parametrize("kind", ["jpg", "png", "tif"])
def test_files_of_mostly_metadata_are_refused_unread(
    archive: Archive, tmp_path: Path, hostile: Any, kind: str
) -> None:
    make = {
        "jpg": lambda mb: _jpeg_with_app_segments(mb),
        "png": lambda mb: _png_with_text(mb, hostile),
        "tif": lambda mb: _tiff_with_tag(mb),
    }[kind]
    (tmp_path / f"heavy.{kind}").write_bytes(make(33))
    (tmp_path / f"light.{kind}").write_bytes(make(1))
    outcomes = _outcomes(archive.ingest([tmp_path / f"heavy.{kind}", tmp_path / f"light.{kind}"]))
    reason = outcomes[f"heavy.{kind}"].reason or ""
    assert outcomes[f"heavy.{kind}"].status == "rejected"
    assert reason.endswith("MB, over the limit of 32 MB (a photo's metadata is under 1 MB)")
    assert outcomes[f"light.{kind}"].status == "new", outcomes[f"light.{kind}"].reason


def test_a_file_of_countless_metadata_segments_is_refused(archive: Archive, tmp_path: Path) -> None:
    data = good_jpeg()
    (tmp_path / "segments.jpg").write_bytes(data[:2] + b"\xff\xe9\x00\x02" * 100_001 + data[2:])
    outcome = archive.ingest([tmp_path / "segments.jpg"]).outcomes[0]
    assert outcome.status == "rejected"
    assert outcome.reason == (
        "JPEG application and comment segments: more than 100,000 of them (a photo has a few dozen)"
    )


def test_pillows_limits_are_the_archives_only_while_a_file_is_read(
    reopen: Any, tmp_path: Path, hostile: Any
) -> None:
    from PIL import PngImagePlugin

    before = (Image.MAX_IMAGE_PIXELS, PngImagePlugin.MAX_TEXT_CHUNK)
    (tmp_path / "fine.png").write_bytes(hostile.big_png(200, 100, 2, 8))
    arc = reopen(max_pixels=1_000_000)
    assert arc.ingest([tmp_path / "fine.png"]).outcomes[0].status == "new"
    # An in-process ingest (one job) leaves the library user's Pillow as it found it.
    assert before == (Image.MAX_IMAGE_PIXELS, PngImagePlugin.MAX_TEXT_CHUNK)


def test_a_wide_16_bit_greyscale_png_is_ingested(archive: Archive, tmp_path: Path) -> None:
    # Small enough for the whole-image path, wide enough that Pillow would reduce it, which
    # it cannot do in 16-bit greyscale.
    grey = np.tile(np.linspace(0, 65535, 7900).astype(np.uint16), (900, 1))
    path = tmp_path / "wide16.png"
    Image.frombytes("I;16", (7900, 900), grey.astype("<u2").tobytes()).save(path)
    outcome = archive.ingest([path]).outcomes[0]
    assert outcome.status == "new", outcome.reason
    with Image.open(_preview(archive, outcome.id or "")) as im:
        assert im.size == (1280, 146)
        assert im.getpixel((0, 70))[0] < 5 and im.getpixel((1279, 70))[0] > 250


def _preview(archive: Archive, photo_id: str) -> io.BytesIO:
    """A photo's stored preview, to open as an image."""
    return io.BytesIO(archive.store.read(rendition_key(archive.get(photo_id).sha256, "preview")))
