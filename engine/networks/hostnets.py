"""What the host's network already uses, read without pyroute2.

Choosing a subnet (``docker network create``, the default bridge's first start) needs the
host's IPv4 addresses and routes, and telling whether an earlier engine life left links
behind needs their interface aliases. Both are small reads: one rtnetlink dump each for
addresses and main-table routes (a few hundred bytes, answered synchronously by the
kernel, like reading a /proc file) and ``/sys/class/net/*/ifalias``. Doing them here
keeps pyroute2 (~10 MiB once imported) out of an engine that has not yet plugged a
container into a bridge; :mod:`.links` is only imported for that.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

SYS_NET = Path("/sys/class/net")

NETLINK_ROUTE = 0
RTM_GETADDR, RTM_GETROUTE = 22, 26
NLM_F_REQUEST, NLM_F_DUMP = 0x1, 0x300
NLMSG_ERROR, NLMSG_DONE = 2, 3
IFA_ADDRESS, IFA_LOCAL = 1, 2
RTA_DST, RTA_OIF, RTA_TABLE = 1, 4, 15
RT_TABLE_MAIN = 254

_NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_IFADDRMSG = struct.Struct("=BBBBI")  # family, prefixlen, flags, scope, index
_RTMSG = struct.Struct(
    "=BBBBBBBBI"
)  # family, dst_len, src_len, tos, table, proto, scope, type, flags
_RTATTR = struct.Struct("=HH")  # len, type


@dataclass
class HostNet:
    """One IPv4 network the host already uses (an address's subnet or a route)."""

    net: ipaddress.IPv4Network
    dev: str


def _align(n: int) -> int:
    return (n + 3) & ~3


def _attrs(data: bytes, offset: int) -> dict[int, bytes]:
    """rtattrs from ``offset`` to the end of one message."""
    out: dict[int, bytes] = {}
    while offset + _RTATTR.size <= len(data):
        length, kind = _RTATTR.unpack_from(data, offset)
        if length < _RTATTR.size:
            break
        out[kind] = data[offset + _RTATTR.size : offset + length]
        offset += _align(length)
    return out


def _dump(msg_type: int, body: bytes) -> Iterator[bytes]:
    """Each reply message (header stripped) of one rtnetlink dump request."""
    with socket.socket(
        socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE
    ) as s:
        s.bind((0, 0))
        seq = 1
        s.send(
            _NLMSGHDR.pack(_NLMSGHDR.size + len(body), msg_type, NLM_F_REQUEST | NLM_F_DUMP, seq, 0)
            + body
        )
        while True:
            data = s.recv(1 << 16)
            if not data:
                raise OSError("netlink: empty reply")
            off = 0
            while off + _NLMSGHDR.size <= len(data):
                length, kind, _flags, mseq, _pid = _NLMSGHDR.unpack_from(data, off)
                if length < _NLMSGHDR.size:
                    raise OSError("netlink: malformed reply")
                msg = data[off + _NLMSGHDR.size : off + length]
                off += _align(length)
                if mseq != seq:
                    continue
                if kind == NLMSG_DONE:
                    return
                if kind == NLMSG_ERROR:
                    (err,) = struct.unpack_from("=i", msg)
                    if err:
                        raise OSError(-err, f"netlink dump: {os.strerror(-err)}")
                    continue
                yield msg


def _net(raw: bytes, prefixlen: int) -> ipaddress.IPv4Network:
    return ipaddress.IPv4Network((socket.inet_ntop(socket.AF_INET, raw), prefixlen), strict=False)


def _networks(family: int) -> Iterator[tuple[bytes, int, int]]:
    """(raw network address, prefix length, ifindex) of every address (local and peer)
    and every non-default main-table route of ``family``."""
    size = 4 if family == socket.AF_INET else 16
    for msg in _dump(RTM_GETADDR, _IFADDRMSG.pack(family, 0, 0, 0, 0)):
        fam, prefixlen, _flags, _scope, index = _IFADDRMSG.unpack_from(msg)
        if fam != family:
            continue
        attrs = _attrs(msg, _IFADDRMSG.size)
        for key in (IFA_ADDRESS, IFA_LOCAL):
            raw = attrs.get(key)
            if raw and len(raw) == size:
                yield raw, prefixlen, index
    for msg in _dump(RTM_GETROUTE, _RTMSG.pack(family, 0, 0, 0, 0, 0, 0, 0, 0)):
        fam, dst_len, _src, _tos, table, _proto, _scope, _type, _flags = _RTMSG.unpack_from(msg)
        attrs = _attrs(msg, _RTMSG.size)
        if RTA_TABLE in attrs:
            (table,) = struct.unpack("=I", attrs[RTA_TABLE])
        if fam != family or table != RT_TABLE_MAIN or not dst_len:
            continue
        raw = attrs.get(RTA_DST)
        if not raw or len(raw) != size:
            continue
        oif = struct.unpack("=I", attrs[RTA_OIF])[0] if len(attrs.get(RTA_OIF, b"")) == 4 else 0
        yield raw, dst_len, oif


def host_networks() -> list[HostNet]:
    """IPv4 networks in use on the host: every address's subnet (local and peer
    address) and every non-default route of the main table, so a new bridge subnet never
    shadows any of them."""
    names = dict(socket.if_nameindex())
    out: list[HostNet] = []
    for raw, prefixlen, index in _networks(socket.AF_INET):
        hn = HostNet(_net(raw, prefixlen), names.get(index, ""))
        if hn not in out:
            out.append(hn)
    return out


def host_networks6() -> list[ipaddress.IPv6Network]:
    """IPv6 networks in use on the host (global and unique-local ones: link-local and
    multicast prefixes exist on every link and are no one's to avoid)."""
    out: list[ipaddress.IPv6Network] = []
    for raw, prefixlen, _index in _networks(socket.AF_INET6):
        addr = ipaddress.IPv6Address(raw)
        if addr.is_link_local or addr.is_multicast or addr.is_loopback:
            continue
        net = ipaddress.IPv6Network((addr, prefixlen), strict=False)
        if net not in out:
            out.append(net)
    return out


def alias_of(name: str) -> str | None:
    """The interface alias of host link ``name`` ("" when unset, None when no such link)."""
    try:
        return (SYS_NET / name / "ifalias").read_text().rstrip("\n")
    except FileNotFoundError:
        return None
    except OSError:
        return ""


def owned_links(owner: str) -> list[str]:
    """Names of the host links carrying the interface alias ``owner``."""
    try:
        names = os.listdir(SYS_NET)
    except OSError:
        return []
    return sorted(n for n in names if alias_of(n) == owner)
