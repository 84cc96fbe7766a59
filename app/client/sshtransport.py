# The ``timeout`` parameters are httpcore's interface, not ours to rename.
# ruff: noqa: ASYNC109
"""HTTP to an engine on another host, through the SSH link Portside Machine uses.

An ``ssh://user@host[:port][/socket]`` address means what ``DOCKER_HOST=ssh://…`` means
to the docker CLI, without needing the docker CLI (or socat) on the remote: every HTTP
connection is one ``direct-streamlocal@openssh.com`` channel to the engine's socket over
one kept-alive SSH connection (``portside.vm.link.SshLink``: keepalive, host key checked
against ``~/.ssh/known_hosts``, keys from the agent or ``~/.ssh``).

The channel is spliced to one end of a socketpair by the link's pump threads (paramiko
gives no readiness signal to await), and httpcore reads the other end as an ordinary
asyncio stream. Qt-free: the app passes ``ask_host_key`` to put an unknown key to the user.
"""

from __future__ import annotations

import asyncio
import socket
import typing
from collections.abc import Iterable

import httpcore
import httpx
from portside.vm.link import (
    AuthenticationFailed,
    HostKeyMismatch,
    KnownHostsPolicy,
    LinkError,
    SshLink,
    SshTarget,
    UnknownHostKey,
    UnknownHostKeyHook,
)
from portside.vm.link.pump import Pump

from .address import EngineAddress, SshEndpoint, unused_tls_context
from .errors import EngineRefused
from .netbackend import READ_LIMIT, AsyncioStream

# Seconds between keepalive probes; three unanswered probes end the connection, and the
# next request reconnects.
KEEPALIVE = 10.0


class HostRefused(httpcore.ConnectError, EngineRefused):
    """The host refused us in a way only the user can settle (host key, login); the
    client's error mapping finds it in the chain and raises ``EngineRefused``."""


class ChannelStream(AsyncioStream):
    """An asyncio stream over a socketpair whose other end a pump splices to a channel."""

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, pump: Pump
    ) -> None:
        super().__init__(reader, writer)
        self._pump = pump

    async def aclose(self) -> None:
        # Closing our end alone would leave the pump waiting for the engine to notice the
        # EOF (an event stream never would): end the channel too.
        self._pump.abort()
        await super().aclose()


class LinkBackend(httpcore.AsyncNetworkBackend):
    """httpcore's network backend: every "unix socket" connection is a channel to
    ``socket_path`` on the link's host; the link is (re)connected on demand."""

    def __init__(self, link: SshLink, socket_path: str) -> None:
        self.link = link
        self.socket_path = socket_path

    async def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            return await asyncio.wait_for(self._open(), timeout)
        except TimeoutError as e:
            raise httpcore.ConnectTimeout(f"no answer from {self.link.target.where}") from e
        except (HostKeyMismatch, UnknownHostKey, AuthenticationFailed) as e:
            raise HostRefused(str(e)) from e
        except LinkError as e:
            raise httpcore.ConnectError(str(e)) from e
        except OSError as e:
            raise httpcore.ConnectError(str(e)) from e

    async def _open(self) -> ChannelStream:
        if not self.link.connected:
            await self.link.connect()
        chan = await self.link.open_unix(self.socket_path)
        ours, theirs = socket.socketpair()
        pump = Pump(theirs, chan, f"ssh-engine-{self.link.target.host}")
        pump.start(tell_loop=False)
        try:
            reader, writer = await asyncio.open_unix_connection(sock=ours, limit=READ_LIMIT)
        except BaseException:
            pump.abort()
            ours.close()
            raise
        return ChannelStream(reader, writer, pump)

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[typing.Any] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("an SSH engine is reached through its unix socket only")

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class SshTransport(httpx.AsyncHTTPTransport):
    """httpx's transport with the link as network; closing it closes the SSH connection."""

    def __init__(self, link: SshLink, socket_path: str) -> None:
        super().__init__(uds=socket_path, verify=unused_tls_context())
        self.link = link
        # httpx has no parameter for httpcore's network backend; its pool has the attribute.
        self._pool._network_backend = LinkBackend(link, socket_path)

    async def aclose(self) -> None:
        await super().aclose()
        await self.link.close()


def ssh_target(endpoint: SshEndpoint, key_file: str | None) -> SshTarget:
    """Where the link connects for ``endpoint`` (no pin: known_hosts decides)."""
    from pathlib import Path

    return SshTarget(
        host=endpoint.host,
        port=endpoint.port,
        user=endpoint.user,
        key_file=Path(key_file).expanduser() if key_file else None,
    )


def ssh_transport(
    address: EngineAddress, ask_host_key: UnknownHostKeyHook | None = None
) -> SshTransport:
    """The transport for an ``ssh://`` address; ``ask_host_key`` answers for host keys
    ``~/.ssh/known_hosts`` does not list (None: they are refused)."""
    endpoint = address.ssh
    if endpoint is None:
        raise ValueError(f"not an ssh:// address: {address.url}")
    link = SshLink(
        ssh_target(endpoint, address.ssh_key),
        keepalive=KEEPALIVE,
        host_key_policy=KnownHostsPolicy(None, ask_host_key),
    )
    return SshTransport(link, endpoint.socket_path)
