"""A small network lab for library tests: bridges and namespaces with unique names.

Everything a test makes carries the test's own tag and is removed in the fixture's
finally, pass or fail. Traffic only flows between the host and the namespaces and
bridges the lab created, or over loopback.
"""

from __future__ import annotations

import asyncio
import ipaddress
import os
import socket
import subprocess
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from labnet import links_with
from portside.engine.networks import hostnets, ipam, nsutil
from portside.engine.networks.links import NETLINK_SOCKET, HostLinks, NsLinks


@dataclass
class Bridge:
    name: str
    net: ipaddress.IPv4Network
    gateway: str
    hosts: list[str] = field(default_factory=list)


@dataclass
class Box:
    """A namespace plugged into a bridge."""

    path: Path
    ip: str
    bridge: Bridge
    veth: str


class Lab:
    """Creates bridges and namespaces; ``cleanup`` removes them all."""

    def __init__(self, base: Path) -> None:
        self.tag = uuid.uuid4().hex[:6]
        self.owner = f"portside/lab{self.tag}"
        self.base = base
        self.links = HostLinks(self.owner)
        self.bridges: list[Bridge] = []
        self.boxes: list[Box] = []
        self.servers: list[asyncio.AbstractServer] = []
        self.sockets: list[socket.socket] = []
        self.tables: list[str] = []

    async def bridge(self) -> Bridge:
        """A fresh bridge on a subnet nothing on the host uses."""
        name = f"lb{self.tag}{len(self.bridges)}"
        async with ipam.SubnetLock():
            used = [h.net for h in hostnets.host_networks()]
            used += [b.net for b in self.bridges]
            net = ipam.choose_subnet(used, ipam.resolver_addresses())
            gw = str(next(net.hosts()))
            b = Bridge(name, net, gw, [str(h) for h in list(net.hosts())[1:20]])
            self.bridges.append(b)
            await self.links.ensure_bridge(name, gw, net.prefixlen, 1500)
        return b

    async def box(self, b: Bridge) -> Box:
        """A namespace (lo comes up with it) and eth0 on ``b`` (address, default route)."""
        i = len(self.boxes)
        path = self.base / f"ns{i}"
        (sock,) = await nsutil.in_ns_thread(nsutil.create_netns, path, (NETLINK_SOCKET,))
        ip = b.hosts.pop(0)
        veth = f"lv{self.tag}{i}"
        box = Box(path, ip, b, veth)
        self.boxes.append(box)
        ns = await NsLinks.from_socket(sock)
        try:
            await self.links.add_veth(veth, path, "eth0", b.name, 1500, ipam.mac_for(ip))
            await ns.configure("eth0", ip, b.net.prefixlen)
            await ns.default_route(b.gateway)
        finally:
            ns.close()
        return box

    async def tcp_server(self, box: Box, port: int = 0) -> int:
        """A TCP server inside ``box`` answering ``hello <peer ip>``; returns its port."""
        s = await nsutil.in_ns_thread(
            nsutil.socket_in, box.path, socket.AF_INET, socket.SOCK_STREAM
        )
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("0.0.0.0", port))
        s.listen(16)
        s.setblocking(False)

        async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
            peer = w.get_extra_info("peername")[0]
            w.write(f"hello {peer}\n".encode())
            await w.drain()
            w.close()

        self.servers.append(await asyncio.start_server(handle, sock=s))
        return s.getsockname()[1]

    async def udp_echo(self, box: Box, port: int = 0) -> int:
        """A UDP server inside ``box`` echoing ``echo <data>``; returns its port."""
        s = await nsutil.in_ns_thread(nsutil.socket_in, box.path, socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", port))
        s.setblocking(False)
        self.sockets.append(s)
        loop = asyncio.get_running_loop()

        class Echo(asyncio.DatagramProtocol):
            def connection_made(self, t):  # type: ignore[no-untyped-def]
                self.t = t

            def datagram_received(self, data, addr):  # type: ignore[no-untyped-def]
                self.t.sendto(b"echo " + data, addr)

        transport, _ = await loop.create_datagram_endpoint(Echo, sock=s)
        self.sockets.append(transport)  # type: ignore[arg-type]
        return s.getsockname()[1]

    async def cleanup(self) -> None:
        for srv in self.servers:
            srv.close()
        for s in self.sockets:
            s.close()
        for t in self.tables:
            _delete_table(t)
        for box in self.boxes:
            await nsutil.in_ns_thread(nsutil.remove_netns, box.path)
        for name in await self.links.owned_links():
            await self.links.delete(name)
        self.links.close()


def _delete_table(name: str) -> None:
    subprocess.run(["nft", "delete", "table", "inet", name], capture_output=True)


@pytest.fixture
async def lab(tmp_path: Path) -> AsyncIterator[Lab]:
    """A network lab removed after the test."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    lab = Lab(tmp_path)
    await lab.links.open()
    try:
        yield lab
    finally:
        await lab.cleanup()
        assert not links_with(lab.tag), "lab links left behind"
