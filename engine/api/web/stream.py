"""The raw two-way byte stream of a hijacked connection (attach, exec start)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .connection import HttpConnection


class RawStream:
    """Bytes from the client via :meth:`read`, bytes to it via :meth:`write`.

    The client half-closing its side (how the docker CLI says "no more stdin") makes
    :meth:`read` return None while writing goes on; the client going away entirely also
    cancels the handler that owns the stream.
    """

    def __init__(self, conn: HttpConnection) -> None:
        self._conn = conn

    async def read(self) -> bytes | None:
        """The next bytes the client sent, or None once it closed its side."""
        return await self._conn.read_raw()

    async def write(self, data: bytes) -> None:
        """Send bytes as they are; ConnectionResetError once the client is gone."""
        if data:
            await self._conn.write_raw(data)

    def close(self) -> None:
        """Close the connection once what was written is flushed."""
        self._conn.close()
