"""Async, Qt-free client of the Docker Engine API (the app's only way to the engine)."""

# ruff: noqa: E402  (the line below must run before httpx is imported)
import sys

# httpx imports its command-line tool whenever click, rich and pygments happen to be
# installed: about a hundred modules and 5-6 MiB resident that nothing here uses. A None
# entry makes that one import fail, and httpx falls back to a stub of its ``main``.
sys.modules.setdefault("httpx._main", None)  # type: ignore[arg-type]

from .address import (
    DOCKER_SOCKET,
    PORTSIDE_SOCKET,
    EngineAddress,
    SshEndpoint,
    TlsConfig,
    default_address,
)
from .client import CLIENT_API_VERSION, EngineClient, negotiate
from .errors import (
    BadRequest,
    Conflict,
    EngineError,
    EngineRefused,
    EngineUnreachable,
    Forbidden,
    NotFound,
    ServerError,
    StreamError,
    Unauthorized,
)
from .hijack import HijackedStream
from .progress import LayerProgress, PullProgress
from .stats import StatsSample
from .streams import LogLine

__all__ = [
    "CLIENT_API_VERSION",
    "DOCKER_SOCKET",
    "PORTSIDE_SOCKET",
    "BadRequest",
    "Conflict",
    "EngineAddress",
    "EngineClient",
    "EngineError",
    "EngineRefused",
    "EngineUnreachable",
    "Forbidden",
    "HijackedStream",
    "LayerProgress",
    "LogLine",
    "NotFound",
    "PullProgress",
    "ServerError",
    "SshEndpoint",
    "StatsSample",
    "StreamError",
    "TlsConfig",
    "Unauthorized",
    "default_address",
    "negotiate",
]
