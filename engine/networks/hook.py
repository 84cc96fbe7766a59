"""The networks side of the containers service's hook seam.

Register with ``containers.hooks.append(NetworkHook(networks))`` after the volumes hook
(volumes prepare mounts first; networks edit the namespace part of the spec).
Method names follow the hooks addendum; the spellings the containers service uses
(``on_start``, ``on_restore``) are provided as aliases.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .service import NetworkService


class NetworkHook:
    """Container lifecycle → network plumbing."""

    def __init__(self, networks: NetworkService) -> None:
        self.networks = networks

    async def on_create(self, c: Any) -> None:
        """Validate the container's networks and record them (nothing allocated yet)."""
        self.networks.sandbox.validate_create(c)

    async def prepare(self, c: Any, spec: dict[str, Any]) -> None:
        """Namespace, veths, addresses, routes, DNS, /etc files; netns path into spec."""
        await self.networks.sandbox.prepare(c, spec)

    async def on_started(self, c: Any) -> None:
        """Publish the container's ports."""
        await self.networks.sandbox.started(c)

    on_start = on_started

    async def on_stop(self, c: Any) -> None:
        """Release addresses, ports, veths and the namespace (Docker frees IPs on stop)."""
        await self.networks.sandbox.teardown(c.id, c)

    async def on_remove(self, c: Any) -> None:
        """Release anything still held (a container removed while running)."""
        await self.networks.sandbox.teardown(c.id, c, forget=True)

    async def restore(self, c: Any) -> None:
        """Re-adopt a container found running at engine start (live restore)."""
        await self.networks.sandbox.restore(c)

    on_restore = restore


def attach_network_hook(containers: Any, networks: NetworkService) -> NetworkHook:
    """Register the hook (after any already registered, e.g. volumes) and give the
    network service its view of containers (connect/disconnect, ``container:<id>``)."""
    hook = NetworkHook(networks)
    containers.hooks.append(hook)
    networks.bind_containers(containers)
    return hook
