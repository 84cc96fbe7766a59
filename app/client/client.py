"""``EngineClient``: one connection to a Docker-compatible engine, grouped by API area."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx

from .address import EngineAddress, default_address, unused_tls_context
from .containers import ContainersApi
from .errors import EngineUnreachable
from .execs import ExecApi
from .http import DEFAULT_TIMEOUT, Http
from .images import ImagesApi
from .netbackend import AsyncioBackend
from .networks import NetworksApi
from .system import SystemApi
from .volumes import VolumesApi

#: The newest API version this client speaks.
CLIENT_API_VERSION = "1.47"
#: The oldest engine API this client still drives (Docker's own minimum).
MIN_API_VERSION = "1.24"


def version_tuple(v: str) -> tuple[int, ...]:
    """``"1.41"`` → ``(1, 41)`` for comparisons (garbage sorts lowest)."""
    try:
        return tuple(int(p) for p in v.split("."))
    except ValueError:
        return (0,)


def negotiate(server: str | None, ours: str = CLIENT_API_VERSION) -> str:
    """The version to speak: the lower of the server's and ours."""
    if not server:
        return ours
    return min(server, ours, key=version_tuple)


def _transport(
    address: EngineAddress, ask_host_key: Callable[..., Any] | None
) -> httpx.AsyncBaseTransport:
    if address.is_ssh:
        # paramiko is imported only by those who use an SSH engine.
        from .sshtransport import ssh_transport

        return ssh_transport(address, ask_host_key)
    if address.is_unix:
        transport = httpx.AsyncHTTPTransport(uds=address.socket_path, verify=unused_tls_context())
    else:
        verify: Any = True  # https without Docker's certificates: the system's CAs
        if address.tls is not None:
            verify = address.tls.ssl_context()
        elif address.base_url.startswith("http:"):
            verify = unused_tls_context()
        transport = httpx.AsyncHTTPTransport(verify=verify)
    # httpx has no parameter for httpcore's network backend; its pool has the attribute.
    pool = getattr(transport, "_pool", None)
    if pool is not None and hasattr(pool, "_network_backend"):
        pool._network_backend = AsyncioBackend()
    return transport


class EngineClient:
    """Async client of the Docker Engine API; no Qt, no threads.

    >>> async with EngineClient() as engine:          # negotiates the API version
    ...     for c in await engine.containers.list():
    ...         print(c["Names"])

    ``transport`` replaces the network (tests pass ``httpx.MockTransport``).
    ``ask_host_key`` answers, for an ``ssh://`` engine, whether to trust a host key
    ``~/.ssh/known_hosts`` does not list (given a ``HostKeyQuestion``; bool or awaitable).
    """

    def __init__(
        self,
        address: EngineAddress | str | None = None,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        api_version: str | None = None,
        ask_host_key: Callable[..., Any] | None = None,
    ):
        if isinstance(address, str):
            address = EngineAddress(address)
        self.address = address or default_address()
        self._client = httpx.AsyncClient(
            transport=transport or _transport(self.address, ask_host_key),
            base_url=self.address.base_url,
            timeout=DEFAULT_TIMEOUT,
            headers={"User-Agent": "Portside-App/0.1"},
        )
        self.http = Http(self._client, self.address.describe())
        self.http.api_version = api_version
        self.server_version: dict[str, Any] = {}
        self.system = SystemApi(self.http)
        self.containers = ContainersApi(self.http)
        self.images = ImagesApi(self.http)
        self.volumes = VolumesApi(self.http)
        self.networks = NetworksApi(self.http)
        self.exec = ExecApi(self.http)

    @property
    def api_version(self) -> str | None:
        """The negotiated API version (None before :meth:`connect`)."""
        return self.http.api_version

    async def connect(self) -> dict[str, Any]:
        """Ask ``/version``, settle the API version, and return the version document.

        Raises :class:`EngineUnreachable` when nothing answers or the engine is too old.
        """
        version = await self.system.version()
        server = str(version.get("ApiVersion") or "")
        minimum = str(version.get("MinAPIVersion") or "")
        chosen = negotiate(server)
        if minimum and version_tuple(chosen) < version_tuple(minimum):
            raise EngineUnreachable(
                f"the engine needs API {minimum} or newer; this app speaks up to {chosen}"
            )
        if version_tuple(chosen) < version_tuple(MIN_API_VERSION):
            raise EngineUnreachable(f"the engine's API {server} is too old for this app")
        self.http.api_version = chosen
        self.server_version = version
        return version

    @property
    def engine_name(self) -> str:
        """``Portside Engine``, ``Docker Engine - Community``, ... from ``/version``."""
        platform = self.server_version.get("Platform") or {}
        return str(platform.get("Name") or "Docker Engine")

    async def aclose(self) -> None:
        """Close every connection (streams in progress end with an error)."""
        await self._client.aclose()

    async def __aenter__(self) -> EngineClient:
        try:
            await self.connect()
        except BaseException:
            await self.aclose()
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
