"""Where the engine is: a unix socket or a TCP host (optionally TLS), and how to pick one.

The default follows the docker CLI's habits so the app talks to the same engine as the
terminal: ``DOCKER_HOST`` when set, else Portside's own socket when it exists, else the
usual Docker socket.
"""

from __future__ import annotations

import functools
import getpass
import os
import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from .errors import BadRequest

PORTSIDE_SOCKET = "/run/portside/portside.sock"
DOCKER_SOCKET = "/var/run/docker.sock"
SSH_PORT = 22


@dataclass(frozen=True)
class SshEndpoint:
    """An ``ssh://[user@]host[:port][/socket/path]`` engine: the engine's unix socket on
    ``host``, reached through an SSH connection (the socket defaults to Docker's)."""

    host: str
    port: int = SSH_PORT
    user: str = ""
    socket_path: str = DOCKER_SOCKET

    @classmethod
    def parse(cls, url: str) -> SshEndpoint:
        parts = urlsplit(url)
        if parts.scheme != "ssh" or not parts.hostname:
            raise BadRequest(f"no host name in {url!r} (use ssh://user@host[:port])")
        try:
            port = parts.port or SSH_PORT
        except ValueError as e:
            raise BadRequest(f"bad port in {url!r}") from e
        user = parts.username or getpass.getuser()
        return cls(parts.hostname, port, user, parts.path or DOCKER_SOCKET)

    def describe(self) -> str:
        where = self.host if self.port == SSH_PORT else f"{self.host}:{self.port}"
        return f"{self.user}@{where}"


@dataclass(frozen=True)
class TlsConfig:
    """Client TLS settings: a CA to verify the server and an optional client certificate."""

    verify: bool = True
    ca_cert: str | None = None
    client_cert: str | None = None
    client_key: str | None = None

    @classmethod
    def from_cert_dir(cls, cert_dir: str | os.PathLike[str], verify: bool = True) -> TlsConfig:
        """Docker's layout: ``ca.pem``, ``cert.pem``, ``key.pem`` in one directory."""
        d = Path(cert_dir).expanduser()

        def opt(name: str) -> str | None:
            p = d / name
            return str(p) if p.is_file() else None

        return cls(
            verify=verify,
            ca_cert=opt("ca.pem"),
            client_cert=opt("cert.pem"),
            client_key=opt("key.pem"),
        )

    def ssl_context(self) -> ssl.SSLContext:
        """An SSL context built from these settings."""
        ctx = ssl.create_default_context(cafile=self.ca_cert)
        if not self.verify:
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        if self.client_cert:
            ctx.load_cert_chain(self.client_cert, self.client_key)
        return ctx


@functools.cache
def unused_tls_context() -> ssl.SSLContext:
    """The TLS context of transports that never speak TLS (unix sockets, SSH, plain http).

    httpx builds a verifying context with the whole CA bundle for every transport it is
    not given one for: 1.2 MiB resident per client, and the app keeps a client per
    engine. This one has no CA at all, so any TLS handshake through it would fail.
    """
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


@dataclass(frozen=True)
class EngineAddress:
    """One engine endpoint. ``url`` is ``unix:///path``, ``tcp://host:port`` or
    ``ssh://user@host[:port][/socket]`` (``ssh_key``: a private key file; else the SSH
    agent, then ``~/.ssh/id_*``)."""

    url: str
    tls: TlsConfig | None = None
    ssh_key: str | None = None

    def __post_init__(self) -> None:
        parts = urlsplit(self.url)
        if parts.scheme == "unix":
            if not parts.path:
                raise BadRequest(f"no socket path in {self.url!r}")
        elif parts.scheme in ("tcp", "http", "https"):
            if not parts.hostname:
                raise BadRequest(f"no host name in {self.url!r}")
        elif parts.scheme == "ssh":
            SshEndpoint.parse(self.url)
        else:
            raise BadRequest(
                f"unsupported engine address {self.url!r} (use unix://, tcp:// or ssh://)"
            )

    @classmethod
    def unix(cls, path: str | os.PathLike[str]) -> EngineAddress:
        """A unix socket address."""
        return cls(f"unix://{os.fspath(path)}")

    @property
    def is_unix(self) -> bool:
        """True for a unix socket."""
        return self.url.startswith("unix://")

    @property
    def is_ssh(self) -> bool:
        """True for an engine reached over SSH."""
        return self.url.startswith("ssh://")

    @property
    def ssh(self) -> SshEndpoint | None:
        """The SSH endpoint of an ``ssh://`` address."""
        return SshEndpoint.parse(self.url) if self.is_ssh else None

    @property
    def socket_path(self) -> str | None:
        """The socket path of a unix address."""
        return urlsplit(self.url).path if self.is_unix else None

    @property
    def base_url(self) -> str:
        """The URL httpx sends requests to (the host part is a placeholder for sockets)."""
        if self.is_unix or self.is_ssh:
            return "http://docker"
        parts = urlsplit(self.url)
        scheme = "https" if self.tls is not None or parts.scheme == "https" else "http"
        port = parts.port or (2376 if scheme == "https" else 2375)
        return f"{scheme}://{parts.hostname}:{port}"

    def describe(self) -> str:
        """A short label for status bars: the socket path or ``host:port``."""
        if self.is_unix:
            return self.socket_path or self.url
        endpoint = self.ssh
        if endpoint is not None:
            return endpoint.describe()
        return self.base_url.split("://", 1)[1]


def address_from_env(env: Mapping[str, str]) -> EngineAddress | None:
    """The address the docker CLI would use from ``DOCKER_HOST``/``DOCKER_TLS*``, if any."""
    host = env.get("DOCKER_HOST", "").strip()
    if not host:
        return None
    tls: TlsConfig | None = None
    verify = env.get("DOCKER_TLS_VERIFY", "") not in ("", "0")
    if not host.startswith(("unix://", "ssh://")) and (
        verify or env.get("DOCKER_TLS", "") not in ("", "0")
    ):
        cert_dir = env.get("DOCKER_CERT_PATH") or os.path.join(
            env.get("HOME", os.path.expanduser("~")), ".docker"
        )
        tls = TlsConfig.from_cert_dir(cert_dir, verify=verify)
    return EngineAddress(host, tls)


def default_address(
    env: Mapping[str, str] | None = None,
    portside_socket: str = PORTSIDE_SOCKET,
    docker_socket: str = DOCKER_SOCKET,
) -> EngineAddress:
    """``DOCKER_HOST`` if set, else Portside's socket if present, else Docker's socket."""
    found = address_from_env(os.environ if env is None else env)
    if found is not None:
        return found
    if os.path.exists(portside_socket):
        return EngineAddress.unix(portside_socket)
    return EngineAddress.unix(docker_socket)
