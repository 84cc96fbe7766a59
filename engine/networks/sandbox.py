"""A container's network: its namespace, endpoints, published ports, DNS and /etc files.

Lifecycle (driven by :class:`.hook.NetworkHook`):

- ``validate_create``: the networks named by NetworkMode/EndpointsConfig exist and the
  requested settings are allowed; NetworkSettings.Networks records them (no addresses).
- ``prepare``: namespace under ``<exec-root>/netns/<id>``, one veth per network with an
  address (static or next free), default route, published ports reserved, DNS sockets,
  /etc/hosts and resolv.conf, and the namespace path set in the OCI spec.
- ``started``: the published ports enter the nft table.
- ``teardown`` (stop/remove): everything released; idempotent and works from the
  stored state alone, so it also cleans up after a crash.
- ``restore``, ``connect``, ``disconnect``: see :mod:`.live`.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import Conflict, EngineError, Forbidden, InvalidParameter, NotFound
from . import ipam, nsutil
from .dns import DNS_SOCKETS
from .endpoints import (
    container_dir,
    desired_macs,
    network_mode,
    networking_config,
    show_desired_mac,
    validate_endpoint,
)
from .etchosts import hosts_text, resolv_text, wants_host_gateway, write_in_place
from .legacy_links import merge_link_env
from .links import NETLINK_SOCKET, NsLinks
from .live import LiveOps
from .model import Endpoint, Network, Sandbox, endpoint_settings
from .ports import port_settings, wanted_ports

if TYPE_CHECKING:
    from ..containers.model import Container
    from .service import NetworkService

log = logging.getLogger(__name__)


class SandboxManager(LiveOps):
    """Per-container network plumbing for one NetworkService."""

    def __init__(self, svc: NetworkService) -> None:
        self.svc = svc
        self._locks: dict[str, asyncio.Lock] = {}
        # (network id, IP version) -> the address handed out last
        self._last_ip: dict[tuple[str, int], ipaddress.IPv4Address | ipaddress.IPv6Address] = {}

    def lock(self, cid: str) -> asyncio.Lock:
        """Serialises prepare/teardown/connect/disconnect of one container."""
        return self._locks.setdefault(cid, asyncio.Lock())

    # -- create ----------------------------------------------------------------------
    def validate_create(self, c: Container) -> None:
        """Check the container's networks and record them in NetworkSettings."""
        mode = network_mode(c)
        hc = c.host_config
        eps = (networking_config(c) or {}).get("EndpointsConfig") or {}
        settings: dict[str, Any] = {}
        macs = desired_macs(c)
        macs.clear()
        first = ""
        if mode.startswith("container:"):
            if hc.get("PortBindings") or hc.get("PublishAllPorts"):
                raise InvalidParameter(
                    "conflicting options: port publishing and the container type network mode"
                )
            if eps:
                raise InvalidParameter(
                    "conflicting options: network endpoints and the container type network mode"
                )
        else:
            # Like dockerd, a network that does not exist (yet) is not an error at create:
            # start fails with "network <name> not found". (A 404 here would also make
            # the docker CLI believe the image is missing and try to pull it.)
            primary = self.svc.find(mode)
            first = primary.name if primary is not None else mode
            ids = {first, mode} | ({primary.id} if primary is not None else set())
            if first == "bridge":
                ids.add("default")
            wanted: dict[str, dict[str, Any]] = {first: {}}
            for ref, cfg in eps.items():
                if ref in ids:
                    wanted[first] = cfg or {}
                    continue
                # The CLI names the default network "default" in EndpointsConfig too.
                n = self.svc.find("bridge" if ref == "default" else ref)
                wanted[n.name if n is not None else ref] = cfg or {}
            if len(wanted) > 1 and {"host", "none"} & set(wanted):
                raise InvalidParameter(
                    "container cannot be connected to multiple networks with one of the "
                    "networks in private (none) or host mode"
                )
            for name, cfg in wanted.items():
                n = self.svc.find(name)
                try:
                    validate_endpoint(n, cfg)
                except InvalidParameter as e:
                    raise InvalidParameter(
                        f"invalid config for network {name}: {e.message}"
                    ) from None
                key = n.name if n is not None else name
                settings[key] = endpoint_settings(n, None, cfg)
                if cfg.get("MacAddress"):
                    macs[key] = cfg["MacAddress"]
        show_desired_mac(c, first)
        self.svc.legacy_links.register(c)
        c.network_settings["Networks"] = settings
        ports, _ = port_settings([], c.config.get("ExposedPorts"), hc.get("PortBindings"))
        c.network_settings["Ports"] = ports
        c.network_settings["PortsSummary"] = []

    # -- start -----------------------------------------------------------------------
    def _wanted(self, c: Container) -> list[tuple[Network, dict[str, Any]]]:
        """(network, EndpointSettings) in attach order: the NetworkMode network first."""
        nets = c.network_settings.get("Networks") or {}
        mode = network_mode(c)
        primary = self.svc.find(mode) if not mode.startswith("container:") else None
        first = primary.name if primary is not None else mode
        order = sorted(nets, key=lambda name: name != first)  # stable: others keep order
        out = []
        for name in order:
            cfg = nets[name] or {}
            n = self.svc.networks.get(cfg.get("NetworkID") or "") or self.svc.find(name)
            if n is None:
                raise NotFound(f"network {name} not found")
            out.append((n, cfg))
        if not out and not mode.startswith("container:"):
            n = self.svc.get(mode)
            out.append((n, {}))
        return out

    async def prepare(self, c: Container, spec: dict[str, Any]) -> None:
        """Build the container's network before the runtime creates it."""
        async with self.lock(c.id):
            await self._teardown(c.id, c)  # leftovers of a crash or a failed start
            try:
                await self._prepare(c, spec)
            except BaseException:
                await self._teardown(c.id, c)
                raise

    async def _prepare(self, c: Container, spec: dict[str, Any]) -> None:
        svc = self.svc
        mode = network_mode(c)
        namespaces = spec.setdefault("linux", {}).setdefault("namespaces", [])
        if mode == "host":
            namespaces[:] = [ns for ns in namespaces if ns.get("type") != "network"]
            n = svc.get("host")
            sb = Sandbox(c.id, secrets.token_hex(32), "", owned=False)
            svc.sandboxes[c.id] = sb
            svc.store.save_sandbox(sb)
            ep = self._new_endpoint(c, n, {}, "", None)
            self._register(ep, c)
            self._publish_settings(c, sb, [(n, {}, ep)], [])
            return
        if mode.startswith("container:"):
            other = svc.containers.get(mode.split(":", 1)[1]) if svc.containers else None
            osb = svc.sandboxes.get(other.id) if other is not None else None
            if other is None or osb is None or not getattr(other, "running", True):
                raise Conflict(
                    f"cannot join network namespace of a non running container: {mode[10:]}"
                )
            if osb.path:
                _set_netns(namespaces, osb.path)
            else:  # the other container uses the host's network: so does this one
                namespaces[:] = [ns for ns in namespaces if ns.get("type") != "network"]
            sb = Sandbox(c.id, osb.key, osb.path, owned=False)
            svc.sandboxes[c.id] = sb
            svc.store.save_sandbox(sb)
            _share_etc_files(container_dir(svc, other), container_dir(svc, c))
            c.network_settings.update(SandboxID=sb.key, SandboxKey=sb.path, Networks={})
            return
        wanted = self._wanted(c)
        on_default_bridge = any(n.name == "bridge" for n, _ in wanted)
        if on_default_bridge:
            svc.legacy_links.check_running(c)
        try:
            await self._plumb(c, spec, wanted, on_default_bridge)
        except EngineError as e:
            # dockerd 28 prefixes what fails in this stage (addresses, ports, links) so
            raise type(e)(f"failed to set up container networking: {e.message}") from None

    async def _plumb(
        self,
        c: Container,
        spec: dict[str, Any],
        wanted: list[tuple[Network, dict[str, Any]]],
        on_default_bridge: bool,
    ) -> None:
        """Namespace, endpoints, ports, DNS and /etc files of a bridge/none container."""
        svc = self.svc
        mode = network_mode(c)
        namespaces = spec.setdefault("linux", {}).setdefault("namespaces", [])
        if on_default_bridge:
            svc.legacy_links.check_on_default_bridge(c)
        dns = any(n.user_defined for n, _ in wanted)
        # Only bridge networks need netlink inside the namespace (lo comes up with it):
        # --network none never loads the netlink library.
        bridged = any(n.is_bridge for n, _ in wanted)
        path = svc.netns_path(c.id)
        socks = await nsutil.in_ns_thread(
            nsutil.create_netns,
            path,
            ((NETLINK_SOCKET,) if bridged else ()) + (DNS_SOCKETS if dns else ()),
        )
        dns_socks = socks[1:] if bridged else socks
        hc = c.host_config
        sb = Sandbox(c.id, secrets.token_hex(32), str(path), dns=dns)
        sb.upstreams = list(hc.get("Dns") or svc.config.dns or [])
        svc.sandboxes[c.id] = sb
        svc.store.save_sandbox(sb)
        ns = None
        if bridged:
            try:
                ns = await NsLinks.from_socket(socks[0])
            except BaseException:
                for s in dns_socks:
                    s.close()
                raise
        attached: list[tuple[Network, dict[str, Any], Endpoint]] = []
        try:
            for i, (n, cfg) in enumerate(wanted):
                ep = await self._attach(c, ns, sb, n, cfg, f"eth{i}" if n.is_bridge else "")
                attached.append((n, cfg, ep))
        except BaseException:
            for s in dns_socks:
                s.close()
            raise
        finally:
            if ns is not None:
                ns.close()
        if dns:
            await svc.dns.serve(c.id, path, dns_socks)
        else:
            for s in dns_socks:
                s.close()
        mappings = []
        if mode != "none" and self.publish_target(c.id) is not None:
            ipv6 = self.publish_target(c.id, 6) is not None
            wanted_p = wanted_ports(hc, c.config.get("ExposedPorts"), ipv6)
            mappings = svc.reservations.reserve(c.id, c.name, wanted_p)
            sb.ports = [m.to_json() for m in mappings]
            svc.store.save_sandbox(sb)
            await svc.reservations.proxy_loopback6(c.id, self.publish_target(c.id, 6))
        default = svc.by_name("bridge")
        if default is not None and wants_host_gateway(hc.get("ExtraHosts")):
            # host-gateway is the default bridge's address: it must be on the host.
            await svc.bridges.ensure_up(default)
        self._write_etc(c, dns)
        _set_netns(namespaces, str(path))
        self._publish_settings(c, sb, attached, mappings)
        if on_default_bridge:
            process = spec.setdefault("process", {})
            process["env"] = merge_link_env(list(process.get("env") or []), svc.legacy_links.env(c))
            # Containers linked to this one see its (new) address.
            for parent in svc.legacy_links.parents_of(c.id):
                if parent.id in svc.sandboxes and svc.sandboxes[parent.id].owned:
                    self._write_etc(parent, False)

    def _new_endpoint(
        self,
        c: Container,
        n: Network,
        cfg: dict[str, Any],
        ifname: str,
        ip: str | None,
        ip6: str | None = None,
    ) -> Endpoint:
        aliases = list(cfg.get("Aliases") or [])
        dns_names = [c.name, *aliases, c.id[:12]] if n.user_defined else []
        prefixlen = ipaddress.ip_network(n.subnet).prefixlen if ip else 0
        wanted_mac = desired_macs(c).get(n.name)
        mac = (ipam.parse_mac(wanted_mac) if wanted_mac else ipam.mac_for(ip)) if ip else ""
        return Endpoint(
            id=secrets.token_hex(32),
            network_id=n.id,
            container_id=c.id,
            container_name=c.name,
            ifname=ifname,
            host_ifname=("veth" + secrets.token_hex(4)[:7]) if ip else "",
            ip=ip or "",
            prefixlen=prefixlen,
            gateway=n.gateway if ip else "",
            mac=mac,
            aliases=aliases,
            dns_names=list(dict.fromkeys(dns_names)),
            static_ip=((cfg.get("IPAMConfig") or {}).get("IPv4Address") or ""),
            links=list(cfg.get("Links") or []) if n.user_defined else [],
            ip6=ip6 or "",
            prefixlen6=ipaddress.ip_network(n.subnet6).prefixlen if ip6 else 0,
            gateway6=n.gateway6 if ip6 else "",
        )

    def _allocate(self, n: Network, cfg: dict[str, Any], version: int = 4) -> str:
        """An address for a new endpoint on ``n``: the user's (``--ip``/``--ip6``), else
        the next free one after the last handed out (as dockerd's IPAM)."""
        eps = self.svc.endpoints_of(n.id)
        if version == 4:
            subnet, gateway, ip_range, key = n.subnet, n.gateway, n.ip_range, "IPv4Address"
            taken = {ep.ip for ep in eps if ep.ip}
        else:
            subnet, gateway, ip_range, key = n.subnet6, n.gateway6, n.ip_range6, "IPv6Address"
            taken = {ep.ip6 for ep in eps if ep.ip6}
        net = ipaddress.ip_network(subnet)
        taken.add(gateway)
        static = (cfg.get("IPAMConfig") or {}).get(key)
        if static:
            addr = ipaddress.ip_address(static)
            if addr not in net:  # the subnet was chosen again since the check at create
                raise InvalidParameter(
                    f"invalid endpoint settings:\nno configured subnet or ip-range contain "
                    f"the IP address {static}"
                )
            # dockerd's IPAM holds the gateway, network and broadcast addresses as used.
            reserved = {net.network_address, net.broadcast_address if version == 4 else None}
            if str(addr) in taken or addr in reserved:
                raise Forbidden("Address already in use")
            return str(addr)
        pool = ipaddress.ip_network(ip_range) if ip_range else net
        last = (n.id, version)
        chosen = ipam.next_free(net, pool, taken, self._last_ip.get(last))
        self._last_ip[last] = chosen
        return str(chosen)

    async def _attach(
        self,
        c: Container,
        ns: NsLinks | None,
        sb: Sandbox,
        n: Network,
        cfg: dict[str, Any],
        ifname: str,
        announce: bool = True,
    ) -> Endpoint:
        """One endpoint: addresses allocated and recorded, veth plugged and configured
        (``ns``, the namespace's netlink, is needed for bridge networks only); with
        ``announce=False`` the caller publishes the connect event once its settings show."""
        svc = self.svc
        if n.is_bridge:
            # Before allocating: bringing the bridge up may still change its subnet.
            await svc.bridges.ensure_up(n)
        ip = self._allocate(n, cfg) if n.is_bridge else None
        ip6 = self._allocate(n, cfg, 6) if n.is_bridge and n.subnet6 else None
        ep = self._new_endpoint(c, n, cfg, ifname, ip, ip6)
        self._register(ep, c, announce)
        if not n.is_bridge:
            return ep
        assert ns is not None, "a bridge endpoint needs the namespace's netlink socket"
        try:
            await svc.links.add_veth(ep.host_ifname, Path(sb.path), ifname, n.bridge, n.mtu, ep.mac)
            await ns.configure(
                ifname, ep.ip, ep.prefixlen, (ep.ip6, ep.prefixlen6) if ip6 else None
            )
            others = [e for e in svc.endpoints_of_container(c.id) if e is not ep]
            if not n.internal and not any(e.default_route for e in others):
                await ns.default_route(n.gateway)
                ep.default_route = True
            if ip6 and not n.internal and not any(e.default_route6 for e in others):
                await ns.default_route6(n.gateway6)
                ep.default_route6 = True
            svc.store.update_endpoint(ep)
        except BaseException:
            await self._drop(ep, c.name)
            raise
        return ep

    def _register(self, ep: Endpoint, c: Container, announce: bool = True) -> None:
        svc = self.svc
        svc.store.insert_endpoint(ep)
        svc.endpoints[ep.id] = ep
        svc.names_changed()
        if announce:
            self._announce_connect(svc.networks[ep.network_id], c)

    def _announce_connect(self, n: Network, c: Container) -> None:
        self.svc.events.publish(
            "network", "connect", n.id, {"container": c.id, "name": n.name, "type": n.driver}
        )

    async def _drop(self, ep: Endpoint, cname: str | None = None, unlink: bool = True) -> None:
        """Release an endpoint; ``unlink=False`` leaves the veth to the kernel, which
        destroys it with the namespace (deleting it here costs ~20 ms of synchronize_net
        on the stop path)."""
        svc = self.svc
        if ep.host_ifname and unlink:
            try:
                await svc.links.delete(ep.host_ifname)
            except Exception:
                log.exception("deleting %s failed", ep.host_ifname)
        svc.store.delete_endpoint(ep.id)
        svc.endpoints.pop(ep.id, None)
        svc.names_changed()
        n = svc.networks.get(ep.network_id)
        if n is not None:
            svc.events.publish(
                "network",
                "disconnect",
                n.id,
                {"container": ep.container_id, "name": n.name, "type": n.driver},
            )

    def publish_target(self, cid: str, version: int = 4) -> str | None:
        """The address published ports of ``cid`` forward to (IPv4, or IPv6 with
        ``version=6``): the endpoint with the default route, else the first on a
        non-internal bridge network."""
        eps = [e for e in self.svc.endpoints_of_container(cid) if e.ip]
        if version == 6:
            eps = [e for e in eps if e.ip6]
        pick = (lambda e: e.ip) if version == 4 else (lambda e: e.ip6)
        for e in eps:
            if e.default_route if version == 4 else e.default_route6:
                return pick(e)
        for e in eps:
            n = self.svc.networks.get(e.network_id)
            if n is not None and not n.internal:
                return pick(e)
        return None

    def rewrite_hosts(self, c: Container) -> None:
        """Write a running container's /etc/hosts again (its links changed)."""
        self._write_etc(c, False)

    def _write_etc(self, c: Container, dns: bool) -> None:
        svc = self.svc
        d = container_dir(svc, c)
        hc = c.host_config
        own = [e.ip for e in svc.endpoints_of_container(c.id) if e.ip]
        own += [e.ip6 for e in svc.endpoints_of_container(c.id) if e.ip6]
        bridge = svc.by_name("bridge")
        on_bridge = bridge is not None and any(
            e.network_id == bridge.id for e in svc.endpoints_of_container(c.id)
        )
        text = hosts_text(
            c.config.get("Hostname") or c.id[:12],
            c.config.get("Domainname") or "",
            own,
            hc.get("ExtraHosts"),
            svc.legacy_links.hosts_entries(c) if on_bridge else [],
            bridge.gateway if bridge else "",
        )
        write_in_place(d / "hosts", text)
        if dns:
            write_in_place(
                d / "resolv.conf", resolv_text(hc.get("DnsSearch"), hc.get("DnsOptions"))
            )

    def _publish_settings(
        self,
        c: Container,
        sb: Sandbox,
        attached: list[tuple[Network, dict[str, Any], Endpoint]],
        mappings: list[Any],
    ) -> None:
        nets = {n.name: endpoint_settings(n, ep, cfg) for n, cfg, ep in attached}
        ports, summary = port_settings(
            mappings, c.config.get("ExposedPorts"), c.host_config.get("PortBindings")
        )
        c.network_settings.update(
            SandboxID=sb.key,
            SandboxKey=sb.path,
            Networks=nets,
            Ports=ports,
            PortsSummary=summary,
        )

    async def started(self, c: Container) -> None:
        """The container runs: its published ports enter the firewall table."""
        sb = self.svc.sandboxes.get(c.id)
        if sb is not None and sb.ports:
            await self.svc.bridges.sync_firewall()

    # -- stop / remove ---------------------------------------------------------------
    async def teardown(self, cid: str, c: Container | None = None, forget: bool = False) -> None:
        """Release everything of a container's network (idempotent); ``forget`` when the
        container is removed for good."""
        async with self.lock(cid):
            await self._teardown(cid, c)
        if forget:
            self._locks.pop(cid, None)

    async def _teardown(self, cid: str, c: Container | None) -> None:
        svc = self.svc
        sb = svc.sandboxes.pop(cid, None)
        svc.dns.stop(cid)  # its sockets would keep the namespace alive
        svc.reservations.release(cid)
        own_ns = sb is not None and sb.owned and bool(sb.path)
        veths = []
        for ep in svc.endpoints_of_container(cid):
            await self._drop(ep, unlink=not own_ns)
            if ep.host_ifname:
                veths.append(ep.host_ifname)
        if sb is not None and own_ns:
            try:
                await nsutil.in_ns_thread(nsutil.remove_netns, Path(sb.path))
            except OSError as e:
                log.warning("removing namespace %s failed: %s", sb.path, e)
            # Normally gone with the namespace; a straggler (something still holding the
            # namespace) is deleted a little later, off the stop path.
            svc.reap_links(veths)
        svc.store.delete_sandbox(cid)
        if sb is not None and sb.ports:
            await svc.bridges.sync_firewall()
        if c is not None:
            _clear_settings(c, desired_macs(c))


def _set_netns(namespaces: list[dict[str, Any]], path: str | None) -> None:
    for ns in namespaces:
        if ns.get("type") == "network":
            if path:
                ns["path"] = path
            else:
                ns.pop("path", None)
            return
    entry: dict[str, Any] = {"type": "network"}
    if path:
        entry["path"] = path
    namespaces.append(entry)


def _share_etc_files(src: Path, dst: Path) -> None:
    """container:<id> mode shares the other container's hosts and resolv.conf."""
    for name in ("hosts", "resolv.conf"):
        try:
            write_in_place(dst / name, (src / name).read_text())
        except OSError:
            pass


def _clear_settings(c: Container, macs: dict[str, str]) -> None:
    """NetworkSettings of a stopped container: networks kept, addresses gone; the MAC
    shown is the one the user asked for, if any."""
    ns = c.network_settings
    for name, ep in (ns.get("Networks") or {}).items():
        if isinstance(ep, dict):
            mac = macs.get(name, "")
            ep.update(
                EndpointID="",
                Gateway="",
                IPAddress="",
                IPPrefixLen=0,
                DNSNames=None,
                MacAddress=mac,
            )
    ns.update(SandboxID="", SandboxKey="", Ports={}, PortsSummary=[])
