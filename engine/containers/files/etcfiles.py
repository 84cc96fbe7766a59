"""Per-container /etc/hostname, /etc/hosts and /etc/resolv.conf (bind-mounted in)."""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

HOST_RESOLV = Path("/etc/resolv.conf")
HOST_HOSTS = Path("/etc/hosts")

_BASE_HOSTS = """127.0.0.1\tlocalhost
::1\tlocalhost ip6-localhost ip6-loopback
fe00::0\tip6-localnet
ff00::0\tip6-mcastprefix
ff02::1\tip6-allnodes
ff02::2\tip6-allrouters
"""


def hosts_content(hostname: str, extra: list[str] | None = None, ip: str | None = None) -> str:
    """Docker's default /etc/hosts, with ``ExtraHosts`` ("name:ip") and our own address."""
    out = _BASE_HOSTS
    for entry in extra or []:
        name, _, addr = entry.partition(":")
        if addr == "host-gateway":
            continue
        out += f"{addr}\t{name}\n"
    if ip:
        out += f"{ip}\t{hostname}\n"
    return out


def _is_loopback(addr: str) -> bool:
    try:
        return ipaddress.ip_address(addr.split("%")[0]).is_loopback
    except ValueError:
        return False


def resolv_content(
    dns: list[str] | None,
    search: list[str] | None = None,
    options: list[str] | None = None,
    host_file: Path = HOST_RESOLV,
) -> str:
    """The container's resolv.conf: ``dns`` when given, else the host's servers minus
    loopback ones (unreachable from a network namespace); search/options are kept."""
    host_servers: list[str] = []
    host_search: list[str] = []
    host_options: list[str] = []
    try:
        text = host_file.read_text()
    except OSError:
        text = ""
    for line in text.splitlines():
        parts = line.split()
        if not parts or parts[0].startswith(("#", ";")):
            continue
        if parts[0] == "nameserver" and len(parts) > 1:
            host_servers.append(parts[1])
        elif parts[0] in ("search", "domain"):
            host_search = parts[1:]
        elif parts[0] == "options":
            host_options += parts[1:]
    if dns:
        servers = list(dns)
    else:
        servers = [s for s in host_servers if not _is_loopback(s)]
    lines = [f"nameserver {s}" for s in servers]
    srch = search if search else host_search
    if srch:
        lines.append("search " + " ".join(srch))
    opts = options if options else host_options
    if opts:
        lines.append("options " + " ".join(opts))
    return "\n".join(lines) + "\n"


def write_etc_files(
    hostname_path: Path,
    hosts_path: Path,
    resolv_path: Path,
    *,
    hostname: str,
    host_network: bool,
    dns: list[str] | None,
    dns_search: list[str] | None = None,
    dns_options: list[str] | None = None,
    extra_hosts: list[str] | None = None,
) -> None:
    """Write the three files (host mode copies the host's hosts and hostname)."""
    if host_network:
        hostname = socket.gethostname()
        try:
            hosts = HOST_HOSTS.read_text()
        except OSError:
            hosts = hosts_content(hostname)
    else:
        hosts = hosts_content(hostname, extra_hosts)
    hostname_path.write_text(hostname + "\n")
    hosts_path.write_text(hosts)
    resolv_path.write_text(resolv_content(dns, dns_search, dns_options))
