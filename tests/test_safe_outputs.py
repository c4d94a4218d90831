"""What photoarchive writes is safe whatever the captions and file names hold: terminal output
without escape sequences, exact JSON, CSV no spreadsheet runs, valid XMP and IIM, export of
metadata beyond one JPEG segment, and quiet ends of closed pipes."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import struct
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from defusedxml import ElementTree
from PIL import Image

from photoarchive import Archive, init_archive
from photoarchive.cli import main
from photoarchive.cli.output import cell, json_text, printable
from photoarchive.ingest import IngestOptions
from photoarchive.manifest import csv_cell, from_csv_cell, parse_csv_manifest
from photoarchive.metadata.iptc_writer import (
    MAX_IIM_IN_JPEG,
    embed_in_jpeg,
    encode_iim,
    encode_iim_fitted,
    photoshop_resources,
)
from photoarchive.metadata.xmp import DC
from photoarchive.metadata.xmp_writer import build_xmp, build_xmp_parts
from photoarchive.store import ORIGINALS
from tests.conftest import ROOT
from tests.hostile import good_jpeg
from tests.stores import overwrite_stored, remove_stored, store_of

# What rewrites a terminal's screen: ESC (escape sequences), CR and BS (overwrite the line),
# an 8-bit CSI (U+009B as UTF-8) and the bidi override that reverses what follows.
FORBIDDEN = (b"\x1b", b"\r", b"\x08", "\u009b".encode(), "\u202e".encode())
CLEARED = "tank \x1b[2K\rcleared"  # on a terminal: the row is wiped and reads "cleared"
CREDIT = "REUTERS\x1b[2J\x08\u202e"
EVIL_NAME = "evil\x1b[31mred\x1b]0;pwned\x07\r\u202egpj.exe.jpg"


def assert_safe(result: Result) -> None:
    for stream in (result.stdout_bytes, result.stderr_bytes or b""):
        found = [c for c in FORBIDDEN if c in stream]
        assert not found, (found, stream[:2000])


def jpeg(colour: tuple[int, int, int], quality: int = 80) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


# -- the sanitiser ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("\x1b[2K\rcleared", "\\x1b[2K\\x0dcleared"),
        ("a\x08b\x7fc\x00", "a\\x08b\\x7fc\\x00"),
        ("csi\x9b31m", "csi\\x9b31m"),
        ("\u202egpj.exe", "\\u202egpj.exe"),
        (
            "\u2066\u2067\u2068\u2069\u200e\u200f\u061c",
            "\\u2066\\u2067\\u2068\\u2069\\u200e\\u200f\\u061c",
        ),
        ("two\nlines\tand tab", "two\\x0alines\\x09and tab"),
        ("caf\udce9.jpg", "caf\\xe9.jpg"),  # a file name that is not UTF-8 shows its byte
        ("Kharkiv – café ✓ «ok»", "Kharkiv – café ✓ «ok»"),
    ],
)
def test_printable_shows_what_a_terminal_would_act_on(text: str, shown: str) -> None:
    assert printable(text) == shown
    printable(text).encode("utf-8")  # and it can always be written


def test_messages_keep_their_line_breaks_but_cells_never_do() -> None:
    assert printable("usage:\n  photoarchive\t-h", one_line=False) == "usage:\n  photoarchive\t-h"
    assert printable("a\x1b\nb", one_line=False) == "a\\x1b\nb"
    assert cell("line one\nline two\t\x1bx", 40) == "line one line two \\x1bx"
    assert len(cell("x" * 100, 16)) == 16


def test_json_stays_exact_and_is_always_valid_utf8() -> None:
    data = {"caption": CLEARED + "\u009b\u202e\u2028", "path": "caf\udce9\ud800.jpg", "n": 1}
    text = json_text(data)
    encoded = text.encode("utf-8")  # lone surrogates would make this raise
    assert json.loads(encoded) == data
    assert not [c for c in FORBIDDEN if c in encoded]


# -- every command, on hostile captions and file names ------------------------------------


@pytest.fixture(scope="module")
def hostile(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path, list[str]]]:
    """An archive whose photos have CLEARED as caption, CREDIT as credit, and file names with
    escape sequences and bytes that are not UTF-8; and the ids."""
    base = tmp_path_factory.mktemp("hostile")
    folder = base / "in"
    folder.mkdir()
    (folder / EVIL_NAME).write_bytes(jpeg((200, 30, 30), 80))
    (folder / "near-copy.jpg").write_bytes(jpeg((200, 30, 30), 60))
    os.makedirs(os.fsencode(folder / "sub"), exist_ok=True)
    with open(os.fsencode(folder / "sub") + b"/caf\xe9.jpg", "wb") as fh:
        fh.write(jpeg((30, 30, 200)))
    (folder / "not an image \x1b[2J\r.jpg").write_bytes(b"\x1b[2J\rplain text")
    archive_dir = base / "archive"
    init_archive(archive_dir)[0].close()
    result = cli(archive_dir, "ingest", str(folder), "--caption", CLEARED, "--credit", CREDIT)
    assert_safe(result)
    assert result.exit_code == 1  # the text file is rejected, named on stderr
    assert "rejected: " in result.stderr and "not an image \\x1b[2J\\x0d.jpg" in result.stderr
    with init_archive(archive_dir)[0] as archive:
        ids = [p.record.id for p in archive.catalog.iter_photos()]
    assert len(ids) == 3
    # A file in the store no photo owns, for verify to name.
    stray = f"{ORIGINALS}ab/stray\x1b[2J\r.jpg"
    with store_of(archive_dir) as store:
        overwrite_stored(store, stray, b"x")
    yield archive_dir, folder, ids
    # Gone before the run's bucket is emptied: a batch delete (XML) cannot name this key.
    with store_of(archive_dir) as store:
        remove_stored(store, stray)


def cli(archive_dir: Path, *args: str) -> Result:
    return CliRunner().invoke(main, ["--archive", str(archive_dir), *args], catch_exceptions=False)


def test_the_search_table_shows_the_escape_instead_of_obeying_it(
    hostile: tuple[Path, Path, list[str]],
) -> None:
    result = cli(hostile[0], "search", "tank")
    assert_safe(result)
    rows = result.stdout.splitlines()[1:]
    assert len(rows) == 3
    assert all("tank \\x1b[2K cleared" in row and "REUTERS\\x1b[2J" in row for row in rows)


def test_json_output_is_exact(hostile: tuple[Path, Path, list[str]]) -> None:
    result = cli(hostile[0], "search", "tank", "--json")
    assert_safe(result)
    hits = json.loads(result.stdout_bytes.decode("utf-8"))
    assert {h["caption"] for h in hits} == {CLEARED}
    assert {h["credit"] for h in hits} == {CREDIT}


@pytest.mark.parametrize(
    "args",
    [
        ("show", "ID"),
        ("show", "ID", "--sources", "--history"),
        ("show", "ID", "--json"),
        ("similar", "ID"),
        ("duplicates",),
        ("rights", "check"),
        ("rights", "check", "--json"),
        ("rights", "report"),
        ("stats",),
        ("verify",),
        ("search", "tank", "--cleared-for", "editorial"),
        ("ingest", "FOLDER"),
        ("ingest", "FOLDER", "--json"),
        ("edit", "ID", "--headline", "new \x1b[5m headline\r"),
    ],
)
def test_no_command_lets_an_escape_through(
    hostile: tuple[Path, Path, list[str]], args: tuple[str, ...]
) -> None:
    archive_dir, folder, ids = hostile
    given = [{"ID": ids[0], "FOLDER": str(folder)}.get(a, a) for a in args]
    result = cli(archive_dir, *given)
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert_safe(result)
    if args[0] in ("show", "similar", "duplicates", "rights", "stats"):
        assert result.stdout.strip()
    if args == ("verify",):
        assert "stray\\x1b[2J\\x0d.jpg" in result.stderr
    if args == ("ingest", "FOLDER"):
        assert "not an image \\x1b[2J\\x0d.jpg" in result.stderr


def test_export_and_watch_messages_name_files_safely(
    hostile: tuple[Path, Path, list[str]], tmp_path: Path
) -> None:
    archive_dir = hostile[0]
    out = tmp_path / "out \x1b[2J\r"
    exported = cli(archive_dir, "export", "tank", "--to", str(out))
    assert exported.exit_code == 0, exported.stderr
    assert_safe(exported)
    assert "out \\x1b[2J\\x0d" in exported.stderr
    hot = tmp_path / "hot"
    hot.mkdir()
    (hot / EVIL_NAME).write_bytes(jpeg((10, 220, 10)))
    watched = cli(archive_dir, "watch", str(hot), "--once", "--settle", "0.1", "--poll", "0.1")
    assert_safe(watched)
    assert "evil\\x1b[31mred" in watched.stderr


def test_errors_at_the_edge_are_made_printable(hostile: tuple[Path, Path, list[str]]) -> None:
    archive_dir, folder, _ = hostile
    result = cli(archive_dir, "ingest", str(folder), "--manifest", "m \x1b[2J\r.csv")
    assert result.exit_code == 1
    assert_safe(result)
    assert result.stderr.startswith("Error: manifest m \\x1b[2J\\x0d.csv not found")


def test_captions_extract_messages_and_json(tmp_path: Path) -> None:
    article = tmp_path / "article.txt"
    # One caption per line: the text's own CR would end a line, and "[" a credit.
    caption, credit = "Tanks \x1b[2K\x08abandoned near Izium", "REUTERS\x1b\x08\u202e"
    article.write_text(f"{caption} Credit: {credit}\n", encoding="utf-8")
    result = CliRunner().invoke(
        main, ["captions", "extract", str(article), "--format", "json"], catch_exceptions=False
    )
    assert_safe(result)
    rows = json.loads(result.stdout)
    assert [(r["caption"], r["credit"]) for r in rows] == [(caption, credit)]
    assert "1 captions found" in result.stderr


def test_file_names_that_are_not_utf8_come_out_as_valid_json(
    hostile: tuple[Path, Path, list[str]],
) -> None:
    archive_dir, folder, _ = hostile
    result = cli(archive_dir, "ingest", str(folder / "sub"), "--json")
    outcomes = json.loads(result.stdout_bytes.decode("utf-8"))
    assert [os.fsencode(o["path"]) for o in outcomes] == [
        os.fsencode(folder / "sub") + b"/caf\xe9.jpg"
    ]


# -- closed pipes -------------------------------------------------------------------------


def photoarchive(archive_dir: Path, *args: str, stdout: Any) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if k != "PHOTOARCHIVE_DEBUG"}
    return subprocess.Popen(
        [sys.executable, "-m", "photoarchive", "--archive", str(archive_dir), *args],
        stdout=stdout,
        stderr=subprocess.PIPE,
        cwd=ROOT,
        env=env,
    )


@pytest.mark.parametrize("args", [("search", "tank"), ("search", "tank", "--json")])
def test_a_reader_that_went_away_ends_the_command_quietly(
    hostile: tuple[Path, Path, list[str]], args: tuple[str, ...]
) -> None:
    read, write = os.pipe()
    os.close(read)  # the reader is gone before anything is written: EPIPE for certain
    process = photoarchive(hostile[0], *args, stdout=write)
    os.close(write)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 141, err
    for words in (b"Error", b"Traceback", b"Broken pipe", b"Exception ignored"):
        assert words not in err


@pytest.mark.parametrize("command", ["search tank | head -1", "search tank --json | head -c 10"])
def test_head_ends_a_search_quietly(hostile: tuple[Path, Path, list[str]], command: str) -> None:
    shell = f'"{sys.executable}" -m photoarchive --archive "{hostile[0]}" {command}'
    done = subprocess.run(
        ["bash", "-c", shell], capture_output=True, cwd=ROOT, timeout=60, check=False
    )
    assert done.returncode == 0
    assert len(done.stdout) <= (10 if "head -c" in command else 200)
    for words in (b"Error", b"Traceback", b"Broken pipe", b"Exception ignored"):
        assert words not in done.stderr


# -- CSV that spreadsheets do not run -----------------------------------------------------

FORMULAS = [
    "-5 degrees in Kharkiv as the shelling goes on",
    '=HYPERLINK("http://evil.example","Ukrainian tanks") near Izium',
    "+380 44 000 0000 number on the abandoned tank",
    "@channel4news shows the tanks left behind",
    "'=already quoted text in a caption",
]


def test_csv_cells_never_start_a_formula_and_read_back_exactly() -> None:
    for value in [*FORMULAS, "\t=tab", "\r=cr", "''-x", "plain", "", "'"]:
        written = csv_cell(value)
        assert written[:1] not in ("=", "+", "-", "@", "\t", "\r")
        assert from_csv_cell(written) == value


def test_captions_extract_csv_round_trips_through_a_manifest(
    tmp_path: Path, archive_for_csv: Archive
) -> None:
    article = tmp_path / "article.txt"
    article.write_text(
        "".join(f"{caption} Credit: @reuters\n" for caption in FORMULAS), encoding="utf-8"
    )
    extracted = CliRunner().invoke(
        main, ["captions", "extract", str(article), "--format", "csv"], catch_exceptions=False
    )
    assert extracted.exit_code == 0
    rows = list(csv.reader(io.StringIO(extracted.stdout)))
    assert rows[0] == ["file", "caption", "credit"] and len(rows) == 1 + len(FORMULAS)
    assert all(cell.startswith("'") for row in rows[1:] for cell in row[1:])
    # The desk fills in the file names (as a spreadsheet would, keeping every cell) ...
    folder = tmp_path / "grabs"
    folder.mkdir()
    for n, row in enumerate(rows[1:]):
        row[0] = f"grab{n}.jpg"
        (folder / row[0]).write_bytes(good_jpeg((30 * n, 90, 90)))
    manifest = tmp_path / "captions.csv"
    with manifest.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows(rows)
    # ... and ingests with it: every caption and credit arrives as it was written.
    report = archive_for_csv.ingest(
        [folder], IngestOptions(manifest=parse_csv_manifest(manifest.read_text("utf-8")))
    )
    assert report.ok
    records = {Path(o.path).name: archive_for_csv.get(o.id or "") for o in report.outcomes}
    assert [records[f"grab{n}.jpg"].caption for n in range(len(FORMULAS))] == FORMULAS
    assert {r.credit for r in records.values()} == {"@reuters"}


@pytest.fixture
def archive_for_csv(tmp_path: Path) -> Iterator[Archive]:
    arc, _ = init_archive(tmp_path / "archive")
    yield arc
    arc.close()


# -- XMP and IIM for any text -------------------------------------------------------------

EVERYTHING = "".join(chr(c) for c in range(0x00, 0xA0)) + "\ud800\udcff\ufffe\uffff]]><&>'\""


def test_xmp_is_valid_xml_whatever_the_text() -> None:
    packet = build_xmp({"caption": EVERYTHING, "keywords": [EVERYTHING, "ok"], "credit": "\x00"})
    root = ElementTree.fromstring(packet)
    description = root.find(f".//{{{DC}}}description")
    assert description is not None
    text = "".join(description.itertext())
    assert "\x1b" not in text and "\x00" not in text
    # Tab, line breaks (CR too), the printable characters and markup characters survive.
    assert all(c in text for c in "\t\n\r") and ' !"#' in text and "]]><&>'" in text


def test_iim_stays_within_its_limits_whatever_the_values() -> None:
    values: dict[str, Any] = {
        "caption": "€" * 3000,  # 9,000 bytes of UTF-8; the dataset holds 2,000
        "keywords": [f"keyword {n} " + "x" * 80 for n in range(3000)],
        "credit": "REUTERS\x1b[2J",
        "date_created": "not a date",
    }
    iim, left_out = encode_iim_fitted(values)
    assert len(iim) <= MAX_IIM_IN_JPEG and left_out > 0
    datasets = _datasets(iim)
    caption = next(d for r, n, d in datasets if (r, n) == (2, 120))
    assert len(caption) <= 2000 and caption.decode("utf-8") == "€" * (len(caption) // 3)
    keywords = [d for r, n, d in datasets if (r, n) == (2, 25)]
    assert len(keywords) == 3000 - left_out and all(len(k) <= 64 for k in keywords)
    assert keywords[0] == b"keyword 0 " + b"x" * 54
    credit = next(d for r, n, d in datasets if (r, n) == (2, 110))
    assert b"\x1b" not in credit
    assert not [d for r, n, d in datasets if (r, n) == (2, 55)]  # no garbled date
    # It goes into one APP13 segment, as every reader expects.
    embed_in_jpeg(good_jpeg(), photoshop_resources(iim))
    assert encode_iim({"date_created": "2022-09-11T14:05:00+03:00"}).endswith(
        b"\x1c\x02\x37\x00\x0820220911\x1c\x02\x3c\x00\x0b140500+0300"
    )


def _datasets(iim: bytes) -> list[tuple[int, int, bytes]]:
    out, pos = [], 0
    while pos + 5 <= len(iim):
        _, record, number, size = struct.unpack(">BBBH", iim[pos : pos + 5])
        out.append((record, number, iim[pos + 5 : pos + 5 + size]))
        pos += 5 + size
    return out


def test_extended_xmp_names_its_part_by_md5() -> None:
    import hashlib

    values = {"caption": "<&>" * 20000, "headline": "Tanks", "credit": "Reuters"}
    standard, extended = build_xmp_parts(values, 65000)
    assert extended is not None and len(standard) <= 65000
    guid = hashlib.md5(extended).hexdigest().upper()
    assert f"<xmpNote:HasExtendedXMP>{guid}</xmpNote:HasExtendedXMP>".encode() in standard
    assert b"Tanks" in standard and b"dc:description" not in standard
    ElementTree.fromstring(standard)
    ElementTree.fromstring(extended)
    small, none = build_xmp_parts({"caption": "short"}, 65000)
    assert none is None and small == build_xmp({"caption": "short"})


# -- export of metadata beyond one JPEG segment -------------------------------------------


def exiftool_json(*args: str) -> list[dict[str, Any]]:
    exiftool = shutil.which("exiftool")
    assert exiftool, "exiftool is needed (Debian: libimage-exiftool-perl)"
    done = subprocess.run([exiftool, "-j", "-struct", *args], capture_output=True, check=True)
    return list(json.loads(done.stdout))


def jpeg_segments(data: bytes) -> list[tuple[int, int]]:
    """(marker, length) of each segment before the image data."""
    found, pos = [], 2
    while pos + 4 <= len(data) and data[pos] == 0xFF and data[pos + 1] != 0xDA:
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        found.append((data[pos + 1], length))
        pos += 2 + length
    return found


def test_an_export_with_xmp_beyond_64kb_writes_extended_xmp_and_goes_on(tmp_path: Path) -> None:
    archive, _ = init_archive(tmp_path / "archive")
    folder = tmp_path / "in"
    folder.mkdir()
    for name, colour in (("a.jpg", (200, 0, 0)), ("big.jpg", (0, 200, 0)), ("z.jpg", (0, 0, 200))):
        (folder / name).write_bytes(jpeg(colour))
    # Under 10,000 characters and 200 keywords, yet over 64 KB as XMP: "&" is 5 bytes there.
    caption = "Abandoned tanks \x1b[2K\r& " + "&€<" * 3000
    keywords = [f"tank {n} " + "<&€" * 18 for n in range(150)]
    manifest = tmp_path / "m.json"
    manifest.write_text(
        json.dumps(
            [
                {"file": "big.jpg", "caption": caption, "keywords": keywords},
                {"file": "a.jpg", "caption": "Abandoned tanks, small"},
                {"file": "z.jpg", "caption": "Abandoned tanks, also small"},
            ]
        ),
        encoding="utf-8",
    )
    archive.close()
    ingest = cli(archive.root, "ingest", str(folder), "--manifest", str(manifest))
    assert ingest.exit_code == 0, ingest.stderr
    out = tmp_path / "out"
    result = cli(archive.root, "export", "abandoned", "--to", str(out), "--name", "{name}")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == ["a.jpg", "big.jpg", "z.jpg"]
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning:")]
    # The export says what IIM could not hold (the caption and keywords, cut to its limits).
    assert len(warnings) == 3 and all(f"{out / 'big.jpg'}: " in w for w in warnings)
    assert "its XMP" in warnings[0] and "extended XMP" in warnings[0]
    assert "IPTC-IIM: its caption cut to 2000 bytes" in warnings[1]
    assert "IPTC-IIM: 150 of its keywords cut to 64 bytes" in warnings[2]
    data = (out / "big.jpg").read_bytes()
    assert all(length <= 0xFFFF for _, length in jpeg_segments(data))
    assert b"http://ns.adobe.com/xmp/extension/\x00" in data
    read = {
        Path(r["SourceFile"]).name: r
        for r in exiftool_json(
            "-XMP:Description",
            "-XMP:Subject",
            "-XMP:HasExtendedXMP",
            "-IPTC:Caption-Abstract",
            "-Warning",
            str(out / "a.jpg"),
            str(out / "big.jpg"),
            str(out / "z.jpg"),
        )
    }
    expected = caption.replace("\x1b", "\ufffd")  # XML 1.0 cannot hold ESC
    assert read["big.jpg"]["Description"] == expected
    assert read["big.jpg"]["Subject"] == keywords
    assert "HasExtendedXMP" in read["big.jpg"] and "Warning" not in read["big.jpg"]
    iim = read["big.jpg"]["Caption-Abstract"]
    assert expected.startswith(iim) and len(iim.encode("utf-8")) <= 2000
    assert read["a.jpg"]["Description"] == "Abandoned tanks, small"
    assert read["z.jpg"]["Description"] == "Abandoned tanks, also small"


def test_exported_xmp_sidecars_are_valid_for_any_caption(tmp_path: Path) -> None:
    archive, _ = init_archive(tmp_path / "archive")
    (tmp_path / "in.jpg").write_bytes(good_jpeg())
    archive.ingest([tmp_path / "in.jpg"], IngestOptions(caption="tank \x00\x1b[2K\x07\ufffe ok"))
    archive.close()
    out = tmp_path / "out"
    result = cli(archive.root, "export", "tank", "--to", str(out), "--sidecar", "--name", "x")
    assert result.exit_code == 0, result.stderr
    sidecar = out / "x.xmp"
    ElementTree.fromstring(sidecar.read_bytes())
    [read] = exiftool_json("-XMP:Description", "-Warning", str(sidecar))
    assert read["Description"] == "tank \ufffd\ufffd[2K\ufffd\ufffd ok" and "Warning" not in read
