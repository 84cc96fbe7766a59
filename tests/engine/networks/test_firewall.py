"""The engine's nft table: published ports (tcp/udp, specific/any host address),
masquerade for loopback clients, isolation between bridges, cleanup by one delete."""

from __future__ import annotations

import asyncio
import socket
import subprocess

import pytest
from labnet import fetch, fetch_from, free_port, read, write
from portside.engine.networks import nsutil
from portside.engine.networks.nft import (
    FirewallTable,
    Nft,
    NftNetwork,
    NftPort,
    render,
    table_name,
)


def test_render_is_one_atomic_replacement():
    text = render(
        "portside_x",
        [NftNetwork("br1", "10.1.0.0/24"), NftNetwork("br2", "10.2.0.0/24", internal=True)],
        [NftPort("tcp", "127.0.0.1", 8080, "10.1.0.2", 80), NftPort("udp", "", 53, "10.1.0.2", 53)],
        masquerade=True,
    )
    lines = text.splitlines()
    # add-if-missing, delete, define: one transaction whatever the previous state.
    assert lines[:3] == [
        "table inet portside_x {}",
        "delete table inet portside_x",
        "table inet portside_x {",
    ]
    assert "ip daddr 127.0.0.1 tcp dport 8080 dnat ip to 10.1.0.2:80" in text
    assert "meta nfproto ipv4 udp dport 53 dnat ip to 10.1.0.2:53" in text
    assert 'ip saddr 10.1.0.0/24 oifname != "br1" masquerade' in text
    # internal networks never get outbound NAT
    assert 'ip saddr 10.2.0.0/24 oifname != "br2" masquerade' not in text
    assert 'elements = { "br2" }' in text
    no_masq = render("portside_x", [NftNetwork("br1", "10.1.0.0/24")], [], masquerade=False)
    assert "oifname != " not in no_masq


def test_render_dual_stack():
    text = render(
        "portside_x",
        [NftNetwork("br6", "10.6.0.0/24", subnet6="fd00:6::/64")],
        [
            NftPort("tcp", "::", 8080, "fd00:6::2", 80),
            NftPort("tcp", "fd00:6::1", 8081, "fd00:6::2", 81),
            NftPort("tcp", "::1", 8082, "fd00:6::2", 82),
        ],
        masquerade=True,
    )
    assert "meta nfproto ipv6 tcp dport 8080 dnat ip6 to [fd00:6::2]:80" in text
    assert "ip6 daddr fd00:6::1 tcp dport 8081 dnat ip6 to [fd00:6::2]:81" in text
    # [::1] is never DNATed: the port's socket proxies it
    assert "ip6 daddr ::1 return" in text and "dport 8082" not in text
    assert 'oifname "br6" ip6 saddr fd00:6::/64 ct status dnat masquerade' in text
    assert 'ip6 saddr fd00:6::/64 oifname != "br6" masquerade' in text


def test_table_name_is_a_valid_identifier():
    assert table_name("ps1a2b3c") == "portside_ps1a2b3c"
    assert table_name("my-br.0") == "portside_my_br_0"


def _tables() -> str:
    return subprocess.run(["nft", "list", "tables"], capture_output=True, text=True).stdout


@pytest.fixture
def nft() -> Nft:
    return Nft()


async def test_published_ports_reach_the_namespace(lab, nft):
    b = await lab.bridge()
    box = await lab.box(b)
    port = await lab.tcp_server(box)
    uport = await lab.udp_echo(box)
    name = f"portside_lb{lab.tag}"
    lab.tables.append(name)
    h_local, h_any, h_udp = free_port(), free_port(), free_port(socket.SOCK_DGRAM)
    ports = [
        NftPort("tcp", "127.0.0.1", h_local, box.ip, port),
        NftPort("tcp", "0.0.0.0", h_any, box.ip, port),
        NftPort("udp", "127.0.0.1", h_udp, box.ip, uport),
    ]
    table = FirewallTable(
        nft, name, lambda: ([NftNetwork(b.name, str(b.net))], ports), masquerade=False
    )
    await table.sync()
    assert f"inet {name}" in _tables()
    # A loopback client is masqueraded to the bridge address (the reply must route back).
    assert await fetch("127.0.0.1", h_local) == f"hello {b.gateway}"
    # "any address" publishing answers on every local address, e.g. the bridge's own.
    assert await fetch(b.gateway, h_any) == f"hello {b.gateway}"
    assert await fetch("127.0.0.1", h_any) == f"hello {b.gateway}"
    # udp
    loop = asyncio.get_running_loop()
    got: asyncio.Future[bytes] = loop.create_future()

    class Client(asyncio.DatagramProtocol):
        def datagram_received(self, data, addr):  # type: ignore[no-untyped-def]
            if not got.done():
                got.set_result(data)

    tr, _ = await loop.create_datagram_endpoint(Client, remote_addr=("127.0.0.1", h_udp))
    try:
        for _ in range(3):
            tr.sendto(b"ping")
            try:
                assert await asyncio.wait_for(asyncio.shield(got), 1) == b"echo ping"
                break
            except TimeoutError:
                continue
        assert got.done()
    finally:
        tr.close()
    # Re-rendering without the ports unpublishes them; deleting removes the table.
    ports.clear()
    await table.sync()
    with pytest.raises((ConnectionRefusedError, OSError, TimeoutError)):
        await fetch("127.0.0.1", h_local, wait=1)
    await table.delete()
    assert f"inet {name}" not in _tables()
    await table.delete()  # idempotent


async def test_bridges_are_isolated(lab, nft):
    forward = read("/proc/sys/net/ipv4/ip_forward").strip()
    b1, b2 = await lab.bridge(), await lab.bridge()
    one, two = await lab.box(b1), await lab.box(b2)
    port = await lab.tcp_server(two)
    name = f"portside_lb{lab.tag}"
    lab.tables.append(name)
    try:
        write("/proc/sys/net/ipv4/ip_forward", "1")

        async def try_connect() -> str:
            s = await nsutil.in_ns_thread(
                nsutil.socket_in, one.path, socket.AF_INET, socket.SOCK_STREAM
            )
            return await fetch_from(s, two.ip, port, wait=1)

        # Routed between the two bridges while no table isolates them...
        assert await try_connect() == f"hello {one.ip}"
        nets = [NftNetwork(b1.name, str(b1.net)), NftNetwork(b2.name, str(b2.net))]
        table = FirewallTable(nft, name, lambda: (nets, []), masquerade=False)
        await table.sync()
        # ...and not once the engine's table is in place.
        with pytest.raises(TimeoutError):
            await try_connect()
        await table.delete()
    finally:
        write("/proc/sys/net/ipv4/ip_forward", forward)


async def test_concurrent_syncs_coalesce(nft, lab):
    name = f"portside_lb{lab.tag}"
    lab.tables.append(name)
    calls = 0

    def state():  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        return [], []

    table = FirewallTable(nft, name, state, masquerade=False)
    await asyncio.gather(*(table.sync() for _ in range(20)))
    assert calls < 20
    await table.delete()
