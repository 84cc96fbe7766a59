"""The embedded DNS server: container names on user-defined networks.

Like dockerd, the engine answers at 127.0.0.11:53 *inside* every container namespace
attached to a user-defined network, and the container's resolv.conf points there. The
engine creates a UDP socket and a TCP listener in each namespace (see
:mod:`.nsutil`); because each namespace has its own sockets, the server knows which
container asks and answers only with names of the networks that container is on. Names
are looked up in the engine's live endpoint table, so connect/disconnect take effect on
the next query. Unknown names are forwarded to the upstream resolvers from the *host*
namespace (so a host resolver on 127.0.0.53 works too); when none answers, SERVFAIL.

After an engine restart (live restore) the namespaces are found again under
``<exec-root>/netns`` and fresh sockets are bound in them.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from . import nsutil

log = logging.getLogger(__name__)

DNS_ADDR = "127.0.0.11"
TYPE_A, TYPE_PTR, TYPE_AAAA = 1, 12, 28
CLASS_IN = 1
RCODE_OK, RCODE_SERVFAIL, RCODE_NXDOMAIN, RCODE_NOTIMP = 0, 2, 3, 4
TTL = 600
FORWARD_TIMEOUT = 2.0


class DnsFormatError(ValueError):
    """The packet is not a DNS query we can parse."""


@dataclass
class Question:
    """The first question of a query."""

    id: int
    flags: int
    name: str  # lower case, no trailing dot
    qtype: int
    qclass: int
    end: int  # offset just after the question section


def parse_query(data: bytes) -> Question:
    """Header and first question of ``data``."""
    if len(data) < 12:
        raise DnsFormatError("short packet")
    qid, flags, qd = struct.unpack(">HHH", data[:6])
    if flags & 0x8000 or qd < 1:
        raise DnsFormatError("not a query")
    labels = []
    off = 12
    while True:
        if off >= len(data):
            raise DnsFormatError("truncated name")
        n = data[off]
        if n == 0:
            off += 1
            break
        if n & 0xC0:
            raise DnsFormatError("compressed question name")
        label = data[off + 1 : off + 1 + n]
        if len(label) != n:
            raise DnsFormatError("truncated label")
        labels.append(label.decode("ascii", "replace").lower())
        off += 1 + n
    if off + 4 > len(data):
        raise DnsFormatError("truncated question")
    qtype, qclass = struct.unpack(">HH", data[off : off + 4])
    return Question(qid, flags, ".".join(labels), qtype, qclass, off + 4)


def encode_name(name: str) -> bytes:
    """A domain name in wire format."""
    out = b""
    for label in name.strip(".").split("."):
        if label:
            b = label.encode("ascii", "replace")[:63]
            out += bytes([len(b)]) + b
    return out + b"\0"


def build_response(
    query: bytes, q: Question, rcode: int, answers: list[tuple[int, bytes]]
) -> bytes:
    """A response echoing the question with ``answers`` of (type, rdata)."""
    # QR, opcode from the query, AA, RD copied, RA.
    flags = 0x8000 | (q.flags & 0x7800) | 0x0400 | (q.flags & 0x0100) | 0x0080 | rcode
    header = struct.pack(">HHHHHH", q.id, flags, 1, len(answers), 0, 0)
    body = query[12 : q.end]
    for rtype, rdata in answers:
        # 0xC00C: the name of the question at offset 12.
        body += struct.pack(">HHHIH", 0xC00C, rtype, CLASS_IN, TTL, len(rdata)) + rdata
    return header + body


def reverse_name(name: str) -> str | None:
    """``4.3.2.1.in-addr.arpa`` → ``1.2.3.4``; the nibbles of ``ip6.arpa`` → an IPv6
    address."""
    suffix6 = ".ip6.arpa"
    if name.endswith(suffix6):
        nibbles = name[: -len(suffix6)].split(".")
        if len(nibbles) != 32 or not all(len(x) == 1 for x in nibbles):
            return None
        try:
            return str(ipaddress.IPv6Address(int("".join(reversed(nibbles)), 16)))
        except ValueError:
            return None
    suffix = ".in-addr.arpa"
    if not name.endswith(suffix):
        return None
    parts = name[: -len(suffix)].split(".")
    if len(parts) != 4:
        return None
    try:
        return str(ipaddress.IPv4Address(".".join(reversed(parts))))
    except ValueError:
        return None


# (container_id, name) -> addresses, or None when the name is not ours
Lookup = Callable[[str, str], list[str] | None]
# (container_id, address) -> name, or None
ReverseLookup = Callable[[str, str], str | None]
# container_id -> upstream resolvers
Upstreams = Callable[[str], list[str]]


class _Forwarder(asyncio.DatagramProtocol):
    def __init__(self, fut: asyncio.Future[bytes | None]) -> None:
        self.fut = fut

    def datagram_received(self, data: bytes, addr: object) -> None:
        if not self.fut.done():
            self.fut.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.fut.done():
            self.fut.set_result(None)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.fut.done():
            self.fut.set_result(None)


def _forwarder_factory(fut: asyncio.Future[bytes | None]) -> Callable[[], _Forwarder]:
    return lambda: _Forwarder(fut)


class Resolver:
    """Answers one query for one container."""

    def __init__(self, lookup: Lookup, reverse: ReverseLookup, upstreams: Upstreams) -> None:
        self.lookup = lookup
        self.reverse = reverse
        self.upstreams = upstreams

    async def answer(self, container_id: str, data: bytes) -> bytes | None:
        """The response to ``data`` (None for packets not worth an answer)."""
        try:
            q = parse_query(data)
        except DnsFormatError:
            return None
        if q.qclass != CLASS_IN or (q.flags >> 11) & 0xF != 0:
            return build_response(data, q, RCODE_NOTIMP, [])
        if q.qtype != TYPE_PTR:
            ips = self.lookup(container_id, q.name)
            if ips is not None:
                # A known name: its addresses of the family asked for (none for others)
                family = {TYPE_A: socket.AF_INET, TYPE_AAAA: socket.AF_INET6}.get(q.qtype)
                answers = [
                    (q.qtype, socket.inet_pton(family, ip))
                    for ip in ips
                    if family is not None and (":" in ip) == (family == socket.AF_INET6)
                ]
                return build_response(data, q, RCODE_OK, answers)
        if q.qtype == TYPE_PTR:
            ip = reverse_name(q.name)
            name = self.reverse(container_id, ip) if ip else None
            if name:
                return build_response(data, q, RCODE_OK, [(TYPE_PTR, encode_name(name))])
        return await self.forward(container_id, data, q)

    async def forward(self, container_id: str, data: bytes, q: Question) -> bytes:
        """Ask the upstream resolvers from the host namespace; SERVFAIL if none answers."""
        loop = asyncio.get_running_loop()
        for server in self.upstreams(container_id):
            fut: asyncio.Future[bytes | None] = loop.create_future()
            try:
                transport, _ = await loop.create_datagram_endpoint(
                    _forwarder_factory(fut), remote_addr=(server, 53)
                )
            except OSError:
                continue
            try:
                transport.sendto(data)
                reply = await asyncio.wait_for(fut, FORWARD_TIMEOUT)
            except (TimeoutError, OSError):
                reply = None
            finally:
                transport.close()
            if reply:
                return reply
        return build_response(data, q, RCODE_SERVFAIL, [])


class _UdpServer(asyncio.DatagramProtocol):
    def __init__(self, resolver: Resolver, container_id: str) -> None:
        self.resolver = resolver
        self.container_id = container_id
        self.transport: asyncio.DatagramTransport | None = None
        self.tasks: set[asyncio.Task[None]] = set()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # asyncio's datagram transport does not subclass DatagramTransport (CPython 3.11)
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        task = asyncio.ensure_future(self._reply(data, addr))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _reply(self, data: bytes, addr: tuple[str, int]) -> None:
        reply = await self.resolver.answer(self.container_id, data)
        if reply and self.transport is not None and not self.transport.is_closing():
            self.transport.sendto(reply, addr)


class _Instance:
    """The sockets serving one namespace."""

    def __init__(self, udp: asyncio.DatagramTransport, tcp: asyncio.AbstractServer) -> None:
        self.udp = udp
        self.tcp = tcp

    def close(self) -> None:
        self.udp.close()
        self.tcp.close()


# (family, type, proto) of the two sockets to create inside a namespace
DNS_SOCKETS = ((socket.AF_INET, socket.SOCK_DGRAM, 0), (socket.AF_INET, socket.SOCK_STREAM, 0))


class DnsServer:
    """One resolver, serving every namespace it is told about."""

    def __init__(self, resolver: Resolver) -> None:
        self.resolver = resolver
        self._instances: dict[str, _Instance] = {}

    def serving(self, container_id: str) -> bool:
        """Whether sockets exist for this container."""
        return container_id in self._instances

    async def serve(
        self, container_id: str, netns: Path, sockets: list[socket.socket] | None = None
    ) -> None:
        """Listen at 127.0.0.11:53 inside ``netns`` (``lo`` must be up). ``sockets``:
        a UDP and a TCP socket already created in it (see DNS_SOCKETS)."""
        self.stop(container_id)
        if sockets is None:
            sockets = await nsutil.in_ns_thread(nsutil.sockets_in, netns, DNS_SOCKETS)
        u, t = sockets
        try:
            # A socket belongs to the namespace it was created in; binding it later from
            # this thread still binds inside that namespace.
            for s in (u, t):
                s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                s.setblocking(False)
            u.bind((DNS_ADDR, 53))
            t.bind((DNS_ADDR, 53))
            t.listen(64)
            loop = asyncio.get_running_loop()
            udp, _ = await loop.create_datagram_endpoint(
                lambda: _UdpServer(self.resolver, container_id), sock=u
            )
            tcp = await asyncio.start_server(
                lambda r, w: self._tcp_client(container_id, r, w), sock=t
            )
        except BaseException:
            u.close()
            t.close()
            raise
        self._instances[container_id] = _Instance(udp, tcp)

    async def _tcp_client(
        self, container_id: str, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        try:
            while True:
                head = await asyncio.wait_for(reader.readexactly(2), 10)
                (n,) = struct.unpack(">H", head)
                data = await asyncio.wait_for(reader.readexactly(n), 10)
                reply = await self.resolver.answer(container_id, data)
                if reply is None:
                    break
                writer.write(struct.pack(">H", len(reply)) + reply)
                await writer.drain()
        except (asyncio.IncompleteReadError, TimeoutError, ConnectionError):
            pass
        finally:
            writer.close()

    def stop(self, container_id: str) -> None:
        """Close the sockets of one namespace (they would keep it alive otherwise)."""
        inst = self._instances.pop(container_id, None)
        if inst is not None:
            inst.close()

    def close(self) -> None:
        """Close every socket."""
        for cid in list(self._instances):
            self.stop(cid)
