"""Registry routes: pull (for ``POST /images/create``), push, login, inspect, search.

Pull and push answer with a streamed NDJSON progress body. Like dockerd, the stream
only starts with the first progress line: an error before it (bad reference, unknown
manifest, wrong credentials) is an ordinary HTTP error with Docker's status code; an
error after it is written into the stream as ``errorDetail``.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from ..conventions import json_object
from ..distribution import decode_registry_auth, progress
from ..errors import EngineError
from . import web
from .context import engine_of
from .http import json_body, ndjson_response, ok_json, qfilters, qint, qstr
from .router import Router

log = logging.getLogger(__name__)

AUTH_HEADER = "X-Registry-Auth"


class LazyStream:
    """An NDJSON response started by the first line written to it."""

    def __init__(self, request: web.Request) -> None:
        self.request = request
        self.resp: web.StreamResponse | None = None

    @property
    def started(self) -> bool:
        """Whether the 200 and some lines went out already."""
        return self.resp is not None

    async def write(self, obj: dict[str, Any]) -> None:
        """Send one line (starting the response if needed)."""
        if self.resp is None:
            self.resp = await ndjson_response(self.request)
        await self.resp.write(json.dumps(obj, separators=(",", ":")).encode() + b"\n")

    async def finish(self) -> web.StreamResponse:
        """End the body."""
        if self.resp is None:
            self.resp = await ndjson_response(self.request)
        await self.resp.write_eof()
        return self.resp


async def _stream(request: web.Request, run: Any) -> web.StreamResponse:
    out = LazyStream(request)
    try:
        await run(out.write)
    except EngineError as e:
        if not out.started:
            raise
        await out.write(progress.error(e.message))
    except ConnectionError:
        # The client went away: the failed write cancelled the pull/push, which cleaned
        # up after itself. Nobody is left to tell.
        log.info("%s %s: client disconnected", request.method, request.path)
        assert out.resp is not None
        return out.resp
    except Exception as e:
        log.exception("%s %s failed", request.method, request.path)
        if not out.started:
            raise
        await out.write(progress.error(f"{type(e).__name__}: {e}"))
    return await out.finish()


async def pull(request: web.Request) -> web.StreamResponse:
    """``POST /images/create?fromImage=…&tag=…&platform=…`` (the images routes
    delegate here when ``fromImage`` is set)."""
    engine = engine_of(request)
    auth = decode_registry_auth(request.headers.get(AUTH_HEADER))
    from_image = qstr(request, "fromImage") or ""
    tag = qstr(request, "tag") or ""
    platform = qstr(request, "platform") or ""

    async def run(sink: Any) -> None:
        await engine.distribution.pull(from_image, tag, platform, auth, sink)

    return await _stream(request, run)


async def push(request: web.Request) -> web.StreamResponse:
    """``POST /images/{name}/push?tag=…``."""
    engine = engine_of(request)
    auth = decode_registry_auth(request.headers.get(AUTH_HEADER))
    name = request.match_info["name"]
    tag = qstr(request, "tag") or ""

    async def run(sink: Any) -> None:
        await engine.distribution.push(name, tag, auth, sink)

    return await _stream(request, run)


async def auth(request: web.Request) -> web.Response:
    """``POST /auth``: ``docker login``."""
    body = json_object(await json_body(request))
    return ok_json(await engine_of(request).distribution.login(body))


async def distribution_inspect(request: web.Request) -> web.Response:
    """``GET /distribution/{name}/json``."""
    engine = engine_of(request)
    auth = decode_registry_auth(request.headers.get(AUTH_HEADER))
    return ok_json(await engine.distribution.inspect(request.match_info["name"], auth))


async def search(request: web.Request) -> web.Response:
    """``GET /images/search?term=&limit=&filters=``."""
    engine = engine_of(request)
    auth = decode_registry_auth(request.headers.get(AUTH_HEADER))
    results = await engine.distribution.search(
        qstr(request, "term") or "", qint(request, "limit"), qfilters(request), auth
    )
    return ok_json(results)


def register(r: Router) -> None:
    """Add the registry routes (pulls come through the images routes'
    ``POST /images/create``, which calls :func:`pull` when ``fromImage`` is set)."""
    r.post("/images/{name:.+}/push", push)
    r.post("/auth", auth)
    r.get("/distribution/{name:.+}/json", distribution_inspect)
    r.get("/images/search", search)
