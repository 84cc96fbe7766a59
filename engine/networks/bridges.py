"""Bridges in the kernel, brought up lazily, and the subnets behind them.

As podman does for its default network, a bridge network's Linux bridge — and, with the
first one, ip_forward and the nft table — is created when the first container endpoint
on it needs it (container start, ``network connect``, live restore), not at engine start
or ``docker network create``. Subnets are chosen up front all the same (at create; the
default bridge's on the first start) so inspect shows them; automatically chosen ones are
checked against the host again at bring-up, when an overlap would actually break
something. Bridges stay up until their network is removed or the engine shuts down with
no container on a bridge. An idle engine therefore loads neither pyroute2 nor
libnftables: the subnet choice reads the host through :mod:`.hostnets`.

A marker file under the exec-root exists while kernel state of ours may exist, so an
engine killed with -9 knows on its next start that it has something to adopt or remove.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from ..errors import Conflict, EngineError, SystemError_
from . import hostnets, ipam
from .model import Network

if TYPE_CHECKING:
    from .service import NetworkService

log = logging.getLogger(__name__)


class Bridges:
    """Which bridges are up, bringing them up and down, choosing their subnets."""

    def __init__(self, svc: NetworkService) -> None:
        self.svc = svc
        # Networks whose bridge this engine has brought up (it exists in the kernel).
        self.up: set[str] = set()
        self._lock = asyncio.Lock()
        self._marker = svc.config.exec_root / "network-up"

    # -- subnets -------------------------------------------------------------------
    def _taken(self, n: Network) -> list[ipaddress.IPv4Network]:
        """What a subnet for ``n`` must not overlap: the host's networks (except those
        on ``n``'s own bridge) and this engine's other networks."""
        try:
            host = hostnets.host_networks()
        except OSError as e:
            raise SystemError_(f"cannot read the host's networks: {e}") from None
        return [h.net for h in host if h.dev != n.bridge] + [
            ipaddress.IPv4Network(o.subnet)
            for o in self.svc.networks.values()
            if o.subnet and o.id != n.id
        ]

    @staticmethod
    def _assign(n: Network, taken: list[ipaddress.IPv4Network]) -> None:
        net = ipam.choose_subnet(taken, ipam.resolver_addresses())
        n.subnet = str(net)
        n.gateway = str(next(net.hosts()))
        v6 = [c for c in n.ipam_config if ":" in str(c.get("Subnet", ""))]
        n.ipam_config = [{"Subnet": n.subnet, "Gateway": n.gateway}, *v6]

    def _assign6(self, n: Network) -> None:
        """An IPv6 /64 for ``n`` from the engine's ULA /48 (dockerd's default IPv6
        pool), overlapping nothing on the host or in this engine."""
        try:
            taken = hostnets.host_networks6()
        except OSError as e:
            raise SystemError_(f"cannot read the host's networks: {e}") from None
        taken += [
            ipaddress.IPv6Network(o.subnet6)
            for o in self.svc.networks.values()
            if o.subnet6 and o.id != n.id
        ]
        net = ipam.choose_subnet6(taken, ipam.ula_base(self.svc.host_id))
        n.subnet6 = str(net)
        n.gateway6 = str(net.network_address + 1)
        v4 = [c for c in n.ipam_config if ":" not in str(c.get("Subnet", ""))]
        n.ipam_config = [*v4, {"Subnet": n.subnet6, "Gateway": n.gateway6}]

    async def choose_subnet(self, n: Network) -> None:
        """Give ``n`` the first pool subnets nothing on the host or in this engine uses
        (IPv4, and IPv6 for an IPv6 network that has none; the caller stores it)."""
        async with ipam.SubnetLock():
            if not n.subnet:
                self._assign(n, self._taken(n))
            if n.enable_ipv6 and not n.subnet6:
                self._assign6(n)

    # -- up ------------------------------------------------------------------------
    async def ensure_up(self, n: Network) -> None:
        """Make sure bridge network ``n`` exists in the kernel; the first endpoint on it
        calls this. The first bridge also enables ip_forward; each enters the table."""
        svc = self.svc
        async with self._lock:
            if n.id in self.up or svc.networks.get(n.id) is not n:
                return
            if not self.up:
                self._marker.touch()  # before the first change, so a crash finds it
                if svc.config.raw.get("ip-forward", True):
                    _sysctl("/proc/sys/net/ipv4/ip_forward", "1")
            if n.subnet6 and svc.config.raw.get("ip-forward", True):
                # as dockerd: routed IPv6 needs forwarding on (tests keep it off)
                _sysctl("/proc/sys/net/ipv6/conf/all/forwarding", "1")
            await self._create(n)
            self.up.add(n.id)
            try:
                await svc.table.sync()
            except EngineError as e:
                # Containers still run without it; publishing ports will report the error.
                log.error("cannot install the firewall table: %s", e.message)

    async def _create(self, n: Network) -> None:
        """Create the Linux bridge of ``n``; choose its subnet again first when it has
        none or an automatically chosen one now overlaps the host (a VPN that came up
        since, another engine's bridge) and no endpoint holds an address in it."""
        svc = self.svc
        async with ipam.SubnetLock():
            if not n.subnet or not n.user_subnet:
                taken = self._taken(n)
                clash = bool(n.subnet) and any(
                    ipaddress.ip_network(n.subnet).overlaps(o) for o in taken
                )
                busy = bool(svc.endpoints_of(n.id))
                if not n.subnet or (clash and not busy and not svc.config.bridge_subnet):
                    if clash:
                        log.info("network %s: %s is in use on the host now", n.name, n.subnet)
                    self._assign(n, taken)
                    svc.store.save_network(n)
            if n.enable_ipv6 and not n.subnet6:
                self._assign6(n)
                svc.store.save_network(n)
            prefix = ipaddress.ip_network(n.subnet).prefixlen
            v6 = (n.gateway6, ipaddress.ip_network(n.subnet6).prefixlen) if n.subnet6 else None
            try:
                await svc.links.ensure_bridge(n.bridge, n.gateway, prefix, n.mtu, v6)
            except FileExistsError as e:
                raise Conflict(str(e)) from None

    async def sync_firewall(self) -> None:
        """Re-render the table after ports or bridges changed (there is no table while
        no bridge is up; one left by an earlier run is removed at start)."""
        if self.up:
            await self.svc.table.sync()

    # -- down ----------------------------------------------------------------------
    async def remove(self, n: Network, forget: Callable[[], None]) -> None:
        """Take ``n``'s bridge down if it is up, calling ``forget()`` (which drops the
        network from the engine's state) under the same lock so a concurrent bring-up
        cannot recreate it."""
        async with self._lock:
            was_up = n.id in self.up
            if was_up:
                await self.svc.links.delete(n.bridge)
                self.up.discard(n.id)
            forget()
        if was_up:
            await self.svc.table.sync()

    def in_use(self) -> list[Network]:
        """Bridge networks with a live endpoint (a veth plugged into their bridge)."""
        svc = self.svc
        used = {ep.network_id for ep in svc.endpoints.values() if ep.host_ifname}
        return [n for n in svc.networks.values() if n.is_bridge and n.id in used]

    def left_behind(self) -> bool:
        """Whether links or the table of ours may exist (cheap: no netlink, no nft)."""
        return self._marker.exists() or bool(hostnets.owned_links(self.svc.owner))

    async def remove_unused(self) -> None:
        """Delete our links that no up bridge or live endpoint uses; with no bridge up,
        the table too (start-up after an unclean stop, and shutdown)."""
        svc = self.svc
        keep = {svc.networks[nid].bridge for nid in self.up if nid in svc.networks}
        keep |= {ep.host_ifname for ep in svc.endpoints.values() if ep.host_ifname}
        for name in await svc.links.owned_links():
            if name not in keep:
                await svc.links.delete(name)
        if not self.up:
            await svc.table.delete()
            self._marker.unlink(missing_ok=True)


def _sysctl(path: str, value: str) -> None:
    try:
        with open(path) as f:
            if f.read().strip() == value:
                return
        with open(path, "w") as f:
            f.write(value)
    except OSError as e:
        log.warning("cannot set %s=%s: %s", path, value, e)
