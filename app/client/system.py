"""System area: ping, version, info, disk usage and the event stream."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Callable, Mapping
from typing import Any

from .http import Http
from .streams import iter_json


class SystemApi:
    """``/_ping``, ``/version``, ``/info``, ``/system/df``, ``/events``."""

    def __init__(self, http: Http):
        self._http = http

    async def ping(self) -> str:
        """``GET /_ping``; returns the ``Api-Version`` header (may be empty)."""
        resp = await self._http.request("GET", "/_ping", versioned=False)
        return resp.headers.get("Api-Version", "")

    async def version(self) -> dict[str, Any]:
        """``GET /version`` (unversioned, so it works before negotiation)."""
        return await self._http.json("GET", "/version", versioned=False)

    async def info(self) -> dict[str, Any]:
        """``GET /info``."""
        return await self._http.json("GET", "/info")

    async def df(self) -> dict[str, Any]:
        """``GET /system/df``: images, containers, volumes, build cache with sizes."""
        return await self._http.json("GET", "/system/df")

    async def events(
        self,
        since: str | int | None = None,
        until: str | int | None = None,
        filters: Mapping[str, list[str]] | None = None,
        on_open: Callable[[], None] | None = None,
    ) -> AsyncGenerator[dict[str, Any], None]:
        """``GET /events`` as an async iterator of event objects (endless unless ``until``).

        ``on_open`` is called once the engine has accepted the subscription, so a caller
        can load the current state knowing no later change will be missed.
        """
        params = {"since": since, "until": until, "filters": dict(filters) if filters else None}
        async with self._http.stream("GET", "/events", params=params) as resp:
            if on_open is not None:
                on_open()
            async for event in iter_json(self._http.chunks(resp)):
                yield event
