"""Desk manifests (CSV or JSON): captions, credits and places supplied per file name."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from photoarchive.errors import PhotoArchiveError
from photoarchive.record import DESK_FIELDS

# Columns a manifest may have besides the file name; the same names as the record's.
MANIFEST_FIELDS = DESK_FIELDS
FILE_COLUMNS = ("file", "filename", "file_name")


class ManifestError(PhotoArchiveError):
    """A manifest that cannot be used; the message names the line or item."""


Manifest = dict[str, dict[str, Any]]


def load_manifest(path: Path) -> Manifest:
    """Return {file name: desk values} from a .csv or .json manifest."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ManifestError(f"manifest {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ManifestError(f"manifest {path} cannot be read ({exc})") from None
    if path.suffix.lower() == ".json":
        return parse_json_manifest(text, str(path))
    if path.suffix.lower() in (".csv", ".tsv", ".txt"):
        return parse_csv_manifest(text, str(path))
    raise ManifestError(f"manifest {path}: give a .csv or .json file")


def parse_csv_manifest(text: str, where: str = "manifest") -> Manifest:
    """Read CSV (or tab-separated) text with a header row naming the columns."""
    sample = text[:4096]
    dialect: Any = csv.excel_tab if sample.count("\t") > sample.count(",") else csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    file_column = next((h for h in header if h in FILE_COLUMNS), None)
    if file_column is None:
        raise ManifestError(f"{where}, line 1: no 'file' column naming each photo")
    for name in header:
        if name not in MANIFEST_FIELDS and name not in FILE_COLUMNS:
            raise ManifestError(
                f"{where}, line 1: unknown column '{name}' "
                f"(columns: file, {', '.join(MANIFEST_FIELDS)})"
            )
    reader.fieldnames = header
    rows: Manifest = {}
    for row in reader:
        line = reader.line_num
        values = {k: (v or "").strip() for k, v in row.items() if k is not None}
        _add(rows, values.pop(file_column, ""), values, f"{where}, line {line}")
    return rows


def parse_json_manifest(text: str, where: str = "manifest") -> Manifest:
    """Read a JSON list of objects, each with a "file" key."""
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ManifestError(f"{where}, line {exc.lineno}: not valid JSON ({exc.msg})") from None
    if not isinstance(items, list):
        raise ManifestError(f"{where}: expected a JSON list of objects")
    rows: Manifest = {}
    for number, item in enumerate(items, 1):
        place = f"{where}, item {number}"
        if not isinstance(item, dict):
            raise ManifestError(f"{place}: expected an object")
        values = {str(k).strip().lower(): v for k, v in item.items()}
        file_key = next((k for k in values if k in FILE_COLUMNS), None)
        for name in values:
            if name not in MANIFEST_FIELDS and name not in FILE_COLUMNS:
                raise ManifestError(f"{place}: unknown key '{name}'")
        name = values.pop(file_key) if file_key else ""
        _add(rows, name if isinstance(name, str) else "", values, place)
    return rows


def _add(rows: Manifest, name: str, values: dict[str, Any], place: str) -> None:
    name = name.strip()
    if not name:
        raise ManifestError(f"{place}: no file name")
    if name in rows:
        raise ManifestError(f"{place}: '{name}' is listed twice")
    clean: dict[str, Any] = {}
    for key, value in values.items():
        if value is None or value == "" or value == []:
            continue
        if key == "keywords":
            words = value if isinstance(value, list) else str(value).split(";")
            clean[key] = [str(w).strip() for w in words if str(w).strip()]
        elif not isinstance(value, str):
            raise ManifestError(f"{place}: {key} must be text")
        else:
            clean[key] = value.strip()
    date = clean.get("date_created")
    if date:
        try:
            datetime.fromisoformat(date.replace("Z", "+00:00"))
        except ValueError:
            raise ManifestError(
                f"{place}: date_created '{date}' is not an ISO date such as 2022-09-11"
            ) from None
    rows[name] = clean


def row_for(manifest: Mapping[str, Any], path: Path) -> str | None:
    """Return the manifest key naming this file: its name, else its name in any case."""
    if path.name in manifest:
        return path.name
    lowered = path.name.lower()
    return next((key for key in manifest if Path(key).name.lower() == lowered), None)
