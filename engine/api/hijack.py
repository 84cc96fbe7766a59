"""Hijacked HTTP connections for attach and exec start.

A client that sends ``Upgrade: tcp`` gets ``101 UPGRADED``; an old one gets a plain
``200`` whose body is the raw stream until the connection closes. Either way the
connection then carries raw bytes both ways: output (8-byte multiplexed frames without
a TTY, raw with one) to the client, stdin from it. A client half-close (``CloseWrite``,
how the docker CLI says "no more stdin") ends stdin only; a client that goes away
cancels the handler (see :mod:`.web.connection`).
"""

from __future__ import annotations

import contextlib

from ..conventions import MULTIPLEXED_STREAM, RAW_STREAM
from .http import frame
from .web import RawStream, Request


class Hijacked:
    """The raw two-way stream of one hijacked request."""

    def __init__(self, stream: RawStream, tty: bool) -> None:
        self.stream = stream
        self.tty = tty
        self.closed = False

    @classmethod
    async def upgrade(cls, request: Request, tty: bool, multiplexed: bool = True) -> Hijacked:
        """Send the upgrade (or raw 200) headers and take over the connection.

        ``tty`` picks raw output; without it output is multiplexed, and
        ``multiplexed`` only changes the announced content type (old API versions
        called it raw even though it was framed).
        """
        content_type = RAW_STREAM if tty or not multiplexed else MULTIPLEXED_STREAM
        if request.headers.get("Upgrade", "").lower() == "tcp":
            stream = await request.upgrade(
                {"Content-Type": content_type, "Connection": "Upgrade", "Upgrade": "tcp"}
            )
        else:
            stream = await request.take_over(200, {"Content-Type": RAW_STREAM})
        return cls(stream, tty)

    async def read(self) -> bytes | None:
        """The next chunk the client sent, or None once it closed its side."""
        return await self.stream.read()

    async def write_raw(self, data: bytes) -> None:
        """Bytes to the client as they are."""
        await self.stream.write(data)

    async def write(self, stream: int, data: bytes) -> None:
        """Output of ``stream`` (1 stdout, 2 stderr): framed unless on a TTY."""
        if data:
            await self.stream.write(data if self.tty else frame(stream, data))

    async def close(self) -> None:
        """End the stream; the connection closes once the output is flushed."""
        if not self.closed:
            self.closed = True
            with contextlib.suppress(ConnectionError, OSError):
                self.stream.close()
