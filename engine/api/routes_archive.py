"""Container files: archive (docker cp), export, changes (docker diff), commit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from ..containers.archive import stat_header
from ..errors import InvalidParameter
from .context import engine_of
from .http import qbool, qstr
from .router import Router

log = logging.getLogger(__name__)

STAT_HEADER = "X-Docker-Container-Path-Stat"


def _path(request: web.Request) -> str:
    path = qstr(request, "path")
    if not path:
        raise InvalidParameter("Path cannot be empty")
    return path


async def archive_head(request: web.Request) -> web.Response:
    """``HEAD /containers/{id}/archive?path=``: only the stat header."""
    archives = engine_of(request).archives
    info = await archives.stat(request.match_info["id"], _path(request))
    return web.Response(status=200, headers={STAT_HEADER: stat_header(info)})


async def _stream(
    request: web.Request, chunks: AsyncIterator[bytes], headers: dict[str, str]
) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": "application/x-tar", **headers})
    resp.enable_chunked_encoding()
    async with contextlib.aclosing(chunks):  # type: ignore[type-var]
        await resp.prepare(request)
        try:
            async for chunk in chunks:
                await resp.write(chunk)
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as e:
            # Headers are out: the only honest signal left is a broken stream.
            log.error("%s %s failed mid-stream: %s", request.method, request.path, e)
            if request.transport is not None:
                request.transport.abort()
            return resp
    await resp.write_eof()
    return resp


async def archive_get(request: web.Request) -> web.StreamResponse:
    """``GET /containers/{id}/archive?path=``: a tar of the path, stat in a header."""
    archives = engine_of(request).archives
    info, chunks = await archives.get(request.match_info["id"], _path(request))
    return await _stream(request, chunks, {STAT_HEADER: stat_header(info)})


async def archive_put(request: web.Request) -> web.Response:
    """``PUT /containers/{id}/archive?path=``: extract the tar body into the directory."""
    archives = engine_of(request).archives
    await archives.put(
        request.match_info["id"],
        _path(request),
        request.content.iter_chunked(1 << 20),
        no_overwrite_dir_non_dir=qbool(request, "noOverwriteDirNonDir"),
        copy_uid_gid=qbool(request, "copyUIDGID"),
    )
    return web.Response(status=200)


def register(r: Router) -> None:
    """Add the container-files routes."""
    r.head("/containers/{id}/archive", archive_head)
    r.get("/containers/{id}/archive", archive_get)
    r.put("/containers/{id}/archive", archive_put)
