"""Container streams: logs, wait, stats, top, resize (attach: routes_attach.py)."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from aiohttp import web

from ..containers.logs import LogOptions
from ..errors import InvalidParameter
from .context import engine_of
from .http import frame, ok_json, qbool, qint, qstr
from .router import Router

MUX = "application/vnd.docker.multiplexed-stream"
RAW = "application/vnd.docker.raw-stream"


def _ts(request: web.Request, name: str) -> float:
    raw = request.query.get(name)
    if not raw:
        return 0.0
    try:
        return float(raw)
    except ValueError:
        pass
    from ..containers.model import parse_rfc3339

    try:
        return parse_rfc3339(raw)
    except ValueError:
        raise InvalidParameter(f"invalid value for {name}: {raw!r}") from None


async def logs(request: web.Request) -> web.StreamResponse:
    """``GET /containers/{id}/logs``."""
    svc = engine_of(request).containers
    tail_raw = qstr(request, "tail", "all")
    tail: int | None = None
    if tail_raw not in ("all", "", None):
        try:
            tail = int(tail_raw)
        except ValueError:
            raise InvalidParameter(f"invalid value for tail: {tail_raw!r}") from None
        if tail < 0:
            tail = None
    opts = LogOptions(
        stdout=qbool(request, "stdout"),
        stderr=qbool(request, "stderr"),
        follow=qbool(request, "follow"),
        since=_ts(request, "since"),
        until=_ts(request, "until"),
        tail=tail,
        timestamps=qbool(request, "timestamps"),
    )
    c, entries = svc.logs(request.match_info["id"], opts)
    if opts.follow:
        _guard(request)
    tty = bool(c.config.get("Tty"))
    resp = web.StreamResponse(headers={"Content-Type": RAW if tty else MUX})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    async for e in entries:
        data = e.stamp() + b" " + e.data if opts.timestamps else e.data
        await resp.write(data if tty else frame(e.stream, data))
    await resp.write_eof()
    return resp


class _GuardProtocol(asyncio.Protocol):
    """Wraps aiohttp's protocol on a long-lived connection.

    - aiohttp does not cancel handlers whose client went away, so a ``wait`` or a
      quiet ``logs -f`` would otherwise hang until the engine stops (and delay that):
      on ``connection_lost`` we cancel the handler task.
    - For a hijacked attach, the CLI half-closes its side when it has no stdin to
      send; asyncio would close the whole transport unless ``eof_received`` returns
      True, and we still have output to write.
    """

    def __init__(self, inner: Any, task: asyncio.Task[Any] | None, on_eof: Any = None) -> None:
        self.inner = inner
        self.task = task
        self.on_eof = on_eof

    def connection_made(self, transport: Any) -> None:
        self.inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        self.inner.data_received(data)

    def eof_received(self) -> bool | None:
        if self.on_eof is not None:
            self.on_eof()
            return True
        return self.inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self.inner.connection_lost(exc)
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def pause_writing(self) -> None:
        self.inner.pause_writing()

    def resume_writing(self) -> None:
        self.inner.resume_writing()


def _guard(request: web.Request, on_eof: Any = None) -> None:
    """Cancel this handler when the client disconnects (see :class:`_GuardProtocol`)."""
    transport = request.transport
    if transport is not None and request.protocol is not None:
        transport.set_protocol(_GuardProtocol(request.protocol, asyncio.current_task(), on_eof))


async def wait(request: web.Request) -> web.StreamResponse:
    """``POST /containers/{id}/wait``: headers at once, the body when the wait ends."""
    svc = engine_of(request).containers
    fut = svc.wait_for(request.match_info["id"], qstr(request, "condition") or "not-running")
    _guard(request)
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    try:
        code = await fut
    finally:
        fut.cancel()
    await resp.write(json.dumps({"StatusCode": code, "Error": None}).encode() + b"\n")
    await resp.write_eof()
    return resp


async def stats(request: web.Request) -> web.StreamResponse:
    """``GET /containers/{id}/stats?stream=&one-shot=``: the first sample at once."""
    svc = engine_of(request).containers
    c = svc.get(request.match_info["id"])
    if not qbool(request, "stream", True) or qbool(request, "one-shot"):
        return ok_json(svc.sample_stats(c))
    _guard(request)
    resp = web.StreamResponse(headers={"Content-Type": "application/json"})
    resp.enable_chunked_encoding()
    await resp.prepare(request)
    while True:
        started = time.monotonic()
        await resp.write(json.dumps(svc.sample_stats(c)).encode() + b"\n")
        if not c.running or c.id not in svc._containers:
            break
        await asyncio.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
    await resp.write_eof()
    return resp


async def top(request: web.Request) -> web.Response:
    """``GET /containers/{id}/top?ps_args=``."""
    svc = engine_of(request).containers
    return ok_json(await svc.top(request.match_info["id"], qstr(request, "ps_args") or "-ef"))


async def changes(request: web.Request) -> web.Response:
    """``GET /containers/{id}/changes``."""
    return ok_json(await engine_of(request).containers.changes(request.match_info["id"]))


async def resize(request: web.Request) -> web.Response:
    """``POST /containers/{id}/resize?h=&w=``."""
    svc = engine_of(request).containers
    h, w = qint(request, "h", 0) or 0, qint(request, "w", 0) or 0
    svc.resize(request.match_info["id"], h, w)
    return web.Response(status=200)


def register(r: Router) -> None:
    """Add the container stream routes."""
    r.get("/containers/{id}/logs", logs)
    r.post("/containers/{id}/wait", wait)
    r.get("/containers/{id}/stats", stats)
    r.get("/containers/{id}/top", top)
    r.post("/containers/{id}/resize", resize)
    r.get("/containers/{id}/changes", changes)
