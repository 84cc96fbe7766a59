"""Hijacked HTTP connections for attach and exec start.

A client that sends ``Connection: Upgrade`` / ``Upgrade: tcp`` gets ``101 UPGRADED``;
an old one gets a plain ``200`` whose body is the raw stream until the connection
closes. Either way the connection then carries raw bytes both ways: output (8-byte
multiplexed frames without a TTY, raw with one) to the client, stdin from it.

aiohttp does not know this protocol, so two things are bent to fit:
- the client's bytes are taken by installing a parser on the connection (the way
  aiohttp's own websockets do), which queues them for :meth:`Hijacked.read`;
- the connection's protocol is wrapped so a client half-close (``CloseWrite``, how
  the docker CLI says "no more stdin") reaches us as EOF instead of closing the
  socket, and a client that goes away cancels the handler.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from aiohttp import web

from .http import frame

MUX = "application/vnd.docker.multiplexed-stream"
RAW = "application/vnd.docker.raw-stream"


class _InputParser:
    """Receives every client byte after the upgrade."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()
        self.eof = False

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        if not self.eof and data:
            self.queue.put_nowait(bytes(data))
        return False, b""

    def feed_eof(self) -> None:
        if not self.eof:
            self.eof = True
            self.queue.put_nowait(None)


class _HijackProtocol(asyncio.Protocol):
    """Wraps aiohttp's protocol on the hijacked connection (see module doc)."""

    def __init__(self, inner: Any, task: asyncio.Task[Any] | None, parser: _InputParser) -> None:
        self.inner = inner
        self.task = task
        self.parser = parser

    def connection_made(self, transport: Any) -> None:
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool:
        self.parser.feed_eof()
        return True  # keep our half open: output still flows

    def connection_lost(self, exc: Exception | None) -> None:
        self.parser.feed_eof()
        self.inner.connection_lost(exc)
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


class Hijacked:
    """The raw two-way stream of one hijacked request."""

    def __init__(self, resp: web.StreamResponse, parser: _InputParser, tty: bool) -> None:
        self.resp = resp
        self.parser = parser
        self.tty = tty
        self.closed = False

    @classmethod
    async def upgrade(cls, request: web.Request, tty: bool, multiplexed: bool = True) -> Hijacked:
        """Send the upgrade (or raw 200) headers and take over the connection.

        ``tty`` picks raw output; without it output is multiplexed, and
        ``multiplexed`` only changes the announced content type (old API versions
        called it raw even though it was framed).
        """
        content_type = RAW if tty or not multiplexed else MUX
        if request.headers.get("Upgrade", "").lower() == "tcp":
            resp = web.StreamResponse(
                status=101,
                reason="UPGRADED",
                headers={"Content-Type": content_type, "Connection": "Upgrade", "Upgrade": "tcp"},
            )
        else:
            resp = web.StreamResponse(status=200, headers={"Content-Type": RAW})
            # No chunking and no length: the body runs until the connection closes
            # (aiohttp's own switch, as its websockets use it).
            resp._length_check = False
        resp.force_close()
        parser = _InputParser()
        protocol = request.protocol
        transport = request.transport
        if protocol is not None:
            protocol.set_parser(parser)  # type: ignore[arg-type]
        if transport is not None and protocol is not None:
            transport.set_protocol(_HijackProtocol(protocol, asyncio.current_task(), parser))
        await resp.prepare(request)
        return cls(resp, parser, tty)

    async def read(self) -> bytes | None:
        """The next chunk the client sent, or None once it closed its side."""
        return await self.parser.queue.get()

    async def write_raw(self, data: bytes) -> None:
        """Bytes to the client as they are."""
        if data:
            await self.resp.write(data)

    async def write(self, stream: int, data: bytes) -> None:
        """Output of ``stream`` (1 stdout, 2 stderr): framed unless on a TTY."""
        if not data:
            return
        await self.resp.write(data if self.tty else frame(stream, data))

    async def close(self) -> None:
        """End the response; the connection closes after it."""
        if self.closed:
            return
        self.closed = True
        with contextlib.suppress(ConnectionError, RuntimeError, OSError):
            await self.resp.write_eof()
