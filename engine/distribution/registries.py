"""Where a repository is served from: endpoints, mirrors, insecure registries, CAs.

As dockerd does it:

* ``docker.io`` images go to the configured ``registry-mirrors`` first (pull only),
  then to ``registry-1.docker.io``.
* Other registries are reached over HTTPS. A registry listed in
  ``insecure-registries`` (by ``host[:port]`` or by CIDR; ``127.0.0.0/8`` is always
  insecure) may also be reached over plain HTTP, and its certificate is not verified.
* ``<config-dir>/certs.d/<host[:port]>/`` may hold ``*.crt`` CA files and
  ``*.cert``/``*.key`` client pairs; the config dir is that of ``--config-file``, or
  ``/etc/portside``.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from ..config import DaemonConfig
from ..errors import InvalidParameter

DOCKER_IO = "docker.io"
DOCKER_REGISTRY = "registry-1.docker.io"
INDEX_SERVER = "https://index.docker.io/v1/"
DEFAULT_CONFIG_DIR = Path("/etc/portside")
_ALWAYS_INSECURE = ("127.0.0.0/8", "::1/128")


@dataclass(frozen=True)
class Endpoint:
    """One base URL to try for a registry."""

    host: str  # host[:port] as written in references
    scheme: str  # "https" or "http"
    verify_tls: bool
    mirror: bool = False
    path_prefix: str = ""  # mirrors may live under a path

    @property
    def base(self) -> str:
        """``scheme://host[/prefix]`` without a trailing slash."""
        return f"{self.scheme}://{self.host}{self.path_prefix}"


class RegistryConfig:
    """The daemon's view of registries, built once from :class:`DaemonConfig`."""

    def __init__(self, config: DaemonConfig) -> None:
        self.config = config
        self.config_dir = config.config_file.parent if config.config_file else DEFAULT_CONFIG_DIR
        self.insecure_hosts: set[str] = set()
        self.insecure_nets: list[ipaddress.IPv4Network | ipaddress.IPv6Network] = [
            ipaddress.ip_network(n) for n in _ALWAYS_INSECURE
        ]
        for entry in config.insecure_registries:
            entry = entry.strip()
            if "://" in entry:
                raise InvalidParameter(f"insecure registry {entry} should not contain '://'")
            try:
                self.insecure_nets.append(ipaddress.ip_network(entry, strict=False))
                continue
            except ValueError:
                pass
            self.insecure_hosts.add(entry.lower().rstrip("/"))
        self.mirrors = [self._mirror(m) for m in config.registry_mirrors]
        # Search endpoint for docker.io terms: Docker Hub, or a daemon-config override
        # (the only way tests can serve search results, since Hub is unreachable).
        self.index_server = str(config.raw.get("index-server") or INDEX_SERVER)
        self._contexts: dict[str, ssl.SSLContext | bool] = {}

    @staticmethod
    def _mirror(url: str) -> Endpoint:
        parts = urlsplit(url.strip())
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise InvalidParameter(f"invalid mirror: {url!r} is not a valid URI")
        return Endpoint(
            parts.netloc, parts.scheme, True, mirror=True, path_prefix=parts.path.rstrip("/")
        )

    async def is_insecure(self, host: str) -> bool:
        """Whether ``host[:port]`` may be reached without TLS verification/over HTTP."""
        host = host.lower()
        if host in self.insecure_hosts:
            return True
        name = _strip_port(host)
        if name in self.insecure_hosts:
            return True
        addrs: list[str] = []
        try:
            ipaddress.ip_address(name)
            addrs = [name]
        except ValueError:
            if name == "localhost":
                addrs = ["127.0.0.1"]
            else:
                addrs = await _resolve(name)
        for a in addrs:
            ip = ipaddress.ip_address(a)
            if any(ip in net for net in self.insecure_nets):
                return True
        return False

    async def endpoints(self, domain: str, push: bool = False) -> list[Endpoint]:
        """Endpoints to try in order for a repository under ``domain``."""
        if domain == DOCKER_IO:
            eps = [] if push else list(self.mirrors)
            return [*eps, Endpoint(DOCKER_REGISTRY, "https", True)]
        if await self.is_insecure(domain):
            return [Endpoint(domain, "https", False), Endpoint(domain, "http", False)]
        return [Endpoint(domain, "https", True)]

    def tls(self, ep: Endpoint) -> ssl.SSLContext | bool:
        """The ``verify`` value for httpx: a context with certs.d CAs, or False."""
        if ep.scheme == "http":
            return False
        key = f"{ep.host}|{ep.verify_tls}"
        if key not in self._contexts:
            self._contexts[key] = self._build_context(ep.host, ep.verify_tls)
        return self._contexts[key]

    def _build_context(self, host: str, verify: bool) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        if not verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        certs = self.config_dir / "certs.d" / host
        if certs.is_dir():
            for f in sorted(certs.iterdir()):
                if f.suffix == ".crt":
                    ctx.load_verify_locations(cafile=str(f))
                elif f.suffix == ".cert":
                    keyfile = f.with_suffix(".key")
                    if not keyfile.exists():
                        raise InvalidParameter(
                            f"missing key {keyfile.name} for client certificate {f.name}"
                        )
                    ctx.load_cert_chain(str(f), str(keyfile))
        return ctx


def _strip_port(host: str) -> str:
    if host.startswith("["):
        return host[1 : host.index("]")]
    if host.count(":") == 1:
        return host.split(":")[0]
    return host


async def _resolve(name: str) -> list[str]:
    """Addresses of ``name`` (is it a loopback alias?); bounded, since the resolver
    may be slow or unreachable and a pull must not hang on it."""
    loop = asyncio.get_running_loop()
    try:
        infos = await asyncio.wait_for(
            loop.getaddrinfo(name, None, proto=socket.IPPROTO_TCP), timeout=3
        )
    except (OSError, TimeoutError):
        return []
    return [str(i[4][0]) for i in infos]
