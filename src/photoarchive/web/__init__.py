"""The search desk in a browser: a read-only Flask app over one archive."""

from photoarchive.web.app import create_app

__all__ = ["create_app"]
