"""``PortForwarder``: the guest's published ports, answering on the host.

The guest engine publishes container ports on the guest (its own loopback included). For
each published TCP port of a running container the forwarder listens on the host at
``bind_address:<host port>`` and carries each connection over a ``direct-tcpip`` channel
to that port in the guest — Lima's host agent does the same, and like it the forwarder
learns of ports from the engine instead of scanning: it follows the engine's container
events and, on every (re)connect and after every event burst, reconciles its listeners
against ``GET /containers/json``. The listing is the truth; events only say when to look,
so a missed event costs nothing more than the next reconcile.

Only TCP is forwarded: UDP over SSH needs a datagram relay in the guest (SSH channels are
streams), which is a later step. Published UDP ports are listed in ``problems`` so the user
learns why they do not answer on the host.
"""

from __future__ import annotations

import asyncio
import errno
import json
import logging
import socket
import urllib.parse
from dataclasses import dataclass
from typing import Any

import paramiko

from .enginehttp import JsonLineStream, get_json
from .errors import LinkError
from .pump import Acceptor
from .ssh import SshLink

log = logging.getLogger(__name__)

# The container events that can change which ports are published. Exec and health events
# (every few seconds with healthchecks) are filtered out by the engine itself.
PORT_EVENTS = ("start", "die", "destroy", "stop", "kill", "restart", "pause", "unpause")
# While a port could not be bound, try again this often even without events.
RETRY_PROBLEMS = 5.0
BACKLOG = 128
ANSWER_TIMEOUT = 30.0
# Guest addresses meaning "every address"; the guest's loopback reaches those.
WILDCARDS = ("", "0.0.0.0", "::")


@dataclass(frozen=True)
class ForwardedPort:
    """A host port that forwards to a published port in the guest."""

    proto: str  # "tcp"
    host_address: str
    host_port: int
    container_id: str
    guest_address: str = "127.0.0.1"
    guest_port: int = 0


@dataclass(frozen=True)
class _Wanted:
    host_port: int
    guest_address: str
    container_id: str


def wanted_ports(containers: list[dict[str, Any]]) -> tuple[dict[int, _Wanted], list[str]]:
    """The TCP ports to forward, by host port, from a ``/containers/json`` listing, and
    the ports that cannot be forwarded, as sentences (one host port on several guest
    addresses; UDP)."""
    wanted: dict[int, _Wanted] = {}
    conflicts: list[str] = []
    udp: set[int] = set()
    for c in containers:
        # Docker keeps the ports of a paused container published; so does the forwarder.
        if c.get("State", "running") not in ("running", "paused"):
            continue
        for p in c.get("Ports") or ():
            port = p.get("PublicPort")
            if not port:
                continue
            if p.get("Type", "tcp") == "udp":
                udp.add(int(port))
            if p.get("Type", "tcp") != "tcp":
                continue
            ip = p.get("IP") or ""
            guest = "127.0.0.1" if ip in WILDCARDS else ip
            entry = _Wanted(int(port), guest, c["Id"])
            have = wanted.get(entry.host_port)
            if have is None:
                wanted[entry.host_port] = entry
            elif have.guest_address != entry.guest_address:
                conflicts.append(
                    f"port {port} is published on {have.guest_address} and {ip} in the "
                    f"machine; only {have.guest_address} is forwarded"
                )
    conflicts += [
        f"port {port}/udp is not forwarded: only TCP ports reach the host for now"
        for port in sorted(udp)
    ]
    return wanted, conflicts


class _Listener:
    def __init__(self, port: ForwardedPort, acceptor: Acceptor) -> None:
        self.port = port
        self.acceptor = acceptor


class PortForwarder:
    """Forwards the remote engine's published TCP ports to ``bind_address`` on the host."""

    def __init__(
        self,
        link: SshLink,
        engine_socket: str,
        bind_address: str = "127.0.0.1",
        *,
        link_grace: float = 5.0,
    ) -> None:
        self.link = link
        self.engine_socket = engine_socket
        self.bind_address = bind_address
        self.link_grace = link_grace  # as SocketForwarder's: connections wait for a reconnect
        self._listeners: dict[int, _Listener] = {}
        self._problems: list[str] = []
        self._unbound = False  # some port could not be bound: retry without waiting for events
        self._lock = asyncio.Lock()
        self._closed = asyncio.Event()
        self._stream: JsonLineStream | None = None

    @property
    def forwarded(self) -> list[ForwardedPort]:
        return [self._listeners[p].port for p in sorted(self._listeners)]

    @property
    def following(self) -> bool:
        """Whether the engine's event stream is open (ports are kept current)."""
        return self._stream is not None and self._stream.is_open

    @property
    def problems(self) -> list[str]:
        """Why some published ports are not forwarded right now (retried on reconcile)."""
        return list(self._problems)

    # -- following the engine --------------------------------------------------------------
    async def run(self) -> None:
        """Follow the engine until ``close()`` (or until the link is closed), across link
        reconnects: every new connection starts with a full reconcile."""
        follower = asyncio.create_task(self._follow_forever(), name="port-forwarder")
        closed = asyncio.create_task(self._closed.wait())
        try:
            await asyncio.wait({follower, closed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (follower, closed):
                task.cancel()
            await asyncio.gather(follower, closed, return_exceptions=True)

    async def _follow_forever(self) -> None:
        delay = 0.5
        while not self._closed.is_set():
            try:
                await self.link.wait_connected()
            except LinkError:
                return  # the link was closed for good
            generation = self.link.generation
            try:
                await self._follow()
                delay = 0.5
            except LinkError as e:
                log.info("following the engine's events: %s", e)
            if self.link.connected and self.link.generation == generation:
                # Same connection, yet the stream ended: the engine restarted or refused.
                # Back off so a missing engine socket does not make a busy loop.
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)

    async def _follow(self) -> None:
        filters = json.dumps({"type": ["container"], "event": list(PORT_EVENTS)})
        target = "/events?filters=" + urllib.parse.quote(filters)
        chan = await self.link.open_unix(self.engine_socket)
        stream = JsonLineStream(chan, target)
        self._stream = stream
        try:
            await stream.opened()
            # Subscribed first, then listed: an event between the two is not lost.
            await self.reconcile()
            while True:
                wait = RETRY_PROBLEMS if self._unbound else None
                try:
                    event = await asyncio.wait_for(stream.next(), wait)
                except TimeoutError:
                    await self.reconcile()
                    continue
                if event is None:
                    if stream.error:
                        raise stream.error
                    return
                stream.pending()  # a burst (compose up) is one reconcile
                await self.reconcile()
        finally:
            stream.close()
            self._stream = None

    # -- reconciling -------------------------------------------------------------------------
    async def reconcile(self) -> None:
        """Make the listeners match the engine's running containers now. ``LinkError``
        when the engine cannot be asked (listeners are left as they are then)."""
        async with self._lock:
            if self._closed.is_set():
                return
            chan = await self.link.open_unix(self.engine_socket)
            chan.settimeout(ANSWER_TIMEOUT)  # a hung engine must not hold a thread forever
            containers = await asyncio.to_thread(get_json, chan, "/containers/json")
            wanted, problems = wanted_ports(containers)
            for host_port in list(self._listeners):
                have = self._listeners[host_port].port
                want = wanted.get(host_port)
                if (
                    want is None
                    or want.guest_address != have.guest_address
                    or want.container_id != have.container_id
                ):
                    await self._drop(host_port)
            unbound = []
            for host_port, want in sorted(wanted.items()):
                if host_port not in self._listeners:
                    problem = self._listen(want)
                    if problem:
                        unbound.append(problem)
            self._unbound = bool(unbound)
            self._problems = unbound + problems

    def _listen(self, want: _Wanted) -> str | None:
        """Start forwarding one port; the problem as a sentence when it cannot."""
        family = socket.AF_INET6 if ":" in self.bind_address else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.bind_address, want.host_port))
            sock.listen(BACKLOG)
        except OSError as e:
            sock.close()
            if e.errno == errno.EADDRINUSE:
                return f"port {want.host_port} on {self.bind_address} is in use by another program"
            return f"cannot listen on {self.bind_address}:{want.host_port}: {e.strerror or e}"
        port = ForwardedPort(
            "tcp",
            self.bind_address,
            want.host_port,
            want.container_id,
            want.guest_address,
            want.host_port,
        )

        async def open_channel() -> paramiko.Channel:
            await self.link.ready(self.link_grace)
            return await self.link.open_tcp(port.guest_address, port.guest_port)

        acceptor = Acceptor(sock, open_channel, f"port-{want.host_port}")
        acceptor.start()
        self._listeners[want.host_port] = _Listener(port, acceptor)
        log.info(
            "forwarding %s:%d to %s:%d in the machine",
            self.bind_address,
            want.host_port,
            want.guest_address,
            want.host_port,
        )
        return None

    async def _drop(self, host_port: int) -> None:
        listener = self._listeners.pop(host_port)
        await listener.acceptor.close()
        log.info("stopped forwarding %s:%d", self.bind_address, host_port)

    async def close(self) -> None:
        """Stop following the engine and close every listener and forwarded connection."""
        self._closed.set()
        stream = self._stream
        if stream is not None:
            stream.close()
        async with self._lock:
            for host_port in list(self._listeners):
                await self._drop(host_port)
            self._problems = []
            self._unbound = False
