"""photoarchive: a caption and image archive for news photo desks."""

from photoarchive.archive import Archive, init_archive, open_archive
from photoarchive.errors import PhotoArchiveError

__all__ = ["Archive", "PhotoArchiveError", "init_archive", "open_archive"]
__version__ = "0.1.0"
