"""Hijacked connections for exec and attach: HTTP ``Upgrade: tcp`` then raw bytes.

The engine answers ``101 UPGRADED`` and from then on the connection carries the
process's terminal both ways. httpcore hands the upgraded socket over in the response's
``network_stream`` extension, so the same transports (unix socket, TCP, TLS) serve
hijacked streams as every other call.
"""

from __future__ import annotations

import socket
from collections.abc import AsyncGenerator, Mapping
from typing import Any

import httpx

from .errors import EngineError
from .http import STREAM_TIMEOUT, Http
from .streams import demux

READ_SIZE = 65536


class HijackedStream:
    """A raw two-way stream to a process inside a container.

    ``read()`` returns ``b""`` at the end. With a TTY the bytes are the terminal's
    output as-is; without one use :meth:`frames` to demultiplex stdout/stderr.
    """

    def __init__(self, response: httpx.Response, where: str):
        self._response = response
        self._stream = response.extensions["network_stream"]
        self._where = where
        self._closed = False

    @property
    def closed(self) -> bool:
        """True after :meth:`aclose`."""
        return self._closed

    async def read(self, max_bytes: int = READ_SIZE) -> bytes:
        """Up to ``max_bytes`` of output; ``b""`` when the process side closed."""
        if self._closed:
            return b""
        try:
            return await self._stream.read(max_bytes)
        except (OSError, httpx.TransportError) as e:
            if self._closed:
                return b""
            raise EngineError(f"the terminal connection to {self._where} broke: {e}") from e
        except Exception as e:  # httpcore's own ReadError/ConnectionNotAvailable
            if type(e).__module__.startswith("httpcore"):
                return b""
            raise

    async def write(self, data: bytes) -> None:
        """Send input to the process."""
        if self._closed:
            raise EngineError("the terminal connection is closed")
        try:
            await self._stream.write(data)
        except Exception as e:
            raise EngineError(f"cannot write to the terminal at {self._where}: {e}") from e

    def close_write(self) -> None:
        """Signal end of input (half-close), where the transport allows it."""
        inner = getattr(self._stream, "_stream", self._stream)  # under httpcore's upgrade wrapper
        if hasattr(inner, "write_eof"):
            inner.write_eof()
            return
        sock = self._stream.get_extra_info("socket")
        if sock is not None and self._stream.get_extra_info("ssl_object") is None:
            try:
                sock.shutdown(socket.SHUT_WR)
            except OSError:
                pass

    async def chunks(self) -> AsyncGenerator[bytes, None]:
        """Raw output until the end."""
        while True:
            data = await self.read()
            if not data:
                return
            yield data

    async def frames(self) -> AsyncGenerator[tuple[int, bytes], None]:
        """Demultiplexed ``(stream, bytes)`` output for processes without a TTY."""
        async for frame in demux(self.chunks()):
            yield frame

    async def aclose(self) -> None:
        """Close the connection (idempotent)."""
        if self._closed:
            return
        self._closed = True
        try:
            await self._stream.aclose()
        finally:
            await self._response.aclose()

    async def __aenter__(self) -> HijackedStream:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def hijack(
    http: Http,
    method: str,
    path: str,
    *,
    params: Mapping[str, Any] | None = None,
    json_body: Any = None,
) -> HijackedStream:
    """Send ``method path`` asking to upgrade and return the raw stream."""
    request = http.build(
        method,
        path,
        params=params,
        json_body=json_body,
        headers={"Connection": "Upgrade", "Upgrade": "tcp"},
        timeout=STREAM_TIMEOUT,
    )
    resp = await http.send(request, stream=True)
    if resp.status_code != 101 or "network_stream" not in resp.extensions:
        await resp.aclose()
        raise EngineError(
            f"the engine did not switch {path} to a raw stream (HTTP {resp.status_code})",
            resp.status_code,
        )
    return HijackedStream(resp, http.where)
