"""Asking the guest engine over a channel: one HTTP request per channel, parsed with h11.

Only what the port forwarder needs: a JSON answer (``/containers/json``) and a streamed
NDJSON answer (``/events``). The calls are blocking and run on threads; the event stream
gets a dedicated thread of its own because it stays open for the life of the link.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import threading
from collections.abc import Iterator
from typing import Any

import h11
import paramiko

from .errors import LinkError

CHUNK = 64 * 1024


class _Exchange:
    """One request sent over ``chan`` and its response read back, event by event."""

    def __init__(self, chan: paramiko.Channel, target: str) -> None:
        self.chan = chan
        self.target = target
        self.conn = h11.Connection(h11.CLIENT)
        request = h11.Request(
            method="GET",
            target=target,
            headers=[("Host", "docker"), ("Connection", "close"), ("Accept", "application/json")],
        )
        chan.sendall(self.conn.send(request) + self.conn.send(h11.EndOfMessage()))

    def _next(self) -> Any:
        while True:
            try:
                event = self.conn.next_event()
            except h11.RemoteProtocolError as e:
                raise LinkError(f"the engine's answer to {self.target} broke off: {e}") from e
            if event is not h11.NEED_DATA:
                return event
            self.conn.receive_data(self.chan.recv(CHUNK))

    def head(self) -> h11.Response:
        event = self._next()
        if not isinstance(event, h11.Response):
            raise LinkError(f"the engine did not answer {self.target}")
        return event

    def body(self) -> Iterator[bytes]:
        while True:
            event = self._next()
            if isinstance(event, h11.Data):
                yield bytes(event.data)
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                return


def _error(target: str, status: int, body: bytes) -> LinkError:
    try:
        message = json.loads(body).get("message", "")
    except (ValueError, AttributeError):
        message = body.decode(errors="replace")[:200]
    return LinkError(f"the engine answered {target} with {status}: {message}")


def get_json(chan: paramiko.Channel, target: str) -> Any:
    """GET ``target`` and return the decoded JSON body (blocking). Closes ``chan``."""
    try:
        exchange = _Exchange(chan, target)
        head = exchange.head()
        body = b"".join(exchange.body())
        if head.status_code != 200:
            raise _error(target, head.status_code, body)
        try:
            return json.loads(body)
        except ValueError as e:
            raise LinkError(f"the engine's answer to {target} is not JSON: {e}") from e
    except (OSError, EOFError, paramiko.SSHException) as e:
        raise LinkError(f"asking the engine for {target} failed: {e}") from e
    finally:
        chan.close()


_END = object()


class JsonLineStream:
    """A streamed NDJSON answer (``/events``) read on its own thread into the event loop.

    ``opened()`` waits for the response head (``LinkError`` unless 200); ``next()`` returns
    one decoded object, or None once the stream has ended (engine gone, link down, or
    ``close()``).
    """

    def __init__(self, chan: paramiko.Channel, target: str) -> None:
        self.chan = chan
        self.target = target
        self._loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._opened: asyncio.Future[None] = self._loop.create_future()
        self.error: LinkError | None = None
        self._ended = False
        threading.Thread(target=self._read, name="engine-events", daemon=True).start()

    async def opened(self) -> None:
        await self._opened

    @property
    def is_open(self) -> bool:
        """The answer's head arrived and the stream has not ended."""
        return (
            self._opened.done()
            and not self._opened.cancelled()
            and self._opened.exception() is None
            and not self._ended
        )

    async def next(self) -> Any | None:
        item = await self._queue.get()
        if item is _END:
            self._ended = True
            self._queue.put_nowait(_END)  # every later next() sees the end too
            return None
        return item

    def pending(self) -> list[Any]:
        """Objects already received, without waiting (to handle a burst at once)."""
        items = []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is _END:
                self._ended = True
                self._queue.put_nowait(_END)
                break
            items.append(item)
        return items

    def close(self) -> None:
        self.chan.close()  # the reader's recv() returns b"" and the thread ends

    def _post(self, fn: Any, *args: Any) -> None:
        with contextlib.suppress(RuntimeError):  # the loop is gone
            self._loop.call_soon_threadsafe(fn, *args)

    def _read(self) -> None:
        try:
            exchange = _Exchange(self.chan, self.target)
            head = exchange.head()
            if head.status_code != 200:
                raise _error(self.target, head.status_code, b"".join(exchange.body()))
            self._post(_settle, self._opened, None)
            pending = b""
            for data in exchange.body():
                pending += data
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        self._post(self._queue.put_nowait, json.loads(line))
        except (OSError, EOFError, ValueError, paramiko.SSHException) as e:
            self.error = LinkError(f"the engine's {self.target} stream ended: {e}")
        except LinkError as e:
            self.error = e
        finally:
            self.chan.close()
            self._post(_settle, self._opened, self.error or LinkError("the stream ended"))
            self._post(self._queue.put_nowait, _END)


def _settle(future: asyncio.Future[None], outcome: LinkError | None) -> None:
    if future.done():
        return
    if outcome is None:
        future.set_result(None)
    else:
        future.set_exception(outcome)
