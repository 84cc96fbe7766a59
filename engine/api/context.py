"""Where routes find the Engine they serve."""

from __future__ import annotations

from aiohttp import web

from ..engine import Engine

ENGINE_KEY: web.AppKey[Engine] = web.AppKey("engine", Engine)


def engine_of(request: web.Request) -> Engine:
    """The Engine serving this request."""
    return request.app[ENGINE_KEY]
