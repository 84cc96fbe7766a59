"""System area: ping, version, info, disk usage and the event stream."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Any

from .http import Http


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
    ) -> AsyncIterator[dict[str, Any]]:
        """``GET /events`` as an async iterator of event objects (endless unless ``until``)."""
        params = {"since": since, "until": until, "filters": dict(filters) if filters else None}
        async for event in self._http.json_stream("GET", "/events", params=params):
            yield event
