"""IPv6 through the real docker CLI: dual-stack networks, fixed and automatic IPv6
addresses, IPv6 published ports, names over IPv6, and the default bridge with daemon.json
``ipv6`` + ``fixed-cidr-v6``.

The engine here does not turn on IPv6 forwarding (``ip-forward: false``): every path the
tests use — host to container through the test's bridge, container to container on one
bridge, ``[::1]`` to a published port — is local or bridged, and the host's sysctls stay
as they were.
"""

from __future__ import annotations

import ipaddress
import json
import random
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from clihelp import HTTPD, free_port, free_subnet, http_get, our_links, our_table, uniq
from portside.engine.networks import hostnets
from support.docker_inspect import inspect
from support.engine import PortsideEngine


def free_subnet6() -> str:
    """A ULA /64 the host does not use."""
    used = hostnets.host_networks6()
    while True:
        cand = ipaddress.IPv6Network(((0xFD << 120) | (random.getrandbits(56) << 64), 64))
        if not any(cand.overlaps(u) for u in used):
            return str(cand)


def free_port6() -> int:
    """A TCP port free on both loopbacks."""
    while True:
        port = free_port()
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            try:
                s.bind(("::1", port))
            except OSError:
                continue
        return port


@pytest.fixture(scope="module")
def v6_engine(busybox_tar: Path) -> Iterator[PortsideEngine]:
    """An engine whose default bridge has IPv6 (daemon.json ipv6 + fixed-cidr-v6)."""
    e = PortsideEngine(
        extra_config={"ip-forward": False, "ipv6": True, "fixed-cidr-v6": free_subnet6()}
    )
    try:
        e.start()
        e.docker("load", "-i", str(busybox_tar))
        yield e
    finally:
        e.cleanup()


def _url(ip: str, port: int) -> str:
    return f"http://[{ip}]:{port}/" if ":" in ip else f"http://{ip}:{port}/"


def test_dual_stack_network_addresses_ports_and_names(v6_engine):
    e = v6_engine
    v4, v6 = free_subnet(), free_subnet6()
    net6 = ipaddress.IPv6Network(v6)
    net, web, c = uniq("net"), uniq("web"), uniq("c")
    p4, p6, both = free_port(), free_port6(), free_port6()
    e.docker("network", "create", "--ipv6", "--subnet", v4, "--subnet", v6, net)
    try:
        ni = inspect(e, net)
        assert ni["EnableIPv6"] is True
        assert [x["Subnet"] for x in ni["IPAM"]["Config"]] == [v4, v6]
        assert ni["IPAM"]["Config"][1]["Gateway"] == str(net6.network_address + 1)
        e.docker("run", "-d", "--network", net, "--name", web,
                 "-p", f"127.0.0.1:{p4}:80", "-p", f"[::1]:{p6}:80", "-p", f"{both}:80",
                 "busybox", "sh", "-c", HTTPD)  # fmt: skip
        ep = inspect(e, web)["NetworkSettings"]["Networks"][net]
        addr6 = ep["GlobalIPv6Address"]
        assert ipaddress.IPv6Address(addr6) in net6 and ep["GlobalIPv6PrefixLen"] == 64
        assert ep["IPv6Gateway"] == str(net6.network_address + 1)
        assert ipaddress.IPv4Address(ep["IPAddress"]) in ipaddress.IPv4Network(v4)
        entry = inspect(e, net)["Containers"][inspect(e, web)["Id"]]
        assert entry["IPv6Address"] == f"{addr6}/64"
        # the container answers on its IPv6 address from the host, through the bridge
        assert http_get(_url(addr6, 80)).startswith("hi from ")
        # published ports: IPv4 loopback, [::1], and the default binding on both families
        for url in (_url("127.0.0.1", p4), _url("::1", p6), _url("::1", both),
                    _url("127.0.0.1", both)):  # fmt: skip
            assert http_get(url).startswith("hi from "), url
        lines = set(e.docker("port", web, "80/tcp").stdout.split())
        assert {f"127.0.0.1:{p4}", f"[::1]:{p6}", f"0.0.0.0:{both}", f"[::]:{both}"} <= lines
        table = our_table(e)
        assert f"meta nfproto ipv6 tcp dport {both} dnat ip6 to [{addr6}]:80" in table
        assert f"ip6 saddr {v6} ct status dnat masquerade" in table
        # a second container reaches the first over IPv6, by name
        out = e.docker("run", "--rm", "--network", net, "busybox", "sh", "-c",
                       f"ping -6 -c 1 -W 3 {web} && nslookup -type=AAAA {web} "
                       f"&& wget -qO- http://[{addr6}]/").stdout  # fmt: skip
        assert f"({addr6})" in out and "1 packets received" in out
        assert f"Address: {addr6}" in out and "hi from " in out
        # a fixed IPv6 address; taken, and outside the subnet
        fixed = str(net6.network_address + 0x99)
        e.docker("run", "-d", "--network", net, "--ip6", fixed, "--name", c,
                 "busybox", "sleep", "600")  # fmt: skip
        assert inspect(e, c)["NetworkSettings"]["Networks"][net]["GlobalIPv6Address"] == fixed
        r = e.docker("run", "--rm", "--network", net, "--ip6", fixed, "busybox", "true",
                     check=False)  # fmt: skip
        assert r.returncode != 0 and "Address already in use" in r.stderr
        r = e.api("POST", f"/networks/{net}/connect",
                  json={"Container": web, "EndpointConfig": {}})  # fmt: skip
        assert r.status_code == 403  # already connected
        body = {"Container": c, "EndpointConfig": {"IPAMConfig": {"IPv6Address": "fd00:dead::1"}}}
        r = e.api("POST", "/networks/bridge/connect", json=body)
        assert r.status_code == 400
        assert (
            "user specified IP address is supported on user defined networks only"
            in (r.json()["message"])
        )
    finally:
        e.docker("rm", "-f", web, c, check=False)
        e.docker("network", "rm", net)
    assert "ip6 to" not in our_table(e)


def test_ipv6_network_without_a_subnet_gets_a_ula_64(v6_engine):
    e = v6_engine
    net = uniq("net")
    e.docker("network", "create", "--ipv6", net)
    try:
        cfg = inspect(e, net)["IPAM"]["Config"]
        sub6 = ipaddress.IPv6Network(cfg[1]["Subnet"])
        assert sub6.prefixlen == 64 and sub6.subnet_of(ipaddress.IPv6Network("fd00::/8"))
        out = e.docker("run", "--rm", "--network", net, "busybox", "ip", "-6", "-o", "addr",
                       "show", "eth0").stdout  # fmt: skip
        assert f"{sub6.network_address + 2}/64" in out
        # a IPv6 subnet on a network without IPv6 is refused
        body = {"Name": uniq("n"), "IPAM": {"Config": [{"Subnet": free_subnet6()}]}}
        r = e.api("POST", "/networks/create", json=body)
        assert r.status_code == 400 and "needs an IPv6 network" in r.json()["message"]
    finally:
        e.docker("network", "rm", net)


def test_default_bridge_with_daemon_ipv6(v6_engine):
    e = v6_engine
    fixed = json.loads(e.config_file.read_text())["fixed-cidr-v6"]
    bridge = inspect(e, "bridge")
    assert bridge["EnableIPv6"] is True
    assert fixed in [x["Subnet"] for x in bridge["IPAM"]["Config"]]
    web = uniq("web")
    port = free_port6()
    e.docker("run", "-d", "--name", web, "-p", f"{port}:80", "busybox", "sh", "-c", HTTPD)
    try:
        ns = inspect(e, web)["NetworkSettings"]
        addr6 = ns["GlobalIPv6Address"]
        assert ipaddress.IPv6Address(addr6) in ipaddress.IPv6Network(fixed)
        assert ns["Networks"]["bridge"]["GlobalIPv6Address"] == addr6
        assert http_get(_url(addr6, 80)).startswith("hi from ")
        assert http_get(_url("::1", port)).startswith("hi from ")
        hosts = e.docker("exec", web, "cat", "/etc/hosts").stdout
        assert addr6 in hosts
    finally:
        e.docker("rm", "-f", web)
    # nothing left once the engine stops with no container
    e.stop()
    assert our_links(e) == [] and our_table(e) == ""
    e.start()


def test_ipv6_ports_after_kill9_and_restart(v6_engine):
    e = v6_engine
    net, web = uniq("net"), uniq("web")
    port = free_port6()
    e.docker("network", "create", "--ipv6", net)
    e.docker("run", "-d", "--network", net, "--name", web, "-p", f"{port}:80",
             "busybox", "sh", "-c", HTTPD)  # fmt: skip
    try:
        addr6 = inspect(e, web)["NetworkSettings"]["Networks"][net]["GlobalIPv6Address"]
        assert http_get(_url("::1", port)).startswith("hi from ")
        e.kill9()
        # the kernel keeps forwarding to the container's own address; [::1] waits for us
        assert http_get(_url(addr6, 80)).startswith("hi from ")
        e.start()
        assert http_get(_url("::1", port)).startswith("hi from ")
        assert http_get(_url("127.0.0.1", port)).startswith("hi from ")
        assert our_table(e).count(f"dnat ip6 to [{addr6}]:80") == 1
        r = e.docker("run", "--rm", "-p", f"[::1]:{port}:80", "busybox", "true", check=False)
        assert r.returncode != 0 and "port is already allocated" in r.stderr
    finally:
        e.docker("rm", "-f", web, check=False)
        e.docker("network", "rm", net)
