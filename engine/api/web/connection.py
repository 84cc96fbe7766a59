"""One client connection: an asyncio.Protocol moves bytes, requests are answered in order.

Two paths, one connection at a time on either:

- Simple requests (a bodiless ``GET``/``HEAD`` whose head arrived whole, see
  :mod:`.framing`) are answered from ``data_received`` itself: the handler's coroutine is
  stepped there, and an answer it gives without waiting for anything (``/_ping``, the
  lists, inspections) is written before the callback returns. No task, no h11, no extra
  turn of the event loop: under a few hundred busy clients that halved what each request
  cost, and a request's wait is one turn of the loop instead of two. A handler that does
  wait continues in a task of its own, and the connection reads nothing more until it is
  done. (Until its first wait a handler runs outside any task, so ``current_task()`` is
  None there and ``asyncio.timeout``, ``TaskGroup`` and anyio fail: only routes marked
  ``at_once`` (see :class:`.routing.Route`) step that far; the API app moves every other
  handler into its task first. Python 3.12's eager tasks would lift that.)
- Everything else (bodies, uploads, upgrades, HTTP/1.0, a head split across reads, bad
  input) goes through h11 in one task that reads requests and runs the handler for each
  in turn. Reading is pulled by that task — the request head, then the body as the
  handler asks for it — so a slow handler pushes back on a fast uploader
  (`pause_reading` above a high water mark). Once h11 is idle with nothing buffered the
  connection is back on the simple path.

Writes wait for the transport to drain (on the simple path the next request is not read
while the client is not reading its answers).

After a hijack (:meth:`HttpConnection.upgrade`, :meth:`HttpConnection.take_over`) h11 is
out of the picture: bytes from the client are queued for :class:`RawStream.read` and a
client half-close is end of input, not the end of the connection.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
import types
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine, Generator, Mapping
from dataclasses import dataclass
from typing import Any

import h11

from .errors import BadRequest, HTTPError
from .framing import (
    DefaultHeaders,
    ResponseFrame,
    SimpleHead,
    parse_simple_head,
    reason_phrase,
    response_head,
)
from .message import Request
from .response import Response, StreamResponse
from .stream import RawStream

log = logging.getLogger(__name__)

Handler = Callable[[Request], Awaitable[StreamResponse | None]]
# Which simple requests (method, target) are answered as soon as they are read; the others
# wait for their turn (see Turns).
Urgent = Callable[[str, str], bool]
# How long the requests waiting for their turn may hold the event loop before it reads
# again: the longest an urgent request waits behind them, about.
TURN_BUDGET = 0.005


class Turns:
    """Simple requests that are not urgent, answered in arrival order after the event
    loop's next reads, at most ``budget`` seconds of them before it reads again.

    A timer due at once does that: asyncio runs due timers after the read callbacks of
    the same turn. So a ``/_ping`` read meanwhile is answered ahead of the document-
    building requests read with it or before it, and never waits behind more than
    ``budget`` of them; those run in order, as they would have.
    """

    def __init__(self, urgent: Urgent, budget: float = TURN_BUDGET) -> None:
        self.urgent = urgent
        self._budget = budget
        self._queue: deque[HttpConnection] = deque()
        self._timer: asyncio.TimerHandle | None = None

    def add(self, conn: HttpConnection, loop: asyncio.AbstractEventLoop) -> None:
        """Answer ``conn``'s waiting request in its turn."""
        self._queue.append(conn)
        if self._timer is None:
            self._timer = loop.call_at(loop.time(), self._run, loop)

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = None
        queue = self._queue
        deadline = time.perf_counter() + self._budget
        while queue:
            queue.popleft().answer_waiting_request()
            if time.perf_counter() >= deadline:
                break
        if queue:
            self._timer = loop.call_at(loop.time(), self._run, loop)


# Request heads beyond this are refused (registry credentials ride in headers, so be generous).
MAX_HEAD = 256 << 10
# Unread client bytes above this pause reading from the socket.
HIGH_WATER = 1 << 20
FEED_SLICE = 64 << 10
# How long an unread upload is swallowed after an early answer before the connection closes.
BODY_LINGER = 5.0


@dataclass(frozen=True)
class ConnectionLimits:
    """How long the server waits for a client, and how many clients it serves at once.

    Without these a slowloris client (a head sent a byte at a time, an upload that stalls)
    holds a connection, and its file descriptor, forever. The timeouts cover only what the
    server waits for from the client between requests and inside a request's head and
    body; a running handler (``wait``, ``logs -f``, ``events``) and a hijacked stream
    (``attach``) are never timed out.
    """

    # A kept-alive connection with no new request is closed after this (Go's IdleTimeout).
    idle_timeout: float = 120.0
    # From the first byte of a request to the end of its head (Go's ReadHeaderTimeout).
    head_timeout: float = 30.0
    # The longest pause inside a request body before the upload counts as abandoned.
    body_timeout: float = 120.0
    # Connections served at once; more are answered 503 and closed rather than refused at
    # accept(), which would leave clients hanging and the log full of EMFILE tracebacks.
    max_connections: int = 4096


class _Stalled(Exception):
    """The client sent nothing for longer than the limit allows."""


class HttpConnection(asyncio.Protocol):
    """Serves HTTP/1.1 requests on one connection with ``handler``."""

    def __init__(
        self,
        handler: Handler,
        app: Any,
        default_headers: Mapping[str, str] | DefaultHeaders,
        on_close: Callable[[HttpConnection], None],
        limits: ConnectionLimits | None = None,
        turns: Turns | None = None,
    ) -> None:
        self._limits = limits or ConnectionLimits()
        self._turns = turns
        self._handler = handler
        self._app = app
        if not isinstance(default_headers, DefaultHeaders):
            default_headers = DefaultHeaders(default_headers)
        self._defaults = default_headers
        self._on_close = on_close
        self._h11 = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        self._loop = asyncio.get_event_loop()
        self._transport: asyncio.Transport | None = None
        # The task serving the connection now: h11's request loop, or the rest of a
        # simple request whose handler had to wait; None between simple requests.
        self._task: asyncio.Task[None] | None = None
        self._inbox = bytearray()  # bytes received and not yet given to h11 / the hijacker
        self._eof = False  # the client closed its sending side (or the connection is gone)
        self._lost = False
        self._input_waiter: asyncio.Future[bool] | None = None
        self._drain_waiter: asyncio.Future[None] | None = None
        self._reading_paused = False
        self._writing_paused = False
        self._hijacked = False
        self._head_request = False
        self._body_done = False
        self._has_body = False
        self._in_handler = False
        self._seen = False  # bytes of the current request head have arrived
        self.cancel_on_disconnect = False
        # The current request came by the simple path: answers are framed by _frame,
        # not h11, and "Connection: close" from the client ends the connection after it.
        self._simple = False
        self._close_after = False
        self._frame: ResponseFrame | None = None
        self._last_active = 0.0
        self._idle_timer: asyncio.TimerHandle | None = None
        self._later: SimpleHead | None = None  # a request waiting for its turn

    # -- asyncio.Protocol -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self._transport = transport
        self._loop = asyncio.get_running_loop()
        self._last_active = self._loop.time()
        self._idle_timer = self._loop.call_at(
            self._last_active + self._limits.idle_timeout, self._check_idle
        )

    def data_received(self, data: bytes) -> None:
        self._inbox += data
        if len(self._inbox) > HIGH_WATER and not self._reading_paused and self._transport:
            self._reading_paused = True
            self._transport.pause_reading()
        if self._task is None:
            self._dispatch()
        else:
            self._wake_reader()

    def eof_received(self) -> bool:
        self._eof = True
        if self._task is None:
            self._dispatch()
        self._wake_reader()
        if self._hijacked:
            return True  # stdin ended; output still flows
        if self._in_handler and self.cancel_on_disconnect:
            self._cancel()
        # Keep our side open: a client that half-closes may still read the answer.
        return True

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = self._eof = True
        if self._idle_timer is not None:
            self._idle_timer.cancel()
            self._idle_timer = None
        self._later = None
        self._wake_reader()
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_exception(ConnectionResetError("client disconnected"))
        # A handler that did not ask to be cancelled finds out at its next write, as
        # with any server; an idle connection's task sees the end of input and stops.
        if self._in_handler and (self.cancel_on_disconnect or self._hijacked):
            self._cancel()
        self._on_close(self)

    def pause_writing(self) -> None:
        self._writing_paused = True

    def resume_writing(self) -> None:
        self._writing_paused = False
        if self._drain_waiter is not None and not self._drain_waiter.done():
            self._drain_waiter.set_result(None)
        if self._task is None and (self._inbox or self._eof):
            # Simple requests that waited for the client to read its answers (or its
            # end of input, after which the connection closes).
            self._loop.call_soon(self._dispatch)

    # -- state for the listener ---------------------------------------------------------
    @property
    def task(self) -> asyncio.Task[None] | None:
        """The task serving this connection (None while it waits between simple requests)."""
        return self._task

    @property
    def busy(self) -> bool:
        """Whether a handler is running (shutdown lets it finish for a grace period)."""
        return self._in_handler or self._later is not None

    def answer_waiting_request(self) -> None:
        """Answer now the request that waits for its turn, if any (also at shutdown: what
        was read gets its answer)."""
        head, self._later = self._later, None
        transport = self._transport
        if head is None or self._lost or transport is None or transport.is_closing():
            return
        self._answer_simple(head)
        self._dispatch()

    def close(self) -> None:
        """Close after flushing what was written."""
        if self._transport is not None and not self._transport.is_closing():
            self._transport.close()

    def abort(self) -> None:
        """Close at once, dropping unsent bytes."""
        if self._transport is not None:
            self._transport.abort()

    def _cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()

    def _check_idle(self) -> None:
        """Close a connection idle between simple requests for ``idle_timeout`` (h11's
        loop keeps its own time while it runs). One timer per connection, moved on only
        when it fires, rather than one set and cancelled per request."""
        self._idle_timer = None
        if self._lost:
            return
        now = self._loop.time()
        if self._task is not None or self.busy:
            due = now + self._limits.idle_timeout
        else:
            due = self._last_active + self._limits.idle_timeout
            if now >= due:
                log.debug("closing a connection: idle connection")
                self.close()
                return
        self._idle_timer = self._loop.call_at(due, self._check_idle)

    # -- the simple path --------------------------------------------------------------
    def _dispatch(self) -> None:
        """Answer the simple requests that are here; hand anything else to h11's loop.

        A request that is not urgent waits for its turn (:class:`Turns`), so that the
        urgent ones (``/_ping``) are not stuck behind the requests that build documents.
        """
        transport = self._transport
        while self._task is None and not self._in_handler and self._later is None:
            if transport is None or transport.is_closing() or self._writing_paused:
                return  # resume_writing comes back here
            if not self._inbox:
                if self._eof:
                    self.close()
                return
            head = parse_simple_head(self._inbox, MAX_HEAD)
            if head is None:
                # Not simple, or not whole yet (h11 then keeps the head's time limit).
                self._task = self._loop.create_task(self._serve())
                return
            del self._inbox[: head.size]
            self._resume_reading()
            if self._turns is not None and not self._turns.urgent(head.method, head.target):
                self._later = head
                self._turns.add(self, self._loop)
                return
            self._answer_simple(head)

    def _answer_simple(self, head: SimpleHead) -> None:
        """Run the handler for ``head`` as far as it goes without waiting; answer now if
        it finished, else let a task finish it."""
        self._simple = True
        self._close_after = head.close
        self._head_request = head.method == "HEAD"
        self._has_body = False
        self._body_done = True
        self._frame = None
        self.cancel_on_disconnect = False
        try:
            request = Request(self, head.method, head.target, head.headers, self._app)
        except HTTPError as e:
            self._write_plain_now(e.status, e.message)
            return
        self._in_handler = True
        coro = self._handler(request)
        if not isinstance(coro, Coroutine):
            self._task = self._loop.create_task(self._finish_simple(request, coro))
            return
        # As a task would: the handler's context variables are its own.
        context = contextvars.copy_context()
        try:
            signal = context.run(coro.send, None)
        except StopIteration as finished:
            self._in_handler = False
            response = finished.value
            if isinstance(response, Response) and not response.prepared and not self._hijacked:
                try:
                    self._write_whole_now(response, response.body)
                    response.sent_on(self)
                except (ConnectionError, h11.ProtocolError) as e:
                    log.debug("connection ended: %s", e)
                    self.close()
                    return
                self._simple_done()
                return
            self._task = self._loop.create_task(
                self._finish_simple(request, _answered(response)), context=context
            )
            return
        except asyncio.CancelledError:
            self._in_handler = False
            self.close()
            return
        except Exception as e:
            self._in_handler = False
            # Handled as a handler that fails later is, by _one_request in a task.
            self._task = self._loop.create_task(
                self._finish_simple(request, _reraise(e)), context=context
            )
            return
        # It waits for something: a task takes the coroutine over where it stopped.
        self._task = self._loop.create_task(
            self._finish_simple(request, _resume(coro, signal)), context=context
        )

    async def _finish_simple(
        self, request: Request, answer: Awaitable[StreamResponse | None]
    ) -> None:
        """The rest of a simple request whose answer was not written at once."""
        reusable = False
        try:
            await self._one_request(request, answer)
            transport = self._transport
            reusable = not self._hijacked and transport is not None and not transport.is_closing()
        except asyncio.CancelledError:
            pass  # the client left, or the listener is shutting down
        except (ConnectionError, h11.ProtocolError) as e:
            log.debug("connection ended: %s", e)
        finally:
            if not reusable and not self._lost:
                self.close()
        if reusable:
            self._task = None
            self._simple_done()
            self._dispatch()

    def _simple_done(self) -> None:
        self._frame = None
        self._simple = False
        self._last_active = self._loop.time()
        if self._close_after:
            self.close()

    def _write_whole_now(self, response: StreamResponse, body: bytes) -> None:
        head, frame = response_head(
            response.status,
            response.reason or None,
            response.headers,
            self._defaults,
            self._head_request,
            self._close_after,
        )
        if body and not frame.silent:
            self._write(head + frame.body(body) + frame.end())
        else:
            self._write(head + frame.end())

    def _write_plain_now(self, status: int, message: str) -> None:
        """A plain-text error answer to a simple request, then close."""
        self._close_after = True
        headers = {"Content-Type": "text/plain; charset=utf-8", "Connection": "close"}
        head, frame = response_head(status, None, headers, _NO_DEFAULTS, self._head_request, False)
        try:
            self._write(head + frame.body((message + "\n").encode()) + frame.end())
        except ConnectionError:
            pass
        self._simple_done()

    # -- the request loop ---------------------------------------------------------------
    async def _serve(self) -> None:
        reusable = False
        try:
            while True:
                try:
                    event = await self._next_request()
                except h11.RemoteProtocolError as e:
                    await self._refuse(e)
                    return
                except _Stalled as e:
                    await self._time_out(str(e))
                    return
                if not isinstance(event, h11.Request):
                    return  # ConnectionClosed (or PAUSED after a broken cycle)
                await self._one_h11_request(event)
                if self._hijacked:
                    return
                if not self._skip_buffered_body():
                    # The handler answered without reading the whole body (an early 400,
                    # say): end the connection, but gently, or the client, still writing,
                    # gets a broken pipe instead of our answer.
                    await self._linger(BODY_LINGER)
                    return
                if self._h11.our_state is not h11.DONE:
                    return  # the answer said "Connection: close" (or was cut short)
                self._h11.start_next_cycle()
                buffered, closed = self._h11.trailing_data
                if not buffered and not closed:
                    reusable = True  # h11 holds nothing: back to the simple path
                    return
        except asyncio.CancelledError:
            pass  # the client left, or the listener is shutting down
        except (ConnectionError, h11.ProtocolError) as e:
            log.debug("connection ended: %s", e)
        finally:
            if reusable:
                self._task = None
                self._last_active = self._loop.time()
                if self._inbox or self._eof:
                    self._loop.call_soon(self._dispatch)
            elif not self._lost:
                self.close()

    async def _one_h11_request(self, event: h11.Request) -> None:
        self._simple = False
        self._head_request = event.method == b"HEAD"
        self._body_done = False
        self._has_body = any(
            (k == b"content-length" and v.strip() != b"0") or k == b"transfer-encoding"
            for k, v in event.headers
        )
        self.cancel_on_disconnect = False
        try:
            request = Request(
                self,
                event.method.decode("ascii"),
                event.target.decode("latin-1"),
                [(k.decode("latin-1"), v.decode("latin-1")) for k, v in event.headers],
                self._app,
            )
        except HTTPError as e:
            await self._send_plain(e.status, e.message)
            return
        self._in_handler = True
        await self._one_request(request, self._handler(request))

    async def _one_request(
        self, request: Request, answer: Awaitable[StreamResponse | None]
    ) -> None:
        """Await the handler's ``answer`` and send it."""
        self._in_handler = True
        try:
            try:
                response = await answer
            except (asyncio.CancelledError, ConnectionError):
                raise
            except Exception:
                # Applications render their own errors; this is the last resort.
                log.exception("unhandled error in %s %s", request.method, request.path)
                if self._hijacked or self._head_sent():
                    self.abort()
                    return
                await self._send_plain(500, "internal server error")
                return
            if self._hijacked:
                return  # the handler owned the raw connection and is done with it
            if response is None:
                raise RuntimeError(f"{request.method} {request.path}: the handler answered nothing")
            if isinstance(response, Response) and not response.prepared:
                await response.send(request)
            else:
                await response.prepare(request)
                await response.write_eof()
        finally:
            self._in_handler = False

    def _head_sent(self) -> bool:
        if self._simple:
            return self._frame is not None
        return self._h11.our_state is not h11.SEND_RESPONSE

    async def _refuse(self, error: h11.RemoteProtocolError) -> None:
        """Answer a request h11 could not parse, then close."""
        if self._h11.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            status = error.error_status_hint or 400
            try:
                await self._send_plain(status, f"bad request: {error}")
            except (ConnectionError, h11.LocalProtocolError):
                return
            await self._linger()

    async def _time_out(self, why: str) -> None:
        """A client that is mid-head gets a 408; an idle kept-alive one is just closed."""
        log.debug("closing a connection: %s", why)
        if self._h11.their_state is h11.IDLE and self._h11.our_state is h11.IDLE and self._seen:
            try:
                await self._send_plain(408, f"request timeout: {why}")
            except (ConnectionError, h11.LocalProtocolError):
                return

    async def _linger(self, limit: float = 1.0) -> None:
        """Half-close and discard what the client still sends for a moment: closing a
        socket with unread input resets it, and the client would lose our answer."""
        if self._transport is None or self._lost or not self._transport.can_write_eof():
            return
        self._transport.write_eof()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + limit
        while not self._eof and loop.time() < deadline:
            self._inbox.clear()
            self._resume_reading()
            if not await self._wait_for_input(deadline - loop.time()):
                break

    async def _send_plain(self, status: int, message: str) -> None:
        if self._simple:
            self._write_plain_now(status, message)
            return
        body = (message + "\n").encode()
        headers = [("Content-Type", "text/plain; charset=utf-8"), ("Connection", "close")]
        head = h11.Response(status_code=status, headers=headers, reason=_reason(status).encode())
        self._write(self._h11.send(head))
        self._write(self._h11.send(h11.Data(data=body)))
        self._write(self._h11.send(h11.EndOfMessage()))

    # -- reading through h11 ---------------------------------------------------------
    async def _next_request(self) -> Any:
        """The next request head: idle until its first byte, then ``head_timeout``."""
        loop = asyncio.get_running_loop()
        self._seen = False
        deadline = loop.time() + self._limits.idle_timeout
        while True:
            event = self._h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            if self._inbox:
                if not self._seen:
                    self._seen = True
                    deadline = loop.time() + self._limits.head_timeout
                self._feed_h11()
            elif self._eof:
                self._h11.receive_data(b"")
            else:
                left = deadline - loop.time()
                if left <= 0 or not await self._wait_for_input(left):
                    raise _Stalled(
                        "request head not complete in time" if self._seen else "idle connection"
                    )

    async def _next_event(self, gap: float) -> Any:
        """The next h11 event, waiting at most ``gap`` seconds for each piece of input."""
        while True:
            event = self._h11.next_event()
            if event is not h11.NEED_DATA:
                return event
            if self._inbox:
                self._feed_h11()
            elif self._eof:
                self._h11.receive_data(b"")
            elif not await self._wait_for_input(gap):
                raise _Stalled(f"no request body data for {gap:g} s")

    def _skip_buffered_body(self) -> bool:
        """Discard the rest of a request body that is already here (the empty body of a
        GET, an ignored small one); False when more would have to be waited for."""
        while self._h11.their_state is h11.SEND_BODY:
            event = self._h11.next_event()
            if event is h11.NEED_DATA:
                if not self._inbox:
                    return False
                self._feed_h11()
        return self._h11.their_state is h11.DONE

    async def read_body_chunk(self) -> bytes:
        """The next piece of the current request's body; ``b""`` at its end."""
        if self._body_done or self._hijacked:
            return b""
        if self._h11.they_are_waiting_for_100_continue:
            self._write(self._h11.send(h11.InformationalResponse(status_code=100, headers=[])))
        try:
            event = await self._next_event(self._limits.body_timeout)
        except h11.RemoteProtocolError as e:
            raise ConnectionResetError(f"request body ended early: {e}") from None
        except _Stalled as e:
            # The handler sees a client that went away; the connection then closes.
            raise ConnectionResetError(str(e)) from None
        if isinstance(event, h11.Data):
            return bytes(event.data)
        self._body_done = True
        if isinstance(event, h11.EndOfMessage):
            return b""
        raise ConnectionResetError("client closed the connection mid-body")

    async def _drain_body(self) -> None:
        while await self.read_body_chunk():
            pass

    def _feed_h11(self) -> None:
        # In slices, so that h11's limit on an incomplete head holds however the bytes
        # arrived (it only measures what it has not parsed yet).
        data = bytes(self._inbox[:FEED_SLICE])
        del self._inbox[:FEED_SLICE]
        self._resume_reading()
        self._h11.receive_data(data)

    def _wake_reader(self) -> None:
        if self._input_waiter is not None and not self._input_waiter.done():
            self._input_waiter.set_result(True)

    async def _wait_for_input(self, within: float | None = None) -> bool:
        """Wait for client bytes or end of input; False when ``within`` seconds passed first."""
        # A bare future and timer rather than asyncio.wait(): this runs once per request
        # on every kept-alive connection, and asyncio.wait's own bookkeeping showed up.
        loop = asyncio.get_running_loop()
        waiter = self._input_waiter = loop.create_future()
        timer = None if within is None else loop.call_later(within, _expire, waiter)
        try:
            return await waiter
        finally:
            self._input_waiter = None
            if timer is not None:
                timer.cancel()

    def _resume_reading(self) -> None:
        if (
            self._reading_paused
            and len(self._inbox) < HIGH_WATER // 2
            and self._transport is not None
            and not self._lost
        ):
            self._reading_paused = False
            self._transport.resume_reading()

    # -- writing ----------------------------------------------------------------------
    def _write(self, data: bytes | None) -> None:
        if self._lost or self._transport is None or self._transport.is_closing():
            raise ConnectionResetError("client disconnected")
        if data:
            self._transport.write(data)

    async def _drain(self) -> None:
        if self._writing_paused and not self._lost:
            self._drain_waiter = asyncio.get_running_loop().create_future()
            try:
                await self._drain_waiter
            finally:
                self._drain_waiter = None

    def _head_items(self, headers: Mapping[str, str]) -> list[tuple[str, str]]:
        """The listener's default headers (unless ``headers`` has them, in any case),
        then ``headers``: the one merge every kind of answer uses."""
        return self._defaults.merged(headers)

    async def send_head(self, response: StreamResponse) -> None:
        """Status line and headers of ``response``."""
        if self._simple:
            head, self._frame = response_head(
                response.status,
                response.reason or None,
                response.headers,
                self._defaults,
                self._head_request,
                self._close_after,
            )
            self._write(head)
            return
        reason = (response.reason or _reason(response.status)).encode("latin-1")
        headers = self._head_items(response.headers)
        if self._has_body and not self._body_done:
            # Answering before the upload is in: this connection cannot carry another
            # request (see _linger), so say so rather than let the client reuse it.
            headers.append(("Connection", "close"))
        self._write(
            self._h11.send(
                h11.Response(status_code=response.status, headers=headers, reason=reason)
            )
        )

    async def send_whole(self, response: StreamResponse, body: bytes) -> None:
        """Head, body and end of an answer known in full, in one write: one system call
        per answer instead of three is most of what a small answer costs under load."""
        if self._simple:
            self._write_whole_now(response, body)
            await self._drain()
            return
        reason = (response.reason or _reason(response.status)).encode("latin-1")
        headers = self._head_items(response.headers)
        if self._has_body and not self._body_done:
            headers.append(("Connection", "close"))  # see send_head
        head = h11.Response(status_code=response.status, headers=headers, reason=reason)
        parts = [self._h11.send(head)]
        if body and not self._head_request:
            parts.append(self._h11.send(h11.Data(data=body)))
        parts.append(self._h11.send(h11.EndOfMessage()))
        self._write(b"".join(p for p in parts if p))
        await self._drain()

    async def send_body(self, data: bytes) -> None:
        """A piece of the response body (dropped for HEAD, whose body is never sent)."""
        if self._head_request:
            return
        if self._frame is not None:
            self._write(self._frame.body(data))
        else:
            self._write(self._h11.send(h11.Data(data=data)))
        await self._drain()

    async def send_end(self) -> None:
        """The end of the response body."""
        if self._frame is not None:
            self._write(self._frame.end())
        else:
            self._write(self._h11.send(h11.EndOfMessage()))
        await self._drain()

    # -- hijacking --------------------------------------------------------------------
    async def upgrade(self, headers: Mapping[str, str]) -> RawStream:
        """``101`` and raw bytes from here on (see :meth:`Request.upgrade`)."""
        await self._drain_body()
        if self._h11.their_state is not h11.MIGHT_SWITCH_PROTOCOL:
            raise BadRequest("the request did not ask to upgrade the connection")
        head = h11.InformationalResponse(
            status_code=101,
            headers=self._head_items(headers),
            reason=b"UPGRADED",
        )
        self._write(self._h11.send(head))
        return self._hijack()

    async def take_over(self, status: int, headers: Mapping[str, str]) -> RawStream:
        """A status line and headers without body framing, then raw bytes."""
        await self._drain_body()
        lines = [f"HTTP/1.1 {status} {_reason(status)}"]
        lines += [f"{k}: {v}" for k, v in self._head_items(headers)]
        self._write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        return self._hijack()

    def _hijack(self) -> RawStream:
        # Bytes h11 already buffered past the request belong to the raw stream (on the
        # simple path they never left the inbox).
        if not self._simple:
            leftover, _ = self._h11.trailing_data
            self._inbox[:0] = leftover
        self._hijacked = True
        return RawStream(self)

    async def read_raw(self) -> bytes | None:
        """Raw client bytes after a hijack; None at end of input."""
        while not self._inbox:
            if self._eof:
                return None
            await self._wait_for_input()
        data = bytes(self._inbox)
        self._inbox.clear()
        self._resume_reading()
        return data

    async def write_raw(self, data: bytes) -> None:
        """Raw bytes to the client after a hijack."""
        self._write(data)
        await self._drain()


_NO_DEFAULTS = DefaultHeaders({})


@types.coroutine
def _resume(
    coro: Coroutine[Any, Any, StreamResponse | None], signal: Any
) -> Generator[Any, None, StreamResponse | None]:
    """Carry on, inside a task, a coroutine whose first step ran outside any: hand the
    task what the coroutine waits for, then delegate the rest (a task cancelled meanwhile
    throws into the coroutine where it waits, as it would have)."""
    while True:
        try:
            yield signal
        except BaseException as exc:
            try:
                signal = coro.throw(exc)
            except StopIteration as finished:
                result: StreamResponse | None = finished.value
                return result
            continue
        return (yield from coro.__await__())


async def _answered(response: StreamResponse | None) -> StreamResponse | None:
    return response


async def _reraise(error: Exception) -> StreamResponse | None:
    raise error


def _expire(waiter: asyncio.Future[bool]) -> None:
    if not waiter.done():
        waiter.set_result(False)


def _reason(status: int) -> str:
    return reason_phrase(status)
