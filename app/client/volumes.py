"""Volumes area."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .http import Http

#: A list of engine JSON objects (named here: ``list`` is a method of the classes).
Records = list[dict[str, Any]]


class VolumesApi:
    """``/volumes/...``."""

    def __init__(self, http: Http):
        self._http = http

    async def list(self, filters: Mapping[str, list[str]] | None = None) -> Records:
        """``GET /volumes``: the ``Volumes`` list (never None)."""
        params = {"filters": dict(filters) if filters else None}
        data = await self._http.json("GET", "/volumes", params=params) or {}
        return list(data.get("Volumes") or [])

    async def inspect(self, name: str) -> dict[str, Any]:
        """``GET /volumes/{name}``."""
        return await self._http.json("GET", f"/volumes/{name}")

    async def create(
        self,
        name: str | None = None,
        driver: str = "local",
        labels: Mapping[str, str] | None = None,
        driver_opts: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """``POST /volumes/create``."""
        body: dict[str, Any] = {"Driver": driver}
        if name:
            body["Name"] = name
        if labels:
            body["Labels"] = dict(labels)
        if driver_opts:
            body["DriverOpts"] = dict(driver_opts)
        return await self._http.json("POST", "/volumes/create", json_body=body)

    async def remove(self, name: str, force: bool = False) -> None:
        """``DELETE /volumes/{name}``."""
        await self._http.request("DELETE", f"/volumes/{name}", params={"force": force})

    async def prune(self, all: bool = True) -> dict[str, Any]:
        """``POST /volumes/prune``; ``all`` includes named volumes (API ≥ 1.42)."""
        filters = {"all": ["true"]} if all else None
        return await self._http.json("POST", "/volumes/prune", params={"filters": filters})
