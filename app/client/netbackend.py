# The ``timeout`` parameters are httpcore's interface, not ours to rename.
# ruff: noqa: ASYNC109
"""httpcore's network layer on plain asyncio streams.

httpx's default backend goes through anyio, whose unix-socket stream resolves a raw
future from a reader callback. Under qasync the callback is queued a moment after the
socket event, so closing a connection with a read in flight can resolve the future
twice and log "InvalidStateError" — noise on every app shutdown. asyncio's own streams
use protocol callbacks instead and have no such window, on any event loop.
"""

from __future__ import annotations

import asyncio
import ssl
import typing
from collections.abc import Iterable

import httpcore

READ_LIMIT = 1 << 20


class AsyncioStream(httpcore.AsyncNetworkStream):
    """One connection as an asyncio ``StreamReader``/``StreamWriter`` pair."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self._reader = reader
        self._writer = writer

    async def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        try:
            return await asyncio.wait_for(self._reader.read(max_bytes), timeout)
        except TimeoutError as e:
            raise httpcore.ReadTimeout(str(e)) from e
        except OSError as e:
            raise httpcore.ReadError(str(e)) from e

    async def write(self, buffer: bytes, timeout: float | None = None) -> None:
        if not buffer:
            return
        try:
            self._writer.write(buffer)
            await asyncio.wait_for(self._writer.drain(), timeout)
        except TimeoutError as e:
            raise httpcore.WriteTimeout(str(e)) from e
        except (OSError, RuntimeError) as e:  # RuntimeError: transport already closed
            raise httpcore.WriteError(str(e)) from e

    def write_eof(self) -> None:
        """Half-close: no more input from us (not possible over TLS)."""
        if self._writer.can_write_eof():
            self._writer.write_eof()

    async def aclose(self) -> None:
        self._writer.close()
        try:
            await self._writer.wait_closed()
        except (OSError, ssl.SSLError):
            pass  # the peer went first: nothing left to tell it

    async def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            await asyncio.wait_for(
                self._writer.start_tls(ssl_context, server_hostname=server_hostname), timeout
            )
        except TimeoutError as e:
            raise httpcore.ConnectTimeout(str(e)) from e
        except (OSError, ssl.SSLError) as e:
            raise httpcore.ConnectError(str(e)) from e
        return self

    def get_extra_info(self, info: str) -> typing.Any:
        if info == "ssl_object":
            return self._writer.get_extra_info("ssl_object")
        if info == "client_addr":
            return self._writer.get_extra_info("sockname")
        if info == "server_addr":
            return self._writer.get_extra_info("peername")
        if info == "socket":
            return self._writer.get_extra_info("socket")
        if info == "is_readable":
            # An idle keep-alive connection that is readable was closed by the engine.
            return self._reader.at_eof() or self._writer.transport.is_closing()
        return None


class AsyncioBackend(httpcore.AsyncNetworkBackend):
    """Connections opened with ``asyncio.open_connection`` / ``open_unix_connection``."""

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        local = (local_address, 0) if local_address else None
        return await self._connect(
            asyncio.open_connection(host, port, local_addr=local, limit=READ_LIMIT), timeout
        )

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        return await self._connect(asyncio.open_unix_connection(path, limit=READ_LIMIT), timeout)

    async def _connect(self, opening: typing.Any, timeout: float | None) -> AsyncioStream:
        try:
            reader, writer = await asyncio.wait_for(opening, timeout)
        except TimeoutError as e:
            raise httpcore.ConnectTimeout(str(e) or "timed out") from e
        except OSError as e:
            raise httpcore.ConnectError(str(e)) from e
        return AsyncioStream(reader, writer)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)
