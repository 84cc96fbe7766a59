"""Operations on running containers' networks: live restore after an engine restart,
the start-up sweep, and connect/disconnect while a container runs.

Mixed into :class:`.sandbox.SandboxManager`, whose helpers (``_attach``, ``_drop``,
``_write_etc``, ``teardown``) these use.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import EngineError, Forbidden, InvalidParameter
from . import nsutil
from .endpoints import desired_macs, network_mode, show_desired_mac, validate_endpoint
from .links import NsLinks
from .model import Network, endpoint_settings

if TYPE_CHECKING:
    from ..containers.model import Container
    from .model import Endpoint, Sandbox
    from .service import NetworkService

log = logging.getLogger(__name__)


class LiveOps:
    """restore / sweep_dead / connect / disconnect."""

    if TYPE_CHECKING:  # provided by SandboxManager
        svc: NetworkService

        def lock(self, cid: str) -> asyncio.Lock: ...

        async def teardown(
            self, cid: str, c: Container | None = None, forget: bool = False
        ) -> None: ...

        async def _attach(
            self,
            c: Container,
            ns: NsLinks | None,
            sb: Sandbox,
            n: Network,
            cfg: dict[str, Any],
            ifname: str,
            announce: bool = True,
        ) -> Endpoint: ...

        def _announce_connect(self, n: Network, c: Container) -> None: ...

        async def _drop(self, ep: Endpoint, cname: str | None = None) -> None: ...

        def _write_etc(self, c: Container, dns: bool) -> None: ...

        def publish_target(self, cid: str, version: int = 4) -> str | None: ...

    async def restore(self, c: Container) -> None:
        """Re-adopt a running container after an engine restart."""
        svc = self.svc
        async with self.lock(c.id):
            sb = svc.sandboxes.get(c.id)
            if sb is None or not sb.owned:
                return
            path = Path(sb.path)
            if not nsutil.is_netns(path):
                log.warning("namespace of running container %s is gone", c.id[:12])
                return
            for ep in svc.endpoints_of_container(c.id):
                n = svc.networks.get(ep.network_id)
                if ep.host_ifname and n is not None:
                    try:
                        await svc.bridges.ensure_up(n)  # normally done at start already
                    except EngineError as e:
                        log.error("network %s: %s", n.name, e.message)
                        continue
                    await svc.links.enslave(ep.host_ifname, n.bridge)
            if sb.dns and not svc.dns.serving(c.id):
                await svc.dns.serve(c.id, path)
            svc.reservations.readopt(c.id, sb.port_mappings())
            await svc.reservations.proxy_loopback6(c.id, self.publish_target(c.id, 6))
            if sb.ports:
                await svc.bridges.sync_firewall()

    async def sweep_dead(self) -> None:
        """At start-up: release sandboxes whose container died while we were down,
        orphan namespaces and orphan endpoints/veths (a crash mid-setup). Links nothing
        uses any more are the service's to remove, after live bridges came up."""
        svc = self.svc
        if not svc.sandboxes and not svc.endpoints and not _entries(svc.netns_dir):
            return  # nothing was running: skip the /proc scan
        loop = asyncio.get_running_loop()
        live = await loop.run_in_executor(None, nsutil.live_netns_inodes)
        for sb in list(svc.sandboxes.values()):
            if not sb.owned:
                continue
            inode = nsutil.netns_inode(Path(sb.path))
            if inode is None or inode not in live:
                log.info("releasing the network of %s (not running)", sb.container_id[:12])
                await self.teardown(sb.container_id)
        if svc.netns_dir.is_dir():
            for p in svc.netns_dir.iterdir():
                if p.name not in svc.sandboxes:
                    await nsutil.in_ns_thread(nsutil.remove_netns, p)
        for ep in list(svc.endpoints.values()):
            if ep.container_id not in svc.sandboxes:
                await self._drop(ep)

    # -- connect / disconnect --------------------------------------------------------
    async def connect(self, c: Container, n: Network, cfg: dict[str, Any]) -> None:
        """Attach ``c`` to ``n`` (live when it runs)."""
        svc = self.svc
        mode = network_mode(c)
        if n.name == "host" or mode == "host":
            raise InvalidParameter(
                "container cannot be disconnected from host network or connected to host network"
            )
        if mode.startswith("container:"):
            raise InvalidParameter(
                "container sharing network namespace with another container or host cannot "
                "be connected to any other network"
            )
        if n.name == "none" or mode == "none":
            raise InvalidParameter(
                "container cannot be connected to multiple networks with one of the networks "
                "in private (none) mode"
            )
        validate_endpoint(n, cfg)
        async with self.lock(c.id):
            nets = c.network_settings.setdefault("Networks", {})
            if n.name in nets:
                raise Forbidden(f"endpoint with name {c.name} already exists in network {n.name}")
            sb = svc.sandboxes.get(c.id)
            ep = None
            macs = desired_macs(c)
            before = dict(macs)
            if cfg.get("MacAddress"):
                macs[n.name] = cfg["MacAddress"]
            if sb is not None and sb.owned and sb.path:
                used = {e.ifname for e in svc.endpoints_of_container(c.id)}
                ifname = next(f"eth{i}" for i in range(1000) if f"eth{i}" not in used)
                ns = await NsLinks.open(Path(sb.path)) if n.is_bridge else None
                try:
                    ep = await self._attach(c, ns, sb, n, cfg, ifname, announce=False)
                except BaseException:
                    macs.clear()
                    macs.update(before)
                    raise
                finally:
                    if ns is not None:
                        ns.close()
                self._write_etc(c, False)
                if sb.ports:
                    await svc.bridges.sync_firewall()
            nets[n.name] = endpoint_settings(n, ep, cfg)
            show_desired_mac(c, _primary(svc, c))
            if ep is not None:
                # Only now: a client that refreshes the container on this event (the app
                # does) must find the network in its settings.
                self._announce_connect(n, c)

    async def disconnect(self, c: Container, n: Network, force: bool = False) -> None:
        """Detach ``c`` from ``n`` (live when it runs)."""
        svc = self.svc
        if n.name == "host" or network_mode(c) == "host":
            raise InvalidParameter(
                "container cannot be disconnected from host network or connected to host network"
            )
        async with self.lock(c.id):
            nets = c.network_settings.get("Networks") or {}
            key = next(
                (k for k, v in nets.items() if k == n.name or (v or {}).get("NetworkID") == n.id),
                None,
            )
            if key is None:
                raise InvalidParameter(
                    f"container {c.id[:12]} is not connected to network {n.name}"
                )
            ep = next((e for e in svc.endpoints_of_container(c.id) if e.network_id == n.id), None)
            sb = svc.sandboxes.get(c.id)
            if ep is not None:
                had_route, had_route6 = ep.default_route, ep.default_route6
                await self._drop(ep)
                if (had_route or had_route6) and sb is not None and sb.path:
                    await self._reroute(c, Path(sb.path), had_route, had_route6)
                if sb is not None and sb.owned:
                    self._write_etc(c, False)
                if sb is not None and sb.ports:
                    await svc.bridges.sync_firewall()
            del nets[key]
            desired_macs(c).pop(key, None)
            show_desired_mac(c, _primary(svc, c))

    async def _reroute(self, c: Container, path: Path, v4: bool, v6: bool) -> None:
        """The endpoint with the default route(s) left: route via another network."""
        svc = self.svc
        for e in svc.endpoints_of_container(c.id):
            n = svc.networks.get(e.network_id)
            if n is None or n.internal:
                continue
            take4 = v4 and bool(e.ip)
            take6 = v6 and bool(e.ip6)
            if not take4 and not take6:
                continue
            ns = await NsLinks.open(path)
            try:
                if take4:
                    await ns.default_route(n.gateway)
                    e.default_route, v4 = True, False
                if take6:
                    await ns.default_route6(n.gateway6)
                    e.default_route6, v6 = True, False
            finally:
                ns.close()
            svc.store.update_endpoint(e)
            if not v4 and not v6:
                return


def _primary(svc: NetworkService, c: Container) -> str:
    """The name of the network ``HostConfig.NetworkMode`` names."""
    mode = network_mode(c)
    n = svc.find(mode) if not mode.startswith("container:") else None
    return n.name if n is not None else mode


def _entries(d: Path) -> bool:
    """Whether directory ``d`` exists and has entries."""
    try:
        return any(d.iterdir())
    except OSError:
        return False
