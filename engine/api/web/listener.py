"""Unix-socket listeners, a cap on connections, and a shutdown that lets running requests
finish briefly."""

from __future__ import annotations

import asyncio
import errno
import logging
import os
import resource
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .connection import ConnectionLimits, Handler, HttpConnection, Turns, Urgent
from .framing import DefaultHeaders

log = logging.getLogger(__name__)

# dockerd's (Go's) listen backlog: bursts of new connections (the docker CLI opens one per
# command, docker-py a pool per thread) queue in the kernel instead of being refused.
BACKLOG = 4096

_TOO_MANY_BODY = b'{"message":"too many connections to the engine, retry"}\n'
_TOO_MANY = (
    b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(_TOO_MANY_BODY), _TOO_MANY_BODY)
)


class _Refusal(asyncio.Protocol):
    """A connection over the limit: one 503 in Docker's error shape, then closed."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.WriteTransport)
        transport.write(_TOO_MANY)
        transport.close()


class UnixListener:
    """Serves ``handler`` on any number of unix sockets; :meth:`close` stops them all."""

    def __init__(
        self,
        handler: Handler,
        app: Any = None,
        default_headers: Mapping[str, str] | None = None,
        limits: ConnectionLimits | None = None,
        urgent: Urgent | None = None,
    ) -> None:
        self._handler = handler
        # Requests that are not urgent take turns across all connections.
        self._turns = Turns(urgent) if urgent is not None else None
        self._app = app
        self._default_headers = DefaultHeaders(default_headers or {})  # encoded once
        self._limits = limits or ConnectionLimits()
        self._servers: list[asyncio.AbstractServer] = []
        self._connections: set[HttpConnection] = set()
        self._refusing = False

    def _connection(self) -> asyncio.Protocol:
        if len(self._connections) >= self._limits.max_connections:
            if not self._refusing:  # one log line per episode, not one per connection
                self._refusing = True
                log.warning(
                    "%d connections open: answering new ones 503 until some close",
                    len(self._connections),
                )
            return _Refusal()
        if self._refusing:
            self._refusing = False
            log.info("connections below the limit again: accepting")
        conn = HttpConnection(
            self._handler,
            self._app,
            self._default_headers,
            self._connections.discard,
            self._limits,
            self._turns,
        )
        self._connections.add(conn)
        return conn

    async def listen(self, path: Path, mode: int = 0o660, gid: int | None = None) -> None:
        """Accept connections on ``path`` (a stale socket file there is replaced), owned
        by group ``gid`` when given so its members may connect."""
        loop = asyncio.get_running_loop()
        server = await loop.create_unix_server(self._connection, str(path), backlog=BACKLOG)
        self._servers.append(server)
        if gid is not None:
            os.chown(path, -1, gid)
        os.chmod(path, mode)

    async def adopt(self, sock: socket.socket) -> None:
        """Accept connections on an already listening socket (socket activation): its
        path, owner and mode are the service manager's."""
        loop = asyncio.get_running_loop()
        server = await loop.create_unix_server(self._connection, sock=sock, backlog=BACKLOG)
        self._servers.append(server)

    async def close(self, grace: float = 2.0) -> None:
        """Stop accepting, close idle connections, give running handlers ``grace``
        seconds, then cancel what is left (streams such as ``logs -f`` never end)."""
        for server in self._servers:
            server.close()
        for conn in list(self._connections):
            conn.answer_waiting_request()
        for conn in list(self._connections):
            if not conn.busy:
                conn.close()
        tasks = [c.task for c in self._connections if c.task is not None and not c.task.done()]
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending, timeout=1.0)
        for conn in list(self._connections):
            conn.abort()
        for server in self._servers:
            await server.wait_closed()


_OUT_OF_RESOURCES = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}


def raise_fd_limit() -> int:
    """Raise the soft open-files limit to the hard one, as Go does for dockerd; the new
    soft limit. Every connection and every container's monitor costs descriptors."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return soft


def fold_accept_errors(loop: asyncio.AbstractEventLoop, every: float = 60.0) -> None:
    """Log running out of descriptors at accept() once a minute instead of asyncio's
    traceback per retry (about a megabyte a second of log under a connection flood)."""
    last: list[float] = []

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if (
            isinstance(exc, OSError)
            and exc.errno in _OUT_OF_RESOURCES
            and "accept" in str(context.get("message", ""))
        ):
            now = loop.time()
            if not last or now - last[0] >= every:
                last[:] = [now]
                log.error("accepting connections failed (%s): new clients wait", exc.strerror)
            return
        loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
