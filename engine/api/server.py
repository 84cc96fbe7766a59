"""The aiohttp application: middlewares, common headers and the unix-socket listener."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from pathlib import Path

from aiohttp import web

from .. import API_VERSION, __version__
from ..engine import Engine
from ..errors import EngineError, NotModified
from . import (
    routes_archive,
    routes_attach,
    routes_containers,
    routes_distribution,
    routes_exec,
    routes_images,
    routes_networks,
    routes_system,
    routes_volumes,
)
from .context import ENGINE_KEY
from .router import Router, check_version

log = logging.getLogger(__name__)


def _error(status: int, message: str) -> web.Response:
    return web.Response(
        status=status,
        body=json.dumps({"message": message}).encode() + b"\n",
        content_type="application/json",
    )


@web.middleware
async def error_middleware(request: web.Request, handler):  # type: ignore[no-untyped-def]
    """Turn every failure into Docker's ``{"message": ...}`` with the right status."""
    try:
        check_version(request)
        return await handler(request)
    except NotModified:
        return web.Response(status=304)
    except EngineError as e:
        if e.status >= 500:
            log.error("%s %s: %s", request.method, request.path, e.message)
        return _error(e.status, e.message)
    except web.HTTPNotFound:
        return _error(404, "page not found")
    except web.HTTPMethodNotAllowed:
        return _error(405, f"method {request.method} not allowed for {request.path}")
    except web.HTTPException as e:
        if e.status < 400:
            raise
        return _error(e.status, e.text or e.reason)
    except asyncio.CancelledError:
        raise
    except ConnectionResetError:
        # The client went away mid-request: nobody is left to answer, and it is not an error
        # of ours worth a traceback in the log.
        log.debug("%s %s: client disconnected", request.method, request.path)
        return web.Response(status=499)
    except Exception as e:  # the last line of defence: report, never crash the daemon
        log.exception("unhandled error in %s %s", request.method, request.path)
        return _error(500, f"internal error: {type(e).__name__}: {e}")


async def _common_headers(request: web.Request, response: web.StreamResponse) -> None:
    response.headers.setdefault("Api-Version", API_VERSION)
    response.headers.setdefault("Docker-Experimental", "false")
    response.headers.setdefault("Ostype", "linux")
    response.headers["Server"] = f"Portside/{__version__} (linux)"


def build_app(engine: Engine) -> web.Application:
    """The API application with every route registered."""
    app = web.Application(middlewares=[error_middleware], client_max_size=0)
    app[ENGINE_KEY] = engine
    app.on_response_prepare.append(_common_headers)
    router = Router(app)
    routes_system.register(router)
    routes_images.register(router)
    routes_distribution.register(router)
    routes_containers.register(router)
    routes_attach.register(router)
    routes_exec.register(router)
    routes_archive.register(router)
    routes_volumes.register(router)
    routes_networks.register(router)
    return app


async def serve(engine: Engine, socket_paths: list[Path]) -> web.AppRunner:
    """Listen on the unix sockets (mode 0660) and return the runner for shutdown."""
    # Streams (attached runs, `logs -f`, `stats`, `events`) never finish by themselves; a short
    # grace period keeps SIGTERM prompt. Containers keep running either way.
    runner = web.AppRunner(
        build_app(engine), handle_signals=False, access_log=None, shutdown_timeout=2.0
    )
    await runner.setup()
    for path in socket_paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists() or path.is_symlink():
            if await _socket_answers(path):
                raise EngineError(f"another engine is already listening on {path}")
            path.unlink()
        site = web.UnixSite(runner, str(path))
        await site.start()
        os.chmod(path, 0o660)
    return runner


async def _socket_answers(path: Path) -> bool:
    """Whether something accepts connections on ``path`` (a live engine we must not evict)."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), 1.0)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True
