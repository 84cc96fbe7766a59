"""Exec routes: create, start (attached or detached), resize, inspect."""

from __future__ import annotations

import logging

from ..conventions import go_fields, json_object
from ..errors import InvalidParameter
from . import gotypes, web
from .context import engine_of
from .hijack import Hijacked
from .http import json_body, ok_json, qint
from .router import Router, api_version

log = logging.getLogger(__name__)

# The fields of moby's ExecOptions, the body of an exec create.
EXEC_CONFIG_FIELDS = (
    "User",
    "Privileged",
    "Tty",
    "ConsoleSize",
    "AttachStdin",
    "AttachStderr",
    "AttachStdout",
    "Detach",
    "DetachKeys",
    "Env",
    "WorkingDir",
    "Cmd",
)


async def create(request: web.Request) -> web.Response:
    """``POST /containers/{id}/exec`` → ``{"Id"}``."""
    body = go_fields(json_object(await json_body(request), "exec config"), EXEC_CONFIG_FIELDS)
    gotypes.check(body, gotypes.EXEC_OPTIONS)
    s = engine_of(request).execs.create(request.match_info["id"], body)
    return ok_json({"Id": s.id}, status=201)


async def inspect(request: web.Request) -> web.Response:
    """``GET /exec/{id}/json``."""
    return ok_json(engine_of(request).execs.inspect(request.match_info["id"]))


async def resize(request: web.Request) -> web.Response:
    """``POST /exec/{id}/resize?h=&w=``."""
    h, w = qint(request, "h", 0) or 0, qint(request, "w", 0) or 0
    if h < 0 or w < 0:
        raise InvalidParameter("height and width must be positive")
    await engine_of(request).execs.resize(request.match_info["id"], h, w)
    return web.Response(status=200)


async def start(request: web.Request) -> web.Response | None:
    """``POST /exec/{id}/start``: detached (200 at once) or attached (hijacked)."""
    body = json_object(await json_body(request, required=False), "exec start config")
    gotypes.check(body, gotypes.EXEC_START_OPTIONS)
    start = engine_of(request).execs.prepare_start(request.match_info["id"], body)
    if start.detach:
        await start.start_detached()
        return web.Response(status=200)
    h = await Hijacked.upgrade(request, start.tty, multiplexed=api_version(request) >= (1, 42))
    await start.run(h)
    await h.close()
    return None


def register(r: Router) -> None:
    """Add the exec routes."""
    r.post("/containers/{id}/exec", create)
    r.post("/exec/{id}/start", start)
    r.post("/exec/{id}/resize", resize)
    r.get("/exec/{id}/json", inspect)
