"""The API application: routing, Docker's error bodies, common headers, the sockets."""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import socket
from collections.abc import Sequence
from pathlib import Path

from .. import API_VERSION, __version__, changes
from ..engine import Engine
from ..errors import EngineError, NoSpace, NotModified, os_error_text
from . import (
    routes_archive,
    routes_attach,
    routes_build,
    routes_containers,
    routes_distribution,
    routes_exec,
    routes_images,
    routes_networks,
    routes_swarm_plugins,
    routes_system,
    routes_volumes,
)
from .cached import CachedAnswers
from .router import Router, check_version, split_version
from .web import (
    ConnectionLimits,
    HTTPError,
    Request,
    Response,
    RouteTable,
    StreamResponse,
    UnixListener,
    fold_accept_errors,
    raise_fd_limit,
)

log = logging.getLogger(__name__)

COMMON_HEADERS = {
    "Api-Version": API_VERSION,
    # The classic builder's --squash is an experimental feature to the docker CLI: it
    # offers the flag only to a daemon that says so (dockerd with "experimental": true).
    "Docker-Experimental": "true",
    "Ostype": "linux",
    "Server": f"Portside/{__version__} (linux)",
}


def _error(status: int, message: str) -> Response:
    return Response(
        status=status,
        body=json.dumps({"message": message}).encode() + b"\n",
        content_type="application/json",
    )


class ApiApp:
    """Every route of the Engine API, and the one place failures become answers."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.answers = CachedAnswers()
        self.routes = RouteTable()
        router = Router(self.routes)
        for module in (
            routes_system,
            routes_images,
            routes_distribution,
            routes_containers,
            routes_attach,
            routes_exec,
            routes_archive,
            routes_volumes,
            routes_networks,
            routes_build,
            routes_swarm_plugins,
        ):
            module.register(router)

    @staticmethod
    def urgent(method: str, target: str) -> bool:
        """``/_ping`` — every client's first call and every health check — is answered as
        soon as it is read, ahead of the requests that build documents (see
        ``web.connection``): under load it stays quick, as a liveness probe must."""
        return split_version(target.partition("?")[0])[1] == "/_ping"

    async def handle(self, request: Request) -> StreamResponse | None:
        """Route ``request`` and turn every failure into Docker's ``{"message": ...}``."""
        # Any method but GET and HEAD may change what the lists show, at any step until it
        # is done: kept answers (.cached) are dropped before it runs and when it ends.
        changing = request.method not in ("GET", "HEAD")
        if changing:
            changes.bump()
        try:
            version, path = split_version(request.path)
            route, params = self.routes.match(request.method, path)
            if version is not None:
                params["api_version"] = version
            request.match_info = params
            check_version(request)
            if not route.at_once and asyncio.current_task() is None:
                # Stepped outside any task (the connection's simple path): a handler not
                # known to be safe there goes on in its task, where asyncio.timeout,
                # TaskGroup and anyio (httpx, for registries) work.
                await asyncio.sleep(0)
            return await route.handler(request)
        except NotModified:
            return Response(status=304)
        except EngineError as e:
            if e.status >= 500:
                log.error("%s %s: %s", request.method, request.path, e.message)
            return _error(e.status, e.message)
        except HTTPError as e:
            return _error(e.status, e.message)
        except asyncio.CancelledError:
            raise
        except ConnectionResetError:
            # The client went away mid-request: nobody is left to answer, and it is not an
            # error of ours worth a traceback in the log.
            log.debug("%s %s: client disconnected", request.method, request.path)
            raise
        except OSError as e:
            if e.errno != errno.ENOSPC:
                log.exception("unhandled error in %s %s", request.method, request.path)
                return _error(500, f"internal error: {type(e).__name__}: {e}")
            # Go's wording, which is what clients and users know from dockerd.
            message = os_error_text("write", e)
            log.error("%s %s: %s", request.method, request.path, message)
            return _error(NoSpace.status, message)
        except Exception as e:  # the last line of defence: report, never crash the daemon
            log.exception("unhandled error in %s %s", request.method, request.path)
            return _error(500, f"internal error: {type(e).__name__}: {e}")
        finally:
            if changing:
                changes.bump()


async def serve(
    engine: Engine,
    socket_paths: list[Path],
    gid: int | None = None,
    activated: Sequence[socket.socket] = (),
) -> UnixListener:
    """Listen on the unix sockets (mode 0660, group ``gid``) and on the ``activated``
    sockets a service manager handed over; ``await listener.close()`` to stop."""
    app = ApiApp(engine)
    fold_accept_errors(asyncio.get_running_loop())
    # A quarter of the descriptors for clients: containers' monitors, logs and layers
    # need the rest.
    limits = ConnectionLimits(max_connections=max(64, min(4096, raise_fd_limit() // 4)))
    listener = UnixListener(app.handle, app, COMMON_HEADERS, limits, urgent=app.urgent)
    try:
        for path in socket_paths:
            path.parent.mkdir(parents=True, exist_ok=True)
            if (path.exists() or path.is_symlink()) and await _socket_answers(path):
                raise EngineError(f"another engine is already listening on {path}")
            path.unlink(missing_ok=True)
            await listener.listen(path, gid=gid)
        for sock in activated:
            await listener.adopt(sock)
    except BaseException:
        await listener.close(grace=0)
        raise
    return listener


async def _socket_answers(path: Path) -> bool:
    """Whether something accepts connections on ``path`` (a live engine we must not evict)."""
    try:
        _, writer = await asyncio.wait_for(asyncio.open_unix_connection(str(path)), 1.0)
    except (OSError, TimeoutError):
        return False
    writer.close()
    return True
