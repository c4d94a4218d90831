"""The command line: click parses, calls the library, formats; errors become one-line messages."""

import functools
import sys
import types


def _without_asyncio_for_whoosh() -> None:
    """Let Whoosh's one cached property come from functools rather than the cached_property
    package, which imports asyncio (about 60 ms of every command's start) to support async
    properties that Whoosh does not have.

    Only the command line does this, in its own process and only if nothing has imported the
    package yet; the library leaves other programs' imports alone.
    """
    if "cached_property" not in sys.modules:
        shim = types.ModuleType("cached_property")
        shim.cached_property = functools.cached_property  # type: ignore[attr-defined]
        sys.modules["cached_property"] = shim


_without_asyncio_for_whoosh()

from photoarchive.cli.app import main  # noqa: E402

__all__ = ["main"]
