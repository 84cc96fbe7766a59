"""A small HTTP/1.1 server for the Engine API: h11 parses (plain GETs have a faster path),
asyncio carries the bytes.

Why not a framework: the Docker API needs little of one (routing, JSON, chunked streams)
but two things frameworks fight — hijacked connections for attach/exec, where the client
half-closes its side to end stdin, and handlers cancelled when their client goes away.
Owning the connection makes both plain, and leaves the idle daemon without the ~15 MiB a
full framework (and the HTTP client half it always imports) costs.

Modules: :mod:`.message` (requests), :mod:`.response`, :mod:`.routing` (path templates),
:mod:`.connection` (one client connection), :mod:`.framing` (the simple requests parsed and
answered without h11), :mod:`.listener` (unix sockets, shutdown).
"""

from .connection import ConnectionLimits
from .errors import HTTPError, MethodNotAllowed, NotFound, PayloadTooLarge
from .listener import UnixListener, fold_accept_errors, raise_fd_limit
from .message import Headers, Query, Request
from .response import Response, StreamResponse
from .routing import RouteTable
from .stream import RawStream

__all__ = [
    "ConnectionLimits",
    "HTTPError",
    "Headers",
    "MethodNotAllowed",
    "NotFound",
    "PayloadTooLarge",
    "Query",
    "RawStream",
    "Request",
    "Response",
    "RouteTable",
    "StreamResponse",
    "UnixListener",
    "fold_accept_errors",
    "raise_fd_limit",
]
