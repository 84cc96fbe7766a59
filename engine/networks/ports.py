"""Published ports: parsing ``PortBindings``/``-P`` and reserving host ports.

Traffic reaches containers through DNAT rules in the engine's nft table (see
:mod:`.nft`); no proxy process sits in the data path. To keep Docker's guarantee that a
published port is really ours, each mapping also holds a *bound, non-listening* socket on
the host address and port (as dockerd 28 does): another program cannot take the port
while the container runs, and a port some program already listens on is refused with
Docker's "port is already allocated". Incoming packets never reach that socket — DNAT
rewrites them before local delivery — except IPv6 connections to ``[::1]``, which
cannot be DNATed: for those the socket listens and :mod:`.proxy` forwards.
"""

from __future__ import annotations

import errno
import ipaddress
import logging
import random
import socket
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidParameter, SystemError_
from .model import PortMapping
from .proxy import TcpProxy

log = logging.getLogger(__name__)

PROTOS = ("tcp", "udp", "sctp")
# host addresses whose TCP ports are proxied to the container (see proxy.py)
PROXIED = ("::", "::1")


@dataclass
class WantedPort:
    """One requested binding (host port 0 = any free port in [lo, hi])."""

    proto: str
    container_port: int
    host_ip: str
    lo: int
    hi: int
    # the IPv6 twin of the binding before it: the same host port on ``::``
    twin: bool = False


def parse_port_key(key: str) -> tuple[int, str]:
    """``"80/tcp"`` → (80, "tcp"); a missing protocol means tcp."""
    port_s, _, proto = key.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in PROTOS:
        raise InvalidParameter(f"invalid proto '{proto}' in port {key}")
    try:
        port = int(port_s)
    except ValueError:
        raise InvalidParameter(f"invalid port '{port_s}' in {key}") from None
    if not 0 < port < 65536:
        raise InvalidParameter(f"invalid port '{port_s}' in {key}")
    return port, proto


def _host_range(text: str) -> tuple[int, int]:
    if not text:
        return 0, 0
    lo_s, _, hi_s = text.partition("-")
    try:
        lo = int(lo_s)
        hi = int(hi_s) if hi_s else lo
    except ValueError:
        raise InvalidParameter(f"invalid host port '{text}'") from None
    if not (0 < lo <= hi < 65536):
        raise InvalidParameter(f"invalid host port '{text}'")
    return lo, hi


def wanted_ports(
    host_config: dict[str, Any], exposed: dict[str, Any] | None, ipv6: bool = False
) -> list[WantedPort]:
    """Every binding the container asks for: ``PortBindings`` plus, with
    ``PublishAllPorts``, a random host port for each exposed port not bound already.

    A binding without a host address is made on ``0.0.0.0`` and — when the container
    has an IPv6 address to forward to (``ipv6``) — on ``::`` with the same host port,
    as dockerd binds both families. IPv6 host addresses need an IPv6 container address:
    without one they are skipped, as dockerd does with its userland proxy off."""
    out: list[WantedPort] = []
    bound: set[tuple[int, str]] = set()

    def both(proto: str, port: int, lo: int, hi: int) -> None:
        out.append(WantedPort(proto, port, "0.0.0.0", lo, hi))
        if ipv6:
            out.append(WantedPort(proto, port, "::", lo, hi, twin=True))

    for key, bindings in (host_config.get("PortBindings") or {}).items():
        port, proto = parse_port_key(key)
        for b in bindings or [{}]:
            b = b or {}
            host_ip = (b.get("HostIp") or "").strip("[]")
            lo, hi = _host_range(str(b.get("HostPort") or ""))
            bound.add((port, proto))
            if not host_ip:
                both(proto, port, lo, hi)
                continue
            try:
                addr = ipaddress.ip_address(host_ip)
            except ValueError:
                raise InvalidParameter(f"invalid host IP address {host_ip!r}") from None
            if addr.version == 6 and not ipv6:
                continue
            out.append(WantedPort(proto, port, str(addr), lo, hi))
    if host_config.get("PublishAllPorts"):
        for key in sorted(exposed or {}):
            port, proto = parse_port_key(key)
            if (port, proto) not in bound:
                both(proto, port, 0, 0)
    return out


def _family(host_ip: str) -> int:
    return socket.AF_INET6 if ":" in host_ip else socket.AF_INET


def _sock_type(proto: str) -> int:
    return socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM


def _bind(proto: str, host_ip: str, port: int) -> socket.socket | None:
    """A bound socket holding (host_ip, port), or None when the port is taken."""
    family = _family(host_ip)
    if proto == "sctp":
        # SCTP sockets need the sctp module; the nft rule alone still publishes it.
        return socket.socket(family, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
    s = socket.socket(family, _sock_type(proto) | socket.SOCK_CLOEXEC)
    try:
        if family == socket.AF_INET6:
            # "::" holds the IPv6 port only; 0.0.0.0 is held by its own socket
            s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if proto == "tcp" and host_ip in PROXIED:
            # This socket will listen and proxy (proxy.py), leaving connections in
            # TIME_WAIT; holding the port again (restart, live restore) must not fail on
            # those. A port some program listens on is still refused. (Sockets that only
            # hold a port go without, so two engines can never both hold one.)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((host_ip, port))
    except OSError as e:
        s.close()
        if e.errno in (errno.EADDRINUSE, errno.EACCES):
            return None
        if e.errno == errno.EADDRNOTAVAIL:
            raise InvalidParameter(
                f"cannot publish on {host_ip}:{port}: the host has no such address"
            ) from None
        raise
    return s


def _shown_ip(host_ip: str) -> str:
    return f"[{host_ip}]" if ":" in host_ip else host_ip


def _ephemeral_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


class PortReservations:
    """Host ports held by running containers (sockets + the mapping list)."""

    def __init__(self) -> None:
        self._held: dict[str, list[tuple[PortMapping, socket.socket]]] = {}
        self._proxies: dict[str, list[TcpProxy]] = {}

    def in_use(self) -> set[tuple[str, int]]:
        """(proto, host_port) of every port held by this engine."""
        return {(m.proto, m.host_port) for held in self._held.values() for m, _ in held}

    def _conflicts(self, proto: str, host_ip: str, port: int) -> bool:
        family = _family(host_ip)
        for held in self._held.values():
            for m, _ in held:
                if m.proto != proto or m.host_port != port or _family(m.host_ip) != family:
                    continue
                if m.host_ip == host_ip or {m.host_ip, host_ip} & {"0.0.0.0", "::"}:
                    return True
        return False

    def reserve(
        self, container_id: str, endpoint: str, wanted: list[WantedPort]
    ) -> list[PortMapping]:
        """Reserve every wanted port for ``container_id`` (all or nothing)."""
        got: list[tuple[PortMapping, socket.socket]] = []
        try:
            for w in wanted:
                if w.twin and got and not w.lo:
                    # the IPv6 twin of a random port takes the port its IPv4 half got
                    port = got[-1][0].host_port
                    w = WantedPort(w.proto, w.container_port, w.host_ip, port, port)
                got.append(self._reserve_one(w, endpoint))
        except BaseException:
            for _, s in got:
                s.close()
            raise
        self._held.setdefault(container_id, []).extend(got)
        return [m for m, _ in got]

    def _reserve_one(self, w: WantedPort, endpoint: str) -> tuple[PortMapping, socket.socket]:
        if w.lo:
            candidates = list(range(w.lo, w.hi + 1))
        else:
            lo, hi = _ephemeral_range()
            start = random.randint(lo, hi)
            candidates = list(range(start, hi + 1)) + list(range(lo, start))
        for port in candidates:
            if self._conflicts(w.proto, w.host_ip, port):
                continue
            s = _bind(w.proto, w.host_ip, port)
            if s is not None:
                return PortMapping(w.proto, w.container_port, w.host_ip, port), s
        shown = f"{w.lo}-{w.hi}" if w.hi != w.lo else str(w.lo)
        if not w.lo:
            raise SystemError_("no free host port left in the ephemeral range")
        raise SystemError_(
            f"driver failed programming external connectivity on endpoint {endpoint}: "
            f"Bind for {_shown_ip(w.host_ip)}:{shown} failed: port is already allocated"
        )

    def readopt(self, container_id: str, mappings: list[PortMapping]) -> None:
        """Hold the ports of a container found running at start-up (live restore).

        A port some other program grabbed while we were down keeps its DNAT rule (the
        container still answers) but is logged, since we cannot hold it any more.
        """
        got = []
        for m in mappings:
            s = _bind(m.proto, m.host_ip, m.host_port)
            if s is None:
                log.warning(
                    "published port %s:%d/%s of %s was taken while the engine was down",
                    m.host_ip,
                    m.host_port,
                    m.proto,
                    container_id[:12],
                )
                continue
            got.append((m, s))
        self._held[container_id] = got

    async def proxy_loopback6(self, container_id: str, target6: str | None) -> None:
        """Serve the container's TCP ports held on ``::1`` or ``::`` for clients on
        ``[::1]``, which DNAT cannot reach (:mod:`.proxy`); ``target6`` is the
        container's IPv6 address."""
        for proxy in self._proxies.pop(container_id, []):
            proxy.close()
        if not target6:
            return
        started = []
        for m, s in self._held.get(container_id, []):
            if m.proto == "tcp" and m.host_ip in PROXIED:
                proxy = TcpProxy(s, target6, m.container_port)
                await proxy.start()
                started.append(proxy)
        self._proxies[container_id] = started

    def release(self, container_id: str) -> None:
        """Free a container's ports."""
        for proxy in self._proxies.pop(container_id, []):
            proxy.close()
        for _, s in self._held.pop(container_id, []):
            s.close()

    def close(self) -> None:
        """Drop every socket (engine shutdown; DNAT rules stay for live restore)."""
        for cid in list(self._held):
            self.release(cid)


def port_settings(
    mappings: list[PortMapping], exposed: dict[str, Any] | None, bindings: dict[str, Any] | None
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """``NetworkSettings.Ports`` (inspect, ``docker port``) and the ``Ports`` list of
    ``docker ps``: every exposed or bound port, with its host bindings or null."""
    ports: dict[str, Any] = {}
    for key in list(exposed or {}) + list(bindings or {}):
        port, proto = parse_port_key(key)
        ports.setdefault(f"{port}/{proto}", None)
    summary = []
    for m in mappings:
        key = f"{m.container_port}/{m.proto}"
        ports[key] = (ports.get(key) or []) + [{"HostIp": m.host_ip, "HostPort": str(m.host_port)}]
        summary.append(
            {
                "IP": m.host_ip,
                "PrivatePort": m.container_port,
                "PublicPort": m.host_port,
                "Type": m.proto,
            }
        )
    for key, value in ports.items():
        if value is None:
            port, proto = parse_port_key(key)
            summary.append({"PrivatePort": port, "Type": proto})
    return ports, summary
