"""What a handler sees of a request: method, path, query, headers and a streamed body."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote

from .errors import BadRequest, PayloadTooLarge

if TYPE_CHECKING:
    from .connection import HttpConnection
    from .stream import RawStream

# json_body and friends read small documents whole; anything bigger is streamed.
DEFAULT_READ_LIMIT = 32 << 20


class Headers(Mapping[str, str]):
    """Request headers, looked up case-insensitively; repeated ones are joined by ``, ``."""

    def __init__(self, items: Iterable[tuple[str, str]] = ()) -> None:
        self._items: dict[str, str] = {}
        for name, value in items:
            key = name.lower()
            self._items[key] = f"{self._items[key]}, {value}" if key in self._items else value

    def __getitem__(self, name: str) -> str:
        return self._items[name.lower()]

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)


class Query(Mapping[str, str]):
    """Query parameters: ``q[name]``/``get`` give the first value, ``getall`` every one."""

    def __init__(self, raw: str) -> None:
        self._values: dict[str, list[str]] = {}
        for name, value in parse_qsl(raw, keep_blank_values=True):
            self._values.setdefault(name, []).append(value)

    def __getitem__(self, name: str) -> str:
        return self._values[name][0]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def getall(self, name: str, default: list[str] | None = None) -> list[str]:
        """Every value of ``name`` in order (``default``, else ``[]``, when absent)."""
        if name in self._values:
            return list(self._values[name])
        return [] if default is None else default


class Body:
    """The request body as it arrives (chunked or with a length; h11 decodes both)."""

    def __init__(self, conn: HttpConnection) -> None:
        self._conn = conn

    async def readany(self) -> bytes:
        """The next chunk; ``b""`` once the body is complete."""
        return await self._conn.read_body_chunk()

    async def iter_chunked(self, size: int) -> AsyncIterator[bytes]:
        """Chunks of at most ``size`` bytes until the body ends."""
        while chunk := await self.readany():
            for start in range(0, len(chunk), size):
                yield chunk[start : start + size]

    async def read(self, limit: int = DEFAULT_READ_LIMIT) -> bytes:
        """The whole body; :class:`PayloadTooLarge` beyond ``limit`` bytes."""
        parts: list[bytes] = []
        total = 0
        while chunk := await self.readany():
            total += len(chunk)
            if total > limit:
                raise PayloadTooLarge(f"request body larger than {limit} bytes")
            parts.append(chunk)
        return b"".join(parts)


class Request:
    """One HTTP request, handed to the application with its connection's services."""

    def __init__(
        self,
        conn: HttpConnection,
        method: str,
        target: str,
        headers: Iterable[tuple[str, str]],
        app: Any,
    ) -> None:
        self._conn = conn
        self.method = method
        self.target = target  # as sent: path and query, still percent-encoded
        raw_path, _, raw_query = target.partition("?")
        try:
            self.path = unquote(raw_path, errors="strict")
        except UnicodeDecodeError:
            raise BadRequest(f"invalid percent-encoding in path {raw_path!r}") from None
        self.raw_path = raw_path
        self.query = Query(raw_query)
        self.headers = Headers(headers)
        self.app = app
        self.match_info: dict[str, str] = {}
        self.content = Body(conn)

    async def read(self, limit: int = DEFAULT_READ_LIMIT) -> bytes:
        """The whole body (see :meth:`Body.read`)."""
        return await self.content.read(limit)

    def cancel_on_disconnect(self) -> None:
        """Cancel this handler if the client goes away or half-closes before the answer
        is complete (long waits and streams: ``wait``, ``logs -f``, ``stats``, events)."""
        self._conn.cancel_on_disconnect = True

    def abort(self) -> None:
        """Drop the connection at once: after the headers went out, a broken stream is
        the only way left to tell the client that the body is incomplete."""
        self._conn.abort()

    async def upgrade(self, headers: Mapping[str, str]) -> RawStream:
        """Answer ``101`` (the client asked with ``Upgrade``) and hand over the raw
        connection; client half-close then reads as end of input, not as a disconnect."""
        return await self._conn.upgrade(headers)

    async def take_over(self, status: int, headers: Mapping[str, str]) -> RawStream:
        """Answer ``status`` with no body framing and hand over the raw connection (the
        pre-upgrade hijack of old clients: the body runs until the connection closes)."""
        return await self._conn.take_over(status, headers)
