"""Typed errors of the engine client, each carrying Docker's own message.

The engine answers failures with ``{"message": "..."}`` and a status code; the client
turns those into one exception class per meaning so callers can ``except NotFound``
instead of comparing numbers, and the GUI can show ``str(err)`` as-is.
"""

from __future__ import annotations

import json


class EngineError(Exception):
    """Any failure reported by (or on the way to) the engine.

    ``status`` is the HTTP status (0 when the engine never answered) and ``message``
    the human sentence, which is also ``str(err)``.
    """

    status: int = 0

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        if status is not None:
            self.status = status

    def __str__(self) -> str:
        return self.message


class BadRequest(EngineError):
    """400: the request was malformed or a parameter was invalid."""

    status = 400


class Unauthorized(EngineError):
    """401: a registry or the engine wants credentials."""

    status = 401


class Forbidden(EngineError):
    """403: the operation is not allowed."""

    status = 403


class NotFound(EngineError):
    """404: no such container, image, volume, network or exec session."""

    status = 404


class Conflict(EngineError):
    """409: the object is in a state that forbids the operation (in use, name taken…)."""

    status = 409


class ServerError(EngineError):
    """5xx: the engine failed while doing what was asked."""

    status = 500


class EngineUnreachable(EngineError):
    """The engine did not answer: no socket, connection refused, TLS failure, timeout."""

    status = 0


class EngineRefused(EngineUnreachable):
    """The engine's host turned us away for a reason retrying alone cannot fix: an
    unknown host key the user did not accept, a changed host key, a refused login."""


class StreamError(EngineError):
    """An error reported inside a progress stream (pull, load, push) after a 200 answer."""

    status = 0


_BY_STATUS: dict[int, type[EngineError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
}


def message_from_body(body: bytes, status: int) -> str:
    """Docker's ``message`` from an error body, or the raw text when it is not JSON."""
    text = body.decode("utf-8", "replace").strip()
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return data["message"]
    return text or f"the engine answered HTTP {status}"


def error_for_status(status: int, body: bytes) -> EngineError:
    """The typed exception for an error answer."""
    message = message_from_body(body, status)
    cls = _BY_STATUS.get(status)
    if cls is None:
        cls = ServerError if status >= 500 else EngineError
    return cls(message, status)
