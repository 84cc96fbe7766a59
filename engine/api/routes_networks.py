"""Networks routes: ``/networks``, create, inspect, remove, connect, disconnect, prune."""

from __future__ import annotations

from ..conventions import json_object
from ..errors import InvalidParameter
from . import cached, web
from .context import answers_of, engine_of
from .http import json_body, ok_json, qfilters
from .router import Router


async def list_networks(request: web.Request) -> web.Response:
    """GET /networks (kept between changes, see :mod:`.cached`)."""
    filters = qfilters(request)

    async def build(now: float) -> cached.Built:
        return cached.timeless(engine_of(request).networks.list_networks(filters))

    return await cached.answer(answers_of(request), request, build)


async def inspect_network(request: web.Request) -> web.Response:
    """GET /networks/{id} (kept between changes)."""

    async def build(now: float) -> cached.Built:
        return cached.timeless(engine_of(request).networks.inspect(request.match_info["id"]))

    return await cached.answer(answers_of(request), request, build)


async def create_network(request: web.Request) -> web.Response:
    """POST /networks/create."""
    body = json_object(await json_body(request))
    return ok_json(await engine_of(request).networks.create(body), status=201)


async def remove_network(request: web.Request) -> web.Response:
    """DELETE /networks/{id}."""
    await engine_of(request).networks.remove(request.match_info["id"])
    return web.Response(status=204)


def _container_ref(body: dict[str, object]) -> str:
    ref = body.get("Container")
    if not isinstance(ref, str) or not ref:
        raise InvalidParameter("Container must be set: the container to (dis)connect")
    return ref


async def connect(request: web.Request) -> web.Response:
    """POST /networks/{id}/connect."""
    body = json_object(await json_body(request))
    cfg = body.get("EndpointConfig") or {}
    if not isinstance(cfg, dict):
        raise InvalidParameter("EndpointConfig must be an object")
    await engine_of(request).networks.connect(request.match_info["id"], _container_ref(body), cfg)
    return web.Response(status=200)


async def disconnect(request: web.Request) -> web.Response:
    """POST /networks/{id}/disconnect."""
    body = json_object(await json_body(request))
    await engine_of(request).networks.disconnect(
        request.match_info["id"], _container_ref(body), bool(body.get("Force"))
    )
    return web.Response(status=200)


async def prune(request: web.Request) -> web.Response:
    """POST /networks/prune."""
    return ok_json(await engine_of(request).networks.prune(qfilters(request)))


def register(r: Router) -> None:
    """Add the networks routes."""
    r.get("/networks", list_networks, at_once=True)
    r.post("/networks/create", create_network)
    r.post("/networks/prune", prune)
    r.get("/networks/{id}", inspect_network, at_once=True)
    r.delete("/networks/{id}", remove_network)
    r.post("/networks/{id}/connect", connect)
    r.post("/networks/{id}/disconnect", disconnect)
