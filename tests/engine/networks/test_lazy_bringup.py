"""Bridges and the nft table come up with the first container that needs them (as
podman's default network does), subnets are still shown from the start and re-checked
against the host at bring-up, and a restarted engine keeps only what runs."""

from __future__ import annotations

import ipaddress
import json
import subprocess

from clihelp import free_port, our_links, our_table, uniq


def _ipam(e, net: str) -> dict:  # type: ignore[no-untyped-def]
    ni = json.loads(e.docker("network", "inspect", net).stdout)[0]
    return {"id": ni["Id"], **ni["IPAM"]["Config"][0]}


def _addrs(dev: str) -> str:
    return subprocess.run(
        ["ip", "-o", "-4", "addr", "show", "dev", dev], capture_output=True, text=True
    ).stdout


def test_bridges_come_up_with_their_first_container(engine_with_busybox):
    e = engine_with_busybox
    default = f"ps{e.tag}"
    # Nothing in the kernel yet, but inspect shows the default bridge's subnet.
    assert our_links(e) == [] and our_table(e) == ""
    br = _ipam(e, "bridge")
    assert ipaddress.ip_network(br["Subnet"]) and br["Gateway"]
    net = uniq("net")
    e.docker("network", "create", net)
    mine = _ipam(e, net)
    user_bridge = "br-" + mine["id"][:12]
    assert not ipaddress.ip_network(mine["Subnet"]).overlaps(ipaddress.ip_network(br["Subnet"]))
    assert our_links(e) == [] and our_table(e) == ""
    # --network none needs no bridge; lo is up in its namespace all the same.
    out = e.docker("run", "--rm", "--network", "none", "busybox", "ip", "-o", "-4", "addr").stdout
    assert "127.0.0.1/8" in out
    assert our_links(e) == [] and our_table(e) == ""
    # The first container on the default bridge brings up that bridge and the table.
    e.docker("run", "--rm", "busybox", "true")
    assert default in our_links(e) and user_bridge not in our_links(e)
    # (Another engine on this machine may have taken the shown subnet meanwhile; then it
    # moved at bring-up, and inspect shows where it went.)
    br = _ipam(e, "bridge")
    prefix = ipaddress.ip_network(br["Subnet"]).prefixlen
    assert f"{br['Gateway']}/{prefix}" in _addrs(default)
    table = our_table(e)
    assert f'"{default}"' in table and user_bridge not in table
    # ...and the first one on the user network brings up its bridge, on the shown subnet.
    e.docker("run", "--rm", "--network", net, "busybox", "true")
    assert user_bridge in our_links(e) and user_bridge in our_table(e)
    mine = _ipam(e, net)
    prefix = ipaddress.ip_network(mine["Subnet"]).prefixlen
    assert f"{mine['Gateway']}/{prefix}" in _addrs(user_bridge)
    e.docker("network", "rm", net)
    assert user_bridge not in our_links(e) and user_bridge not in our_table(e)
    e.stop()
    assert our_links(e) == [] and our_table(e) == ""


def test_a_subnet_taken_on_the_host_meanwhile_is_replaced_at_bring_up(engine_with_busybox):
    e = engine_with_busybox
    net = uniq("net")
    e.docker("network", "create", net)
    before = _ipam(e, net)
    taken = ipaddress.ip_network(before["Subnet"])
    # Something on the host (a VPN, another engine) starts using that subnet before the
    # network's first container: a bridge of someone else's with an address in it.
    other = f"lz{e.tag}"
    subprocess.run(["ip", "link", "add", other, "type", "bridge"], check=True)
    try:
        addr = f"{taken.network_address + 200}/{taken.prefixlen}"
        subprocess.run(["ip", "addr", "add", addr, "dev", other], check=True)
        subprocess.run(["ip", "link", "set", other, "up"], check=True)
        e.docker("run", "--rm", "--network", net, "busybox", "true")
        after = _ipam(e, net)
        assert not ipaddress.ip_network(after["Subnet"]).overlaps(taken)
        prefix = ipaddress.ip_network(after["Subnet"]).prefixlen
        assert f"{after['Gateway']}/{prefix}" in _addrs("br-" + after["id"][:12])
    finally:
        subprocess.run(["ip", "link", "del", other], capture_output=True)
    e.docker("network", "rm", net)


def test_a_killed_idle_engine_leaves_nothing_up_after_its_restart(engine_with_busybox):
    e = engine_with_busybox
    default = f"ps{e.tag}"
    e.docker("run", "--rm", "-p", f"127.0.0.1:{free_port()}:80", "busybox", "true")
    assert default in our_links(e) and our_table(e)
    e.kill9()
    assert default in our_links(e) and our_table(e)  # a crash leaves them behind
    e.start()
    # Nothing runs: the restarted engine removes them instead of keeping them up idle...
    assert our_links(e) == [] and our_table(e) == ""
    # ...and brings them up again for the next container.
    e.docker("run", "--rm", "busybox", "true")
    assert default in our_links(e) and our_table(e)


def test_host_gateway_brings_up_the_default_bridge(engine_with_busybox):
    e = engine_with_busybox
    net = uniq("net")
    e.docker("network", "create", net)
    out = e.docker(
        "run",
        "--rm",
        "--network",
        net,
        "--add-host",
        "hgw:host-gateway",
        "busybox",
        "cat",
        "/etc/hosts",
    ).stdout
    # host-gateway is the default bridge's address: it has to exist on the host even
    # though no container uses that bridge.
    gw = _ipam(e, "bridge")["Gateway"]
    assert f"{gw}\thgw" in out
    assert f"{gw}/" in _addrs(f"ps{e.tag}")
    e.docker("network", "rm", net)
