"""The networks side of the container hook contract (:mod:`..containers.hooks`).

Listed after the volumes hook in ``engine.py`` (volumes prepare mounts first; networks
edit the namespace part of the spec).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..containers.hooks import ContainerHook
from ..containers.model import Container

if TYPE_CHECKING:
    from ..containers.service import ContainerService
    from .service import NetworkService


class NetworkHook(ContainerHook):
    """Container lifecycle → network plumbing."""

    def __init__(self, networks: NetworkService) -> None:
        self.networks = networks

    async def on_create(self, c: Container) -> None:
        """Validate the container's networks and record them (nothing allocated yet)."""
        self.networks.sandbox.validate_create(c)

    async def prepare(self, c: Container, spec: dict[str, Any]) -> None:
        """Namespace, veths, addresses, routes, DNS, /etc files; netns path into spec."""
        await self.networks.sandbox.prepare(c, spec)

    async def on_start(self, c: Container) -> None:
        """Publish the container's ports."""
        await self.networks.sandbox.started(c)

    async def on_stop(self, c: Container) -> None:
        """Release addresses, ports, veths and the namespace (Docker frees IPs on stop)."""
        await self.networks.sandbox.teardown(c.id, c)

    async def on_remove(self, c: Container) -> None:
        """Release anything still held (a container removed while running)."""
        await self.networks.sandbox.teardown(c.id, c, forget=True)

    async def on_restore(self, c: Container) -> None:
        """Re-adopt a container found running at engine start (live restore)."""
        await self.networks.sandbox.restore(c)


def network_hook(containers: ContainerService, networks: NetworkService) -> NetworkHook:
    """The hook, with the network service given its view of containers
    (connect/disconnect, ``container:<id>``)."""
    networks.bind_containers(containers)
    return NetworkHook(networks)
