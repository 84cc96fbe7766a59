"""Networks area."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .http import Http

#: A list of engine JSON objects (named here: ``list`` is a method of the classes).
Records = list[dict[str, Any]]


class NetworksApi:
    """``/networks/...``."""

    def __init__(self, http: Http):
        self._http = http

    async def list(self, filters: Mapping[str, list[str]] | None = None) -> Records:
        """``GET /networks``."""
        params = {"filters": dict(filters) if filters else None}
        return await self._http.json("GET", "/networks", params=params) or []

    async def inspect(self, name: str) -> dict[str, Any]:
        """``GET /networks/{id}`` (with its ``Containers``)."""
        return await self._http.json("GET", f"/networks/{name}")

    async def create(
        self,
        name: str,
        *,
        driver: str = "bridge",
        subnet: str | None = None,
        gateway: str | None = None,
        internal: bool = False,
        labels: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """``POST /networks/create``; returns ``{"Id": ..., "Warning": ...}``."""
        body: dict[str, Any] = {"Name": name, "Driver": driver, "Internal": internal}
        if subnet or gateway:
            pool: dict[str, str] = {}
            if subnet:
                pool["Subnet"] = subnet
            if gateway:
                pool["Gateway"] = gateway
            body["IPAM"] = {"Driver": "default", "Config": [pool]}
        if labels:
            body["Labels"] = dict(labels)
        return await self._http.json("POST", "/networks/create", json_body=body)

    async def remove(self, name: str) -> None:
        """``DELETE /networks/{id}``."""
        await self._http.request("DELETE", f"/networks/{name}")

    async def connect(
        self, network: str, container: str, aliases: Sequence[str] | None = None
    ) -> None:
        """Attach a container to the network."""
        body: dict[str, Any] = {"Container": container}
        if aliases:
            body["EndpointConfig"] = {"Aliases": list(aliases)}
        await self._http.request("POST", f"/networks/{network}/connect", json_body=body)

    async def disconnect(self, network: str, container: str, force: bool = False) -> None:
        """Detach a container from the network."""
        await self._http.request(
            "POST",
            f"/networks/{network}/disconnect",
            json_body={"Container": container, "Force": force},
        )

    async def prune(self) -> dict[str, Any]:
        """``POST /networks/prune``."""
        return await self._http.json("POST", "/networks/prune")
