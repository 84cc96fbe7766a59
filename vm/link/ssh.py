"""``SshLink``: one SSH connection to a machine (or a remote host), kept alive.

The design follows Lima's host agent: one long-lived SSH session per machine, over which
the engine socket and published ports are forwarded as channels, a keepalive that notices
a dead guest, and a reconnect with backoff after a guest reboot or a host sleep.

paramiko is blocking and thread-safe; every blocking call runs on the link's own small
thread pool (so long waits never starve the event loop's default executor) and the
public API is async. A watcher thread joins the paramiko Transport thread, so a dead
connection is noticed without polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import select
import socket
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import paramiko

from .errors import AuthenticationFailed, HostKeyMismatch, LinkError, UnknownHostKey
from .hostkeys import HostKeyPolicy, KnownHostsPolicy, PinnedHostKey, UnknownHostKeyHook
from .streamlocal import StreamlocalTransport

log = logging.getLogger(__name__)

T = TypeVar("T")
C = TypeVar("C", paramiko.Channel, StreamlocalTransport)

# OpenSSH answers an unknown global request with a failure; any answer proves the peer alive
# (the same probe as ssh's ServerAliveInterval).
KEEPALIVE_REQUEST = "keepalive@openssh.com"
DEFAULT_KEY_NAMES = ("id_ed25519", "id_ecdsa", "id_rsa")
CHANNEL_OPEN_TIMEOUT = 15.0


@dataclass(frozen=True)
class SshTarget:
    """Where to connect and how to authenticate both ends."""

    host: str
    port: int = 22
    user: str = "root"
    key_file: Path | None = None  # private key; None → SSH agent, then ~/.ssh/id_*
    pinned_host_key: str | None = None  # "ssh-ed25519 AAAA..." (exact pin); None → known_hosts
    known_hosts: Path | None = None  # default ~/.ssh/known_hosts (only without a pin)

    @property
    def where(self) -> str:
        return f"{self.host}:{self.port}"


class LinkState(enum.Enum):
    DISCONNECTED = "disconnected"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    CLOSED = "closed"


StateListener = Callable[[LinkState], None]


class SshLink:
    """A kept-alive SSH connection with channels to unix sockets and TCP ports on the host.

    ``keepalive`` seconds between probes; ``keepalive_count`` unanswered probe periods end
    the connection (then ``wait_closed`` returns and ``reconnect`` may be called).
    ``host_key_policy`` decides which host keys are trusted; without one, the target's pin
    (``PinnedHostKey``) or else known_hosts (``KnownHostsPolicy``) with ``unknown_host_key``
    answering for keys it does not know.
    """

    def __init__(
        self,
        target: SshTarget,
        *,
        keepalive: float = 10.0,
        keepalive_count: int = 3,
        unknown_host_key: UnknownHostKeyHook | None = None,
        host_key_policy: HostKeyPolicy | None = None,
    ) -> None:
        self.target = target
        self.keepalive = keepalive
        self.keepalive_count = keepalive_count
        self.unknown_host_key = unknown_host_key
        self.host_key_policy = host_key_policy or default_policy(target, unknown_host_key)
        self._pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="ssh-link")
        self._transport: StreamlocalTransport | None = None
        self._agent: paramiko.Agent | None = None
        self._state = LinkState.DISCONNECTED
        self._listeners: list[StateListener] = []
        self._up = asyncio.Event()  # set while connected (and once closed, to wake waiters)
        self._down = asyncio.Event()  # set when the current connection has ended
        self._down.set()
        self._keepalive_task: asyncio.Task[None] | None = None
        self._connect_lock = asyncio.Lock()
        self.generation = 0  # counts successful connections; lets users notice a reconnect
        self.last_error: str | None = None  # why the last connection attempt failed

    # -- state ---------------------------------------------------------------------------
    @property
    def state(self) -> LinkState:
        return self._state

    @property
    def connected(self) -> bool:
        t = self._transport
        return self._state is LinkState.CONNECTED and t is not None and t.is_active()

    def add_listener(self, listener: StateListener) -> None:
        """Call ``listener(state)`` on the event loop at every state change."""
        self._listeners.append(listener)

    def remove_listener(self, listener: StateListener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(listener)

    def _set_state(self, state: LinkState) -> None:
        if state is self._state:
            return
        self._state = state
        log.debug("link to %s: %s", self.target.where, state.value)
        for listener in list(self._listeners):
            try:
                listener(state)
            except Exception:
                log.exception("link state listener failed")

    async def wait_connected(self) -> None:
        """Return once the link is connected; ``LinkError`` if it is closed first."""
        while True:
            if self._state is LinkState.CLOSED:
                raise LinkError(f"the link to {self.target.where} is closed")
            if self.connected:
                return
            if self._up.is_set():
                # The connection just ended; the watcher's news is on its way to the loop.
                await asyncio.sleep(0.05)
            else:
                await self._up.wait()

    async def ready(self, grace: float) -> None:
        """Wait up to ``grace`` seconds for the link to be connected (a reconnect under
        way), then return either way; ``LinkError`` if the link is closed."""
        if self.connected or grace <= 0:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.wait_connected(), grace)

    async def wait_closed(self) -> None:
        """Return when the current connection has ended (at once when there is none)."""
        await self._down.wait()

    # -- connecting ----------------------------------------------------------------------
    # The timeouts of connect() and run() are part of the machine's interface and are
    # handed to blocking socket/paramiko calls on threads, which asyncio.timeout cannot stop.
    async def connect(self, timeout: float = 15.0) -> None:  # noqa: ASYNC109
        """Connect, check the host key, authenticate. ``LinkError``/``HostKeyMismatch``."""
        async with self._connect_lock:
            if self._state is LinkState.CLOSED:
                raise LinkError(f"the link to {self.target.where} is closed")
            if self.connected:
                return
            self._set_state(LinkState.CONNECTING)
            try:
                transport = await self._establish(timeout)
            except BaseException as e:
                self.last_error = str(e) if isinstance(e, LinkError) else repr(e)
                if self._state is not LinkState.CLOSED:  # close() during the attempt stays
                    self._set_state(LinkState.DISCONNECTED)
                raise
            if self._state is LinkState.CLOSED:
                # closed while logging in: nobody may use this connection
                transport.close()
                raise LinkError(f"the link to {self.target.where} is closed")
            self.last_error = None
            self._transport = transport
            self.generation += 1
            self._down.clear()
            self._up.set()
            self._watch(transport)
            if self.keepalive > 0:
                self._keepalive_task = asyncio.create_task(self._keepalive_loop(transport))
            self._set_state(LinkState.CONNECTED)

    async def _establish(self, limit: float) -> StreamlocalTransport:
        deadline = time.monotonic() + limit
        t = self.target
        types = self.host_key_policy.preferred_key_types(t.host, t.port)
        transport = await self._open(self._handshake, limit, types)
        try:
            offered = transport.get_remote_server_key()
            await self.host_key_policy.check(offered, t.host, t.port)
            left = max(1.0, deadline - time.monotonic())
            await asyncio.wait_for(self._call(self._authenticate, transport), left)
        except BaseException as e:
            transport.close()
            if isinstance(e, TimeoutError):
                raise LinkError(f"{t.where} did not finish logging in within {limit:g}s") from e
            raise
        return transport

    def _handshake(self, timeout: float, key_types: list[str]) -> StreamlocalTransport:
        """TCP connect and key exchange (blocking; runs on the pool)."""
        t = self.target
        try:
            sock = socket.create_connection((t.host, t.port), timeout=timeout)
        except OSError as e:
            raise LinkError(f"cannot reach {t.where}: {e.strerror or e}") from e
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport = StreamlocalTransport(sock)
        transport.banner_timeout = timeout
        if key_types:
            options = transport.get_security_options()
            rest = [k for k in options.key_types if k not in key_types]
            options.key_types = [*[k for k in key_types if k in options.key_types], *rest]
        try:
            transport.start_client(timeout=timeout)
        except (paramiko.SSHException, OSError, EOFError) as e:
            transport.close()
            raise LinkError(f"SSH handshake with {t.where} failed: {e}") from e
        return transport

    def _credentials(self) -> list[paramiko.PKey]:
        t = self.target
        if t.key_file is not None:
            return [self._load_key(t.key_file)]
        keys: list[paramiko.PKey] = []
        if self._agent is not None:  # the previous connection's
            self._agent.close()
            self._agent = None
        try:
            self._agent = paramiko.Agent()
            keys.extend(self._agent.get_keys())
        except paramiko.SSHException:
            self._agent = None
        ssh_dir = Path.home() / ".ssh"
        for name in DEFAULT_KEY_NAMES:
            path = ssh_dir / name
            if path.exists():
                try:
                    keys.append(self._load_key(path))
                except LinkError as e:
                    log.info("skipping %s: %s", path, e)
        return keys

    @staticmethod
    def _load_key(path: Path) -> paramiko.PKey:
        try:
            return paramiko.PKey.from_path(path)
        except paramiko.PasswordRequiredException as e:
            raise LinkError(f"the key {path} is encrypted; load it into the SSH agent") from e
        except (OSError, paramiko.SSHException, ValueError) as e:
            raise LinkError(f"cannot read the key {path}: {e}") from e

    def _authenticate(self, transport: StreamlocalTransport) -> None:
        """Public-key login with each credential in turn (blocking; runs on the pool)."""
        t = self.target
        keys = self._credentials()
        if not keys:
            raise AuthenticationFailed(
                f"no SSH key to log into {t.user}@{t.where}: no key file, agent or ~/.ssh/id_*"
            )
        for key in keys:
            try:
                transport.auth_publickey(t.user, key)
            except paramiko.AuthenticationException:
                continue
            except (paramiko.SSHException, OSError, EOFError) as e:
                raise LinkError(f"logging into {t.where} failed: {e}") from e
            if transport.is_authenticated():
                return
        raise AuthenticationFailed(
            f"{t.user}@{t.where} refused the key{'s' if len(keys) > 1 else ''} offered"
            + (f" ({t.key_file})" if t.key_file else "")
        )

    def _watch(self, transport: StreamlocalTransport) -> None:
        """Notice the end of ``transport`` on the loop, without polling: one of the link's
        pool threads joins paramiko's transport thread (a long-lived worker, not a thread
        per connection, so the loop is told from a thread it already knows)."""
        joined = asyncio.ensure_future(self._call(transport.join))

        def ended(done: asyncio.Future[None]) -> None:
            if not done.cancelled():
                done.exception()  # a failed join still means the connection is over
            self._transport_ended(transport)

        joined.add_done_callback(ended)

    def _transport_ended(self, transport: StreamlocalTransport) -> None:
        if transport is not self._transport:
            return
        self._transport = None
        if self._keepalive_task is not None:
            self._keepalive_task.cancel()
            self._keepalive_task = None
        self._up.clear()
        self._down.set()
        if self._state is not LinkState.CLOSED:
            log.info("link to %s lost", self.target.where)
            self._set_state(LinkState.DISCONNECTED)

    async def _keepalive_loop(self, transport: StreamlocalTransport) -> None:
        """Probe every ``keepalive`` s; no answer within ``keepalive_count`` periods ends
        the connection (a stopped or frozen guest never closes its TCP connection)."""
        limit = self.keepalive * self.keepalive_count
        while transport.is_active():
            await asyncio.sleep(self.keepalive)
            try:
                await asyncio.wait_for(
                    self._call(transport.global_request, KEEPALIVE_REQUEST, None, True), limit
                )
            except TimeoutError:
                log.warning("%s did not answer keepalives for %gs", self.target.where, limit)
                transport.close()
                return
            except Exception as e:
                log.info("keepalive to %s failed: %s", self.target.where, e)
                transport.close()
                return

    async def reconnect(self, *, max_delay: float = 10.0) -> None:
        """Drop the current connection (if any) and connect again, retrying with
        exponential backoff (0.2 s doubling to ``max_delay``) until it works. Host key and
        authentication failures are not retried: they need the user."""
        await self._drop()
        delay = 0.2
        while True:
            try:
                await self.connect()
                return
            except (HostKeyMismatch, UnknownHostKey, AuthenticationFailed):
                raise
            except LinkError as e:
                if self._state is LinkState.CLOSED:
                    raise
                log.info("reconnecting to %s in %.1fs: %s", self.target.where, delay, e)
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay)

    async def supervise(self, *, max_delay: float = 10.0) -> None:
        """Keep the link up until ``close()``: reconnect whenever the connection ends."""
        while self._state is not LinkState.CLOSED:
            await self.wait_closed()
            if self._state is LinkState.CLOSED:
                return
            await self.reconnect(max_delay=max_delay)

    async def _drop(self) -> None:
        transport = self._transport
        if transport is not None:
            transport.close()
            await self._call(transport.join, 5.0)
            self._transport_ended(transport)

    async def close(self) -> None:
        """End the connection for good; waiters get ``LinkError``."""
        if self._state is LinkState.CLOSED:
            return
        self._set_state(LinkState.CLOSED)
        await self._drop()
        self._down.set()
        self._up.set()  # wake wait_connected() so it sees CLOSED
        if self._agent is not None:
            self._agent.close()
            self._agent = None
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- channels ------------------------------------------------------------------------
    def _active(self) -> StreamlocalTransport:
        transport = self._transport
        if self._state is LinkState.CLOSED:
            raise LinkError(f"the link to {self.target.where} is closed")
        if transport is None or not transport.is_active():
            raise LinkError(f"the link to {self.target.where} is down")
        return transport

    async def open_unix(self, path: str) -> paramiko.Channel:
        """A channel to the unix socket ``path`` on the host (direct-streamlocal)."""
        transport = self._active()
        try:
            return await self._open(transport.open_streamlocal, path, CHANNEL_OPEN_TIMEOUT)
        except paramiko.ChannelException as e:
            raise LinkError(f"{self.target.where} could not connect to {path}: {e.text}") from e
        except (paramiko.SSHException, OSError, EOFError) as e:
            raise LinkError(f"opening {path} on {self.target.where} failed: {e}") from e

    async def open_tcp(self, host: str, port: int) -> paramiko.Channel:
        """A channel to ``host:port`` as seen from the SSH server (direct-tcpip)."""
        transport = self._active()
        try:
            return await self._open(
                transport.open_channel,
                "direct-tcpip",
                (host, port),
                ("127.0.0.1", 0),
                None,
                None,
                CHANNEL_OPEN_TIMEOUT,
            )
        except paramiko.ChannelException as e:
            raise LinkError(
                f"{self.target.where} could not connect to {host}:{port}: {e.text}"
            ) from e
        except (paramiko.SSHException, OSError, EOFError) as e:
            raise LinkError(f"opening {host}:{port} on {self.target.where} failed: {e}") from e

    async def run(self, command: str, timeout: float = 30.0) -> tuple[int, bytes, bytes]:  # noqa: ASYNC109
        """Run ``command`` on the host: (exit status, stdout, stderr). ``LinkError`` when
        it does not finish within ``timeout`` seconds (the command's channel is closed)."""
        transport = self._active()
        return await self._call(self._run_blocking, transport, command, timeout)

    def _run_blocking(
        self, transport: StreamlocalTransport, command: str, timeout: float
    ) -> tuple[int, bytes, bytes]:
        deadline = time.monotonic() + timeout
        try:
            chan = transport.open_session(timeout=CHANNEL_OPEN_TIMEOUT)
        except (paramiko.SSHException, OSError, EOFError) as e:
            raise LinkError(f"cannot start a command on {self.target.where}: {e}") from e
        out, err = bytearray(), bytearray()
        try:
            chan.exec_command(command)
            chan.shutdown_write()
            # Both streams are drained as data comes (select on the channel's pipe), so a
            # command that writes much to stderr never stalls on a full window.
            while True:
                while chan.recv_ready():
                    out += chan.recv(65536)
                while chan.recv_stderr_ready():
                    err += chan.recv_stderr(65536)
                drained = not chan.recv_ready() and not chan.recv_stderr_ready()
                if drained and (chan.closed or (chan.eof_received and chan.exit_status_ready())):
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LinkError(
                        f"{command!r} on {self.target.where} did not finish in {timeout:g}s"
                    )
                if chan.eof_received and drained:
                    # All output is in; the pipe stays readable from now on, so wait for
                    # the exit status itself instead.
                    chan.status_event.wait(min(left, 1.0))
                else:
                    select.select([chan], [], [], min(left, 1.0))
            return chan.recv_exit_status(), bytes(out), bytes(err)
        except (paramiko.SSHException, OSError, EOFError) as e:
            raise LinkError(f"running {command!r} on {self.target.where} failed: {e}") from e
        finally:
            chan.close()

    async def _open(self, fn: Callable[..., C], *args: Any) -> C:
        """``_call`` for something that must be closed: when the caller is cancelled while
        the thread is still opening it, it is closed as soon as it arrives (else a channel
        or connection would stay open on the server until the link ends)."""
        opening = asyncio.ensure_future(self._call(fn, *args))
        try:
            return await asyncio.shield(opening)
        except asyncio.CancelledError:
            opening.add_done_callback(_close_result)
            raise

    async def _call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run a blocking paramiko call on the link's thread pool."""
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._pool, fn, *args)
        except RuntimeError as e:  # the pool was shut down by close()
            if self._state is LinkState.CLOSED:
                raise LinkError(f"the link to {self.target.where} is closed") from e
            raise


def default_policy(target: SshTarget, ask: UnknownHostKeyHook | None) -> HostKeyPolicy:
    """The target's pin when it has one, else its known_hosts file asking ``ask``."""
    if target.pinned_host_key:
        return PinnedHostKey(target.pinned_host_key)
    return KnownHostsPolicy(target.known_hosts, ask)


def _close_result(opening: asyncio.Future[Any]) -> None:
    if not opening.cancelled() and opening.exception() is None:
        opening.result().close()
