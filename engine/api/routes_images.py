"""Images routes: list, inspect, history, tag, delete, prune, load, save, import.

Image names may contain slashes (``127.0.0.1:5000/foo/bar:tag``), so the routes use
``{name:.+}`` and are registered suffix-first; the route table tries routes in registration
order and moves on when the method does not match, so ``DELETE /images/{name:.+}``
never hides ``GET /images/{name:.+}/json``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from ..conventions import TAR
from ..distribution import progress
from ..errors import EngineError, InvalidParameter
from ..images import views
from . import cached, routes_distribution, web
from .context import answers_of, engine_of
from .http import ndjson_response, ok_json, qbool, qfilters, qstr, write_json_line
from .router import Router, api_version

log = logging.getLogger(__name__)


async def request_chunks(request: web.Request) -> AsyncIterator[bytes]:
    """The request body as it arrives."""
    while chunk := await request.content.readany():
        yield chunk


async def list_images(request: web.Request) -> web.Response:
    """``GET /images/json`` (kept between changes, see :mod:`.cached`)."""
    filters = qfilters(request)
    legacy = qstr(request, "filter")  # API < 1.41 spelled the reference filter this way
    if legacy:
        filters.setdefault("reference", []).append(legacy)
    all_ = qbool(request, "all")
    shared_size = qbool(request, "shared-size")
    api = api_version(request)

    async def build(now: float) -> cached.Built:
        svc = engine_of(request).images
        return cached.timeless(
            await views.list_images(svc, filters, all_=all_, shared_size=shared_size, api=api)
        )

    return await cached.answer(answers_of(request), request, build)


async def inspect_image(request: web.Request) -> web.Response:
    """``GET /images/{name}/json``."""
    svc = engine_of(request).images
    img = await svc.resolve(request.match_info["name"])
    return ok_json(views.inspect_image(svc, img, api_version(request)))


async def image_history(request: web.Request) -> web.Response:
    """``GET /images/{name}/history``."""
    svc = engine_of(request).images
    img = await svc.resolve(request.match_info["name"])
    return ok_json(views.history(svc, img))


async def tag_image(request: web.Request) -> web.Response:
    """``POST /images/{name}/tag?repo=&tag=`` (201)."""
    svc = engine_of(request).images
    await svc.tag(request.match_info["name"], qstr(request, "repo") or "", qstr(request, "tag"))
    return web.Response(status=201)


async def delete_image(request: web.Request) -> web.Response:
    """``DELETE /images/{name}?force&noprune``."""
    svc = engine_of(request).images
    records = await svc.delete(
        request.match_info["name"],
        force=qbool(request, "force"),
        noprune=qbool(request, "noprune"),
    )
    return ok_json(records)


async def prune_images(request: web.Request) -> web.Response:
    """``POST /images/prune``."""
    return ok_json(await engine_of(request).images.prune(qfilters(request)))


async def load_images(request: web.Request) -> web.StreamResponse:
    """``POST /images/load``: NDJSON ``{"stream": "Loaded image: …\\n"}`` lines.

    As dockerd, a failed load (not an archive, a broken layer) is still a 200 whose
    stream carries the error as ``errorDetail``: that is where clients look for it
    (docker-py raises ImageLoadError, the CLI prints it and exits 1). ``quiet`` only
    suppresses progress, which this engine does not send.
    """
    qbool(request, "quiet")
    failure = None
    try:
        lines = await engine_of(request).images.load(request_chunks(request))
    except EngineError as e:
        if e.status >= 500:
            log.error("image load failed: %s", e.message)
        lines, failure = [], e.message
    resp = await ndjson_response(request)
    for line in lines:
        await write_json_line(resp, {"stream": line + "\n"})
    if failure is not None:
        await write_json_line(resp, progress.error(failure))
    await resp.write_eof()
    return resp


async def _send_tar(request: web.Request, names: list[str]) -> web.StreamResponse:
    stream = await engine_of(request).images.save(names)
    resp = web.StreamResponse(headers={"Content-Type": TAR})
    await resp.prepare(request)
    async for chunk in stream:
        await resp.write(chunk)
    await resp.write_eof()
    return resp


async def save_image(request: web.Request) -> web.StreamResponse:
    """``GET /images/{name}/get``."""
    return await _send_tar(request, [request.match_info["name"]])


async def save_images(request: web.Request) -> web.StreamResponse:
    """``GET /images/get?names=a&names=b``."""
    names = [n for n in request.query.getall("names", []) if n]
    if not names:
        raise InvalidParameter("no images given: use names=<image>")
    return await _send_tar(request, names)


async def create_image(request: web.Request) -> web.StreamResponse:
    """``POST /images/create``: import (``fromSrc=-``) here; pulls go to distribution."""
    from_src = qstr(request, "fromSrc")
    from_image = qstr(request, "fromImage")
    if from_src is not None and not from_image:
        if from_src != "-":
            raise InvalidParameter(
                "importing from a URL is not supported; send the tar (fromSrc=-)"
            )
        img = await engine_of(request).images.import_image(
            request_chunks(request),
            repo=qstr(request, "repo"),
            tag=qstr(request, "tag"),
            message=qstr(request, "message"),
            changes=request.query.getall("changes", []),
            platform=qstr(request, "platform"),
        )
        resp = await ndjson_response(request)
        await write_json_line(resp, {"status": img.id})
        await resp.write_eof()
        return resp
    if not from_image:
        raise InvalidParameter("fromImage or fromSrc is required")
    return await routes_distribution.pull(request)


def register(r: Router) -> None:
    """Add the images routes (fixed paths and longer suffixes first)."""
    r.get("/images/json", list_images, at_once=True)
    r.get("/images/get", save_images)
    r.post("/images/load", load_images)
    r.post("/images/create", create_image)
    r.post("/images/prune", prune_images)
    r.get("/images/{name:.+}/json", inspect_image, at_once=True)
    r.get("/images/{name:.+}/history", image_history)
    r.get("/images/{name:.+}/get", save_image)
    r.post("/images/{name:.+}/tag", tag_image)
    r.delete("/images/{name:.+}", delete_image)
