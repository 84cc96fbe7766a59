"""The embedded DNS server: wire format, and answers inside a namespace at 127.0.0.11."""

from __future__ import annotations

import asyncio
import random
import socket
import struct

import pytest
from portside.engine.networks import nsutil
from portside.engine.networks.dns import (
    DNS_ADDR,
    RCODE_NXDOMAIN,
    RCODE_OK,
    RCODE_SERVFAIL,
    TYPE_A,
    TYPE_AAAA,
    TYPE_PTR,
    DnsFormatError,
    DnsServer,
    Resolver,
    build_response,
    encode_name,
    parse_query,
    reverse_name,
)


def query(name: str, qtype: int = TYPE_A, qid: int = 0x1234) -> bytes:
    # RD set, one question, plus an EDNS OPT record as real resolvers send.
    opt = b"\0" + struct.pack(">HHIH", 41, 1232, 0, 0)
    return (
        struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 1)
        + encode_name(name)
        + struct.pack(">HH", qtype, 1)
        + opt
    )


def answers(resp: bytes) -> tuple[int, int, list[bytes]]:
    """(id, rcode, rdata of each answer) of a response built by build_response."""
    qid, flags, _qd, an = struct.unpack(">HHHH", resp[:8])
    off = 12
    while resp[off] != 0:
        off += resp[off] + 1
    off += 5
    out = []
    for _ in range(an):
        _, _, _, _, rdlen = struct.unpack(">HHHIH", resp[off : off + 12])
        out.append(resp[off + 12 : off + 12 + rdlen])
        off += 12 + rdlen
    return qid, flags & 0xF, out


def test_parse_and_build():
    q = parse_query(query("Web.MyNet"))
    assert (q.name, q.qtype, q.id) == ("web.mynet", TYPE_A, 0x1234)
    resp = build_response(
        query("web"), parse_query(query("web")), RCODE_OK, [(TYPE_A, b"\n\0\0\2")]
    )
    assert answers(resp) == (0x1234, RCODE_OK, [b"\n\0\0\2"])
    assert struct.unpack(">H", resp[2:4])[0] & 0x8080 == 0x8080  # QR and RA
    for bad in (b"", b"\0" * 11, struct.pack(">HHHHHH", 1, 0x8000, 1, 0, 0, 0) + b"\0\0\1\0\1"):
        with pytest.raises(DnsFormatError):
            parse_query(bad)
    assert reverse_name("2.0.18.172.in-addr.arpa") == "172.18.0.2"
    assert reverse_name("example.com") is None


def _resolver(upstreams: list[str] | None = None) -> Resolver:
    table = {("c1", "web"): ["10.9.0.2", "10.9.0.3"]}
    return Resolver(
        lambda cid, name: table.get((cid, name)),
        lambda cid, ip: "web.mynet" if ip == "10.9.0.2" else None,
        lambda cid: upstreams or [],
    )


async def test_resolver_answers_known_names_only_for_their_container():
    r = _resolver()
    _, rcode, rdata = answers(await r.answer("c1", query("web")))
    assert rcode == RCODE_OK and rdata == [
        socket.inet_aton("10.9.0.2"),
        socket.inet_aton("10.9.0.3"),
    ]
    # AAAA of a known name: NOERROR with no answer (so clients do not try elsewhere).
    assert answers(await r.answer("c1", query("web", TYPE_AAAA)))[1:] == (RCODE_OK, [])
    # Another container does not see c1's networks; no upstream -> SERVFAIL.
    assert answers(await r.answer("c2", query("web")))[1] == RCODE_SERVFAIL
    _, rcode, rdata = answers(await r.answer("c1", query("2.0.9.10.in-addr.arpa", TYPE_PTR)))
    assert rcode == RCODE_OK and rdata == [encode_name("web.mynet")]
    assert await r.answer("c1", b"garbage") is None


async def test_unknown_names_are_forwarded_upstream():
    upstream = f"127.{random.randint(1, 254)}.{random.randint(1, 254)}.53"
    loop = asyncio.get_running_loop()

    class Upstream(asyncio.DatagramProtocol):
        def connection_made(self, t):  # type: ignore[no-untyped-def]
            self.t = t

        def datagram_received(self, data, addr):  # type: ignore[no-untyped-def]
            q = parse_query(data)
            self.t.sendto(build_response(data, q, RCODE_NXDOMAIN, []), addr)

    try:
        tr, _ = await loop.create_datagram_endpoint(Upstream, local_addr=(upstream, 53))
    except OSError as e:
        pytest.skip(f"cannot bind a fake upstream on {upstream}:53: {e}")
    try:
        r = _resolver([upstream])
        qid, rcode, _ = answers(await r.answer("c1", query("elsewhere.example", qid=77)))
        assert (qid, rcode) == (77, RCODE_NXDOMAIN)
    finally:
        tr.close()


async def test_server_answers_inside_the_namespace(lab):
    b = await lab.bridge()
    box = await lab.box(b)
    server = DnsServer(_resolver())
    await server.serve("c1", box.path)
    try:
        assert server.serving("c1")
        # a client inside the namespace, over UDP then TCP
        u = await nsutil.in_ns_thread(nsutil.socket_in, box.path, socket.AF_INET, socket.SOCK_DGRAM)
        u.setblocking(False)
        loop = asyncio.get_running_loop()
        try:
            await loop.sock_connect(u, (DNS_ADDR, 53))
            await loop.sock_sendall(u, query("web"))
            resp = await asyncio.wait_for(loop.sock_recv(u, 512), 3)
        finally:
            u.close()
        assert answers(resp)[2][0] == socket.inet_aton("10.9.0.2")
        t = await nsutil.in_ns_thread(
            nsutil.socket_in, box.path, socket.AF_INET, socket.SOCK_STREAM
        )
        t.setblocking(False)
        try:
            await asyncio.wait_for(loop.sock_connect(t, (DNS_ADDR, 53)), 3)
            q = query("web")
            await loop.sock_sendall(t, struct.pack(">H", len(q)) + q)
            data = b""
            while len(data) < 2 or len(data) < 2 + struct.unpack(">H", data[:2])[0]:
                chunk = await asyncio.wait_for(loop.sock_recv(t, 512), 3)
                assert chunk
                data += chunk
        finally:
            t.close()
        assert answers(data[2:])[1] == RCODE_OK
        # Nothing listens on the host's 127.0.0.11: the sockets live in the namespace.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.settimeout(1)
            with pytest.raises(OSError):
                s.connect((DNS_ADDR, 53))
    finally:
        server.close()
    assert not server.serving("c1")
