"""Find the archive folder and load its settings from archive.toml."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from photoarchive.errors import ConfigError

SETTINGS_FILE = "archive.toml"


@dataclass(frozen=True)
class Setting:
    """One archive setting: declared once, feeding validation and the starter file."""

    name: str
    default: int
    help: str
    minimum: int
    maximum: int


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
        "lock_wait_seconds",
        600,
        "how long a writer waits for another to finish (reindex, edit, ingest)",
        0,
        86_400,
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
    lock_wait_seconds: int = 600


def starter_settings_text() -> str:
    """Return the commented archive.toml that `init` writes."""
    lines = ["# photoarchive settings for this archive.", "[archive]"]
    for s in SETTINGS:
        lines.append(f"# {s.help} ({s.minimum}..{s.maximum})")
        lines.append(f"{s.name} = {s.default}")
    return "\n".join(lines) + "\n"


def load_settings(path: Path) -> ArchiveSettings:
    """Read archive.toml at `path`; raise ConfigError naming the problem."""
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    section = data.get("archive", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [archive] must be a table")
    known = {s.name: s for s in SETTINGS}
    values: dict[str, int] = {}
    for key, value in section.items():
        setting = known.get(key)
        if setting is None:
            raise ConfigError(f"{path}: unknown setting '{key}'")
        if not isinstance(value, int) or isinstance(value, bool):
            raise ConfigError(f"{path}: {key} must be a whole number")
        if not setting.minimum <= value <= setting.maximum:
            raise ConfigError(
                f"{path}: {key} = {value} is outside {setting.minimum}..{setting.maximum}"
            )
        values[key] = value
    return ArchiveSettings(**values)
