"""IP address management: choosing bridge subnets and handing out addresses.

Subnets come from Docker's default pools (172.17–31.0.0/16, then 192.168.x.0/20), then
10.x.y.0/24. A candidate is refused when it overlaps any network the host already uses
(interface addresses and routes, read from the kernel at allocation time — which also
covers other engines' bridges), any subnet this engine already assigned, or a
nameserver the host depends on. Engines on one machine serialise the choice with an
flock, so two starting at once never pick the same subnet.

Addresses are handed out sequentially after the last one given (like Docker), so a
released address is not reused at once by the next container.
"""

from __future__ import annotations

import asyncio
import fcntl
import hashlib
import ipaddress
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from ..errors import Conflict, InvalidParameter

IPv4Net = ipaddress.IPv4Network
IPv4Addr = ipaddress.IPv4Address
IPv6Net = ipaddress.IPv6Network
IPv6Addr = ipaddress.IPv6Address
IPNet = IPv4Net | IPv6Net

LOCK_PATH = Path("/run/lock/portside-subnets.lock")


def candidate_pool() -> Iterator[IPv4Net]:
    """Docker's local pools in Docker's order, then 10.0.0.0/8 in /24s."""
    for b in range(17, 32):
        yield IPv4Net(f"172.{b}.0.0/16")
    for c in range(0, 256, 16):
        yield IPv4Net(f"192.168.{c}.0/20")
    for b in range(0, 256):
        for c in range(0, 256):
            yield IPv4Net(f"10.{b}.{c}.0/24")


def resolver_addresses(resolv: Path = Path("/etc/resolv.conf")) -> list[IPv4Addr]:
    """IPv4 nameservers of the host (a bridge over them would cut the host's DNS)."""
    out: list[IPv4Addr] = []
    try:
        text = resolv.read_text()
    except OSError:
        return out
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            try:
                addr = ipaddress.ip_address(parts[1].split("%")[0])
            except ValueError:
                continue
            if isinstance(addr, IPv4Addr):
                out.append(addr)
    return out


def choose_subnet(in_use: Iterable[IPv4Net], avoid: Iterable[IPv4Addr] = ()) -> IPv4Net:
    """The first pool subnet overlapping nothing in ``in_use`` nor containing ``avoid``."""
    used = [n for n in in_use if n.prefixlen > 0]
    avoid = list(avoid)
    for cand in candidate_pool():
        if any(cand.overlaps(u) for u in used):
            continue
        if any(a in cand for a in avoid):
            continue
        return cand
    raise Conflict("could not find an available, non-overlapping IPv4 address pool")


def parse_subnet(text: str, what: str = "subnet") -> IPv4Net:
    """A user-given IPv4 CIDR; 400 for garbage or an IPv6 block (see parse_subnet6)."""
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidParameter(f"invalid {what} {text}: invalid CIDR address") from None
    if not isinstance(net, IPv4Net):
        raise InvalidParameter(f"IPv6 {what} {text} is not supported")
    if net.prefixlen > 30:
        raise InvalidParameter(f"{what} {text} is too small for a network")
    return net


def parse_addr(text: str, what: str = "address") -> IPv4Addr:
    """A user-given IPv4 address."""
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        raise InvalidParameter(f"invalid {what} {text}") from None
    if not isinstance(addr, IPv4Addr):
        raise InvalidParameter(f"IPv6 {what} {text} is not supported")
    return addr


def usable(net: IPv4Net, addr: IPv4Addr) -> bool:
    """Inside ``net`` and neither its network nor its broadcast address."""
    return addr in net and addr != net.network_address and addr != net.broadcast_address


def next_free(
    net: IPNet, pool: IPNet, taken: set[str], after: IPv4Addr | IPv6Addr | None
) -> IPv4Addr | IPv6Addr:
    """The first free host address of ``pool`` (within ``net``) after ``after``,
    wrapping around; 409 when the pool is exhausted. The network address (and, in IPv4,
    the broadcast address) is never handed out."""
    first = max(int(pool.network_address), int(net.network_address) + 1)
    last = min(int(pool.broadcast_address), int(net.broadcast_address) - (net.version == 4))
    family = f"IPv{net.version}"
    if first > last:
        raise Conflict(f"no available {family} addresses on this network's address pools: {pool}")
    start = int(after) + 1 if after is not None and first <= int(after) < last else first
    n = last - first + 1
    make = IPv4Addr if net.version == 4 else IPv6Addr
    # An IPv6 /64 is never scanned to its end: the first 64Ki candidates suffice.
    for i in range(min(n, 1 << 16) if net.version == 6 else n):
        cand = make(first + (start - first + i) % n)
        if str(cand) not in taken:
            return cand
    raise Conflict(f"no available {family} addresses on this network's address pools: {pool}")


def parse_subnet6(text: str, what: str = "subnet") -> IPv6Net:
    """A user-given IPv6 CIDR."""
    try:
        net = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise InvalidParameter(f"invalid {what} {text}: invalid CIDR address") from None
    if not isinstance(net, IPv6Net):
        raise InvalidParameter(f"{what} {text} is not an IPv6 block")
    if net.prefixlen > 126:
        raise InvalidParameter(f"{what} {text} is too small for a network")
    return net


def ula_base(host_id: str) -> IPv6Net:
    """dockerd's default IPv6 pool: a ULA /48 whose 40-bit Global ID is taken from a
    hash of the host (engine) ID, stable across restarts (RFC 4193, loosely)."""
    gid = int.from_bytes(hashlib.sha256(host_id.encode()).digest()[:8], "big") & ((1 << 40) - 1)
    return IPv6Net((int(IPv6Addr("fd00::")) + (gid << 80), 48))


def choose_subnet6(in_use: Iterable[IPv6Net], base: IPv6Net) -> IPv6Net:
    """The first /64 of ``base`` overlapping nothing in ``in_use``."""
    used = [n for n in in_use if n.prefixlen > 0]
    for cand in base.subnets(new_prefix=64):
        if not any(cand.overlaps(u) for u in used):
            return cand
    raise Conflict("could not find an available, non-overlapping IPv6 address pool")


def mac_for(ip: str) -> str:
    """Docker's MAC for an address: 02:42 followed by the four address bytes."""
    b = IPv4Addr(ip).packed
    return "02:42:" + ":".join(f"{x:02x}" for x in b)


def parse_mac(text: str) -> str:
    """A user's MAC address in the kernel's spelling (lower case, colons); 400 in
    dockerd's wording for anything that is not a unicast 48-bit address. Go's forms are
    accepted: ``02:42:ac:11:00:02``, ``02-42-ac-11-00-02`` and ``0242.ac11.0002``."""
    if re.fullmatch(r"[0-9A-Fa-f]{2}([:-])[0-9A-Fa-f]{2}(\1[0-9A-Fa-f]{2}){4}", text):
        octets = re.split(r"[:-]", text)
    elif re.fullmatch(r"[0-9A-Fa-f]{4}(\.[0-9A-Fa-f]{4}){2}", text):
        digits = text.replace(".", "")
        octets = [digits[i : i + 2] for i in range(0, 12, 2)]
    else:
        raise InvalidParameter(f"invalid MAC address {text}")
    if int(octets[0], 16) & 1:
        # dockerd lets this through and the kernel refuses it at start.
        raise InvalidParameter(f"invalid MAC address {text}: a multicast address")
    return ":".join(o.lower() for o in octets)


def random_mac() -> str:
    """A random locally administered unicast MAC."""
    b = bytearray(os.urandom(6))
    b[0] = (b[0] & 0xFC) | 0x02
    return ":".join(f"{x:02x}" for x in b)


class SubnetLock:
    """A machine-wide lock held while a subnet is chosen and assigned to a bridge."""

    def __init__(self, path: Path = LOCK_PATH) -> None:
        self.path = path
        self._fd: int | None = None

    async def __aenter__(self) -> SubnetLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        # Non-blocking attempts so the event loop keeps serving while another engine
        # holds the lock (it holds it for milliseconds).
        for _ in range(2000):
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._fd = fd
                return self
            except BlockingIOError:
                await asyncio.sleep(0.005)
        os.close(fd)
        raise Conflict(f"timed out waiting for {self.path}")

    async def __aexit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
