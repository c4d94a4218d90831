"""What every PostgreSQL client of the archive shares: the driver imported with a clear
message, URLs shown without their password, a server's error in one line."""

from __future__ import annotations

import re
from typing import Any

from photoarchive.errors import PhotoArchiveError

#: How a server URL begins (libpq's two spellings).
URL_SCHEMES = ("postgresql://", "postgres://")


def is_server_url(text: str) -> bool:
    """True if `text` names a PostgreSQL server rather than a file."""
    return text.startswith(URL_SCHEMES)


def psycopg_module(what: str) -> Any:
    """Return the psycopg module, or raise PhotoArchiveError saying how to install it."""
    try:
        import psycopg
    except ImportError:
        raise PhotoArchiveError(
            f"{what} needs psycopg: pip install 'photoarchive[postgresql]'"
        ) from None
    return psycopg


def shown(url: str) -> str:
    """The URL without its password."""
    return re.sub(r"(//[^:/@]+):[^@/]*@", r"\1:***@", url)


def first_line(exc: BaseException) -> str:
    """The first line of a driver's message (PostgreSQL adds DETAIL and HINT lines)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
