"""A container's /etc/hosts and, on user-defined networks, its /etc/resolv.conf.

Both files are bind-mounted into the container, so later changes (connect, disconnect)
rewrite them *in place*: the same inode, truncated and written, never replaced by a new
file the container would not see.
"""

from __future__ import annotations

import os
from pathlib import Path

from .dns import DNS_ADDR

BASE_HOSTS = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)


def wants_host_gateway(extra_hosts: list[str] | None) -> bool:
    """Whether an ``--add-host`` entry names ``host-gateway`` (the default bridge's
    address, which must then exist on the host)."""
    return any(
        e.partition("=" if "=" in e else ":")[2] == "host-gateway" for e in extra_hosts or []
    )


def hosts_text(
    hostname: str,
    domainname: str,
    own_ips: list[str],
    extra_hosts: list[str] | None = None,
    links: list[tuple[str, list[str]]] | None = None,
    host_gateway: str = "",
) -> str:
    """Docker's /etc/hosts: the base entries, ``--add-host`` entries, legacy links, then
    the container's own addresses with its hostname."""
    out = BASE_HOSTS
    for entry in extra_hosts or []:
        # "name:ip" (the CLI's form) or "name=ip"; ip may be "host-gateway".
        sep = "=" if "=" in entry else ":"
        name, _, addr = entry.partition(sep)
        if addr == "host-gateway":
            if not host_gateway:
                continue
            addr = host_gateway
        out += f"{addr.strip('[]')}\t{name}\n"
    for ip, link_names in links or []:
        out += f"{ip}\t{' '.join(link_names)}\n"
    shown = f"{hostname}.{domainname} {hostname}" if domainname else hostname
    for ip in own_ips:
        out += f"{ip}\t{shown}\n"
    return out


def resolv_text(search: list[str] | None = None, options: list[str] | None = None) -> str:
    """resolv.conf pointing at the embedded DNS server (``ndots:0`` as Docker)."""
    lines = [f"nameserver {DNS_ADDR}"]
    if search:
        lines.append("search " + " ".join(search))
    opts = list(options or [])
    if not any(o.startswith("ndots:") for o in opts):
        opts.insert(0, "ndots:0")
    lines.append("options " + " ".join(opts))
    return "\n".join(lines) + "\n"


def host_resolvers(resolv: Path = Path("/etc/resolv.conf")) -> list[str]:
    """The host's nameservers (the embedded server forwards to them from the host's
    namespace, so loopback resolvers such as 127.0.0.53 work)."""
    out: list[str] = []
    try:
        text = resolv.read_text()
    except OSError:
        return out
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0] == "nameserver":
            out.append(parts[1].split("%")[0])
    return out


def write_in_place(path: Path, text: str) -> None:
    """Replace ``path``'s content keeping its inode (it may be bind-mounted)."""
    data = text.encode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, data, 0)
    finally:
        os.close(fd)
