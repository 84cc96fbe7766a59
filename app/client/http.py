"""The request layer every API area shares: versioned paths, parameters, typed errors.

Areas (containers, images, ...) call :class:`Http` instead of httpx directly so that
error mapping, API-version prefixes and stream handling live in one place.
"""

from __future__ import annotations

import errno
import json
from collections.abc import AsyncGenerator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import httpx

from .errors import EngineRefused, EngineUnreachable, error_for_status
from .streams import iter_json

# Plain calls may wait for slow operations (stopping a container waits for its grace
# period), but never forever; streams have no read timeout at all.
DEFAULT_TIMEOUT = httpx.Timeout(120.0, connect=5.0)
STREAM_TIMEOUT = httpx.Timeout(None, connect=5.0)


def encode_params(params: Mapping[str, Any] | None) -> dict[str, str]:
    """Docker's query conventions: booleans as 1/0, dicts/lists as JSON, None dropped."""
    out: dict[str, str] = {}
    for key, value in (params or {}).items():
        if value is None:
            continue
        if isinstance(value, bool):
            out[key] = "1" if value else "0"
        elif isinstance(value, dict | list):
            out[key] = json.dumps(value, separators=(",", ":"))
        else:
            out[key] = str(value)
    return out


_ERRNO_WORDS = {
    errno.ENOENT: "no such socket (is the engine running?)",
    errno.ECONNREFUSED: "nothing answers there (is the engine running?)",
    errno.EACCES: "permission denied (run as root or join the engine's group)",
    errno.EPERM: "permission denied (run as root or join the engine's group)",
    errno.ECONNRESET: "the connection was reset",
    errno.EHOSTUNREACH: "the host is unreachable",
    errno.ENETUNREACH: "the network is unreachable",
}


def _os_reason(exc: BaseException) -> str | None:
    """Words for the OS error somewhere in ``exc``'s chain (``ENOENT`` → "no such socket")."""
    seen = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, OSError) and cur.errno in _ERRNO_WORDS:
            return _ERRNO_WORDS[cur.errno]
        cur = cur.__cause__ or cur.__context__
    text = str(exc)
    for code, words in _ERRNO_WORDS.items():
        if f"[Errno {code}]" in text:
            return words
    return None


def _refusal(exc: BaseException) -> EngineRefused | None:
    """The ``EngineRefused`` a transport put in ``exc``'s chain (an SSH host key refusal)."""
    seen = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, EngineRefused):
            return cur
        cur = cur.__cause__ or cur.__context__
    return None


class Http:
    """Wraps an ``httpx.AsyncClient`` with the engine's conventions."""

    def __init__(self, client: httpx.AsyncClient, where: str):
        self.client = client
        self.where = where
        self.api_version: str | None = None

    def path(self, path: str, versioned: bool = True) -> str:
        """``/v1.NN/path`` once the version is negotiated, else ``path``."""
        if versioned and self.api_version:
            return f"/v{self.api_version}{path}"
        return path

    def unreachable(self, exc: Exception) -> EngineUnreachable:
        """The typed error for a transport failure, in words."""
        refused = _refusal(exc)
        if refused is not None:
            return EngineRefused(f"cannot reach the engine at {self.where}: {refused}")
        if isinstance(exc, httpx.TimeoutException):
            return EngineUnreachable(f"the engine at {self.where} did not answer in time")
        reason = _os_reason(exc)
        if reason is None:
            reason = str(exc) or type(exc).__name__
        return EngineUnreachable(f"cannot reach the engine at {self.where}: {reason}")

    def build(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        content: Any = None,
        headers: Mapping[str, str] | None = None,
        timeout: httpx.Timeout = DEFAULT_TIMEOUT,
        versioned: bool = True,
    ) -> httpx.Request:
        """An httpx request with the engine's conventions applied."""
        kw: dict[str, Any] = {}
        if json_body is not None:
            kw["json"] = json_body
        elif content is not None:
            kw["content"] = content
        return self.client.build_request(
            method,
            self.path(path, versioned),
            params=encode_params(params),
            headers=dict(headers or {}),
            timeout=timeout,
            **kw,
        )

    async def send(self, request: httpx.Request, stream: bool = False) -> httpx.Response:
        """Send and raise the typed error for any status >= 400."""
        try:
            resp = await self.client.send(request, stream=stream)
        except httpx.TransportError as e:
            raise self.unreachable(e) from e
        except RuntimeError as e:
            if not self.client.is_closed:
                raise
            # a request made just as the connection was dropped (the engine went away)
            raise EngineUnreachable(
                f"the connection to the engine at {self.where} was closed"
            ) from e
        if resp.status_code >= 400:
            try:
                body = await resp.aread()
            except httpx.TransportError as e:
                raise self.unreachable(e) from e
            finally:
                await resp.aclose()
            raise error_for_status(resp.status_code, body)
        return resp

    async def request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """One complete request; the body is read before returning."""
        return await self.send(self.build(method, path, **kw))

    async def json(self, method: str, path: str, **kw: Any) -> Any:
        """One request whose answer is JSON (``None`` for an empty body)."""
        resp = await self.request(method, path, **kw)
        if not resp.content:
            return None
        try:
            return resp.json()
        except ValueError as e:
            raise error_for_status(502, b"the engine sent invalid JSON") from e

    @asynccontextmanager
    async def stream(
        self, method: str, path: str, **kw: Any
    ) -> AsyncGenerator[httpx.Response, None]:
        """A streaming request; the response is closed when the block exits."""
        kw.setdefault("timeout", STREAM_TIMEOUT)
        resp = await self.send(self.build(method, path, **kw), stream=True)
        try:
            yield resp
        finally:
            await resp.aclose()

    async def chunks(self, resp: httpx.Response) -> AsyncGenerator[bytes, None]:
        """The body of a streaming response, with transport failures typed."""
        try:
            async for chunk in resp.aiter_bytes():
                yield chunk
        except httpx.TransportError as e:
            raise self.unreachable(e) from e

    async def json_stream(self, method: str, path: str, **kw: Any) -> AsyncGenerator[Any, None]:
        """Decoded JSON documents of a streaming answer."""
        async with self.stream(method, path, **kw) as resp:
            async for obj in iter_json(self.chunks(resp)):
                yield obj
