"""Container streams: logs, attach (hijacked), wait, stats, top, resize."""

from __future__ import annotations

import asyncio
import contextlib
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


async def _hijack(request: web.Request, content_type: str) -> web.StreamResponse:
    """Answer ``101 UPGRADED`` (or a raw 200) and hand back the raw connection."""
    upgrade = request.headers.get("Upgrade", "").lower() == "tcp"
    if upgrade:
        resp = web.StreamResponse(
            status=101,
            reason="UPGRADED",
            headers={"Content-Type": content_type, "Connection": "Upgrade", "Upgrade": "tcp"},
        )
    else:
        resp = web.StreamResponse(status=200, headers={"Content-Type": content_type})
        # A raw stream, not chunked: the body runs until the connection closes.
        resp._length_check = False  # aiohttp's own switch, as its websockets use
    resp.force_close()
    await resp.prepare(request)
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


class _StdinFeed:
    """Parser installed on the upgraded connection: client bytes go to a queue."""

    def __init__(self) -> None:
        self.queue: asyncio.Queue[bytes | None] = asyncio.Queue()

    def feed_data(self, data: bytes) -> tuple[bool, bytes]:
        self.queue.put_nowait(bytes(data))
        return False, b""

    def feed_eof(self) -> None:
        self.queue.put_nowait(None)


async def _pump_stdin(feed: _StdinFeed, conn: Any) -> None:
    while True:
        data = await feed.queue.get()
        if data is None:
            conn.close_stdin()
            return
        await conn.send_stdin(data)


async def attach(request: web.Request) -> web.StreamResponse:
    """``POST /containers/{id}/attach``: output (and later stdin) over a hijacked socket."""
    engine = engine_of(request)
    svc = engine.containers
    c = svc.get(request.match_info["id"])
    want_out, want_err = qbool(request, "stdout"), qbool(request, "stderr")
    want_in, stream, with_logs = (
        qbool(request, "stdin"),
        qbool(request, "stream"),
        qbool(request, "logs"),
    )
    tty = bool(c.config.get("Tty"))
    conn = await svc.attach_output(c) if stream else None
    resp = await _hijack(request, RAW if tty else MUX)
    svc._event(c, "attach")

    async def send(kind: int, data: bytes) -> None:
        if (kind == 1 and want_out) or (kind == 2 and want_err):
            await resp.write(data if tty else frame(kind, data))

    pump = None
    feed = _StdinFeed()
    _guard(request, feed.feed_eof)
    try:
        if with_logs:
            _, entries = svc.logs(c.id, LogOptions(stdout=want_out, stderr=want_err))
            async for e in entries:
                await send(e.stream, e.data)
        if conn is not None:
            if want_in and c.config.get("OpenStdin") and request.protocol is not None:
                request.protocol.set_parser(feed)  # type: ignore[arg-type]
                pump = asyncio.ensure_future(_pump_stdin(feed, conn))
            async for kind, data in conn.output():
                await send(kind, data)
    except (ConnectionResetError, ConnectionError):
        pass
    finally:
        if pump:
            pump.cancel()
        if conn is not None:
            conn.close()
    with contextlib.suppress(ConnectionError, RuntimeError):
        await resp.write_eof()
    return resp


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
    r.post("/containers/{id}/attach", attach)
    r.post("/containers/{id}/wait", wait)
    r.get("/containers/{id}/stats", stats)
    r.get("/containers/{id}/top", top)
    r.post("/containers/{id}/resize", resize)
    r.get("/containers/{id}/changes", changes)
