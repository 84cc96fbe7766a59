"""NetworkService: networks (create/list/inspect/remove/prune), connect/disconnect,
the kernel objects behind them and the state the firewall and DNS server read.

Bridges and the nft table come up with the first container that needs them
(:mod:`.bridges`): an idle engine creates nothing in the kernel.

Container plumbing (namespaces, veths, addresses, published ports) is in
:mod:`.sandbox`; the containers service reaches it through :class:`.hook.NetworkHook`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..config import DaemonConfig
from ..conventions import format_rfc3339
from ..errors import Conflict, EngineError, Forbidden, InvalidParameter, NoSpace, NotFound
from ..store.db import Database
from ..system.events import EventBus
from ..system.hostinfo import engine_id
from . import filters as filt
from . import hostnets, ipam
from .bridges import Bridges
from .dns import DnsServer, Resolver
from .endpoints import migrate_mac_address
from .etchosts import host_resolvers
from .legacy_links import LegacyLinks, parse_link
from .links import HostLinks
from .model import (
    DEFAULT_MTU,
    DRIVER_OF_PREDEFINED,
    OPT_BRIDGE_NAME,
    OPT_DEFAULT,
    OPT_HOST_IP,
    OPT_ICC,
    OPT_MASQ,
    OPT_MTU,
    PREDEFINED,
    Endpoint,
    Network,
    Sandbox,
)
from .nft import FirewallTable, Nft, NftNetwork, NftPort, table_name
from .ports import PortReservations
from .sandbox import SandboxManager
from .store import NetworkStore

if TYPE_CHECKING:
    from ..containers.model import Container

log = logging.getLogger(__name__)


class NetworkService:
    """Networks and the engine's network state (bridges, endpoints, sandboxes)."""

    def __init__(self, config: DaemonConfig, db: Database, events: EventBus) -> None:
        self.config = config
        self.db = db
        self.events = events
        self.store = NetworkStore(db)
        self.owner = f"portside/{config.bridge_name}"
        self.links = HostLinks(self.owner)
        self.nft = Nft()
        self.table = FirewallTable(
            self.nft, table_name(config.bridge_name), self._firewall_state, config.ip_masquerade
        )
        self.reservations = PortReservations()
        self.dns = DnsServer(Resolver(self.dns_lookup, self.dns_reverse, self._upstreams))
        self.netns_dir: Path = config.exec_root / "netns"
        self.networks: dict[str, Network] = {}
        self.endpoints: dict[str, Endpoint] = {}
        self.sandboxes: dict[str, Sandbox] = {}
        self.sandbox = SandboxManager(self)
        self.containers: Any = None  # the ContainerService, set by bind_containers
        self._net_lock = asyncio.Lock()
        self._names_cache: dict[str, dict[str, list[str]]] | None = None
        self._rename_task: asyncio.Task[None] | None = None
        self._reapers: set[asyncio.Task[None]] = set()
        self.bridges = Bridges(self)
        self.legacy_links = LegacyLinks(self)

    @property
    def host_id(self) -> str:
        """The engine's ID: it seeds the engine's ULA IPv6 pool, as dockerd's host ID."""
        return engine_id(self.config.data_root)

    # -- wiring --------------------------------------------------------------------
    def bind_containers(self, containers: Any) -> None:
        """Give the service the containers service (name lookup, persisting
        NetworkSettings after connect/disconnect, ``container:<id>`` mode)."""
        self.containers = containers

    # -- service lifecycle ---------------------------------------------------------
    async def start(self) -> None:
        """Load state and drop sandboxes of containers that died while the engine was
        down. Bridges that still-running containers are plugged into come up again (live
        restore); kernel state an earlier run left and nothing uses is removed. With no
        container running on a bridge, nothing is created (:mod:`.bridges`)."""
        for n in self.store.networks():
            self.networks[n.id] = n
        for ep in self.store.endpoints():
            self.endpoints[ep.id] = ep
        for sb in self.store.sandboxes():
            self.sandboxes[sb.container_id] = sb
        await self._ensure_predefined()
        await self.sandbox.sweep_dead()
        for n in self.bridges.in_use():
            try:
                await self.bridges.ensure_up(n)
            except EngineError as e:
                log.error("network %s: %s", n.name, e.message)
        if self.bridges.left_behind():
            try:
                await self.bridges.remove_unused()
            except EngineError as e:
                log.error("cannot remove what an earlier run left: %s", e.message)
        self._rename_task = asyncio.ensure_future(self._follow_renames())

    async def shutdown(self) -> None:
        """Close sockets; kernel state stays for the containers that keep running.
        With no container left on a bridge, bridges and the table go too: nothing is
        left behind."""
        if self._rename_task:
            self._rename_task.cancel()
        for task in list(self._reapers):
            task.cancel()
        self.dns.close()
        self.reservations.close()
        try:
            if not self.bridges.in_use():
                self.bridges.up.clear()
                if self.bridges.left_behind():
                    await self.bridges.remove_unused()
        except Exception:
            log.exception("network cleanup at shutdown failed")
        self.links.close()

    async def _ensure_predefined(self) -> None:
        by_name = {n.name: n for n in self.networks.values()}
        for name in PREDEFINED:
            if name in by_name:
                continue
            n = Network(id=secrets.token_hex(32), name=name, driver=DRIVER_OF_PREDEFINED[name])
            if name == "bridge":
                n.created = format_rfc3339()
            self.networks[n.id] = n
            self.store.save_network(n)
        bridge = self.by_name("bridge")
        assert bridge is not None
        bridge.bridge = self.config.bridge_name
        bridge.options = {
            OPT_DEFAULT: "true",
            OPT_ICC: "true",
            OPT_MASQ: "true" if self.config.ip_masquerade else "false",
            OPT_HOST_IP: "0.0.0.0",
            OPT_BRIDGE_NAME: self.config.bridge_name,
            OPT_MTU: str(DEFAULT_MTU),
        }
        if self.config.bridge_subnet:
            # --bip is the bridge's own address with the prefix: 172.17.0.1/16.
            iface = ipaddress.ip_interface(self.config.bridge_subnet)
            bridge.subnet = str(iface.network)
            bridge.gateway = str(iface.ip)
            bridge.user_subnet = False
        bridge.ipam_config = (
            [{"Subnet": bridge.subnet, "Gateway": bridge.gateway}] if bridge.subnet else []
        )
        # daemon.json ipv6 + fixed-cidr-v6 (a ULA /64 of the engine's pool without it)
        bridge.enable_ipv6 = self.config.ipv6
        if not bridge.enable_ipv6:
            bridge.subnet6 = bridge.gateway6 = ""
            bridge.user_subnet6 = False
        elif self.config.fixed_cidr_v6:
            net6 = ipam.parse_subnet6(self.config.fixed_cidr_v6, "fixed-cidr-v6")
            bridge.subnet6, bridge.gateway6 = str(net6), str(net6.network_address + 1)
            bridge.user_subnet6 = False  # --ip6 stays for user networks, as in dockerd
        if bridge.subnet6:
            bridge.ipam_config.append({"Subnet": bridge.subnet6, "Gateway": bridge.gateway6})
        if not bridge.subnet or (bridge.enable_ipv6 and not bridge.subnet6):
            # First start on this data-root: choose now so inspect shows a subnet; it is
            # checked against the host again when the bridge comes up.
            try:
                await self.bridges.choose_subnet(bridge)
            except EngineError as e:
                log.warning("default bridge: %s (chosen when a container needs it)", e.message)
        try:
            self.store.save_network(bridge)
        except NoSpace as e:
            # In effect in memory; stored at a later start with room (a full disk must
            # never keep the engine from starting and freeing space).
            log.warning("default bridge settings not stored: %s", e.message)

    # -- lookup --------------------------------------------------------------------
    def by_name(self, name: str) -> Network | None:
        """The network named ``name``."""
        return next((n for n in self.networks.values() if n.name == name), None)

    def find(self, ref: str) -> Network | None:
        """By full id, exact name, then unique id prefix (Docker's order)."""
        if ref in self.networks:
            return self.networks[ref]
        n = self.by_name(ref)
        if n is not None:
            return n
        matches = [n for n in self.networks.values() if ref and n.id.startswith(ref)]
        if len(matches) > 1:
            raise InvalidParameter(f"network {ref} is ambiguous ({len(matches)} matches found)")
        return matches[0] if matches else None

    def get(self, ref: str) -> Network:
        """Like :meth:`find`; 404 ``network <ref> not found``."""
        n = self.find(ref)
        if n is None:
            raise NotFound(f"network {ref} not found")
        return n

    def endpoints_of(self, network_id: str) -> list[Endpoint]:
        """Live endpoints on a network."""
        return [ep for ep in self.endpoints.values() if ep.network_id == network_id]

    def endpoints_of_container(self, container_id: str) -> list[Endpoint]:
        """Live endpoints of a container."""
        return [ep for ep in self.endpoints.values() if ep.container_id == container_id]

    # -- API: networks -------------------------------------------------------------
    async def create(self, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /networks/create``."""
        n, warning = filt.network_from_request(body, self)
        async with self._net_lock:
            if self.by_name(n.name) is not None:
                raise Conflict(f"network with name {n.name} already exists")
            alias = hostnets.alias_of(n.bridge)
            if alias is not None and alias != self.owner:
                raise Conflict(f"interface {n.bridge} exists and is not Portside's")
            if not n.subnet:
                # Chosen now so inspect shows it (as dockerd); the bridge itself comes
                # up with the first container.
                await self.bridges.choose_subnet(n)
            self.store.save_network(n)
            self.networks[n.id] = n
        self.events.publish("network", "create", n.id, {"name": n.name, "type": n.driver})
        return {"Id": n.id, "Warning": warning}

    def list_networks(self, filters: dict[str, list[str]]) -> list[dict[str, Any]]:
        """``GET /networks``."""
        accept = filt.list_matcher(filters, self)
        # Like dockerd (API >= 1.28) the list leaves Containers empty; inspect fills it.
        return [
            n.to_docker({})
            for n in sorted(self.networks.values(), key=lambda n: n.name)
            if accept(n)
        ]

    def inspect(self, ref: str) -> dict[str, Any]:
        """``GET /networks/{id}``."""
        n = self.get(ref)
        return n.to_docker(self._containers_json(n))

    def _containers_json(self, n: Network) -> dict[str, dict[str, str]]:
        return {ep.container_id: ep.network_container() for ep in self.endpoints_of(n.id)}

    async def remove(self, ref: str) -> None:
        """``DELETE /networks/{id}``."""
        n = self.get(ref)
        if n.predefined:
            raise Forbidden(f"{n.name} is a pre-defined network and cannot be removed")
        async with self._net_lock:
            if self.endpoints_of(n.id):
                raise Conflict(
                    f"error while removing network: network {n.name} id {n.id} has active endpoints"
                )

            def forget() -> None:
                self.store.delete_network(n.id)
                self.networks.pop(n.id, None)

            await self.bridges.remove(n, forget)
        self.events.publish("network", "destroy", n.id, {"name": n.name, "type": n.driver})

    async def prune(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        """``POST /networks/prune``: user networks without endpoints."""
        accept = filt.prune_matcher(filters)
        deleted = []
        for n in list(self.networks.values()):
            if n.predefined or self.endpoints_of(n.id) or not accept(n):
                continue
            try:
                await self.remove(n.id)
            except EngineError:
                continue
            deleted.append(n.name)
        self.events.publish("network", "prune", "", {"reclaimed": "0"})
        return {"NetworksDeleted": deleted or None}

    def migrate_create_request(self, body: dict[str, Any], version: tuple[int, ...]) -> list[str]:
        """Bring a container create request's network fields to the current API's shape
        (the container-wide MacAddress, as dockerd); the warnings to return."""
        warning = migrate_mac_address(body, version)
        return [warning] if warning else []

    async def remove_link(self, name: str) -> None:
        """``DELETE /containers/<parent>/<alias>?link=1``: remove a legacy link; a
        running parent's /etc/hosts loses the line."""
        parent = self.legacy_links.remove(name)
        sb = self.sandboxes.get(parent.id)
        if sb is not None and sb.owned:
            self.sandbox.rewrite_hosts(parent)

    # -- API: connect / disconnect -------------------------------------------------
    def _container(self, ref: str) -> Any:
        if self.containers is None:
            raise NotFound(f"No such container: {ref}")
        return self.containers.get(ref)

    def save_container(self, c: Container) -> None:
        """Persist a container's NetworkSettings after we changed them."""
        save = getattr(self.containers, "save", None) or self.containers.store.save
        save(c)

    async def connect(self, ref: str, container_ref: str, config: dict[str, Any]) -> None:
        """``POST /networks/{id}/connect``."""
        n = self.get(ref)
        c = self._container(container_ref)
        await self.sandbox.connect(c, n, config or {})
        self.save_container(c)

    async def disconnect(self, ref: str, container_ref: str, force: bool = False) -> None:
        """``POST /networks/{id}/disconnect``."""
        n = self.get(ref)
        c = self._container(container_ref)
        await self.sandbox.disconnect(c, n, force)
        self.save_container(c)

    # -- state for the firewall and the DNS server ---------------------------------
    def _firewall_state(self) -> tuple[list[NftNetwork], list[NftPort]]:
        nets = [
            NftNetwork(n.bridge, n.subnet, n.internal, n.masquerade, n.subnet6)
            for n in self.networks.values()
            if n.is_bridge and n.subnet and n.id in self.bridges.up
        ]
        ports = []
        for sb in self.sandboxes.values():
            targets = {
                4: self.sandbox.publish_target(sb.container_id),
                6: self.sandbox.publish_target(sb.container_id, 6),
            }
            for m in sb.port_mappings():
                target = targets[6 if ":" in m.host_ip else 4]
                if target is None:
                    continue
                ports.append(
                    NftPort(
                        m.proto,
                        m.host_ip,
                        m.host_port,
                        target,
                        m.container_port,
                        f"portside {sb.container_id[:12]}",
                    )
                )
        return nets, ports

    def names_changed(self) -> None:
        """Endpoints changed: rebuild the name index on the next query."""
        self._names_cache = None

    def _names(self) -> dict[str, dict[str, list[str]]]:
        if self._names_cache is None:
            idx: dict[str, dict[str, list[str]]] = {}
            for ep in self.endpoints.values():
                n = self.networks.get(ep.network_id)
                if n is None or not n.user_defined or not ep.ip:
                    continue
                names = idx.setdefault(n.id, {})
                for name in ep.dns_names:
                    for key in (name.lower(), f"{name}.{n.name}".lower()):
                        names.setdefault(key, [])
                        for ip in (ep.ip, ep.ip6):
                            if ip and ip not in names[key]:
                                names[key].append(ip)
            self._names_cache = idx
        return self._names_cache

    def dns_lookup(self, container_id: str, name: str) -> list[str] | None:
        """Addresses for ``name`` on the user networks ``container_id`` is on; a link
        alias of the container's own (``--link name:alias``) names its target there."""
        idx = self._names()
        out: list[str] = []
        for ep in self.endpoints_of_container(container_id):
            wanted = name
            for link in ep.links:
                target, alias = parse_link(link)
                if alias.lower() == name:
                    wanted = target.lower()
            out += [ip for ip in idx.get(ep.network_id, {}).get(wanted, []) if ip not in out]
        return out or None

    def dns_reverse(self, container_id: str, ip: str) -> str | None:
        """``<container>.<network>`` for an address on the container's user networks."""
        mine = {ep.network_id for ep in self.endpoints_of_container(container_id)}
        for ep in self.endpoints.values():
            n = self.networks.get(ep.network_id)
            if ip in (ep.ip, ep.ip6) and ep.network_id in mine and n is not None and n.user_defined:
                return f"{ep.container_name}.{n.name}"
        return None

    def _upstreams(self, container_id: str) -> list[str]:
        sb = self.sandboxes.get(container_id)
        if sb is not None and sb.upstreams:
            return sb.upstreams
        return list(self.config.dns or host_resolvers())

    async def _follow_renames(self) -> None:
        """Keep endpoint names (inspect, DNS) in step with ``docker rename``."""
        async for ev in self.events.stream(
            accept=lambda e: e.type == "container" and e.action == "rename"
        ):
            new = ev.attributes.get("name", "")
            for ep in self.endpoints_of_container(ev.actor_id):
                old = ep.container_name
                ep.container_name = new
                ep.dns_names = [new if x == old else x for x in ep.dns_names]
                self.store.update_endpoint(ep)
            self.names_changed()
            self.legacy_links.renamed()

    def reap_links(self, names: list[str], delay: float = 2.0) -> None:
        """Delete these links later if the kernel has not removed them by then."""
        if not names:
            return

        async def reap() -> None:
            await asyncio.sleep(delay)
            for name in names:
                try:
                    if await self.links.delete(name):
                        log.debug("reaped %s", name)
                except Exception:
                    log.exception("deleting %s failed", name)

        task = asyncio.ensure_future(reap())
        self._reapers.add(task)
        task.add_done_callback(self._reapers.discard)

    def netns_path(self, container_id: str) -> Path:
        """Where a container's namespace handle is mounted."""
        return self.netns_dir / container_id

    async def list_tables(self) -> list[str]:
        """nft tables (diagnostics)."""
        return await self.nft.list_tables()
