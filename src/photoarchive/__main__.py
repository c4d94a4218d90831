"""Run the command line as `python -m photoarchive`."""

from photoarchive.cli import run

run()
