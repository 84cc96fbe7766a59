"""Swarm and plugin routes, answered as dockerd answers on a node outside a swarm with no
plugins installed.

Portside runs one node and has no managed plugins. Clients still call these endpoints
(``docker info`` shows the swarm state, docker-py's ``swarm.leave(force=True)`` treats a
503 as "nothing to leave", ``docker plugin ls`` lists), so each gets dockerd's status and
wording rather than a bare 404 that clients would report as an unknown API.
"""

from __future__ import annotations

from ..conventions import check_filters
from ..errors import (
    NOT_IN_A_SWARM,
    NotFound,
    NotSupported,
    Unavailable,
    not_a_swarm_manager,
)
from . import web
from .http import ok_json, qfilters
from .router import Router

PLUGINS_UNSUPPORTED = "plugins are not supported by this engine (Portside has no plugin manager)"
SWARM_UNSUPPORTED = "swarm mode is not supported by this engine (Portside runs a single node)"

# The swarm-manager API of v1.47: objects and the routes each one has.
_CLUSTER_OBJECTS = ("nodes", "services", "tasks", "secrets", "configs")


async def not_a_manager(request: web.Request) -> web.Response:
    """Every cluster read or write: dockerd's 503 for a node outside a swarm."""
    raise not_a_swarm_manager()


async def swarm_leave(request: web.Request) -> web.Response:
    """``POST /swarm/leave``: there is no swarm to leave (503, with or without force)."""
    raise Unavailable(NOT_IN_A_SWARM)


async def swarm_init_or_join(request: web.Request) -> web.Response:
    """``POST /swarm/init`` and ``/swarm/join``: a swarm cannot be created here."""
    raise NotSupported(SWARM_UNSUPPORTED)


async def list_plugins(request: web.Request) -> web.Response:
    """``GET /plugins``: none are installed (the filters are still checked)."""
    check_filters(qfilters(request), {"enabled", "capability"})
    return ok_json([])


async def plugin_from_remote(request: web.Request) -> web.Response:
    """``GET /plugins/privileges`` and ``POST /plugins/pull`` reach for a plugin image: say
    plainly that none can be installed, with dockerd's prefix for a plugin reference that
    cannot be resolved."""
    remote = request.query.get("remote") or ""
    what = f" {remote!r}" if remote else ""
    raise NotSupported(f"error resolving plugin reference{what}: {PLUGINS_UNSUPPORTED}")


async def create_plugin(request: web.Request) -> web.Response:
    """``POST /plugins/create``."""
    raise NotSupported(PLUGINS_UNSUPPORTED)


async def no_such_plugin(request: web.Request) -> web.Response:
    """Every route naming an installed plugin: there is none (dockerd's 404)."""
    raise NotFound(f'plugin "{request.match_info["name"]}" not found')


def register(r: Router) -> None:
    """Add the swarm, cluster-object and plugin routes."""
    r.get("/swarm", not_a_manager)
    r.post("/swarm/init", swarm_init_or_join)
    r.post("/swarm/join", swarm_init_or_join)
    r.post("/swarm/leave", swarm_leave)
    r.post("/swarm/update", not_a_manager)
    r.get("/swarm/unlockkey", not_a_manager)
    r.post("/swarm/unlock", not_a_manager)
    for obj in _CLUSTER_OBJECTS:
        r.get(f"/{obj}", not_a_manager)
        r.get(f"/{obj}/{{id}}", not_a_manager)
        if obj != "tasks":
            r.delete(f"/{obj}/{{id}}", not_a_manager)
            r.post(f"/{obj}/{{id}}/update", not_a_manager)
        if obj not in ("nodes", "tasks"):
            r.post(f"/{obj}/create", not_a_manager)
    r.get("/services/{id}/logs", not_a_manager)
    r.get("/tasks/{id}/logs", not_a_manager)

    r.get("/plugins", list_plugins)
    r.get("/plugins/privileges", plugin_from_remote)
    r.post("/plugins/pull", plugin_from_remote)
    r.post("/plugins/create", create_plugin)
    r.post("/plugins/{name:.+}/upgrade", no_such_plugin)  # dockerd looks the plugin up first
    r.get("/plugins/{name:.+}/json", no_such_plugin)
    r.post("/plugins/{name:.+}/enable", no_such_plugin)
    r.post("/plugins/{name:.+}/disable", no_such_plugin)
    r.post("/plugins/{name:.+}/push", no_such_plugin)
    r.post("/plugins/{name:.+}/set", no_such_plugin)
    r.delete("/plugins/{name:.+}", no_such_plugin)
