"""The one place where exceptions become pages or JSON: 404, friendly 400s, no tracebacks."""

from __future__ import annotations

from typing import Any

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from photoarchive.errors import (
    AmbiguousIdError,
    ExportRefusedError,
    IndexUnavailableError,
    NotAllowedError,
    PhotoArchiveError,
    PhotoNotFoundError,
    QueryError,
    QueryTimeoutError,
    SelectionError,
    SelectionNotFoundError,
    SignInError,
    StorageError,
)


def _status(exc: Exception) -> int:
    if isinstance(exc, SignInError):
        return 401
    if isinstance(exc, NotAllowedError):
        return 403
    if isinstance(exc, PhotoNotFoundError | AmbiguousIdError | SelectionNotFoundError):
        return 404
    if isinstance(exc, SelectionError):
        return 400
    if isinstance(exc, ExportRefusedError):
        return 403  # a killed or superseded picture is not handed out for publishing
    if isinstance(exc, QueryTimeoutError):
        return 503  # the query may be fine; the desk would not spend longer on it
    if isinstance(exc, QueryError):
        return 400
    if isinstance(exc, IndexUnavailableError | StorageError):
        return 503  # the index, or the store the files are on, cannot be read now
    return 500


def _respond(status: int, title: str, message: str) -> Any:
    if request.path.startswith("/api/"):
        return jsonify({"error": message, "status": status}), status
    return render_template("error.html", title=title, message=message, status=status), status


def register(app: Flask) -> None:
    """Install the error handlers on the app."""

    @app.errorhandler(PhotoArchiveError)
    def archive_error(exc: PhotoArchiveError) -> Any:
        status = _status(exc)
        titles = {
            404: "Not found",
            400: "Cannot search that",
            401: "Sign in",
            403: "Not allowed",
            503: "Search unavailable",
        }
        title = titles.get(status, "Something went wrong")
        if isinstance(exc, QueryTimeoutError):
            title = "The search took too long"
        elif isinstance(exc, ExportRefusedError):
            title = "Not for publication"
        elif isinstance(exc, SelectionError) and status == 400:
            title = "Cannot change the selection"
        return _respond(status, title, str(exc))

    from flask_wtf.csrf import CSRFError

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Any:
        # A form without its token may come from another site: refused, nothing changed.
        return _respond(
            403,
            "Form expired",
            "the form's security token is missing or out of date: reload the page and try "
            "again (nothing was changed)",
        )

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        return _respond(exc.code or 500, exc.name, exc.description or exc.name)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Any:
        app.logger.exception("unexpected error on %s", request.path)
        return _respond(
            500, "Something went wrong", "The desk hit an unexpected error; it has been logged."
        )
