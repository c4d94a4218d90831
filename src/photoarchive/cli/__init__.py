"""The command line: click parses, calls the library, formats; errors become one-line messages."""

from photoarchive.cli.app import main

__all__ = ["main"]
