"""Namespaces, veth pairs, addresses and routes through pyroute2 (no ``ip`` processes)."""

from __future__ import annotations

import asyncio
import os
import socket
from asyncio.subprocess import PIPE

import pytest
from labnet import fetch, fetch_from, links_with, read
from portside.engine.networks import hostnets, nsutil
from portside.engine.networks.links import NsLinks


async def test_netns_is_a_bind_mount_and_goes_away(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root")
    path = tmp_path / "ns"
    await nsutil.in_ns_thread(nsutil.create_netns, path, ())
    try:
        assert nsutil.is_netns(path)
        inode = nsutil.netns_inode(path)
        assert inode and inode != os.stat("/proc/self/ns/net").st_ino
        assert str(path) in read("/proc/self/mountinfo")
        assert nsutil.pids_in_netns(inode) == []
        # lo comes up with the namespace (an ioctl in nsutil, no netlink library)
        proc = await asyncio.create_subprocess_exec(
            "nsenter", f"--net={path}", "ip", "-o", "link", "show", "lo", stdout=PIPE
        )
        lo, _ = await proc.communicate()
        assert b",UP," in lo
        # Creating it again must fail rather than silently share one namespace.
        with pytest.raises(FileExistsError):
            await nsutil.in_ns_thread(nsutil.create_netns, path, ())
    finally:
        await nsutil.in_ns_thread(nsutil.remove_netns, path)
    assert not path.exists()
    assert str(path) not in read("/proc/self/mountinfo")
    assert not nsutil.is_netns(path)
    # The namespace thread went back home.
    home = os.readlink("/proc/thread-self/ns/net")
    assert await nsutil.in_ns_thread(os.readlink, "/proc/thread-self/ns/net") == home


async def test_veth_address_route_and_traffic(lab):
    b = await lab.bridge()
    box = await lab.box(b)
    ns = await NsLinks.open(box.path)
    try:
        assert set(await ns.names()) == {"lo", "eth0"}
        assert await ns.has_default_route() == b.gateway
        msgs = await ns.ipr.link("get", ifname="eth0")
        assert msgs[0].get("address") == "02:42:" + ":".join(
            f"{int(x):02x}" for x in box.ip.split(".")
        )
    finally:
        ns.close()
    # The host end is on the bridge and carries the owner alias.
    assert hostnets.alias_of(box.veth) == lab.owner
    master = read(f"/sys/class/net/{box.veth}/master/uevent")
    assert f"INTERFACE={b.name}" in master
    port = await lab.tcp_server(box)
    assert await fetch(box.ip, port) == f"hello {b.gateway}"


async def test_two_boxes_on_one_bridge_talk(lab):
    b = await lab.bridge()
    one, two = await lab.box(b), await lab.box(b)
    port = await lab.tcp_server(two)
    # Connect from inside `one` to `two`: a client socket created in one's namespace.
    s = await nsutil.in_ns_thread(nsutil.socket_in, one.path, socket.AF_INET, socket.SOCK_STREAM)
    assert await fetch_from(s, two.ip, port) == f"hello {one.ip}"


async def test_removing_the_namespace_removes_the_veth(lab):
    b = await lab.bridge()
    box = await lab.box(b)
    assert links_with(box.veth)
    await lab.links.delete(box.veth)
    assert not links_with(box.veth)
    await nsutil.in_ns_thread(nsutil.remove_netns, box.path)
    lab.boxes.remove(box)


async def test_foreign_links_are_never_deleted(lab):
    # A link without our alias (here: the lab bridge seen by another owner) is refused.
    b = await lab.bridge()
    from portside.engine.networks.links import HostLinks

    other = HostLinks("portside/someone-else")
    await other.open()
    try:
        assert not await other.delete(b.name)
        with pytest.raises(FileExistsError):
            await other.ensure_bridge(b.name, b.gateway, b.net.prefixlen, 1500)
    finally:
        other.close()
    assert links_with(b.name)
