"""Bodiless GET/HEAD requests are parsed and framed without h11 and answered from the
read callback: what goes on the wire must be what h11 writes, and waiting handlers,
cancellation, pipelining and the switch between both paths must work as before."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import cast

import pytest
from portside.engine.api.web import (
    ConnectionLimits,
    Request,
    Response,
    StreamResponse,
    UnixListener,
)
from portside.engine.api.web.connection import HttpConnection, Turns
from portside.engine.api.web.framing import parse_simple_head

Handler = Callable[[Request], Awaitable[StreamResponse | None]]
DEFAULTS = {"Api-Version": "1.47", "Server": "Portside/test"}
Serve = Callable[..., Awaitable[Path]]


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Serve]:
    listeners: list[UnixListener] = []

    async def start(handler: Handler, limits: ConnectionLimits | None = None) -> Path:
        path = tmp_path / f"s{len(listeners)}.sock"
        listener = UnixListener(handler, None, DEFAULTS, limits)
        await listener.listen(path)
        listeners.append(listener)
        return path

    yield start
    for listener in listeners:
        await listener.close(grace=0.5)


async def exchange(path: Path, raw: bytes) -> bytes:
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(raw)
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    return data


async def answers(request: Request) -> StreamResponse:
    """Every kind of answer, chosen by path."""
    if request.path == "/whole":
        return Response(body=b'{"a":1}', content_type="application/json")
    if request.path == "/override":
        return Response(body=b"x", headers={"server": "other", "Cache-Control": "no-cache"})
    if request.path == "/empty":
        return Response(status=204)
    if request.path == "/teapot":
        return Response(status=418, body=b"short and stout", reason="I'm a teapot")
    if request.path == "/waits":
        await asyncio.sleep(0.01)
        return Response(body=b"after a wait")
    resp = StreamResponse(headers={"Content-Type": "application/json"})
    await resp.prepare(request)
    await resp.write(b'{"a":1}\n')
    await asyncio.sleep(0)
    await resp.write(b'{"b":2}\n')
    await resp.write_eof()
    return resp


@pytest.mark.parametrize("path", ["/whole", "/override", "/empty", "/teapot", "/waits", "/stream"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("close", [False, True])
async def test_the_simple_path_writes_what_h11_writes(
    serve: Serve, path: str, method: str, close: bool
) -> None:
    sock = await serve(answers)
    connection = b"Connection: close\r\n" if close else b""
    head = f"{method} {path} HTTP/1.1\r\nHost: x\r\n".encode() + connection
    # "Content-Length: 0" is the same request to the application, but takes it to h11.
    through_h11 = head + b"Content-Length: 0\r\n\r\n"
    simple = head + b"\r\n"
    assert parse_simple_head(simple, 1 << 16) is not None
    assert parse_simple_head(through_h11, 1 << 16) is None
    # A second request on the connection shows that the first answer's framing ended
    # where it should; the close case ends after the first.
    follow = b"" if close else b"GET /whole HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    expected = await exchange(sock, through_h11 + follow)
    got = await exchange(sock, simple + follow)
    assert got == expected
    assert got.startswith(b"HTTP/1.1 ")


async def test_requests_switch_between_both_paths_on_one_connection(serve: Serve) -> None:
    async def echo(request: Request) -> Response:
        body = await request.read()
        return Response(body=f"{request.method} {request.path} {body.decode()}|".encode())

    sock = await serve(echo)
    pipelined = (
        b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n"
        b"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc"
        b"GET /c?x=1 HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /d HTTP/1.0\r\n\r\n"
    )
    data = await exchange(sock, pipelined)
    bodies = [part.split(b"\r\n\r\n", 1)[1] for part in data.split(b"HTTP/1.1 200 OK\r\n")[1:]]
    assert bodies == [b"GET /a |", b"POST /b abc|", b"GET /c |", b"GET /d |"]


async def test_a_head_split_across_reads_is_answered(serve: Serve) -> None:
    sock = await serve(answers)
    reader, writer = await asyncio.open_unix_connection(str(sock))
    for piece in (b"GET /who", b"le HTTP/1.1\r\nHo", b"st: x\r\n", b"\r\n"):
        writer.write(piece)
        await writer.drain()
        await asyncio.sleep(0.02)
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    assert head.startswith(b"HTTP/1.1 200") and b"Content-Length: 7" in head
    assert await reader.readexactly(7) == b'{"a":1}'
    # And the next, whole one, still on the same connection.
    writer.write(b"GET /whole HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (await asyncio.wait_for(reader.readuntil(b'{"a":1}'), 5)).startswith(b"HTTP/1.1 200")
    writer.close()


@pytest.mark.parametrize("how", ["close", "half-close"])
async def test_a_guarded_get_is_cancelled_when_its_client_leaves(serve: Serve, how: str) -> None:
    cancelled = asyncio.Event()
    started = asyncio.Event()
    seen_task: list[asyncio.Task[object] | None] = []

    async def follow(request: Request) -> Response:
        request.cancel_on_disconnect()
        await asyncio.sleep(0)
        seen_task.append(asyncio.current_task())  # a task once it has waited
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return Response()

    sock = await serve(follow)
    _, writer = await asyncio.open_unix_connection(str(sock))
    writer.write(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
    await asyncio.wait_for(started.wait(), 5)
    if how == "close":
        writer.close()
    else:
        writer.write_eof()
    await asyncio.wait_for(cancelled.wait(), 5)
    assert seen_task[0] is not None
    writer.close()


async def test_a_handler_error_is_a_500_and_a_close(serve: Serve) -> None:
    async def broken(request: Request) -> Response:
        if request.path == "/later":
            await asyncio.sleep(0)
        raise ValueError("boom")

    sock = await serve(broken)
    for path in ("/now", "/later"):
        data = await exchange(sock, f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        assert data.startswith(b"HTTP/1.1 500 Internal Server Error")
        assert b"Connection: close" in data and data.endswith(
            b"internal server error\n\r\n0\r\n\r\n"
        )


async def test_an_idle_connection_closes_after_simple_requests(serve: Serve) -> None:
    sock = await serve(answers, ConnectionLimits(idle_timeout=0.4))
    reader, writer = await asyncio.open_unix_connection(str(sock))
    loop = asyncio.get_running_loop()
    for _ in range(3):  # activity moves the idle deadline on
        writer.write(b"GET /whole HTTP/1.1\r\nHost: x\r\n\r\n")
        await asyncio.wait_for(reader.readuntil(b'{"a":1}'), 5)
        await asyncio.sleep(0.25)
    started = loop.time()
    assert await asyncio.wait_for(reader.read(), 3) == b""
    assert 0.05 < loop.time() - started < 1.0
    writer.close()


@pytest.mark.parametrize(
    "raw",
    [
        b"GET / HTTP/1.1\r\n\r\n",  # no Host
        b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",
        b"GET / HTTP/1.0\r\nHost: a\r\n\r\n",
        b"POST / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nExpect: 100-continue\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost : a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n folded\r\n\r\n",
        b"GET /\x80 HTTP/1.1\r\nHost: a\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\x00\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: a\r\n",  # not complete yet
    ],
)
def test_anything_unusual_is_left_to_h11(raw: bytes) -> None:
    assert parse_simple_head(raw, 1 << 16) is None


def test_a_simple_head_is_parsed() -> None:
    raw = b"GET /v1.47/containers/json?all=1 HTTP/1.1\r\nHost: docker\r\nX-A:  b c \r\n\r\nNEXT"
    head = parse_simple_head(raw, 1 << 16)
    assert head is not None
    assert (head.method, head.target, head.close) == ("GET", "/v1.47/containers/json?all=1", False)
    assert head.headers == [("host", "docker"), ("x-a", "b c")]
    assert raw[head.size :] == b"NEXT"
    closing = parse_simple_head(b"HEAD / HTTP/1.1\r\nHost: a\r\nConnection: Close\r\n\r\n", 99)
    assert closing is not None and closing.close


async def test_urgent_requests_are_answered_before_the_others_read_with_them(
    tmp_path: Path,
) -> None:
    order: list[str] = []

    async def app(request: Request) -> Response:
        order.append(request.path)
        return Response(body=b"OK")

    path = tmp_path / "u.sock"
    listener = UnixListener(app, None, {}, urgent=lambda method, target: target == "/_ping")
    await listener.listen(path)
    try:
        conns = [await asyncio.open_unix_connection(str(path)) for _ in range(4)]
        # Everything is on the wire before the server's next turn reads it.
        for n, (_, writer) in enumerate(conns):
            target = "/_ping" if n == 3 else f"/list{n}"
            writer.write(f"GET {target} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        await asyncio.gather(*(writer.drain() for _, writer in conns))
        for reader, _ in conns:
            assert (await asyncio.wait_for(reader.readuntil(b"OK"), 5)).startswith(b"HTTP/1.1 200")
        assert order[0] == "/_ping"
        assert sorted(order[1:]) == ["/list0", "/list1", "/list2"]
        for _, writer in conns:
            writer.close()
    finally:
        await listener.close(grace=0.5)


@pytest.mark.parametrize(("budget", "expected"), [(0.0, "1r23"), (60.0, "123r")])
async def test_waiting_requests_give_the_loop_back_once_their_budget_is_spent(
    budget: float, expected: str
) -> None:
    loop = asyncio.get_running_loop()
    order: list[str] = []
    done = asyncio.Event()

    class Waiting:
        def __init__(self, name: str) -> None:
            self.name = name

        def answer_waiting_request(self) -> None:
            order.append(self.name)
            if self.name == "1":  # what the loop reads meanwhile runs in its next turn
                loop.call_soon(order.append, "r")
            if self.name == "3":
                loop.call_soon(done.set)

    turns = Turns(lambda method, target: False, budget=budget)
    for name in "123":
        turns.add(cast(HttpConnection, Waiting(name)), loop)
    await asyncio.wait_for(done.wait(), 5)
    await asyncio.sleep(0)
    assert "".join(order) == expected


async def test_the_api_runs_handlers_not_marked_at_once_in_a_task(serve: Serve) -> None:
    """httpx (anyio), asyncio.timeout and TaskGroup need a task from their first step:
    the API app moves every handler into one unless its route is marked ``at_once``."""
    from portside.engine.api.server import ApiApp
    from portside.engine.engine import Engine

    app = ApiApp(cast(Engine, None))
    seen: dict[str, bool] = {}

    async def needs_a_task(request: Request) -> StreamResponse:
        seen[request.path] = asyncio.current_task() is not None
        async with asyncio.timeout(1):
            await asyncio.sleep(0)
        return Response(body=b"ok")

    app.routes.add("GET", "/needs-a-task", needs_a_task)
    app.routes.add("GET", "/at-once", needs_a_task, at_once=True)
    sock = await serve(app.handle)
    tail = b" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    data = await exchange(sock, b"GET /needs-a-task" + tail)
    assert data.startswith(b"HTTP/1.1 200 ") and data.endswith(b"ok")
    data = await exchange(sock, b"GET /at-once" + tail)
    assert seen == {"/needs-a-task": True, "/at-once": False}
    # asyncio.timeout outside any task is what a route marked at_once must not use.
    assert data.startswith(b"HTTP/1.1 500 ")
