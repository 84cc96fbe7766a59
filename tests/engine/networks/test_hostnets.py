"""The host's networks and our links as read without pyroute2 (rtnetlink dumps, sysfs),
checked against ``ip`` and against links the lab creates."""

from __future__ import annotations

import asyncio
import ipaddress
import json
import random
import subprocess

from portside.engine.networks import hostnets


def _ip_json(*args: str) -> list[dict]:
    out = subprocess.run(["ip", "-j", *args], capture_output=True, text=True, check=True).stdout
    return json.loads(out or "[]")


def _from_ip() -> set[tuple[str, str]]:
    """(network, device) pairs as ``ip`` shows them: addresses' subnets, main routes."""
    want = set()
    for link in _ip_json("-4", "addr", "show"):
        for a in link.get("addr_info", []):
            if a.get("family") == "inet":
                net = ipaddress.IPv4Network(f"{a['local']}/{a['prefixlen']}", strict=False)
                want.add((str(net), link["ifname"]))
    for r in _ip_json("-4", "route", "show", "table", "main"):
        if r["dst"] != "default":
            dst = r["dst"] if "/" in r["dst"] else r["dst"] + "/32"
            want.add((str(ipaddress.IPv4Network(dst, strict=False)), r.get("dev", "")))
    return want


def test_host_networks_match_ip():
    # Other engines on this machine may add or remove bridges meanwhile: compare a few
    # times until two reads agree.
    for _ in range(10):
        got = {(str(h.net), h.dev) for h in hostnets.host_networks()}
        want = _from_ip()
        if want <= got:
            break
    assert want <= got, f"missing: {want - got}"
    assert any(dev == "lo" and net == "127.0.0.0/8" for net, dev in got)


async def test_lab_bridges_addresses_routes_and_aliases(lab):
    b = await lab.bridge()
    extra = ipaddress.IPv4Network(f"198.18.{random.randrange(256)}.0/24")
    proc = await asyncio.create_subprocess_exec("ip", "route", "add", str(extra), "dev", b.name)
    assert await proc.wait() == 0  # removed with the bridge
    got = {(h.net, h.dev) for h in hostnets.host_networks()}
    assert (b.net, b.name) in got
    assert (extra, b.name) in got  # a route without an address of ours
    assert hostnets.owned_links(lab.owner) == [b.name]
    assert hostnets.alias_of(b.name) == lab.owner
    assert hostnets.alias_of("lo") == ""
    assert hostnets.alias_of(f"nosuch{lab.tag}") is None
    assert hostnets.owned_links("portside/nobody-has-this") == []
