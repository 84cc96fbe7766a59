"""Container files: archive (docker cp), export, changes (docker diff), commit."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from ..containers import commit_container, export_rootfs, stat_header
from ..conventions import TAR, json_object
from ..errors import InvalidParameter
from . import web
from .context import engine_of
from .http import json_body, ok_json, qbool, qstr
from .router import Router

log = logging.getLogger(__name__)

STAT_HEADER = "X-Docker-Container-Path-Stat"


def _path(request: web.Request) -> str:
    path = qstr(request, "path")
    if not path:
        raise InvalidParameter("Path cannot be empty")
    if "\x00" in path:
        raise InvalidParameter(f"invalid path {path!r}: it contains a NUL byte")
    return path


async def archive_head(request: web.Request) -> web.Response:
    """``HEAD /containers/{id}/archive?path=``: only the stat header."""
    archives = engine_of(request).archives
    info = await archives.stat(request.match_info["id"], _path(request))
    return web.Response(status=200, headers={STAT_HEADER: stat_header(info)})


async def _stream(
    request: web.Request, chunks: AsyncIterator[bytes], headers: dict[str, str]
) -> web.StreamResponse:
    resp = web.StreamResponse(headers={"Content-Type": TAR, **headers})
    async with contextlib.aclosing(chunks):  # type: ignore[type-var]  # the generators given have aclose()
        await resp.prepare(request)
        try:
            async for chunk in chunks:
                await resp.write(chunk)
        except (ConnectionError, asyncio.CancelledError):
            raise
        except Exception as e:
            # Headers are out: the only honest signal left is a broken stream.
            log.error("%s %s failed mid-stream: %s", request.method, request.path, e)
            request.abort()
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


async def export(request: web.Request) -> web.StreamResponse:
    """``GET /containers/{id}/export``: the rootfs as a tar."""
    chunks = await export_rootfs(engine_of(request).archives, request.match_info["id"])
    return await _stream(request, chunks, {})


async def commit(request: web.Request) -> web.Response:
    """``POST /commit?container=&repo=&tag=&comment=&author=&pause=&changes=``."""
    ref = qstr(request, "container")
    if not ref:
        raise InvalidParameter("a container name or id is required (container=...)")
    body = json_object(await json_body(request, required=False), "container config")
    image_id = await commit_container(
        engine_of(request).containers,
        ref,
        repo=qstr(request, "repo"),
        tag=qstr(request, "tag"),
        comment=qstr(request, "comment") or "",
        author=qstr(request, "author") or "",
        pause=qbool(request, "pause", True),
        changes=request.query.getall("changes", []),
        config=body or None,
    )
    return ok_json({"Id": image_id}, status=201)


def register(r: Router) -> None:
    """Add the container-files routes."""
    r.head("/containers/{id}/archive", archive_head)
    r.get("/containers/{id}/archive", archive_get)
    r.put("/containers/{id}/archive", archive_put)
    r.get("/containers/{id}/export", export)
    r.post("/commit", commit)
