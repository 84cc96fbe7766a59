"""Responses: whole (:class:`Response`) or streamed (:class:`StreamResponse`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .connection import HttpConnection
    from .message import Request

# Statuses that never carry a body, so they get no Content-Length either.
BODYLESS = frozenset({204, 304})


class StreamResponse:
    """Headers first (:meth:`prepare`), then any number of :meth:`write` calls, then
    :meth:`write_eof`. Without a Content-Length the body goes out chunked (HTTP/1.1) or
    delimited by closing the connection (HTTP/1.0)."""

    def __init__(
        self,
        status: int = 200,
        reason: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.status = status
        self.reason = reason
        self.headers: dict[str, str] = dict(headers or {})
        self._conn: HttpConnection | None = None
        self.finished = False

    @property
    def prepared(self) -> bool:
        """Whether the status line and headers went out."""
        return self._conn is not None

    async def prepare(self, request: Request) -> None:
        """Send the status line and headers (once)."""
        if self._conn is None:
            conn = request._conn
            await conn.send_head(self)
            self._conn = conn

    async def write(self, data: bytes) -> None:
        """Send part of the body; ConnectionResetError once the client is gone."""
        assert self._conn is not None, "prepare() first"
        if data:
            await self._conn.send_body(data)

    async def write_eof(self) -> None:
        """End the body (once)."""
        assert self._conn is not None, "prepare() first"
        if not self.finished:
            self.finished = True
            await self._conn.send_end()


class Response(StreamResponse):
    """A response whose whole body is known up front."""

    def __init__(
        self,
        status: int = 200,
        body: bytes = b"",
        content_type: str | None = None,
        headers: Mapping[str, str] | None = None,
        reason: str | None = None,
    ) -> None:
        super().__init__(status, reason, headers)
        self.body = body
        if content_type is not None:
            self.headers["Content-Type"] = content_type
        if status not in BODYLESS and status >= 200:
            self.headers["Content-Length"] = str(len(body))

    def sent_on(self, conn: HttpConnection) -> None:
        """Record that ``conn`` sent the whole answer."""
        self._conn = conn
        self.finished = True

    async def send(self, request: Request) -> None:
        """Send headers and body."""
        if self._conn is None:
            conn = request._conn
            await conn.send_whole(self, self.body)
            self.sent_on(conn)
            return
        await self.prepare(request)
        if self.body:
            await self.write(self.body)
        await self.write_eof()
