"""Async, Qt-free client of the Docker Engine API (the app's only way to the engine)."""

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
