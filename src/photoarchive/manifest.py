"""Desk manifests (CSV or JSON): captions, credits and places supplied per file, and CSV cells
a spreadsheet shows as text rather than runs as a formula."""

from __future__ import annotations

import csv
import difflib
import io
import json
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path, PurePosixPath
from typing import IO, Any

from photoarchive.errors import PhotoArchiveError
from photoarchive.record import DESK_FIELDS

# Columns a manifest may have besides the file name; the same names as the record's.
MANIFEST_FIELDS = DESK_FIELDS
FILE_COLUMNS = ("file", "filename", "file_name")

# A cell starting with one of these is run as a formula by Excel, LibreOffice and Google
# Sheets (=HYPERLINK(...), +cmd|...); OWASP's advice is a leading single quote, which the
# spreadsheet shows as text. A cell that already starts with quotes before one of them gets
# one more, so that the reader below, taking exactly one off, gives back every value.
_FORMULA = re.compile(r"'*[=+\-@\t\r]")
_NEUTRALISED = re.compile(r"'+[=+\-@\t\r]")
# Lone surrogates (a JSON "\ud800") cannot be stored or written to a file.
_SURROGATE = re.compile("[\ud800-\udfff]")


class ManifestError(PhotoArchiveError):
    """A manifest that cannot be used; the message names the line or item."""


class Manifest(dict[str, dict[str, Any]]):
    """{file name, or path relative to the ingested folder: desk values}, and where each
    row stands in the manifest (for messages)."""

    def __init__(self, where: str = "manifest") -> None:
        super().__init__()
        self.where = where
        self.places: dict[str, str] = {}


def place_of(manifest: Mapping[str, Any], key: str) -> str:
    """Return where the row for `key` is ('m.csv, line 3'), or the key for a plain dict."""
    places = getattr(manifest, "places", {})
    return str(places.get(key, f"the row for '{key}'"))


def csv_cell(value: str) -> str:
    """Return the value as a CSV cell no spreadsheet runs as a formula (OWASP)."""
    return "'" + value if _FORMULA.match(value) else value


def from_csv_cell(value: str) -> str:
    """Undo csv_cell: take off exactly the quote it added."""
    return value[1:] if _NEUTRALISED.match(value) else value


def write_csv(rows: Iterable[Mapping[str, str]], columns: Sequence[str], out: IO[str]) -> None:
    """Write rows as CSV with a header, every cell made safe for spreadsheets."""
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    for row in rows:
        writer.writerow([csv_cell(row.get(c) or "") for c in columns])


def load_manifest(path: Path) -> Manifest:
    """Return {file name or relative path: desk values} from a .csv or .json manifest."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ManifestError(f"manifest {path} not found") from None
    except OSError as exc:
        raise ManifestError(f"manifest {path} cannot be read ({exc.strerror})") from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise ManifestError(
            f"{path}, line {line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); "
            "save the manifest as UTF-8"
        ) from None
    if path.suffix.lower() == ".json":
        return parse_json_manifest(text, str(path))
    if path.suffix.lower() in (".csv", ".tsv", ".txt"):
        return parse_csv_manifest(text, str(path))
    raise ManifestError(f"manifest {path}: give a .csv or .json file")


def parse_csv_manifest(text: str, where: str = "manifest") -> Manifest:
    """Read CSV (or tab-separated) text with a header row naming the columns.

    Quoting is checked strictly first: a quote left open would otherwise swallow the rows
    after it into one caption without a word.
    """
    text = text.removeprefix("\ufeff")
    sample = text[:4096]
    delimiter = "\t" if sample.count("\t") > sample.count(",") else ","
    _check_quotes(text, delimiter, where)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    rows = Manifest(where)
    header: list[str] | None = None
    file_column = 0
    end = 0
    try:
        for cells in reader:
            # A record may span lines (a quoted cell with a line break): name its first.
            line, end = end + 1, reader.line_num
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header, file_column = _header(cells, where, line)
                continue
            values = _row_values(header, cells, where, line)
            name = values.pop(header[file_column])
            _add(rows, name, values, f"{where}, line {line}")
    except csv.Error as exc:
        # _check_quotes catches what strict parsing would; this is the last guard.
        raise ManifestError(f"{where}, line {end + 1}: not valid CSV ({exc})") from None
    if header is None:
        raise ManifestError(f"{where}, line 1: no header row naming the columns (file, caption...)")
    return rows


def _header(cells: list[str], where: str, line: int) -> tuple[list[str], int]:
    header = [from_csv_cell(h).strip().lower() for h in cells]
    file_column = next((n for n, h in enumerate(header) if h in FILE_COLUMNS), None)
    if file_column is None:
        raise ManifestError(f"{where}, line {line}: no 'file' column naming each photo")
    if sum(h in FILE_COLUMNS for h in header) > 1:
        raise ManifestError(f"{where}, line {line}: give one column naming the file, not two")
    known = [*FILE_COLUMNS, *MANIFEST_FIELDS]
    for name in header:
        if name and name not in known:
            raise ManifestError(
                f"{where}, line {line}: unknown column '{name}'{_did_you_mean(name, known)} "
                f"(columns: file, {', '.join(MANIFEST_FIELDS)})"
            )
        if name and header.count(name) > 1:
            raise ManifestError(f"{where}, line {line}: the column '{name}' is given twice")
    return header, file_column


def _row_values(header: list[str], cells: list[str], where: str, line: int) -> dict[str, str]:
    if len(cells) > len(header) and any(c.strip() for c in cells[len(header) :]):
        raise ManifestError(
            f"{where}, line {line}: {len(cells)} cells but the header names {len(header)} "
            "columns (is a cell's comma or quote missing its quotes?)"
        )
    values: dict[str, str] = {}
    for number, name in enumerate(header):
        cell = from_csv_cell(cells[number]).strip() if number < len(cells) else ""
        if not name:
            if cell:
                raise ManifestError(
                    f"{where}, line {line}: a value in column {number + 1}, which has no name"
                )
            continue
        values[name] = cell
    return values


def _check_quotes(text: str, delimiter: str, where: str) -> None:
    """Raise ManifestError naming the line where a quoted cell starts that is never closed
    properly: one without its closing quote, or one whose closing quote comes lines later
    and is followed by more text (a stray quote that ran on into the next rows)."""
    newline = "\n" if "\n" in text or "\r" not in text else "\r"
    line, pos, size = 1, 0, len(text)
    at_cell_start = True
    while pos < size:
        char = text[pos]
        if char == '"' and at_cell_start:
            opened = line
            pos += 1
            while True:
                close = text.find('"', pos)
                if close < 0:
                    raise ManifestError(
                        f"{where}, line {opened}: a quoted cell starts here and is never closed "
                        '(a quote inside a quoted cell is written twice: "")'
                    )
                line += text.count(newline, pos, close)
                if text.startswith('""', close):
                    pos = close + 2
                    continue
                pos = close + 1
                break
            if pos < size and text[pos] not in (delimiter, "\r", "\n"):
                if line > opened:
                    raise ManifestError(
                        f"{where}, line {opened}: a quoted cell starts here and is not closed "
                        f"until line {line}, followed by more text: a quote is missing"
                    )
                raise ManifestError(
                    f"{where}, line {line}: text after the closing quote of a cell; put the "
                    'whole cell in quotes and write each quote inside it twice ("")'
                )
            at_cell_start = False
            continue
        if char == newline:
            line += 1
        at_cell_start = char in (delimiter, "\r", "\n")
        pos += 1


def parse_json_manifest(text: str, where: str = "manifest") -> Manifest:
    """Read a JSON list of objects, each with a "file" key."""
    try:
        items = json.loads(text.removeprefix("\ufeff"))
    except json.JSONDecodeError as exc:
        raise ManifestError(
            f"{where}, line {exc.lineno}, column {exc.colno}: not valid JSON ({exc.msg})"
        ) from None
    except RecursionError:
        raise ManifestError(f"{where}: not a manifest (nested too deeply)") from None
    if not isinstance(items, list):
        raise ManifestError(f"{where}: expected a JSON list of objects, one per file")
    rows = Manifest(where)
    known = [*FILE_COLUMNS, *MANIFEST_FIELDS]
    for number, item in enumerate(items, 1):
        place = f"{where}, item {number}"
        if not isinstance(item, dict):
            raise ManifestError(f'{place}: expected an object such as {{"file": "a.jpg"}}')
        values = {str(k).strip().lower(): v for k, v in item.items()}
        for name in values:
            if name not in known:
                raise ManifestError(f"{place}: unknown key '{name}'{_did_you_mean(name, known)}")
        file_key = next((k for k in values if k in FILE_COLUMNS), None)
        name = values.pop(file_key) if file_key else ""
        if not isinstance(name, str):
            raise ManifestError(f'{place}: "{file_key}" must be text, not {_json_type(name)}')
        _add(rows, name, values, place)
    return rows


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "a list"
    return "an object" if isinstance(value, dict) else type(value).__name__


def _did_you_mean(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    return f"; did you mean '{close[0]}'?" if close else ""


def _clean_text(value: str) -> str:
    return _SURROGATE.sub("\ufffd", value).strip()


def _add(rows: Manifest, name: str, values: dict[str, Any], place: str) -> None:
    key = _row_key(name, place)
    if key in rows:
        raise ManifestError(
            f"{place}: '{key}' is listed twice (also at {rows.places[key]}); give each file one row"
        )
    clean: dict[str, Any] = {}
    for field, value in values.items():
        if value is None or value == "" or value == []:
            continue
        if field == "keywords":
            if isinstance(value, str):
                words = value.split(";")
            elif isinstance(value, list) and all(isinstance(w, str) for w in value):
                words = value
            else:
                raise ManifestError(f"{place}: keywords must be text or a list of texts")
            clean[field] = [w for w in (_clean_text(w) for w in words) if w]
        elif not isinstance(value, str):
            raise ManifestError(f"{place}: {field} must be text, not {_json_type(value)}")
        else:
            clean[field] = _clean_text(value)
    date = clean.get("date_created")
    if date:
        try:
            datetime.fromisoformat(date.replace("Z", "+00:00"))
        except ValueError:
            raise ManifestError(
                f"{place}: date_created '{date}' is not an ISO date such as 2022-09-11"
            ) from None
    rows[key] = clean
    rows.places[key] = place


def _row_key(name: str, place: str) -> str:
    """Return the row's file as a key: a bare name, or a path relative to the ingested
    folder written with '/' (a Windows desk's backslashes are read as '/')."""
    name = _clean_text(name)
    if not name:
        raise ManifestError(f"{place}: no file name")
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or re.match(r"^[A-Za-z]:", name) or ".." in path.parts:
        raise ManifestError(
            f"{place}: '{name}' is not inside the ingested folder; give the file's name "
            "or its path relative to the folder given to ingest (day1/a.jpg)"
        )
    return str(path)


def match_files(
    manifest: Mapping[str, Any],
    files: Sequence[Path],
    given: Iterable[str | os.PathLike[str]],
) -> dict[str, str]:
    """Return {file (as str): manifest key} for the files of an ingest batch.

    A row naming a path ('day1/a.jpg') matches the file at that path relative to a folder
    given to ingest; a row naming a bare file name matches the file of that name (in any
    case if no file has exactly that name). Raise ManifestError, before anything is
    ingested, when a row's name fits two files of the batch, or two rows fit one file.
    """
    roots = [Path(g) for g in given]
    # Exact spellings, and the same case-folded for rows typed in another case.
    by_path: tuple[dict[str, list[str]], dict[str, list[str]]] = ({}, {})
    by_name: tuple[dict[str, list[str]], dict[str, list[str]]] = ({}, {})
    for file in files:
        for relative in _relative_paths(file, roots):
            by_path[0].setdefault(relative, []).append(str(file))
            by_path[1].setdefault(relative.casefold(), []).append(str(file))
        by_name[0].setdefault(file.name, []).append(str(file))
        by_name[1].setdefault(file.name.casefold(), []).append(str(file))
    matched: dict[str, str] = {}
    for key in manifest:
        exact, folded = by_path if "/" in key else by_name
        # Exactly as written first; only if no file is, in any case (IMG_1.JPG for img_1.jpg).
        found = list(dict.fromkeys(exact.get(key) or folded.get(key.casefold()) or []))
        if len(found) > 1:
            raise ManifestError(
                f"{place_of(manifest, key)}: '{key}' fits {len(found)} files of the batch, "
                f"{found[0]} and {found[1]}; give the path relative to the folder instead "
                "(day1/a.jpg). Nothing was ingested"
            )
        if not found:
            continue
        other = next((k for k, f in matched.items() if f == found[0]), None)
        if other is not None:
            raise ManifestError(
                f"{place_of(manifest, other)} and {place_of(manifest, key)} both name "
                f"{found[0]} ('{other}', '{key}'); give each file one row. Nothing was ingested"
            )
        matched[key] = found[0]
    return {file: key for key, file in matched.items()}


def _relative_paths(file: Path, roots: list[Path]) -> set[str]:
    """The file's paths relative to each folder given to ingest that holds it ('a.jpg' for
    a file given itself), and its path as found (relative to where ingest was started, if
    the folder was given so)."""
    found = {file.as_posix()}
    for root in roots:
        if file == root:
            found.add(file.name)
        elif file.is_relative_to(root):
            found.add(file.relative_to(root).as_posix())
    return found
