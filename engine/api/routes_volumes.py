"""Volume routes: create, list, inspect, remove, prune."""

from __future__ import annotations

from ..conventions import json_object
from ..errors import InvalidParameter, not_a_swarm_manager
from . import cached, web
from .context import answers_of, engine_of
from .http import json_body, ok_json, qbool, qfilters
from .router import Router, api_version


def _str_map(value: object, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise InvalidParameter(f"{what} must be an object of strings")
    return {str(k): "" if v is None else str(v) for k, v in value.items()}


async def create(request: web.Request) -> web.Response:
    """``POST /volumes/create``."""
    body = json_object(await json_body(request, required=False))
    name = body.get("Name") or ""
    if not isinstance(name, str):
        raise InvalidParameter("Name must be a string")
    driver = body.get("Driver") or ""
    if not isinstance(driver, str):
        raise InvalidParameter("Driver must be a string")
    vol = await engine_of(request).volumes.create(
        name,
        driver,
        _str_map(body.get("DriverOpts"), "DriverOpts"),
        _str_map(body.get("Labels"), "Labels"),
    )
    return ok_json(vol, status=201)


async def list_(request: web.Request) -> web.Response:
    """``GET /volumes`` (kept between changes, see :mod:`.cached`)."""
    filters = qfilters(request)

    async def build(now: float) -> cached.Built:
        vols = engine_of(request).volumes.list_volumes(filters)
        return cached.timeless({"Volumes": vols, "Warnings": []})

    return await cached.answer(answers_of(request), request, build)


async def inspect(request: web.Request) -> web.Response:
    """``GET /volumes/{name}`` (kept between changes)."""

    async def build(now: float) -> cached.Built:
        return cached.timeless(engine_of(request).volumes.get(request.match_info["name"]))

    return await cached.answer(answers_of(request), request, build)


async def update(request: web.Request) -> web.Response:
    """``PUT /volumes/{name}``: only cluster volumes can be updated."""
    raise not_a_swarm_manager()


async def remove(request: web.Request) -> web.Response:
    """``DELETE /volumes/{name}``."""
    await engine_of(request).volumes.remove(
        request.match_info["name"], force=qbool(request, "force")
    )
    return web.Response(status=204)


async def prune(request: web.Request) -> web.Response:
    """``POST /volumes/prune``: API >= 1.42 prunes only anonymous volumes unless all."""
    filters = qfilters(request)
    everything = True if api_version(request) < (1, 42) else None
    report = await engine_of(request).volumes.prune(filters, everything)
    return ok_json(report)


def register(r: Router) -> None:
    """Add the volume routes."""
    r.post("/volumes/create", create)
    r.get("/volumes", list_, at_once=True)
    r.post("/volumes/prune", prune)
    r.get("/volumes/{name}", inspect, at_once=True)
    r.put("/volumes/{name}", update)
    r.delete("/volumes/{name}", remove)
