"""HTTP-level failures the web layer itself detects (routing, body size, framing)."""

from __future__ import annotations


class HTTPError(Exception):
    """A failure with an HTTP status; the application renders it for its clients."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(HTTPError):
    """The request could not be understood (400)."""

    status = 400


class NotFound(HTTPError):
    """No route matches the path (404)."""

    status = 404


class MethodNotAllowed(HTTPError):
    """A route matches the path but not the method (405)."""

    status = 405


class PayloadTooLarge(HTTPError):
    """A body read whole was larger than the caller allowed (413)."""

    status = 413
