"""IPAM, port parsing/reservation and network request validation (pure logic)."""

from __future__ import annotations

import ipaddress
import socket
from types import SimpleNamespace

import pytest
from portside.engine.errors import Conflict, Forbidden, InvalidParameter, NotFound
from portside.engine.networks import ipam
from portside.engine.networks.endpoints import validate_endpoint
from portside.engine.networks.filters import list_matcher, network_from_request
from portside.engine.networks.model import Network
from portside.engine.networks.ports import (
    PortReservations,
    WantedPort,
    parse_port_key,
    port_settings,
    wanted_ports,
)

N = ipaddress.ip_network


def test_subnet_choice_avoids_everything_in_use():
    assert ipam.choose_subnet([]) == N("172.17.0.0/16")
    used = [N("172.17.0.0/16"), N("172.18.5.0/24"), N("192.0.2.0/24")]
    assert ipam.choose_subnet(used) == N("172.19.0.0/16")
    # a default route (0.0.0.0/0) must not count as "everything is used"
    assert ipam.choose_subnet([N("0.0.0.0/0")]) == N("172.17.0.0/16")
    # a nameserver of the host is never shadowed
    assert ipam.choose_subnet([], [ipaddress.IPv4Address("172.17.3.3")]) == N("172.18.0.0/16")
    # after the /16s come the 192.168 /20s, then 10.x /24s
    all16 = [N(f"172.{b}.0.0/16") for b in range(17, 32)]
    assert ipam.choose_subnet(all16) == N("192.168.0.0/20")
    assert ipam.choose_subnet([*all16, N("192.168.0.0/16")]) == N("10.0.0.0/24")
    with pytest.raises(Conflict):
        ipam.choose_subnet([N("172.16.0.0/12"), N("192.168.0.0/16"), N("10.0.0.0/8")])


def test_sequential_allocation_wraps_and_skips_taken():
    net = N("10.1.0.0/29")  # hosts .1-.6
    taken = {"10.1.0.1"}
    a = ipam.next_free(net, net, taken, None)
    assert str(a) == "10.1.0.2"
    b = ipam.next_free(net, net, taken | {str(a)}, a)
    assert str(b) == "10.1.0.3"
    # a released address is not reused at once: allocation continues after the last one
    c = ipam.next_free(net, net, taken | {str(b)}, b)
    assert str(c) == "10.1.0.4"
    # wrap around to the free start
    d = ipam.next_free(net, net, taken, ipaddress.IPv4Address("10.1.0.6"))
    assert str(d) == "10.1.0.2"
    full = {f"10.1.0.{i}" for i in range(1, 7)}
    with pytest.raises(Conflict):
        ipam.next_free(net, net, full, None)
    rng = N("10.1.0.4/30")
    assert str(ipam.next_free(net, rng, taken, None)) == "10.1.0.4"


def test_static_addresses_are_validated_in_dockerds_words():
    n = Network("x" * 64, "n", "bridge", subnet="10.5.0.0/24", gateway="10.5.0.1", user_subnet=True)
    validate_endpoint(n, {"IPAMConfig": {"IPv4Address": "10.5.0.9"}})
    with pytest.raises(InvalidParameter, match="no configured subnet or ip-range contain"):
        validate_endpoint(n, {"IPAMConfig": {"IPv4Address": "10.6.0.9"}})
    for bad in ("nope", "::1", "0.0.0.0"):
        with pytest.raises(InvalidParameter, match=f"invalid IPv4 address: {bad}"):
            validate_endpoint(n, {"IPAMConfig": {"IPv4Address": bad}})
    n.user_subnet = False
    with pytest.raises(InvalidParameter, match="networks with user configured subnets"):
        validate_endpoint(n, {"IPAMConfig": {"IPv4Address": "10.5.0.9"}})


def test_mac_addresses():
    assert ipam.mac_for("172.17.0.2") == "02:42:ac:11:00:02"
    assert ipam.parse_mac("02:42:AC:11:00:02") == "02:42:ac:11:00:02"
    assert ipam.parse_mac("02-42-ac-11-00-03") == "02:42:ac:11:00:03"
    assert ipam.parse_mac("0242.ac11.0004") == "02:42:ac:11:00:04"
    for bad in ("02:42:ac:11:00", "02:42:ac:11:00:0g", "02:42-ac:11:00:02", "zz"):
        with pytest.raises(InvalidParameter, match=f"^invalid MAC address {bad}$"):
            ipam.parse_mac(bad)
    with pytest.raises(InvalidParameter, match="multicast"):
        ipam.parse_mac("01:00:5e:00:00:01")
    mac = ipam.random_mac()
    assert int(mac[:2], 16) & 3 == 2


def test_port_bindings_parse_like_docker():
    assert parse_port_key("80") == (80, "tcp")
    assert parse_port_key("53/UDP") == (53, "udp")
    for bad in ("0/tcp", "x/tcp", "80/icmp", "70000"):
        with pytest.raises(InvalidParameter):
            parse_port_key(bad)
    hc = {
        "PortBindings": {
            "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
            "53/udp": [{"HostIp": "", "HostPort": ""}],
            "443/tcp": [{"HostIp": "::", "HostPort": "8443"}, {"HostPort": "9000-9010"}],
        },
        "PublishAllPorts": True,
    }
    got = wanted_ports(hc, {"80/tcp": {}, "22/tcp": {}})
    assert WantedPort("tcp", 80, "127.0.0.1", 8080, 8080) in got
    assert WantedPort("udp", 53, "0.0.0.0", 0, 0) in got
    assert WantedPort("tcp", 443, "0.0.0.0", 9000, 9010) in got  # the v6 binding is skipped
    assert WantedPort("tcp", 22, "0.0.0.0", 0, 0) in got  # -P for an unbound exposed port
    assert len(got) == 4
    with pytest.raises(InvalidParameter):
        wanted_ports({"PortBindings": {"80/tcp": [{"HostPort": "99999"}]}}, None)


def test_reservations_hold_ports_and_refuse_taken_ones():
    res = PortReservations()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        busy = s.getsockname()[1]
        with pytest.raises(Exception, match="port is already allocated"):
            res.reserve("c1", "web", [WantedPort("tcp", 80, "127.0.0.1", busy, busy)])
    got = res.reserve("c1", "web", [WantedPort("tcp", 80, "127.0.0.1", 0, 0)])
    port = got[0].host_port
    # Held: nobody else can bind it now, and a second container cannot have it.
    with socket.socket() as s, pytest.raises(OSError):
        s.bind(("127.0.0.1", port))
    with pytest.raises(Exception, match="already allocated"):
        res.reserve("c2", "db", [WantedPort("tcp", 80, "0.0.0.0", port, port)])
    res.release("c1")
    with socket.socket() as s:
        s.bind(("127.0.0.1", port))
    ports, summary = port_settings(got, {"80/tcp": {}, "81/tcp": {}}, None)
    assert ports == {
        "80/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}],
        "81/tcp": None,
    }
    assert {"PrivatePort": 81, "Type": "tcp"} in summary


def _svc(*nets: Network):  # type: ignore[no-untyped-def]
    return SimpleNamespace(networks={n.id: n for n in nets}, endpoints_of=lambda nid: [])


def test_network_requests_are_validated():
    svc = _svc(Network(id="a" * 64, name="one", driver="bridge", subnet="10.7.0.0/16"))
    n, warning = network_from_request(
        {
            "Name": "mynet",
            "Labels": {"k": "v"},
            "Internal": True,
            "IPAM": {"Config": [{"Subnet": "10.8.0.0/24", "IPRange": "10.8.0.128/25"}]},
            "Options": {"com.docker.network.bridge.name": "mybr0"},
        },
        svc,
    )
    assert (n.name, n.bridge, n.subnet, n.gateway, n.ip_range) == (
        "mynet",
        "mybr0",
        "10.8.0.0/24",
        "10.8.0.1",
        "10.8.0.128/25",
    )
    assert n.internal and n.user_subnet and n.labels == {"k": "v"} and warning == ""
    auto, _ = network_from_request({"Name": "auto"}, svc)
    assert auto.bridge == f"br-{auto.id[:12]}" and not auto.subnet and not auto.user_subnet
    cases = [
        ({"Name": ""}, InvalidParameter),
        ({"Name": " "}, InvalidParameter),
        ({"Name": "bridge"}, Forbidden),
        ({"Name": "default"}, Forbidden),
        ({"Name": "x", "Driver": "host"}, Forbidden),
        ({"Name": "x", "Driver": "overlay"}, NotFound),
        ({"Name": "x", "IPAM": {"Config": [{"Subnet": "10.7.1.0/24"}]}}, Forbidden),
        ({"Name": "x", "IPAM": {"Config": [{"Subnet": "bogus"}]}}, InvalidParameter),
        (
            {"Name": "x", "IPAM": {"Config": [{"Subnet": "10.9.0.0/24", "Gateway": "10.10.0.1"}]}},
            InvalidParameter,
        ),
        (
            {"Name": "x", "Options": {"com.docker.network.bridge.name": "way-too-long-name0"}},
            InvalidParameter,
        ),
    ]
    for body, err in cases:
        with pytest.raises(err):
            network_from_request(body, svc)


def test_list_filters():
    user = Network(id="ab" + "0" * 62, name="mynet", driver="bridge", labels={"a": "1"})
    builtin = Network(id="cd" + "0" * 62, name="bridge", driver="bridge")
    svc = _svc(user, builtin)

    def names(f):  # type: ignore[no-untyped-def]
        accept = list_matcher(f, svc)
        return sorted(n.name for n in (user, builtin) if accept(n))

    assert names({"name": ["net"]}) == ["mynet"]
    assert names({"id": ["cd"]}) == ["bridge"]
    assert names({"type": ["custom"]}) == ["mynet"]
    assert names({"type": ["builtin"]}) == ["bridge"]
    assert names({"label": ["a=1"]}) == ["mynet"]
    assert names({"label": ["a=2"]}) == []
    assert names({"dangling": ["true"]}) == ["mynet"]
    assert names({"driver": ["bridge"]}) == ["bridge", "mynet"]
    with pytest.raises(InvalidParameter):
        names({"bogus": ["x"]})


def test_ipv6_pool_and_addresses():
    base = ipam.ula_base("some-engine-id")
    assert base.prefixlen == 48 and base.subnet_of(ipaddress.IPv6Network("fd00::/8"))
    assert ipam.ula_base("some-engine-id") == base  # stable for one engine
    first = next(base.subnets(new_prefix=64))
    assert ipam.choose_subnet6([], base) == first
    assert ipam.choose_subnet6([first], base) == list(base.subnets(new_prefix=64))[1]
    net = ipaddress.IPv6Network("fd12:3456:789a:1::/64")
    a = ipam.next_free(net, net, {"fd12:3456:789a:1::1"}, None)
    assert str(a) == "fd12:3456:789a:1::2"
    assert str(ipam.next_free(net, net, {"fd12:3456:789a:1::1"}, a)) == "fd12:3456:789a:1::3"
    with pytest.raises(InvalidParameter):
        ipam.parse_subnet6("10.0.0.0/24")


def test_dual_stack_request_validation():
    svc = _svc()
    n, _ = network_from_request(
        {
            "Name": "ds",
            "EnableIPv6": True,
            "IPAM": {"Config": [{"Subnet": "fd00:1:2:3::/64"}, {"Subnet": "10.9.8.0/24"}]},
        },
        svc,
    )
    assert (n.subnet, n.gateway, n.subnet6, n.gateway6) == (
        "10.9.8.0/24",
        "10.9.8.1",
        "fd00:1:2:3::/64",
        "fd00:1:2:3::1",
    )
    assert [c["Subnet"] for c in n.to_docker(None)["IPAM"]["Config"]] == [
        "10.9.8.0/24",
        "fd00:1:2:3::/64",
    ]
    for body in (
        {"Name": "x", "IPAM": {"Config": [{"Subnet": "fd00:1:2:3::/64"}]}},
        {
            "Name": "x",
            "EnableIPv6": True,
            "IPAM": {"Config": [{"Subnet": "fd00::/64"}, {"Subnet": "fd01::/64"}]},
        },
        {
            "Name": "x",
            "EnableIPv6": True,
            "IPAM": {"Config": [{"Subnet": "fd00::/64", "Gateway": "10.0.0.1"}]},
        },
    ):
        with pytest.raises(InvalidParameter):
            network_from_request(body, svc)
