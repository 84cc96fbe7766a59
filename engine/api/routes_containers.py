"""Containers routes: create, list, inspect and state changes.

Streams (logs, attach, stats, top, wait) are in routes_containers_io.py.
"""

from __future__ import annotations

from ..conventions import json_object
from ..errors import InvalidParameter
from . import cached, gotypes, routes_containers_io, web
from .context import answers_of, engine_of
from .http import json_body, ok_json, qbool, qfilters, qint, qstr
from .router import Router, api_version


def _ref(request: web.Request) -> str:
    return request.match_info["id"]


async def create(request: web.Request) -> web.Response:
    """``POST /containers/create``."""
    body = json_object(await json_body(request), "container config")
    if not body:
        raise InvalidParameter("config cannot be empty in order to create a container")
    gotypes.check(body, gotypes.CONTAINER_CREATE)
    name = qstr(request, "name")
    engine = engine_of(request)
    warnings = engine.networks.migrate_create_request(body, api_version(request))
    result = await engine.containers.create(body, name or None)
    result["Warnings"] = [*(result.get("Warnings") or []), *warnings]
    return ok_json(result, status=201)


async def list_(request: web.Request) -> web.Response:
    """``GET /containers/json`` (kept between changes, see :mod:`.cached`; sizes are
    measured on disk every time)."""
    svc = engine_of(request).containers
    all_, limit, filters = qbool(request, "all"), qint(request, "limit"), qfilters(request)
    if qbool(request, "size"):
        return ok_json(await svc.list_containers(all_, limit, True, filters))

    async def build(now: float) -> cached.Built:
        out = await svc.list_containers(all_, limit, False, filters)
        # "Up 3 seconds" reads otherwise a second later: kept until the first such moment.
        return out, svc.statuses_valid_until(now)

    return await cached.answer(answers_of(request), request, build)


async def inspect(request: web.Request) -> web.Response:
    """``GET /containers/{id}/json`` (kept between changes unless sizes are asked for)."""
    svc = engine_of(request).containers
    if qbool(request, "size"):
        return ok_json(await svc.inspect(_ref(request), size=True))

    async def build(now: float) -> cached.Built:
        return cached.timeless(await svc.inspect(_ref(request)))

    return await cached.answer(answers_of(request), request, build)


async def start(request: web.Request) -> web.Response:
    """``POST /containers/{id}/start``."""
    await engine_of(request).containers.start_container(_ref(request))
    return web.Response(status=204)


def _timeout(request: web.Request) -> int | None:
    return qint(request, "t", qint(request, "timeout"))


async def stop(request: web.Request) -> web.Response:
    """``POST /containers/{id}/stop?t=&signal=``."""
    svc = engine_of(request).containers
    await svc.stop(_ref(request), _timeout(request), qstr(request, "signal"))
    return web.Response(status=204)


async def restart(request: web.Request) -> web.Response:
    """``POST /containers/{id}/restart``."""
    svc = engine_of(request).containers
    await svc.restart(_ref(request), _timeout(request), qstr(request, "signal"))
    return web.Response(status=204)


async def kill(request: web.Request) -> web.Response:
    """``POST /containers/{id}/kill?signal=``."""
    await engine_of(request).containers.kill(_ref(request), qstr(request, "signal"))
    return web.Response(status=204)


async def pause(request: web.Request) -> web.Response:
    """``POST /containers/{id}/pause``."""
    await engine_of(request).containers.pause(_ref(request))
    return web.Response(status=204)


async def unpause(request: web.Request) -> web.Response:
    """``POST /containers/{id}/unpause``."""
    await engine_of(request).containers.unpause(_ref(request))
    return web.Response(status=204)


async def rename(request: web.Request) -> web.Response:
    """``POST /containers/{id}/rename?name=``."""
    await engine_of(request).containers.rename(_ref(request), qstr(request, "name") or "")
    return web.Response(status=204)


async def update(request: web.Request) -> web.Response:
    """``POST /containers/{id}/update``."""
    body = json_object(await json_body(request), "update config")
    gotypes.check(body, gotypes.CONTAINER_UPDATE)
    return ok_json(await engine_of(request).containers.update(_ref(request), body))


async def delete(request: web.Request) -> web.Response:
    """``DELETE /containers/{id}?force=&v=``."""
    if qbool(request, "link"):
        await engine_of(request).networks.remove_link(_ref(request))
        return web.Response(status=204)
    await engine_of(request).containers.remove(
        _ref(request), force=qbool(request, "force"), volumes=qbool(request, "v")
    )
    return web.Response(status=204)


async def prune(request: web.Request) -> web.Response:
    """``POST /containers/prune``."""
    return ok_json(await engine_of(request).containers.prune(qfilters(request)))


def register(r: Router) -> None:
    """Add the containers routes."""
    r.post("/containers/create", create)
    r.get("/containers/json", list_, at_once=True)
    r.post("/containers/prune", prune)
    r.get("/containers/{id}/json", inspect, at_once=True)
    r.post("/containers/{id}/start", start)
    r.post("/containers/{id}/stop", stop)
    r.post("/containers/{id}/restart", restart)
    r.post("/containers/{id}/kill", kill)
    r.post("/containers/{id}/pause", pause)
    r.post("/containers/{id}/unpause", unpause)
    r.post("/containers/{id}/rename", rename)
    r.post("/containers/{id}/update", update)
    # a legacy link is named /<parent>/<alias>: the reference may hold slashes
    r.delete("/containers/{id:.+}", delete)
    routes_containers_io.register(r)
