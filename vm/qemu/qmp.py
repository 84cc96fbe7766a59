"""A small asyncio QMP client: JSON lines over QEMU's control socket.

QMP greets, waits for ``qmp_capabilities``, then answers each command in order; events
(``SHUTDOWN``, ``POWERDOWN``, ...) arrive between answers at any time. Commands carry an
``id`` so an answer is matched to its command even with events interleaved.
"""

# The public signatures take timeouts (VM-CONTRACTS.md); callers need not wrap them.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
from pathlib import Path
from typing import Any


class QmpError(Exception):
    """QEMU answered a command with an error, or the connection broke."""


class QmpClient:
    """One connection to a QEMU monitor in control mode."""

    def __init__(self) -> None:
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._pending: dict[str, asyncio.Future[Any]] = {}
        self._events: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._ids = itertools.count(1)
        self._reader_task: asyncio.Task[None] | None = None
        self.greeting: dict[str, Any] = {}

    async def connect(self, path: Path, timeout: float = 10.0) -> None:
        """Connect (retrying while QEMU creates the socket), read the greeting and
        negotiate capabilities."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            try:
                self._reader, self._writer = await asyncio.open_unix_connection(
                    str(path), limit=1 << 22
                )
                break
            except (FileNotFoundError, ConnectionRefusedError) as e:
                if loop.time() > deadline:
                    raise QmpError(f"cannot connect to QMP at {path}: {e}") from e
                await asyncio.sleep(0.05)
        try:
            line = await asyncio.wait_for(self._reader.readline(), timeout)
        except OSError as e:
            raise QmpError(f"QMP connection failed: {e}") from e
        if not line:
            raise QmpError("QEMU closed the QMP connection before greeting")
        self.greeting = json.loads(line)
        if "QMP" not in self.greeting:
            raise QmpError(f"unexpected QMP greeting: {line[:200]!r}")
        self._reader_task = asyncio.create_task(self._read_loop())
        await self.execute("qmp_capabilities", timeout=timeout)

    async def _read_loop(self) -> None:
        assert self._reader is not None
        error: Exception = QmpError("QEMU closed the QMP connection")
        try:
            while line := await self._reader.readline():
                msg = json.loads(line)
                if "event" in msg:
                    self._events.put_nowait(msg)
                    continue
                fut = self._pending.pop(str(msg.get("id")), None)
                if fut is not None and not fut.done():
                    fut.set_result(msg)
        except (OSError, ValueError) as e:
            error = QmpError(f"QMP connection failed: {e}")
        finally:
            for fut in self._pending.values():
                if not fut.done():
                    fut.set_exception(error)
            self._pending.clear()
            self._events.put_nowait({"event": "QMP_CLOSED"})

    async def execute(
        self, command: str, arguments: dict[str, Any] | None = None, timeout: float = 10.0
    ) -> Any:
        """Run one command and return its ``return`` value; ``QmpError`` on an error."""
        if self._writer is None:
            raise QmpError("not connected")
        ident = str(next(self._ids))
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._pending[ident] = fut
        msg: dict[str, Any] = {"execute": command, "id": ident}
        if arguments:
            msg["arguments"] = arguments
        try:
            self._writer.write(json.dumps(msg).encode() + b"\n")
            await self._writer.drain()
        except OSError as e:
            self._pending.pop(ident, None)
            raise QmpError(f"QMP connection failed: {e}") from e
        try:
            answer = await asyncio.wait_for(fut, timeout)
        finally:
            self._pending.pop(ident, None)
        if "error" in answer:
            err = answer["error"]
            raise QmpError(f"{command}: {err.get('class')}: {err.get('desc')}")
        return answer.get("return")

    async def next_event(self, timeout: float | None = None) -> dict[str, Any]:
        """The next event (``{"event": "QMP_CLOSED"}`` once the connection is gone)."""
        return await asyncio.wait_for(self._events.get(), timeout)

    async def wait_event(self, name: str, timeout: float) -> dict[str, Any]:
        """Wait for event ``name``; ``QmpError`` if the connection closes first."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            event = await self.next_event(max(0.0, deadline - loop.time()))
            if event["event"] == name:
                return event
            if event["event"] == "QMP_CLOSED":
                self._events.put_nowait(event)
                raise QmpError(f"QMP closed while waiting for {name}")

    async def close(self) -> None:
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader_task
            self._reader_task = None
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(OSError, ConnectionError):
                await self._writer.wait_closed()
            self._writer = None
