"""Container streams: logs, wait, stats, top, resize (attach: routes_attach.py)."""

from __future__ import annotations

import asyncio
import json
import time

from ..containers import LogOptions
from ..conventions import JSON, MULTIPLEXED_STREAM, RAW_STREAM, parse_timestamp
from ..errors import InvalidParameter
from . import web
from .context import engine_of
from .http import frame, ok_json, qbool, qint, qstr
from .router import Router


def _ts(request: web.Request, name: str) -> float:
    raw = request.query.get(name)
    if not raw:
        return 0.0
    try:
        return parse_timestamp(raw)
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
        request.cancel_on_disconnect()
    tty = bool(c.config.get("Tty"))
    resp = web.StreamResponse(headers={"Content-Type": RAW_STREAM if tty else MULTIPLEXED_STREAM})
    await resp.prepare(request)
    async for e in entries:
        data = e.stamp() + b" " + e.data if opts.timestamps else e.data
        await resp.write(data if tty else frame(e.stream, data))
    await resp.write_eof()
    return resp


async def wait(request: web.Request) -> web.StreamResponse:
    """``POST /containers/{id}/wait``: headers at once, the body when the wait ends."""
    svc = engine_of(request).containers
    fut = svc.wait_for(request.match_info["id"], qstr(request, "condition") or "not-running")
    request.cancel_on_disconnect()
    resp = web.StreamResponse(headers={"Content-Type": JSON})
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
    request.cancel_on_disconnect()
    resp = web.StreamResponse(headers={"Content-Type": JSON})
    await resp.prepare(request)
    while True:
        started = time.monotonic()
        await resp.write(json.dumps(svc.sample_stats(c)).encode() + b"\n")
        if not c.running or not svc.exists(c.id):
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
