"""``POST /containers/{id}/attach``: the container's stdio over a hijacked connection."""

from __future__ import annotations

from ..containers import AttachOptions
from . import web
from .context import engine_of
from .hijack import Hijacked
from .http import qbool, qstr
from .router import Router, api_version


async def attach(request: web.Request) -> None:
    """Take the connection over and run the container service's attach session."""
    opts = AttachOptions(
        stdin=qbool(request, "stdin"),
        stdout=qbool(request, "stdout"),
        stderr=qbool(request, "stderr"),
        stream=qbool(request, "stream"),
        logs=qbool(request, "logs"),
        detach_keys=qstr(request, "detachKeys"),
    )
    session = await engine_of(request).containers.open_attach(request.match_info["id"], opts)
    try:
        h = await Hijacked.upgrade(
            request, session.tty, multiplexed=api_version(request) >= (1, 42)
        )
    except BaseException:
        session.close()
        raise
    await session.run(h)
    await h.close()
    return None


def register(r: Router) -> None:
    """Add the attach route."""
    r.post("/containers/{id}/attach", attach)
