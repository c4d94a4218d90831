"""Find the archive folder and load its settings from archive.toml."""

from __future__ import annotations

import difflib
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from photoarchive.errors import ConfigError
from photoarchive.postgres import is_server_url

SETTINGS_FILE = "archive.toml"
# The one table archive.toml holds.
SETTINGS_SECTION = "archive"


@dataclass(frozen=True)
class Setting:
    """One archive setting: declared once, feeding validation and the starter file."""

    name: str
    default: int
    help: str
    minimum: int
    maximum: int
    #: Written into the archive.toml `init` makes (settings of an optional backend are not).
    starter: bool = True


SETTINGS: tuple[Setting, ...] = (
    Setting("thumbnail_size", 320, "long edge of thumbnails, in pixels", 32, 2048),
    Setting("preview_size", 1280, "long edge of previews, in pixels", 256, 8192),
    Setting("jpeg_quality", 85, "JPEG quality of renditions", 30, 100),
    Setting(
        "max_pixels",
        200_000_000,
        "larger images are rejected as decompression bombs",
        1_000_000,
        2_000_000_000,
    ),
    Setting("max_file_mb", 500, "larger files are rejected", 1, 100_000),
    Setting("max_seconds_per_file", 60, "a file that takes longer to read is rejected", 1, 3600),
    Setting(
        "max_caption_chars",
        10_000,
        "captions are cut to this many characters (with a warning)",
        100,
        1_000_000,
    ),
    Setting(
        "max_text_chars",
        2_000,
        "other text fields (headline, credit, instructions...) are cut to this length",
        100,
        1_000_000,
    ),
    Setting(
        "max_keywords", 200, "keywords after this many are left out (with a warning)", 1, 100_000
    ),
    Setting("max_keyword_chars", 64, "keywords are cut to this many characters", 8, 10_000),
    Setting(
        "lock_wait_seconds",
        600,
        "how long a writer waits for another to finish (reindex, edit, ingest)",
        0,
        86_400,
    ),
    Setting(
        "query_seconds",
        10,
        "longest a search may run before it is stopped with an error (the desk: --query-seconds)",
        1,
        3600,
    ),
    Setting(
        "storage_attempts",
        5,
        "tries of each request to the object store (with growing pauses) before it fails",
        1,
        20,
        starter=False,
    ),
    Setting(
        "storage_timeout_seconds",
        20,
        "longest wait for the object store to connect or answer, per try",
        1,
        600,
        starter=False,
    ),
)


@dataclass(frozen=True)
class ArchiveSettings:
    """Settings read from archive.toml, defaults filled in."""

    thumbnail_size: int = 320
    preview_size: int = 1280
    jpeg_quality: int = 85
    max_pixels: int = 200_000_000
    max_file_mb: int = 500
    max_seconds_per_file: int = 60
    max_caption_chars: int = 10_000
    max_text_chars: int = 2_000
    max_keywords: int = 200
    max_keyword_chars: int = 64
    lock_wait_seconds: int = 600
    query_seconds: int = 10
    #: "whoosh" (the default) or "tantivy"; `photoarchive reindex --engine` switches.
    search_engine: str = "whoosh"
    #: The PostgreSQL server holding the ingest queue (`ingest --queue`, `worker`), or "".
    queue: str = ""
    #: The PostgreSQL server holding the catalog, or "" for the file in the archive folder.
    catalog: str = ""
    #: The schema the catalog's tables are in on that server (one server, many archives).
    catalog_schema: str = "photoarchive"
    #: Where originals and renditions are kept: "" for the archive folder, or
    #: "s3://bucket/prefix" on S3-compatible object storage.
    storage: str = ""
    #: The object store's URL (empty: AWS, or $AWS_ENDPOINT_URL), its region, and its
    #: credentials (empty: the AWS SDK's own: $AWS_ACCESS_KEY_ID, ~/.aws/credentials...).
    storage_endpoint: str = ""
    storage_region: str = ""
    storage_access_key: str = ""
    storage_secret_key: str = ""
    storage_attempts: int = 5
    storage_timeout_seconds: int = 20


#: Settings whose values are text, beside the numbers of SETTINGS.
_TEXT_SETTINGS = (
    "search_engine",
    "queue",
    "catalog",
    "catalog_schema",
    "storage",
    "storage_endpoint",
    "storage_region",
    "storage_access_key",
    "storage_secret_key",
)
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_SCHEMA_RULE = "catalog_schema must be a schema name (lower-case letters, digits and _, at most 63)"


def check_schema_name(name: str) -> str:
    """Return `name` if it can name the catalog's schema; else raise ConfigError."""
    if not _SCHEMA_NAME.fullmatch(name):
        raise ConfigError(f"{_SCHEMA_RULE}, not {name[:70]!r}")
    return name


#: The search engines an archive may use (search.ENGINES), the default first.
SEARCH_ENGINES = ("whoosh", "tantivy", "postgresql")
_ENGINE_HELP = (
    '# search engine: "whoosh" (the default, pure Python), "tantivy" (for large archives:\n'
    "# pip install 'photoarchive[tantivy]') or \"postgresql\" (with the catalog on PostgreSQL,\n"
    "# where it is the default); change it with 'photoarchive reindex --engine'"
)


def starter_settings_text() -> str:
    """Return the commented archive.toml that `init` writes."""
    lines = ["# photoarchive settings for this archive.", "[archive]"]
    for s in SETTINGS:
        if not s.starter:
            continue
        lines.append(f"# {s.help} ({s.minimum}..{s.maximum})")
        lines.append(f"{s.name} = {s.default}")
    lines += [_ENGINE_HELP, 'search_engine = "whoosh"']
    return "\n".join(lines) + "\n"


def set_search_engine(path: Path, engine: str) -> None:
    """Write `search_engine = ENGINE` into archive.toml at `path`, keeping the rest of the
    file (comments included) as it is."""
    set_settings(path, {"search_engine": engine})


def set_settings(path: Path, values: dict[str, str]) -> None:
    """Write text settings into archive.toml at `path` (replacing those there), keeping the
    rest of the file (comments included) as it is."""
    from photoarchive.atomic import atomic_write

    text = path.read_bytes().decode("utf-8-sig")
    lines = text.splitlines()
    for name, value in values.items():
        line = f"{name} = {toml_string(value)}"
        current = None
        header_at = None
        for number, old in enumerate(lines):
            header = re.match(r"^\[\s*([^\]]+?)\s*\]", old.strip())
            if header:
                current = header.group(1).strip().strip("\"'")
                if current == SETTINGS_SECTION:
                    header_at = number
            elif current == SETTINGS_SECTION and re.match(rf"^{name}\s*=", old.strip()):
                lines[number] = line
                break
        else:
            if header_at is None:
                lines += [f"[{SETTINGS_SECTION}]", line]
            else:
                lines.insert(header_at + 1, line)
    atomic_write(path, ("\n".join(lines) + "\n").encode("utf-8"))


def toml_string(value: str) -> str:
    """Return `value` as a TOML string."""
    import json

    # A JSON string of text without control characters is a TOML basic string.
    return json.dumps(value, ensure_ascii=False)


def load_settings(path: Path) -> ArchiveSettings:
    """Read archive.toml at `path`; raise ConfigError naming the problem (and its line)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        # A byte order mark (Windows editors write one) is not content.
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(
            f"{path}, line {line}: not UTF-8 text (byte 0x{raw[exc.start]:02x}); "
            "save archive.toml as UTF-8"
        ) from None
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    known = {s.name: s for s in SETTINGS}
    for name, value in data.items():
        if name == SETTINGS_SECTION:
            continue
        where = f"{path}, line {_line_of(text, name)}"
        if name in known or name in _TEXT_SETTINGS:
            # A setting written above the [archive] header would be silently ignored.
            raise ConfigError(f"{where}: {name} must be under [{SETTINGS_SECTION}]")
        if isinstance(value, dict):
            hint = _did_you_mean(name, [SETTINGS_SECTION], section=True)
            raise ConfigError(f"{where}: unknown section [{name}]{hint}")
        raise ConfigError(
            f"{where}: unknown setting '{name}'{_did_you_mean(name, list(known))} "
            f"(settings go under [{SETTINGS_SECTION}])"
        )
    section = data.get(SETTINGS_SECTION, {})
    if not isinstance(section, dict):
        raise ConfigError(
            f"{path}, line {_line_of(text, SETTINGS_SECTION)}: [{SETTINGS_SECTION}] must be a table"
        )
    values: dict[str, Any] = {}
    for key, value in section.items():
        where = f"{path}, line {_line_of(text, key, SETTINGS_SECTION)}"
        if key in ("queue", "catalog"):
            if not isinstance(value, str) or not is_server_url(value):
                raise ConfigError(
                    f"{where}: {key} must be a PostgreSQL URL (postgresql://USER@HOST/DATABASE)"
                )
            values[key] = value
            continue
        if key == "catalog_schema":
            if not isinstance(value, str) or not _SCHEMA_NAME.fullmatch(value):
                raise ConfigError(f"{where}: {_SCHEMA_RULE}")
            values[key] = value
            continue
        if key == "storage":
            if not isinstance(value, str) or (value and not value.startswith("s3://")):
                raise ConfigError(
                    f'{where}: storage must be "" (the archive folder) or "s3://BUCKET/PREFIX"'
                )
            if value:
                from photoarchive.store.s3 import parse_location

                try:
                    parse_location(value)
                except ConfigError as exc:
                    raise ConfigError(f"{where}: {exc}") from None
            values[key] = value
            continue
        if key.startswith("storage_") and key in _TEXT_SETTINGS:
            if not isinstance(value, str):
                raise ConfigError(f"{where}: {key} must be text")
            if key == "storage_endpoint" and value and not re.match(r"https?://", value):
                raise ConfigError(f"{where}: storage_endpoint must be an http:// or https:// URL")
            values[key] = value
            continue
        if key == "search_engine":
            if value not in SEARCH_ENGINES:
                raise ConfigError(
                    f"{where}: search_engine must be {' or '.join(repr(e) for e in SEARCH_ENGINES)}"
                )
            values[key] = value
            continue
        setting = known.get(key)
        if setting is None and isinstance(value, dict):
            table = f"{SETTINGS_SECTION}.{key}"
            raise ConfigError(f"{path}, line {_line_of(text, table)}: unknown section [{table}]")
        if setting is None:
            names = [*known, *_TEXT_SETTINGS]
            raise ConfigError(f"{where}: unknown setting '{key}'{_did_you_mean(key, names)}")
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{where}: {key} must be a whole number")
        if not setting.minimum <= value <= setting.maximum:
            raise ConfigError(
                f"{where}: {key} = {value} is outside {setting.minimum}..{setting.maximum}"
            )
        values[key] = value
    if values.get("catalog") and "search_engine" not in section:
        # Search follows the catalog unless set.
        values["search_engine"] = "postgresql"
    if values.get("search_engine") == "postgresql" and not values.get("catalog"):
        where = f"{path}, line {_line_of(text, 'search_engine', SETTINGS_SECTION)}"
        raise ConfigError(
            f'{where}: search_engine = "postgresql" needs the catalog on PostgreSQL '
            '(catalog = "postgresql://..."; photoarchive migrate --to moves it there)'
        )
    return ArchiveSettings(**values)


def _did_you_mean(name: str, known: list[str], section: bool = False) -> str:
    close = difflib.get_close_matches(name, known, n=1)
    if not close:
        return ""
    return f"; did you mean [{close[0]}]?" if section else f"; did you mean '{close[0]}'?"


def _line_of(text: str, name: str, section: str | None = None) -> int:
    """Return the 1-based line where `name` is set (inside [section]), or its [name] header;
    1 if it cannot be found (a dotted or inline key)."""
    current = None
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        header = re.match(r"^\[\s*([^\]]+?)\s*\]", stripped)
        if header:
            current = header.group(1).strip().strip("\"'")
            if section is None and current == name:
                return number
        elif current == section and re.match(rf"^[\"']?{re.escape(name)}[\"']?\s*=", stripped):
            return number
    return 1
