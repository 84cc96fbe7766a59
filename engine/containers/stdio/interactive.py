"""Attach and exec-start sessions: what happens on a hijacked connection, minus HTTP.

A route validates, asks for a session (so refusals are still plain HTTP answers), takes
the connection over and hands it to :meth:`AttachSession.run` or :meth:`ExecStart.run`
as a :class:`ClientStream`. Everything between the client and conmon's attach socket —
log replay, detach keys, stdin rules, the events, the exit wait — happens here.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ...errors import EngineError
from ...runtime.conmon import ExecFailed
from ..exec_store import ExecSession
from ..model import Container
from .attach import AttachConn
from .logdrivers import readable
from .logs import LogOptions
from .pump import DETACHED, PumpOptions, pump
from .tty import console_size, parse_detach_keys

if TYPE_CHECKING:
    from ..exec import ExecService
    from ..service import ContainerService

log = logging.getLogger(__name__)


class ClientStream(Protocol):
    """The client's end of a hijacked connection."""

    async def read(self) -> bytes | None:
        """A chunk of the client's input, None at its end (half-close)."""
        ...

    async def write(self, stream: int, data: bytes) -> None:
        """Output of ``stream`` (1 stdout, 2 stderr), framed as the connection needs."""
        ...


@dataclass
class AttachOptions:
    """The query of ``POST /containers/{id}/attach``."""

    stdin: bool = False
    stdout: bool = False
    stderr: bool = False
    stream: bool = False
    logs: bool = False
    detach_keys: str | None = None


class AttachSession:
    """One ``docker attach`` (see :meth:`ContainerService.open_attach`)."""

    def __init__(
        self,
        svc: ContainerService,
        c: Container,
        opts: AttachOptions,
        keys: bytes,
        conn: AttachConn | None,
    ) -> None:
        self._svc = svc
        self.container = c
        self.opts = opts
        self._keys = keys
        self._conn = conn
        self.tty = bool(c.config.get("Tty"))

    async def run(self, client: ClientStream) -> None:
        """Replay logs (``logs=1``), then stream output and forward stdin until the
        container's output ends, the client detaches or goes away."""
        c, o = self.container, self.opts
        self._svc.emit_event(c, "attach")

        async def write(kind: int, data: bytes) -> None:
            if (kind == 1 and o.stdout) or (kind == 2 and o.stderr):
                await client.write(kind, data)

        try:
            if o.logs and readable(c.host_config.get("LogConfig")):
                _, entries = self._svc.logs(c.id, LogOptions(stdout=o.stdout, stderr=o.stderr))
                async for e in entries:
                    await write(e.stream, e.data)
            if self._conn is not None:
                opts = PumpOptions(
                    tty=self.tty,
                    stdout=o.stdout,
                    stderr=o.stderr,
                    detach_keys=self._keys,
                    close_stdin=bool(c.config.get("StdinOnce")),
                )
                stdin = client if o.stdin and c.config.get("OpenStdin") else None
                if await pump(self._conn, write, stdin, opts) == DETACHED:
                    self._svc.emit_event(c, "detach")
        except (ConnectionError, OSError) as e:
            log.debug("attach to %s ended: %s", c.id[:12], e)
        finally:
            self.close()

    def close(self) -> None:
        """Let go of conmon's attach socket (idempotent)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None


async def open_attach(svc: ContainerService, ref: str, opts: AttachOptions) -> AttachSession:
    """Check the request and connect to the container's output before the client's
    connection is taken over, so a refusal is still an HTTP answer."""
    c = svc.get(ref)
    keys = parse_detach_keys(opts.detach_keys)
    conn = await svc.attach_output(c) if opts.stream else None
    return AttachSession(svc, c, opts, keys, conn)


class ExecStart:
    """One ``POST /exec/{id}/start`` (see :meth:`ExecService.prepare_start`)."""

    def __init__(self, execs: ExecService, s: ExecSession, body: dict[str, Any]) -> None:
        self._execs = execs
        self.session = s
        self.detach = bool(body.get("Detach"))
        # Framing follows the start request's Tty, as Docker's router does.
        self.tty = bool(body.get("Tty", s.tty))
        self._keys = parse_detach_keys(s.detach_keys or None)

    async def start_detached(self) -> None:
        """Start the process and return at once."""
        await self._execs.launch(self.session, attach=False)

    async def run(self, client: ClientStream) -> None:
        """Start the process attached to ``client`` and stream until it ends or the
        client detaches; a process that cannot start is reported on the stream."""
        s = self.session
        try:
            conn = await self._execs.launch(s, attach=True)
        except ExecFailed as e:
            await _say(client, e.message)
            return
        except EngineError as e:
            log.warning("exec %s failed to start: %s", s.id[:12], e.message)
            await _say(client, e.message)
            return
        assert conn is not None
        try:
            opts = PumpOptions(
                tty=self.tty,
                stdout=s.open_stdout,
                stderr=s.open_stderr,
                detach_keys=self._keys,
                close_stdin=True,
            )
            reason = await pump(conn, client.write, client if s.open_stdin else None, opts)
            if reason != DETACHED:
                # The client reads the exit code right after the stream ends.
                await asyncio.wait_for(s.exited_event.wait(), 30)
        except (ConnectionError, OSError, TimeoutError) as e:
            log.debug("exec %s stream ended: %s", s.id[:12], e)
        finally:
            conn.close()


def prepare_exec_start(execs: ExecService, exec_id: str, body: dict[str, Any]) -> ExecStart:
    """Check an exec start (404/409/400) before the connection is taken over."""
    s = execs.startable(exec_id)
    size = console_size(body.get("ConsoleSize"))
    if size:
        s.console_size = size
    return ExecStart(execs, s, body)


async def _say(client: ClientStream, message: str) -> None:
    try:
        await client.write(1, (message + "\r\n").encode())
    except (ConnectionError, OSError):
        pass
