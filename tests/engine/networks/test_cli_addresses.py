"""Fixed addresses (``--ip``) and MAC addresses through the real docker CLI and the API."""

from __future__ import annotations

import subprocess

from clihelp import free_subnet, uniq
from support.docker_inspect import inspect


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
        assert r.returncode != 0
        assert "failed to set up container networking: Address already in use" in r.stderr
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


def _kernel_mac(e, ctr: str, ifname: str = "eth0") -> str:  # type: ignore[no-untyped-def]
    return e.docker("exec", ctr, "cat", f"/sys/class/net/{ifname}/address").stdout.strip()


def test_mac_address_asked_for_is_the_interfaces(shared_engine):
    e = shared_engine
    net, a, b = uniq("net"), uniq("a"), uniq("b")
    e.docker("network", "create", net)
    try:
        # v28 CLI: --mac-address goes into EndpointSettings.MacAddress
        e.docker("run", "-d", "--mac-address", "02:42:de:ad:be:01", "--name", a,
                 "busybox", "sleep", "600")  # fmt: skip
        assert _kernel_mac(e, a) == "02:42:de:ad:be:01"
        ins = inspect(e, a)
        assert ins["NetworkSettings"]["Networks"]["bridge"]["MacAddress"] == "02:42:de:ad:be:01"
        assert ins["NetworkSettings"]["MacAddress"] == "02:42:de:ad:be:01"
        assert ins["Config"]["MacAddress"] == "02:42:de:ad:be:01"
        # on a user network, in another spelling Go accepts; the kernel's spelling shows
        e.docker("run", "-d", "--network", net, "--mac-address", "02:42:DE:AD:BE:02",
                 "--name", b, "busybox", "sleep", "600")  # fmt: skip
        assert _kernel_mac(e, b) == "02:42:de:ad:be:02"
        assert inspect(e, b)["NetworkSettings"]["Networks"][net]["MacAddress"] == (
            "02:42:de:ad:be:02"
        )
        # kept across stop/start; the address of a container without one stays derived
        e.docker("stop", "-t", "0", a)
        assert inspect(e, a)["NetworkSettings"]["Networks"]["bridge"]["MacAddress"] == (
            "02:42:de:ad:be:01"
        )
        e.docker("start", a)
        assert _kernel_mac(e, a) == "02:42:de:ad:be:01"
        # connected elsewhere through the API with a MAC of its own
        body = {"Container": a, "EndpointConfig": {"MacAddress": "02:42:de:ad:be:03"}}
        assert e.api("POST", f"/networks/{net}/connect", json=body).status_code == 200
        assert _kernel_mac(e, a, "eth1") == "02:42:de:ad:be:03"
        assert inspect(e, a)["Config"]["MacAddress"] == "02:42:de:ad:be:01"
    finally:
        e.docker("rm", "-f", a, b, check=False)
        e.docker("network", "rm", net)


def test_container_wide_mac_address_of_older_clients(shared_engine):
    e = shared_engine
    ids = []
    try:
        # API 1.43: Config.MacAddress is the primary network's MAC
        body = {"Image": "busybox", "Cmd": ["sleep", "600"], "MacAddress": "02:42:de:ad:be:11"}
        r = e.api("POST", "/v1.43/containers/create", json=body)
        assert r.status_code == 201, r.text
        cid = r.json()["Id"]
        ids.append(cid)
        assert e.api("POST", f"/v1.43/containers/{cid}/start").status_code == 204
        ins = e.api("GET", f"/v1.43/containers/{cid}/json").json()
        assert ins["Config"]["MacAddress"] == "02:42:de:ad:be:11"
        assert ins["NetworkSettings"]["MacAddress"] == "02:42:de:ad:be:11"
        assert _kernel_mac(e, cid) == "02:42:de:ad:be:11"
        # ...and not with a network mode that has no endpoint of its own
        host = {**body, "HostConfig": {"NetworkMode": "host"}}
        r = e.api("POST", "/v1.43/containers/create", json=host)
        assert (r.status_code, r.json()["message"]) == (
            400,
            "conflicting options: mac-address and the network mode",
        )
        # docker-py (API 1.45) still sends the container-wide field: migrated, with a warning
        client = e.client()
        try:
            c = client.containers.run("busybox", "sleep 600", detach=True,
                                      mac_address="02:42:de:ad:be:12")  # fmt: skip
            ids.append(c.id)
            c.reload()
            assert c.attrs["NetworkSettings"]["Networks"]["bridge"]["MacAddress"] == (
                "02:42:de:ad:be:12"
            )
        finally:
            client.close()
        r = e.api("POST", "/containers/create", json={**body, "MacAddress": "02:42:de:ad:be:13"})
        assert r.status_code == 201
        ids.append(r.json()["Id"])
        assert r.json()["Warnings"] == [
            "The container-wide MacAddress field is now deprecated. It should be specified in "
            "EndpointsConfig instead."
        ]
        # both fields, disagreeing
        both = {
            **body,
            "NetworkingConfig": {
                "EndpointsConfig": {"bridge": {"MacAddress": "02:42:de:ad:be:14"}}
            },
        }
        r = e.api("POST", "/containers/create", json=both)
        assert (r.status_code, r.json()["message"]) == (
            400,
            "the container-wide MAC address must match the endpoint-specific MAC address for "
            "the main network, or be left empty",
        )
        # not a MAC address: 400 in dockerd's words, whichever field carries it
        bad = {
            "Image": "busybox",
            "NetworkingConfig": {"EndpointsConfig": {"bridge": {"MacAddress": "zz"}}},
        }
        r = e.api("POST", "/containers/create", json=bad)
        assert (r.status_code, r.json()["message"]) == (
            400,
            "invalid config for network bridge: invalid MAC address zz",
        )
        r = e.api("POST", "/v1.43/containers/create", json={"Image": "busybox", "MacAddress": "zz"})
        assert (r.status_code, r.json()["message"]) == (
            400,
            "invalid config for network bridge: invalid MAC address zz",
        )
    finally:
        for cid in ids:
            e.api("DELETE", f"/containers/{cid}?force=1")
