"""Fixed addresses (``--ip``) and MAC addresses through the real docker CLI and the API."""

from __future__ import annotations

import subprocess

from clihelp import free_subnet, inspect, uniq


def _addrs(key: str, family: str = "-4") -> str:
    """``ip -o addr`` inside a container's namespace."""
    return subprocess.run(
        ["nsenter", f"--net={key}", "ip", "-o", family, "addr"], capture_output=True, text=True
    ).stdout


def _connect(e, net: str, ctr: str, ipam_config: dict):  # type: ignore[no-untyped-def]
    """``POST /networks/{net}/connect`` with an IPAMConfig."""
    body = {"Container": ctr, "EndpointConfig": {"IPAMConfig": ipam_config}}
    return e.api("POST", f"/networks/{net}/connect", json=body)


def test_fixed_addresses_on_connect_and_run(shared_engine):
    e = shared_engine
    subnet = free_subnet()
    base = subnet.rsplit(".", 1)[0]
    net, a, b, c, d = uniq("net"), uniq("a"), uniq("b"), uniq("c"), uniq("d")
    e.docker("network", "create", "--subnet", subnet, net)
    try:
        # a running container on the default bridge gets a fixed address on connect
        e.docker("run", "-d", "--name", a, "busybox", "sleep", "600")
        e.docker("network", "connect", "--ip", f"{base}.10", net, a)
        ep = inspect(e, a)["NetworkSettings"]["Networks"][net]
        assert (ep["IPAddress"], ep["IPPrefixLen"]) == (f"{base}.10", 24)
        assert ep["IPAMConfig"] == {"IPv4Address": f"{base}.10"}
        assert f"{base}.10/24" in _addrs(inspect(e, a)["NetworkSettings"]["SandboxKey"])
        # docker run --network --ip, and the two talk over the bridge
        e.docker("run", "-d", "--network", net, "--ip", f"{base}.11", "--name", b,
                 "busybox", "sleep", "600")  # fmt: skip
        out = e.docker("exec", b, "ping", "-c", "1", "-W", "3", f"{base}.10").stdout
        assert "1 packets received" in out
        # connect a created container, then start it: the address is the one asked for
        e.docker("create", "--name", c, "busybox", "sleep", "600")
        e.docker("network", "connect", "--ip", f"{base}.12", net, c)
        e.docker("start", c)
        assert inspect(e, c)["NetworkSettings"]["Networks"][net]["IPAddress"] == f"{base}.12"
        # an address in use (another container's, the gateway's): 403 as dockerd's IPAM
        e.docker("run", "-d", "--name", d, "busybox", "sleep", "600")
        r = e.docker("network", "connect", "--ip", f"{base}.10", net, d, check=False)
        assert r.returncode != 0 and "Address already in use" in r.stderr
        for taken in (f"{base}.10", f"{base}.1", f"{base}.255"):
            r = _connect(e, net, d, {"IPv4Address": taken})
            assert (r.status_code, r.json()["message"]) == (403, "Address already in use")
        assert net not in inspect(e, d)["NetworkSettings"]["Networks"]
        r = e.docker("run", "-d", "--network", net, "--ip", f"{base}.11", "busybox", "true",
                     check=False)  # fmt: skip
        assert r.returncode != 0 and "Address already in use" in r.stderr
        # outside the subnet, and not an address: 400 in dockerd's words
        r = _connect(e, net, d, {"IPv4Address": "192.0.2.7"})
        assert r.status_code == 400
        assert r.json()["message"] == (
            "invalid endpoint settings:\n"
            "no configured subnet or ip-range contain the IP address 192.0.2.7"
        )
        r = _connect(e, net, d, {"IPv4Address": "nope"})
        assert r.status_code == 400
        assert r.json()["message"] == "invalid endpoint settings:\ninvalid IPv4 address: nope"
        r = e.docker("create", "--network", net, "--ip", "192.0.2.7", "busybox", check=False)
        assert r.returncode != 0
        assert f"invalid config for network {net}: invalid endpoint settings:" in r.stderr
        # the address came back when its holder left
        e.docker("rm", "-f", a)
        e.docker("network", "connect", "--ip", f"{base}.10", net, d)
        assert inspect(e, d)["NetworkSettings"]["Networks"][net]["IPAddress"] == f"{base}.10"
    finally:
        e.docker("rm", "-f", a, b, c, d, check=False)
        e.docker("network", "rm", net)


def test_fixed_address_needs_a_configured_subnet(shared_engine):
    e = shared_engine
    net, c = uniq("net"), uniq("c")
    e.docker("network", "create", net)
    e.docker("create", "--name", c, "busybox", "sleep", "600")
    try:
        sub = inspect(e, net)["IPAM"]["Config"][0]["Subnet"]
        ip = sub.rsplit(".", 2)[0] + ".0.9"
        r = _connect(e, net, c, {"IPv4Address": ip})
        assert r.status_code == 400
        assert r.json()["message"] == (
            "invalid endpoint settings:\nuser specified IP address is supported only when "
            "connecting to networks with user configured subnets"
        )
    finally:
        e.docker("rm", "-f", c)
        e.docker("network", "rm", net)
