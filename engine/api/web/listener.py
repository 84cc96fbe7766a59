"""Unix-socket listeners and a shutdown that lets running requests finish briefly."""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .connection import Handler, HttpConnection


class UnixListener:
    """Serves ``handler`` on any number of unix sockets; :meth:`close` stops them all."""

    def __init__(
        self, handler: Handler, app: Any = None, default_headers: Mapping[str, str] | None = None
    ) -> None:
        self._handler = handler
        self._app = app
        self._default_headers = dict(default_headers or {})
        self._servers: list[asyncio.AbstractServer] = []
        self._connections: set[HttpConnection] = set()

    def _connection(self) -> HttpConnection:
        conn = HttpConnection(
            self._handler, self._app, self._default_headers, self._connections.discard
        )
        self._connections.add(conn)
        return conn

    async def listen(self, path: Path, mode: int = 0o660) -> None:
        """Accept connections on ``path`` (a stale socket file there is replaced)."""
        loop = asyncio.get_running_loop()
        server = await loop.create_unix_server(self._connection, str(path))
        os.chmod(path, mode)
        self._servers.append(server)

    async def close(self, grace: float = 2.0) -> None:
        """Stop accepting, close idle connections, give running handlers ``grace``
        seconds, then cancel what is left (streams such as ``logs -f`` never end)."""
        for server in self._servers:
            server.close()
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
