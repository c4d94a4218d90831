"""photoarchive: a caption and image archive for news photo desks."""

from __future__ import annotations

# Not typing.TYPE_CHECKING: importing typing (and the re and enum it brings) would cost
# the command passing a search to the service more than the search.
TYPE_CHECKING = False

if TYPE_CHECKING:
    from photoarchive.archive import Archive, init_archive, open_archive
    from photoarchive.errors import PhotoArchiveError

__all__ = ["Archive", "PhotoArchiveError", "init_archive", "open_archive"]
__version__ = "0.1.0"

# Where each public name lives: imported when first asked for, so that a command answered by
# the search service (`photoarchive search --json` with `photoarchive searchd` running) does not
# import the archive, the catalog and a search engine only to pass the question on.
_PUBLIC = {
    "Archive": "photoarchive.archive",
    "init_archive": "photoarchive.archive",
    "open_archive": "photoarchive.archive",
    "PhotoArchiveError": "photoarchive.errors",
}


def __getattr__(name: str) -> object:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module 'photoarchive' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
