"""Moving bytes between an attached client and conmon's attach socket.

Used by container attach and exec start alike. Output flows until conmon closes the
socket (the process exited and its output is drained). Client input is forwarded as
stdin, on a TTY scanned for the detach keys first. When the client half-closes its side the
session follows Docker's rules: without a TTY and with ``close_stdin`` (StdinOnce,
exec) the process's stdin is closed and output keeps flowing (so ``echo hi | docker
run -i busybox cat`` ends); otherwise the attach session ends and the process keeps
its stdin (a TTY never loses its terminal to a client going away).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from .attach import STDERR, STDOUT, AttachConn
from .tty import DetachScanner

log = logging.getLogger(__name__)

OUTPUT_ENDED, DETACHED, CLIENT_CLOSED = "eof", "detached", "client-closed"

Writer = Callable[[int, bytes], Awaitable[None]]


class ClientInput(Protocol):
    """What the client sends: ``read()`` returns a chunk, or None at EOF."""

    async def read(self) -> bytes | None: ...


@dataclass
class PumpOptions:
    """How one attach session behaves."""

    tty: bool
    stdout: bool = True
    stderr: bool = True
    detach_keys: bytes = b"\x10\x11"
    close_stdin: bool = True  # client EOF closes the process's stdin (no TTY only)


async def pump(
    conn: AttachConn,
    write: Writer,
    stdin: ClientInput | None,
    opts: PumpOptions,
) -> str:
    """Run the session; returns :data:`OUTPUT_ENDED`, :data:`DETACHED` or
    :data:`CLIENT_CLOSED`. ``write(stream, data)`` gets 1 (stdout) or 2 (stderr)."""
    ended = asyncio.get_running_loop().create_future()

    async def outputs() -> None:
        async for kind, data in conn.output():
            if opts.tty:
                # A pty has one output stream; it is "stdout" to the client.
                if opts.stdout:
                    await write(STDOUT, data)
            elif (kind == STDOUT and opts.stdout) or (kind == STDERR and opts.stderr):
                await write(kind, data)
        if not ended.done():
            ended.set_result(OUTPUT_ENDED)

    async def inputs() -> None:
        assert stdin is not None
        # As dockerd: detach keys are watched for on a TTY only; without one every byte,
        # ctrl-p included, is the process's input.
        scanner = DetachScanner(opts.detach_keys if opts.tty else b"")
        while True:
            chunk = await stdin.read()
            if chunk is None:
                rest = scanner.flush()
                if rest:
                    await conn.send_stdin(rest)
                if opts.close_stdin and not opts.tty:
                    conn.close_stdin()
                    return
                if not ended.done():
                    ended.set_result(CLIENT_CLOSED)
                return
            data, detached = scanner.feed(chunk)
            if data:
                try:
                    await conn.send_stdin(data)
                except OSError as e:  # the process is gone; output will end too
                    log.debug("stdin to conmon: %s", e)
                    return
            if detached:
                if not ended.done():
                    ended.set_result(DETACHED)
                return

    def failed(t: asyncio.Future[None]) -> None:
        # An error in either direction (a client gone while writing) ends the session.
        if ended.done() or t.cancelled():
            return
        exc = t.exception()
        if exc is not None:
            ended.set_exception(exc)

    tasks = [asyncio.ensure_future(outputs())]
    if stdin is not None:
        tasks.append(asyncio.ensure_future(inputs()))
    for t in tasks:
        t.add_done_callback(failed)
    try:
        return await ended
    finally:
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
