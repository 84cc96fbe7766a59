"""Containers area: list, inspect, lifecycle, logs, stats, archive, resize."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncGenerator, AsyncIterable, Mapping
from typing import Any

from .errors import NotFound
from .hijack import HijackedStream, hijack
from .http import STREAM_TIMEOUT, Http
from .stats import StatsSample
from .streams import LineSplitter, LogLine, demux

MULTIPLEXED = "application/vnd.docker.multiplexed-stream"
RAW = "application/vnd.docker.raw-stream"


#: A list of engine JSON objects (named here: ``list`` is a method of the classes).
Records = list[dict[str, Any]]


class ContainersApi:
    """``/containers/...``."""

    def __init__(self, http: Http):
        self._http = http

    # -- listing and state ---------------------------------------------------------------
    async def list(
        self, all: bool = True, filters: Mapping[str, list[str]] | None = None, size: bool = False
    ) -> Records:
        """``GET /containers/json`` (all containers by default, as a manager wants)."""
        params = {"all": all, "size": size, "filters": dict(filters) if filters else None}
        return await self._http.json("GET", "/containers/json", params=params)

    async def get(self, cid: str) -> dict[str, Any] | None:
        """The list entry (summary shape) of one container, or None if it is gone."""
        found = await self.list(filters={"id": [cid]})
        for c in found:
            if c.get("Id") == cid or c.get("Id", "").startswith(cid):
                return c
        return None

    async def inspect(self, cid: str, size: bool = False) -> dict[str, Any]:
        """``GET /containers/{id}/json``."""
        return await self._http.json("GET", f"/containers/{cid}/json", params={"size": size})

    async def create(self, config: dict[str, Any], name: str | None = None) -> dict[str, Any]:
        """``POST /containers/create``; returns ``{"Id": ..., "Warnings": [...]}``."""
        return await self._http.json(
            "POST", "/containers/create", params={"name": name or None}, json_body=config
        )

    async def start(self, cid: str) -> None:
        """Start (a 304 for an already running container is success)."""
        await self._http.request("POST", f"/containers/{cid}/start")

    async def stop(self, cid: str, grace: int | None = None) -> None:
        """Stop with the grace period ``grace`` seconds (engine default when None)."""
        await self._http.request("POST", f"/containers/{cid}/stop", params={"t": grace})

    async def restart(self, cid: str, grace: int | None = None) -> None:
        """Restart."""
        await self._http.request("POST", f"/containers/{cid}/restart", params={"t": grace})

    async def kill(self, cid: str, signal: str | None = None) -> None:
        """Send a signal (SIGKILL by default)."""
        await self._http.request("POST", f"/containers/{cid}/kill", params={"signal": signal})

    async def pause(self, cid: str) -> None:
        """Freeze every process."""
        await self._http.request("POST", f"/containers/{cid}/pause")

    async def unpause(self, cid: str) -> None:
        """Thaw."""
        await self._http.request("POST", f"/containers/{cid}/unpause")

    async def remove(self, cid: str, force: bool = False, volumes: bool = False) -> None:
        """``DELETE /containers/{id}``."""
        await self._http.request(
            "DELETE", f"/containers/{cid}", params={"force": force, "v": volumes}
        )

    async def rename(self, cid: str, name: str) -> None:
        """Rename."""
        await self._http.request("POST", f"/containers/{cid}/rename", params={"name": name})

    async def wait(self, cid: str, condition: str = "not-running") -> dict[str, Any]:
        """Block until the container reaches ``condition``; returns ``{"StatusCode": n}``."""
        async with self._http.stream(
            "POST", f"/containers/{cid}/wait", params={"condition": condition}
        ) as resp:
            body = b"".join([c async for c in self._http.chunks(resp)])
        return json.loads(body or b"{}")

    async def prune(self) -> dict[str, Any]:
        """Remove stopped containers."""
        return await self._http.json("POST", "/containers/prune")

    async def top(self, cid: str, ps_args: str | None = None) -> dict[str, Any]:
        """Processes inside."""
        return await self._http.json("GET", f"/containers/{cid}/top", params={"ps_args": ps_args})

    async def resize(self, cid: str, rows: int, cols: int) -> None:
        """Resize the TTY of the container's main process."""
        await self._http.request("POST", f"/containers/{cid}/resize", params={"h": rows, "w": cols})

    # -- output --------------------------------------------------------------------------
    async def log_frames(
        self,
        cid: str,
        *,
        follow: bool = False,
        timestamps: bool = False,
        tail: int | str = "all",
        since: str | int | None = None,
        tty: bool | None = None,
    ) -> AsyncGenerator[tuple[int, bytes], None]:
        """``GET /containers/{id}/logs`` as ``(stream, bytes)`` chunks, demultiplexed.

        Whether the answer is multiplexed comes from its content type; engines that do
        not send one are asked whether the container has a TTY (unless ``tty`` is given).
        """
        params = {
            "follow": follow,
            "stdout": True,
            "stderr": True,
            "timestamps": timestamps,
            "tail": tail,
            "since": since,
        }
        async with self._http.stream("GET", f"/containers/{cid}/logs", params=params) as resp:
            ctype = resp.headers.get("content-type", "")
            if MULTIPLEXED in ctype:
                muxed = True
            elif RAW in ctype:
                muxed = False
            elif tty is not None:
                muxed = not tty
            else:
                info = await self.inspect(cid)
                muxed = not (info.get("Config") or {}).get("Tty", False)
            chunks = self._http.chunks(resp)
            if muxed:
                async for frame in demux(chunks):
                    yield frame
            else:
                async for chunk in chunks:
                    yield 1, chunk

    async def logs(
        self, cid: str, *, timestamps: bool = False, **kw: Any
    ) -> AsyncGenerator[LogLine, None]:
        """Container output as lines (see :meth:`log_frames` for the parameters)."""
        splitter = LineSplitter(timestamps)
        async for stream, data in self.log_frames(cid, timestamps=timestamps, **kw):
            for line in splitter.feed(stream, data):
                yield line
        for line in splitter.flush():
            yield line

    async def stats(self, cid: str, stream: bool = True) -> AsyncGenerator[dict[str, Any], None]:
        """``GET /containers/{id}/stats``: raw documents (one per second when streaming)."""
        params = {"stream": stream}
        async for doc in self._http.json_stream("GET", f"/containers/{cid}/stats", params=params):
            yield doc

    async def stats_samples(self, cid: str) -> AsyncGenerator[StatsSample, None]:
        """Streaming stats decoded into :class:`StatsSample`."""
        async for doc in self.stats(cid, stream=True):
            yield StatsSample.from_docker(doc)

    # -- files ---------------------------------------------------------------------------
    async def path_stat(self, cid: str, path: str) -> dict[str, Any]:
        """``HEAD /containers/{id}/archive``: name, size, mode, mtime, linkTarget of a path."""
        resp = await self._http.request("HEAD", f"/containers/{cid}/archive", params={"path": path})
        raw = resp.headers.get("X-Docker-Container-Path-Stat")
        if not raw:
            raise NotFound(f"no such path in the container: {path}")
        return json.loads(base64.b64decode(raw))

    async def get_archive(self, cid: str, path: str) -> AsyncGenerator[bytes, None]:
        """``GET /containers/{id}/archive``: a tar of ``path``, streamed."""
        async with self._http.stream(
            "GET", f"/containers/{cid}/archive", params={"path": path}
        ) as resp:
            async for chunk in self._http.chunks(resp):
                yield chunk

    async def put_archive(self, cid: str, path: str, tar: bytes | AsyncIterable[bytes]) -> None:
        """``PUT /containers/{id}/archive``: extract a tar into ``path``.

        ``tar`` may be streamed (an async iterable of chunks): a large upload is never
        held in memory and has no overall time limit.
        """
        streamed = not isinstance(tar, bytes | bytearray)
        await self._http.request(
            "PUT",
            f"/containers/{cid}/archive",
            params={"path": path},
            content=tar,
            headers={"Content-Type": "application/x-tar"},
            **({"timeout": STREAM_TIMEOUT} if streamed else {}),
        )

    # -- attach --------------------------------------------------------------------------
    async def attach(self, cid: str, *, stdin: bool = True, logs: bool = False) -> HijackedStream:
        """``POST /containers/{id}/attach`` hijacked into a raw two-way stream."""
        params = {"stream": True, "stdin": stdin, "stdout": True, "stderr": True, "logs": logs}
        return await hijack(self._http, "POST", f"/containers/{cid}/attach", params=params)
