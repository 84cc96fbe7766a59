"""Links, addresses and routes through pyroute2's asyncio netlink API.

:class:`HostLinks` holds one netlink socket in the host namespace (bridges, host ends of
veth pairs), opened on first use: pyroute2 costs ~10 MiB once imported, so an engine
that never plugs a container into a bridge never loads it (read-only questions — host
networks, our leftover links — are answered by :mod:`.hostnets` without it). Inside a
container's namespace we open a short-lived netlink socket created there (see
:mod:`.nsutil`) and configure the container end of the veth, its address and the
default route with it. No ``ip`` processes.

Every link the engine creates carries an interface alias ``portside/<default bridge>``
so leftovers can be found and removed by owner, whatever their names.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from pathlib import Path
from typing import TYPE_CHECKING

from . import hostnets, nsutil

if TYPE_CHECKING:
    from pyroute2 import AsyncIPRoute

log = logging.getLogger(__name__)
# pyroute2 logs every netlink message at debug level; the engine log is not the place.
logging.getLogger("pyroute2").setLevel(logging.WARNING)

ENOENT, EEXIST, ENODEV, ESRCH = 2, 17, 19, 3
IFA_F_NODAD = 0x02
NETLINK_ROUTE = 0
# (family, type, proto) of a route netlink socket, for nsutil's socket factories
NETLINK_SOCKET = (socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_ROUTE)


def _new_iproute(sock: socket.socket | None = None) -> AsyncIPRoute:
    """An AsyncIPRoute; the first call imports pyroute2."""
    from pyroute2 import AsyncIPRoute

    return AsyncIPRoute(use_socket=sock) if sock is not None else AsyncIPRoute()


def _netlink_error() -> type[Exception]:
    """pyroute2's NetlinkError (an ``except`` clause evaluates this only when an
    exception is being matched, by which time pyroute2 is loaded)."""
    from pyroute2.netlink.exceptions import NetlinkError

    return NetlinkError


def _sysctl(path: str, value: str) -> None:
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError as e:
        log.warning("cannot set %s=%s: %s", path, value, e)


class HostLinks:
    """Netlink operations in the host namespace."""

    def __init__(self, owner: str) -> None:
        self.owner = owner  # the ifalias every link we create carries
        self._ipr: AsyncIPRoute | None = None
        # pyroute2's async socket multiplexes requests, but dumps interleaved with
        # changes have confused it in the past; a lock keeps requests strictly ordered.
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        """Open the host netlink socket (every operation does this when needed)."""
        async with self._lock:
            await self._open()

    async def _open(self) -> AsyncIPRoute:
        """The socket, opened (and pyroute2 imported) on first use; hold ``_lock``."""
        if self._ipr is None:
            ipr = _new_iproute()
            try:
                await ipr.setup_endpoint()
            except BaseException:
                ipr.close()
                raise
            self._ipr = ipr
        return self._ipr

    def close(self) -> None:
        """Close the socket (kernel state is untouched)."""
        if self._ipr is not None:
            self._ipr.close()
            self._ipr = None

    # -- queries -------------------------------------------------------------------
    async def index(self, name: str) -> int | None:
        """The ifindex of ``name`` or None."""
        async with self._lock:
            ipr = await self._open()
            found = await ipr.link_lookup(ifname=name)
        return found[0] if found else None

    async def owned_links(self) -> list[str]:
        """Names of every link carrying our owner alias (read from sysfs: no netlink)."""
        return hostnets.owned_links(self.owner)

    # -- bridges ---------------------------------------------------------------------
    async def ensure_bridge(
        self,
        name: str,
        gateway: str,
        prefixlen: int,
        mtu: int,
        v6: tuple[str, int] | None = None,
    ) -> int:
        """Create (or adopt our own) bridge ``name`` with ``gateway/prefixlen`` (and the
        IPv6 gateway ``v6``, without duplicate address detection), up.

        A bridge of that name that is not ours is refused rather than taken over.
        """
        async with self._lock:
            ipr = await self._open()
            found = await ipr.link_lookup(ifname=name)
            if found:
                idx = found[0]
                msgs = await ipr.link("get", index=idx)
                alias = msgs[0].get("ifalias") if msgs else None
                kind = msgs[0].get(("linkinfo", "kind")) if msgs else None
                if alias != self.owner or kind not in (None, "bridge"):
                    raise FileExistsError(f"interface {name} exists and is not Portside's")
            else:
                await ipr.link("add", ifname=name, kind="bridge", mtu=mtu)
                idx = (await ipr.link_lookup(ifname=name))[0]
                await ipr.link("set", index=idx, ifalias=self.owner)
            have = set()
            async for a in await ipr.get_addr(family=socket.AF_INET, index=idx):
                have.add((a.get("address"), a["prefixlen"]))
            if (gateway, prefixlen) not in have:
                for addr, plen in have:  # a stale address from an older subnet
                    await ipr.addr("del", index=idx, address=addr, prefixlen=plen)
                await ipr.addr("add", index=idx, address=gateway, prefixlen=prefixlen)
            have6 = set()
            async for a in await ipr.get_addr(family=socket.AF_INET6, index=idx):
                if a["scope"] == 0:  # global: link-local addresses are the kernel's
                    have6.add((a.get("address"), a["prefixlen"]))
            for addr, plen in have6 - ({v6} if v6 else set()):
                await ipr.addr("del", index=idx, address=addr, prefixlen=plen)
            if v6 and v6 not in have6:
                await ipr.addr("add", index=idx, address=v6[0], prefixlen=v6[1], flags=IFA_F_NODAD)
            await ipr.link("set", index=idx, state="up")
        # Published ports on 127.0.0.1 are DNATed to the bridge; the kernel drops
        # packets with a loopback source on a non-loopback device unless this is set.
        _sysctl(f"/proc/sys/net/ipv4/conf/{name}/route_localnet", "1")
        return idx

    async def delete(self, name: str) -> bool:
        """Delete a link by name if it exists and is ours; True when deleted."""
        if hostnets.alias_of(name) is None:
            return False  # gone already (a veth dies with its namespace): no netlink needed
        async with self._lock:
            ipr = await self._open()
            # A veth whose namespace just went is removed by the kernel on its own, at
            # any point of this: "no such device" is "gone already".
            try:
                found = await ipr.link_lookup(ifname=name)
                if not found:
                    return False
                msgs = await ipr.link("get", index=found[0])
                if not msgs or msgs[0].get("ifalias") != self.owner:
                    log.warning("not deleting %s: it is not Portside's", name)
                    return False
                await ipr.link("del", index=found[0])
            except _netlink_error() as e:
                if getattr(e, "code", None) not in (ENODEV, ENOENT):
                    raise
                return False
        return True

    # -- veth pairs ------------------------------------------------------------------
    async def add_veth(
        self, host_name: str, ns_path: Path, peer_name: str, bridge: str, mtu: int, mac: str
    ) -> None:
        """A veth pair: ``host_name`` enslaved to ``bridge`` and up; ``peer_name`` created
        directly inside the namespace (so it never clashes with host names like eth0)."""
        fd = os.open(ns_path, os.O_RDONLY | os.O_CLOEXEC)
        try:
            async with self._lock:
                ipr = await self._open()
                br = await ipr.link_lookup(ifname=bridge)
                if not br:
                    raise FileNotFoundError(f"bridge {bridge} does not exist")
                await ipr.link(
                    "add",
                    ifname=host_name,
                    kind="veth",
                    mtu=mtu,
                    peer={"ifname": peer_name, "net_ns_fd": fd, "address": mac, "mtu": mtu},
                )
                idx = (await ipr.link_lookup(ifname=host_name))[0]
                await ipr.link("set", index=idx, master=br[0], state="up", ifalias=self.owner)
        finally:
            os.close(fd)

    async def enslave(self, name: str, bridge: str) -> bool:
        """Put an existing host veth back on its bridge (live restore after a bridge was
        re-created); False when the veth is gone."""
        async with self._lock:
            ipr = await self._open()
            idx = await ipr.link_lookup(ifname=name)
            br = await ipr.link_lookup(ifname=bridge)
            if not idx or not br:
                return False
            await ipr.link("set", index=idx[0], master=br[0], state="up")
        return True


class NsLinks:
    """A netlink socket inside one container namespace, for one configuration pass."""

    def __init__(self, ipr: AsyncIPRoute) -> None:
        self.ipr = ipr

    @classmethod
    async def open(cls, ns_path: Path) -> NsLinks:
        """Open a netlink socket created inside ``ns_path``."""
        sock = await nsutil.in_ns_thread(nsutil.socket_in, ns_path, *NETLINK_SOCKET)
        return await cls.from_socket(sock)

    @classmethod
    async def from_socket(cls, sock: socket.socket) -> NsLinks:
        """Wrap a netlink socket already created inside a namespace."""
        try:
            ipr = _new_iproute(sock)
            await ipr.setup_endpoint()
        except BaseException:
            sock.close()
            raise
        return cls(ipr)

    def close(self) -> None:
        """Close the socket."""
        self.ipr.close()

    async def __aenter__(self) -> NsLinks:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.close()

    async def names(self) -> list[str]:
        """Interface names inside the namespace."""
        return [m.get("ifname") async for m in await self.ipr.get_links()]

    async def configure(
        self, ifname: str, ip: str, prefixlen: int, v6: tuple[str, int] | None = None
    ) -> None:
        """Address ``ifname`` (IPv6 too with ``v6``) and bring it up. The IPv6 address
        skips duplicate address detection, as dockerd's: the engine's IPAM already made
        it unique, and a tentative address cannot be bound for a second or so."""
        idx = (await self.ipr.link_lookup(ifname=ifname))[0]
        await self.ipr.addr("add", index=idx, address=ip, prefixlen=prefixlen)
        if v6:
            await self.ipr.addr("add", index=idx, address=v6[0], prefixlen=v6[1], flags=IFA_F_NODAD)
        await self.ipr.link("set", index=idx, state="up")

    async def default_route6(self, gateway: str | None) -> None:
        """Replace the IPv6 default route (None removes it)."""
        try:
            await self.ipr.route("del", dst="::/0", family=socket.AF_INET6)
        except _netlink_error() as e:
            if getattr(e, "code", None) not in (ESRCH, ENOENT):
                raise
        if gateway:
            await self.ipr.route("add", dst="::/0", gateway=gateway, family=socket.AF_INET6)

    async def default_route(self, gateway: str | None) -> None:
        """Replace the default route (None removes it)."""
        try:
            await self.ipr.route("del", dst="0.0.0.0/0")
        except _netlink_error() as e:
            if getattr(e, "code", None) not in (ESRCH, ENOENT):
                raise
        if gateway:
            await self.ipr.route("add", dst="0.0.0.0/0", gateway=gateway)

    async def has_default_route(self) -> str | None:
        """The default gateway inside the namespace, if any."""
        async for r in await self.ipr.get_routes(family=socket.AF_INET, table=254):
            if not r["dst_len"]:
                return r.get("gateway")
        return None
