"""The engine's one nftables table: NAT for published ports, masquerade, isolation.

The table (``inet portside_<default bridge>``) is rendered in full from the engine's
state and swapped in atomically: one transaction holds ``add table; delete table;
table { ... }``, so rules are never half-applied, never duplicated, and a restarted
engine simply renders again (live restore). Established connections survive a swap
because their NAT bindings live in conntrack, not in the table. Nothing outside the table
is touched, so other engines' tables and the host's own firewall are left alone, and
cleanup is one ``delete table``.

Rules are applied through libnftables (ctypes, in-process, ~2 ms) when the library is
present and through ``nft -f -`` otherwise. The library is loaded on the first script, not
when the engine starts: an engine with no bridge up has no table and never maps it.
"""

from __future__ import annotations

import asyncio
import ctypes
import logging
import re
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from ..errors import SystemError_

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class NftNetwork:
    """A bridge network as the firewall sees it."""

    bridge: str
    subnet: str
    internal: bool = False
    masquerade: bool = True
    subnet6: str = ""  # "" for an IPv4-only network


@dataclass(frozen=True)
class NftPort:
    """One published port: host (ip, port) → container (ip, port)."""

    proto: str  # tcp | udp | sctp
    host_ip: str  # "" or "0.0.0.0" = every IPv4 host address, "::" every IPv6 one
    host_port: int
    ip: str
    port: int
    comment: str = ""


def table_name(bridge_name: str) -> str:
    """``portside_<bridge>`` with characters nft identifiers refuse replaced."""
    return "portside_" + re.sub(r"[^A-Za-z0-9_]", "_", bridge_name)


def _q(name: str) -> str:
    return '"' + name.replace('"', "") + '"'


def _set(name: str, items: list[str]) -> list[str]:
    lines = [f"  set {name} {{", "    type ifname"]
    if items:
        lines.append("    elements = { " + ", ".join(_q(i) for i in sorted(items)) + " }")
    lines.append("  }")
    return lines


def _dnat(p: NftPort) -> str:
    comment = f' comment "{p.comment}"' if p.comment else ""
    if ":" in p.host_ip:
        match = "meta nfproto ipv6" if p.host_ip == "::" else f"ip6 daddr {p.host_ip}"
        to = f"ip6 to [{p.ip}]:{p.port}"
    else:
        match = "meta nfproto ipv4"
        if p.host_ip and p.host_ip != "0.0.0.0":
            match = f"ip daddr {p.host_ip}"
        to = f"ip to {p.ip}:{p.port}"
    return f"    {match} {p.proto} dport {p.host_port} dnat {to}{comment}"


def render(table: str, networks: list[NftNetwork], ports: list[NftPort], masquerade: bool) -> str:
    """The nft script that atomically replaces the table with this state."""
    bridges = [n.bridge for n in networks]
    internal = [n.bridge for n in networks if n.internal]
    out = [f"table inet {table} {{}}", f"delete table inet {table}", f"table inet {table} {{"]
    out += _set("bridges", bridges)
    out += _set("internal", internal)
    out += [
        "  chain prerouting {",
        "    type nat hook prerouting priority dstnat; policy accept;",
        "    fib daddr type local jump published",
        "  }",
        "  chain output {",
        "    type nat hook output priority -100; policy accept;",
        "    fib daddr type local jump published",
        "  }",
        "  chain published {",
        # [::1] cannot be DNATed (the answer would enter through a bridge): the port's
        # own socket takes those connections and proxies them (see proxy.py).
        "    ip6 daddr ::1 return",
    ]
    dnat = [p for p in ports if p.host_ip != "::1"]
    out += [_dnat(p) for p in sorted(dnat, key=lambda p: (p.proto, p.host_port, p.host_ip))]
    out += [
        "  }",
        "  chain postrouting {",
        "    type nat hook postrouting priority srcnat; policy accept;",
        # A client on the host talking to a port published on 127.0.0.1: the reply must
        # come back to a routable address, the bridge's.
        "    oifname @bridges ip saddr 127.0.0.0/8 masquerade",
    ]
    for n in networks:
        for family, subnet in (("ip", n.subnet), ("ip6", n.subnet6)):
            if not subnet:
                continue
            # Hairpin: a container reaching a port published into its own network
            # through a host address would otherwise get the reply straight from the peer.
            out.append(
                f"    oifname {_q(n.bridge)} {family} saddr {subnet} ct status dnat masquerade"
            )
            if masquerade and n.masquerade and not n.internal:
                out.append(f"    {family} saddr {subnet} oifname != {_q(n.bridge)} masquerade")
    out += [
        "  }",
        "  chain forward {",
        "    type filter hook forward priority filter; policy accept;",
        "    oifname @bridges ct state established,related accept",
    ]
    for b in sorted(bridges):
        out.append(f"    iifname {_q(b)} oifname {_q(b)} accept")
    out += [
        "    iifname @internal drop",
        "    oifname @internal drop",
        "    oifname @bridges ct status dnat accept",
        # Isolation between networks, and nothing unsolicited into any of them.
        "    iifname @bridges oifname @bridges drop",
        "    oifname @bridges drop",
        "  }",
        "}",
    ]
    return "\n".join(out) + "\n"


def render_delete(table: str) -> str:
    """The nft script that removes the table if it exists."""
    return f"table inet {table} {{}}\ndelete table inet {table}\n"


class _LibNft:
    """libnftables through ctypes (one context, used from one thread)."""

    def __init__(self, path: str) -> None:
        lib = ctypes.CDLL(path)
        lib.nft_ctx_new.restype = ctypes.c_void_p
        lib.nft_ctx_new.argtypes = [ctypes.c_uint32]
        lib.nft_run_cmd_from_buffer.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
        lib.nft_ctx_buffer_output.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_buffer_error.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_output_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_output_buffer.argtypes = [ctypes.c_void_p]
        lib.nft_ctx_get_error_buffer.restype = ctypes.c_char_p
        lib.nft_ctx_get_error_buffer.argtypes = [ctypes.c_void_p]
        self.lib = lib
        self.ctx = lib.nft_ctx_new(0)
        if not self.ctx:
            raise OSError("nft_ctx_new failed")
        lib.nft_ctx_buffer_output(self.ctx)
        lib.nft_ctx_buffer_error(self.ctx)

    def run(self, script: str) -> tuple[int, str, str]:
        rc = self.lib.nft_run_cmd_from_buffer(self.ctx, script.encode())
        out = (self.lib.nft_ctx_get_output_buffer(self.ctx) or b"").decode(errors="replace")
        err = (self.lib.nft_ctx_get_error_buffer(self.ctx) or b"").decode(errors="replace")
        return rc, out, err


def _find_libnftables() -> str | None:
    import ctypes.util  # runs ldconfig -p when the soname is not found directly

    for name in ("libnftables.so.1", ctypes.util.find_library("nftables")):
        if not name:
            continue
        try:
            ctypes.CDLL(name)
            return name
        except OSError:
            continue
    return None


class Nft:
    """Runs nft scripts: in-process when libnftables loads, else ``nft -f -``."""

    def __init__(self, use_library: bool = True) -> None:
        self._exec = ThreadPoolExecutor(max_workers=1, thread_name_prefix="portside-nft")
        self._lib: _LibNft | None = None
        self._want_library = use_library  # until the first script decides

    def _library(self) -> _LibNft | None:
        """libnftables, loaded on first use (None: use the nft command)."""
        if self._want_library:
            self._want_library = False
            path = _find_libnftables()
            if path:
                try:
                    self._lib = _LibNft(path)
                except OSError as e:
                    log.info("libnftables unusable (%s); using the nft command", e)
        return self._lib

    @property
    def backend(self) -> str:
        """``libnftables`` or ``nft``."""
        return "libnftables" if self._library() else "nft"

    async def run(self, script: str) -> str:
        """Apply ``script`` as one transaction; SystemError_ with nft's message on failure."""
        lib = self._library()
        if lib is not None:
            rc, out, err = await asyncio.get_running_loop().run_in_executor(
                self._exec, lib.run, script
            )
        else:
            proc = await asyncio.create_subprocess_exec(
                "nft",
                "-f",
                "-",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            bout, berr = await proc.communicate(script.encode())
            rc, out, err = proc.returncode or 0, bout.decode(), berr.decode()
        if rc != 0:
            raise SystemError_(f"nftables: {err.strip() or 'failed'}")
        return out

    async def list_tables(self) -> list[str]:
        """``family name`` of every table (for tests and diagnostics)."""
        out = await self.run("list tables")
        return [line[len("table ") :].strip() for line in out.splitlines() if line]


class FirewallTable:
    """The engine's table, re-rendered from ``state`` whenever something changes.

    ``sync()`` calls coalesce: when many containers start at once, each caller waits for
    one apply that includes its change rather than queueing an apply of its own.
    """

    def __init__(
        self,
        nft: Nft,
        name: str,
        state: Callable[[], tuple[list[NftNetwork], list[NftPort]]],
        masquerade: bool,
    ) -> None:
        self.nft = nft
        self.name = name
        self._state = state
        self._masquerade = masquerade
        self._lock = asyncio.Lock()
        self._wanted = 0
        self._applied = 0

    async def sync(self) -> None:
        """Make the kernel table match the current state."""
        self._wanted += 1
        mine = self._wanted
        async with self._lock:
            if self._applied >= mine:
                return
            gen = self._wanted
            networks, ports = self._state()
            await self.nft.run(render(self.name, networks, ports, self._masquerade))
            self._applied = gen

    async def delete(self) -> None:
        """Remove the table (idempotent)."""
        async with self._lock:
            await self.nft.run(render_delete(self.name))
            self._applied = 0
