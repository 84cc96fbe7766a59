"""Images area: list, inspect, history, pull (with progress), build, tag, remove, prune, load."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import AsyncGenerator, AsyncIterable, Mapping
from typing import Any

from .errors import StreamError
from .http import STREAM_TIMEOUT, Http


def split_reference(ref: str) -> tuple[str, str | None]:
    """``name[:tag|@digest]`` → ``(name, tag-or-digest)``; a ``:`` inside a host:port stays."""
    if "@" in ref:
        name, digest = ref.split("@", 1)
        return name, digest
    slash = ref.rfind("/")
    colon = ref.rfind(":")
    if colon > slash:
        return ref[:colon], ref[colon + 1 :]
    return ref, None


def _check_progress(msg: Any) -> dict[str, Any]:
    if not isinstance(msg, dict):
        raise StreamError(f"unexpected progress message: {msg!r}")
    if msg.get("error") or msg.get("errorDetail"):
        detail = msg.get("errorDetail") or {}
        raise StreamError(str(msg.get("error") or detail.get("message") or "unknown error"))
    return msg


#: A list of engine JSON objects (named here: ``list`` is a method of the classes).
Records = list[dict[str, Any]]


class ImagesApi:
    """``/images/...``."""

    def __init__(self, http: Http):
        self._http = http

    async def list(
        self, all: bool = False, filters: Mapping[str, list[str]] | None = None
    ) -> Records:
        """``GET /images/json``."""
        params = {"all": all, "filters": dict(filters) if filters else None}
        return await self._http.json("GET", "/images/json", params=params)

    async def inspect(self, name: str) -> dict[str, Any]:
        """``GET /images/{name}/json``."""
        return await self._http.json("GET", f"/images/{name}/json")

    async def history(self, name: str) -> Records:
        """``GET /images/{name}/history``: the layers, newest first."""
        return await self._http.json("GET", f"/images/{name}/history")

    async def pull(
        self,
        ref: str,
        *,
        platform: str | None = None,
        auth: Mapping[str, str] | None = None,
    ) -> AsyncGenerator[dict[str, Any], None]:
        """``POST /images/create?fromImage=``: progress messages until the pull is done.

        An error reported inside the stream raises :class:`StreamError`. A reference
        without a tag pulls ``latest`` (not every tag, unlike the raw API).
        """
        name, tag = split_reference(ref)
        headers = {}
        if auth:
            headers["X-Registry-Auth"] = base64.urlsafe_b64encode(
                json.dumps(dict(auth)).encode()
            ).decode()
        params = {"fromImage": name, "tag": tag or "latest", "platform": platform}
        async for msg in self._http.json_stream(
            "POST", "/images/create", params=params, headers=headers
        ):
            yield _check_progress(msg)

    async def load(self, tar: AsyncIterable[bytes] | bytes) -> AsyncGenerator[dict[str, Any], None]:
        """``POST /images/load`` from a docker-archive; yields the engine's messages."""
        async for msg in self._http.json_stream(
            "POST",
            "/images/load",
            params={"quiet": False},
            content=tar,
            headers={"Content-Type": "application/x-tar"},
            timeout=STREAM_TIMEOUT,
        ):
            yield _check_progress(msg)

    async def build(
        self,
        context: AsyncIterable[bytes] | bytes,
        *,
        tag: str | None = None,
        dockerfile: str = "Dockerfile",
        buildargs: Mapping[str, str] | None = None,
        target: str | None = None,
        nocache: bool = False,
        pull: bool = False,
    ) -> AsyncGenerator[dict[str, Any], None]:
        """``POST /build`` (the classic builder) with a tar of the context; yields the
        engine's messages (``stream`` lines with ``Step N/M``, ``aux`` with the image ID).

        An error reported inside the stream is yielded, then raised as :class:`StreamError`.
        """
        params = {
            "t": tag or None,
            "dockerfile": dockerfile,
            "buildargs": dict(buildargs) if buildargs else None,
            "target": target or None,
            "nocache": nocache,
            "pull": pull,
            "q": False,
            "rm": True,
        }
        stream = self._http.json_stream(
            "POST",
            "/build",
            params=params,
            content=context,
            headers={"Content-Type": "application/x-tar"},
            timeout=STREAM_TIMEOUT,
        )
        # Closed here, not by the garbage collector, when an error ends the loop early.
        async with contextlib.aclosing(stream) as messages:
            async for msg in messages:
                if isinstance(msg, dict) and (msg.get("error") or msg.get("errorDetail")):
                    yield msg
                yield _check_progress(msg)

    async def tag(self, name: str, repo: str, tag: str | None = None) -> None:
        """``POST /images/{name}/tag``."""
        await self._http.request("POST", f"/images/{name}/tag", params={"repo": repo, "tag": tag})

    async def remove(self, name: str, force: bool = False, noprune: bool = False) -> Records:
        """``DELETE /images/{name}``; returns the ``Untagged``/``Deleted`` entries."""
        return await self._http.json(
            "DELETE", f"/images/{name}", params={"force": force, "noprune": noprune}
        )

    async def prune(self, dangling_only: bool = True) -> dict[str, Any]:
        """``POST /images/prune``; ``SpaceReclaimed`` is the bytes freed.

        ``dangling_only=False`` removes every image no container uses, like
        ``docker image prune -a``.
        """
        filters = None if dangling_only else {"dangling": ["false"]}
        return await self._http.json("POST", "/images/prune", params={"filters": filters})
