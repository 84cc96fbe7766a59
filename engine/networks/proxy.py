"""A userland TCP proxy for published ports reached through ``[::1]``.

Published ports are kernel DNAT (see :mod:`.nft`), and for IPv4 loopback the kernel
helps (``route_localnet``). IPv6 has no such switch: a connection from ``::1`` DNATed to
a container is answered, the answer is translated back to ``::1`` as it enters through
the bridge, and the kernel drops a packet for ``::1`` that arrives on any device but
``lo``. So the table leaves ``::1`` alone, and the socket that holds the port — bound to
``::1`` or ``::`` — listens, and this module forwards each connection to the container,
as dockerd's docker-proxy does. It runs while the engine runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket

log = logging.getLogger(__name__)

CHUNK = 64 * 1024


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until EOF, then half-close the other side (so protocols that shut down
    their sending half first still get their answer)."""
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        writer.close()


class TcpProxy:
    """Forwards connections accepted on one listening socket to ``(ip, port)``."""

    def __init__(self, sock: socket.socket, ip: str, port: int) -> None:
        self.sock = sock
        self.target = (ip, port)
        self.server: asyncio.AbstractServer | None = None
        self._conns: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Listen on the (already bound) socket and start serving."""
        self.sock.listen(128)
        self.sock.setblocking(False)
        self.server = await asyncio.start_server(self._handle, sock=self.sock)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._conns.add(task)
        try:
            try:
                up_r, up_w = await asyncio.wait_for(asyncio.open_connection(*self.target), 10)
            except (OSError, TimeoutError) as e:
                log.debug("proxy to %s: %s", self.target, e)
                return
            try:
                await asyncio.gather(_pipe(reader, up_w), _pipe(up_r, writer))
            finally:
                up_w.close()
        finally:
            writer.close()
            if task is not None:
                self._conns.discard(task)

    def close(self) -> None:
        """Stop accepting and drop open connections (the socket is closed too)."""
        if self.server is not None:
            self.server.close()
        for task in list(self._conns):
            task.cancel()
        with contextlib.suppress(OSError):
            self.sock.close()
