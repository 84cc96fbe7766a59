"""Engine errors and the HTTP status each one answers with.

Services raise these; the API layer turns them into Docker's ``{"message": ...}``
bodies. Keeping the status on the class means a service never needs to know HTTP,
and a route never needs to guess which status an error deserves.
"""

from __future__ import annotations

import os


class EngineError(Exception):
    """Base of every error the API reports to clients (500 unless a subclass says)."""

    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class InvalidParameter(EngineError):
    """The request is malformed or names something impossible (400)."""

    status = 400


class Unauthorized(EngineError):
    """Credentials are missing or wrong (401)."""

    status = 401


class Forbidden(EngineError):
    """The operation is not allowed in the current state (403)."""

    status = 403


class NotFound(EngineError):
    """The named object does not exist (404)."""

    status = 404


class Conflict(EngineError):
    """The operation conflicts with the object's state or another object (409)."""

    status = 409


class NotModified(EngineError):
    """Nothing to do: already started/stopped (304, empty body)."""

    status = 304


class SystemError_(EngineError):
    """The host failed us: runtime, filesystem or kernel error (500)."""

    status = 500


class NoSpace(SystemError_):
    """The data-root's filesystem is full (500, worded as Go's ENOSPC error)."""

    def __init__(self, what: str = "") -> None:
        super().__init__(f"{what}: no space left on device" if what else "no space left on device")


def os_error_text(op: str, e: OSError) -> str:
    """An OSError as Go words it (``mkdir /x: no space left on device``): dockerd's
    messages carry Go's text, and clients and users know it."""
    reason = os.strerror(e.errno) if e.errno else str(e)
    reason = reason[:1].lower() + reason[1:]
    return f"{op} {e.filename}: {reason}" if e.filename else f"{op}: {reason}"


class NotSupported(EngineError):
    """A feature of dockerd this engine does not offer (501)."""

    status = 501


class Unavailable(EngineError):
    """The operation needs a mode the engine is not in, such as swarm (503)."""

    status = 503


# dockerd's own words for a node outside a swarm: clients match on the 503 and show the text.
NOT_A_SWARM_MANAGER = (
    'This node is not a swarm manager. Use "docker swarm init" or "docker swarm join" '
    "to connect this node to swarm and try again."
)
NOT_IN_A_SWARM = "This node is not part of a swarm"


def not_a_swarm_manager() -> Unavailable:
    """dockerd's 503 for every cluster object (nodes, services, secrets, ...)."""
    return Unavailable(NOT_A_SWARM_MANAGER)
