"""``POST /containers/{id}/attach``: the container's stdio over a hijacked connection."""

from __future__ import annotations

import logging

from ..containers.logdrivers import readable
from ..containers.logs import LogOptions
from ..containers.pump import DETACHED, PumpOptions, pump
from ..containers.tty import parse_detach_keys
from . import web
from .context import engine_of
from .hijack import Hijacked
from .http import qbool, qstr
from .router import Router, api_version

log = logging.getLogger(__name__)


async def attach(request: web.Request) -> None:
    """Replay logs (``logs=1``), then stream output and forward stdin until the
    container's output ends, the client detaches or goes away."""
    svc = engine_of(request).containers
    c = svc.get(request.match_info["id"])
    want_in, want_out, want_err = (
        qbool(request, "stdin"),
        qbool(request, "stdout"),
        qbool(request, "stderr"),
    )
    stream, with_logs = qbool(request, "stream"), qbool(request, "logs")
    keys = parse_detach_keys(qstr(request, "detachKeys"))
    tty = bool(c.config.get("Tty"))
    conn = await svc.attach_output(c) if stream else None
    try:
        h = await Hijacked.upgrade(request, tty, multiplexed=api_version(request) >= (1, 42))
    except BaseException:
        if conn is not None:
            conn.close()
        raise
    svc._event(c, "attach")

    async def write(kind: int, data: bytes) -> None:
        if (kind == 1 and want_out) or (kind == 2 and want_err):
            await h.write(kind, data)

    try:
        if with_logs and readable(c.host_config.get("LogConfig")):
            _, entries = svc.logs(c.id, LogOptions(stdout=want_out, stderr=want_err))
            async for e in entries:
                await write(e.stream, e.data)
        if conn is not None:
            opts = PumpOptions(
                tty=tty,
                stdout=want_out,
                stderr=want_err,
                detach_keys=keys,
                close_stdin=bool(c.config.get("StdinOnce")),
            )
            stdin = h if want_in and c.config.get("OpenStdin") else None
            if await pump(conn, write, stdin, opts) == DETACHED:
                svc._event(c, "detach")
    except (ConnectionError, OSError) as e:
        log.debug("attach to %s ended: %s", c.id[:12], e)
    finally:
        if conn is not None:
            conn.close()
    await h.close()
    return None


def register(r: Router) -> None:
    """Add the attach route."""
    r.post("/containers/{id}/attach", attach)
