"""Exec routes: create, start (attached or detached), resize, inspect."""

from __future__ import annotations

import asyncio
import logging

from ..containers.pump import DETACHED, PumpOptions, pump
from ..containers.tty import console_size, parse_detach_keys
from ..errors import EngineError, InvalidParameter
from ..runtime.conmon_exec import ExecFailed
from . import gotypes, web
from .context import engine_of
from .hijack import Hijacked
from .http import go_fields, json_body, json_object, ok_json, qint
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
    execs = engine_of(request).execs
    body = json_object(await json_body(request, required=False), "exec start config")
    gotypes.check(body, gotypes.EXEC_START_OPTIONS)
    s = execs.startable(request.match_info["id"])
    size = console_size(body.get("ConsoleSize"))
    if size:
        s.console_size = size
    if body.get("Detach"):
        await execs.launch(s, attach=False)
        return web.Response(status=200)
    # Framing follows the start request's Tty, as Docker's router does.
    tty = bool(body.get("Tty", s.tty))
    keys = parse_detach_keys(s.detach_keys or None)
    h = await Hijacked.upgrade(request, tty, multiplexed=api_version(request) >= (1, 42))
    try:
        conn = await execs.launch(s, attach=True)
    except ExecFailed as e:
        await _say(h, e.message)
        await h.close()
        return None
    except EngineError as e:
        log.warning("exec %s failed to start: %s", s.id[:12], e.message)
        await _say(h, e.message)
        await h.close()
        return None
    assert conn is not None
    try:
        opts = PumpOptions(
            tty=tty,
            stdout=s.open_stdout,
            stderr=s.open_stderr,
            detach_keys=keys,
            close_stdin=True,
        )
        reason = await pump(conn, h.write, h if s.open_stdin else None, opts)
        if reason != DETACHED:
            # The client reads the exit code right after the stream ends.
            await asyncio.wait_for(s.exited_event.wait(), 30)
    except (ConnectionError, OSError, TimeoutError) as e:
        log.debug("exec %s stream ended: %s", s.id[:12], e)
    finally:
        conn.close()
    await h.close()
    return None


async def _say(h: Hijacked, message: str) -> None:
    try:
        await h.write(1, (message + "\r\n").encode())
    except (ConnectionError, OSError):
        pass


def register(r: Router) -> None:
    """Add the exec routes."""
    r.post("/containers/{id}/exec", create)
    r.post("/exec/{id}/start", start)
    r.post("/exec/{id}/resize", resize)
    r.get("/exec/{id}/json", inspect)
