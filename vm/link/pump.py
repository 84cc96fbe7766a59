"""Moving bytes between a host socket and an SSH channel, and the accept loop in front.

Each direction is one thread doing blocking reads and writes: paramiko has no readiness
signal for "the peer's window opened again", so a non-blocking channel writer would have
to poll. Blocking threads wait in the kernel or on paramiko's condition variables and
cost nothing while idle. They are dedicated threads, not a pool: a hijacked
``docker attach`` can stay open for hours.

Half-close is carried both ways, which hijacked attach/exec streams depend on: the client
shutting down its write side (``echo hi | docker run -i …``) becomes the channel's EOF,
and the channel's EOF becomes ``shutdown(SHUT_WR)`` on the client socket, so the client
reads the end of the stream while it may still be writing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Awaitable, Callable

import paramiko

from .errors import LinkError

log = logging.getLogger(__name__)

# Two SSH packets (paramiko's maximum packet is 32 KiB): large enough for bulk transfers
# (image pushes through the socket), small enough that idle connections cost little.
CHUNK = 64 * 1024


class Pump:
    """One socket spliced to one channel until both directions have ended."""

    def __init__(self, sock: socket.socket, chan: paramiko.Channel, name: str) -> None:
        self.sock = sock
        self.chan = chan
        self.name = name
        self._lock = threading.Lock()
        self._running = 2
        self._done: asyncio.Future[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, *, tell_loop: bool = True) -> None:
        """Start both directions; ``wait()`` resolves when both have ended.

        ``tell_loop=False`` for a pump nobody waits on: its threads then never call into
        the event loop (under the app's Qt loop that is a signal sent from a short-lived
        foreign thread, which is best avoided)."""
        if tell_loop:
            self._loop = asyncio.get_running_loop()
            self._done = self._loop.create_future()
        self.sock.setblocking(True)
        threading.Thread(target=self._upstream, name=f"{self.name}-up", daemon=True).start()
        threading.Thread(target=self._downstream, name=f"{self.name}-down", daemon=True).start()

    async def wait(self) -> None:
        if self._done is not None:
            await asyncio.shield(self._done)

    def abort(self) -> None:
        """End both directions now (forwarder closing, forwarded port gone)."""
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.chan.close()

    def _upstream(self) -> None:
        """Client → channel; the client's EOF becomes the channel's EOF."""
        try:
            while True:
                data = self.sock.recv(CHUNK)
                if not data:
                    self.chan.shutdown_write()
                    break
                self.chan.sendall(data)
        except (OSError, EOFError, paramiko.SSHException) as e:
            log.debug("%s: upstream ended: %s", self.name, e)
            self.abort()
        finally:
            self._finished()

    def _downstream(self) -> None:
        """Channel → client; the channel's EOF becomes ``shutdown(SHUT_WR)`` on the client."""
        try:
            while True:
                data = self.chan.recv(CHUNK)
                if not data:
                    break
                self.sock.sendall(data)
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_WR)
            if self.chan.closed:
                # The far side closed the channel entirely (not just EOF): whatever the
                # client still sends has nowhere to go, so stop reading it.
                with contextlib.suppress(OSError):
                    self.sock.shutdown(socket.SHUT_RD)
        except (OSError, EOFError, paramiko.SSHException) as e:
            log.debug("%s: downstream ended: %s", self.name, e)
            self.abort()
        finally:
            self._finished()

    def _finished(self) -> None:
        with self._lock:
            self._running -= 1
            last = self._running == 0
        if not last:
            return
        # Closing sends a message: on a transport that just went away that fails, and
        # there is nothing left to tell the far side.
        with contextlib.suppress(OSError, EOFError, paramiko.SSHException):
            self.chan.close()
        self.sock.close()
        loop, done = self._loop, self._done
        if loop is not None and done is not None:
            with contextlib.suppress(RuntimeError):  # the loop is gone
                loop.call_soon_threadsafe(_resolve, done)


def _resolve(done: asyncio.Future[None]) -> None:
    if not done.done():
        done.set_result(None)


ChannelOpener = Callable[[], Awaitable[paramiko.Channel]]


class Acceptor:
    """Accepts connections on a listening socket and pumps each through a fresh channel.

    A channel that cannot be opened (link down, nothing listening on the far side) closes
    the accepted connection at once, so the client sees a refused/closed connection rather
    than a hang.
    """

    def __init__(self, listener: socket.socket, open_channel: ChannelOpener, name: str) -> None:
        self.listener = listener
        self.open_channel = open_channel
        self.name = name
        self._pumps: set[Pump] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._accept_task: asyncio.Task[None] | None = None
        self._count = 0

    def start(self) -> None:
        self.listener.setblocking(False)
        self._accept_task = asyncio.create_task(self._accept_loop(), name=f"{self.name}-accept")

    @property
    def connections(self) -> int:
        return len(self._pumps)

    async def _accept_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            try:
                conn, _ = await loop.sock_accept(self.listener)
            except OSError as e:
                log.warning("%s: accept failed: %s", self.name, e)
                await asyncio.sleep(0.1)  # e.g. EMFILE: let connections end before retrying
                continue
            task = asyncio.create_task(self._serve(conn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _serve(self, conn: socket.socket) -> None:
        self._count += 1
        try:
            chan = await self.open_channel()
        except LinkError as e:
            log.info("%s: %s", self.name, e)
            conn.close()
            return
        except BaseException:
            conn.close()
            raise
        pump = Pump(conn, chan, f"{self.name}-{self._count}")
        self._pumps.add(pump)
        try:
            pump.start()
            await pump.wait()
        finally:
            self._pumps.discard(pump)

    def abort_connections(self) -> None:
        for pump in list(self._pumps):
            pump.abort()

    async def close(self) -> None:
        """Stop accepting, close the listener and end every forwarded connection."""
        if self._accept_task is not None:
            self._accept_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._accept_task
            self._accept_task = None
        self.listener.close()
        self.abort_connections()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
