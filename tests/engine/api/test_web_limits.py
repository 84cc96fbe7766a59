"""What the HTTP layer does with clients that hold on without sending (slowloris heads,
stalled uploads, idle keep-alives), with too many clients at once, and with a burst of
connects — over a real unix socket, and against a real portsided for the last two."""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import subprocess
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from portside.engine.api.web import (
    ConnectionLimits,
    Request,
    Response,
    StreamResponse,
    UnixListener,
    fold_accept_errors,
)
from portside.engine.api.web.listener import BACKLOG

Handler = Callable[[Request], Awaitable[StreamResponse | None]]
FAST = ConnectionLimits(idle_timeout=0.3, head_timeout=0.5, body_timeout=0.3, max_connections=3)


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Callable[[Handler], Awaitable[Path]]]:
    listeners: list[UnixListener] = []

    async def start(handler: Handler) -> Path:
        path = tmp_path / f"s{len(listeners)}.sock"
        listener = UnixListener(handler, None, {}, FAST)
        await listener.listen(path)
        listeners.append(listener)
        return path

    yield start
    for listener in listeners:
        await listener.close(grace=0.5)


async def hello(request: Request) -> Response:
    return Response(body=b"hello", content_type="text/plain")


async def test_an_idle_kept_alive_connection_is_closed(serve) -> None:  # type: ignore[no-untyped-def]
    path = await serve(hello)
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\n")
    head = await asyncio.wait_for(reader.readuntil(b"hello"), 5)
    assert head.startswith(b"HTTP/1.1 200")
    # Nothing more is asked: the server closes without a word once the idle time passed.
    assert await asyncio.wait_for(reader.read(), 3) == b""
    writer.close()


async def test_a_head_sent_a_byte_at_a_time_is_cut_off_with_408(serve) -> None:  # type: ignore[no-untyped-def]
    path = await serve(hello)
    reader, writer = await asyncio.open_unix_connection(str(path))
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    answer = b""
    # Each byte comes well inside the idle time, but the head never completes.
    for byte in b"GET / HTTP/1.1\r\nX-Slow: " + b"a" * 100:
        try:
            writer.write(bytes([byte]))
            await writer.drain()
        except ConnectionError:
            break
        try:
            answer += await asyncio.wait_for(reader.read(1024), 0.1)
        except TimeoutError:
            continue
        if answer:
            break
    answer += await asyncio.wait_for(reader.read(), 3)
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout"), answer
    assert loop.time() - t0 < 3
    writer.close()


async def test_a_stalled_upload_ends_the_request(serve) -> None:  # type: ignore[no-untyped-def]
    outcome: list[str] = []

    async def upload(request: Request) -> Response:
        try:
            while await request.content.readany():
                pass
        except ConnectionResetError as e:
            outcome.append(str(e))
            raise
        return Response(body=b"done")

    path = await serve(upload)
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(b"POST /images/load HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789")
    assert await asyncio.wait_for(reader.read(), 3) == b""
    assert outcome and "no request body data" in outcome[0]
    writer.close()


async def test_long_handlers_and_hijacked_streams_are_not_timed_out(serve) -> None:  # type: ignore[no-untyped-def]
    async def slow_or_raw(request: Request) -> Response | None:
        if request.path == "/wait":
            await asyncio.sleep(1.0)  # longer than every limit
            return Response(body=b"waited")
        stream = await request.upgrade({})
        while (data := await stream.read()) is not None:
            await stream.write(data)
        stream.close()
        return None

    path = await serve(slow_or_raw)
    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(b"POST /wait HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    assert (await asyncio.wait_for(reader.readuntil(b"waited"), 5)).startswith(b"HTTP/1.1 200")
    writer.close()

    reader, writer = await asyncio.open_unix_connection(str(path))
    writer.write(
        b"POST /attach HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
        b"Content-Length: 0\r\n\r\n"
    )
    await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)
    await asyncio.sleep(1.0)  # an attached terminal may sit idle for hours
    writer.write(b"still here")
    assert await asyncio.wait_for(reader.readexactly(10), 5) == b"still here"
    writer.close()


async def test_connections_over_the_limit_get_a_503_in_dockers_shape(serve, caplog) -> None:  # type: ignore[no-untyped-def]
    async def slow(request: Request) -> Response:
        await asyncio.sleep(0.5)
        return Response(body=b"ok")

    path = await serve(slow)
    held = []
    for _ in range(FAST.max_connections):
        r, w = await asyncio.open_unix_connection(str(path))
        w.write(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
        held.append((r, w))
    await asyncio.sleep(0.05)
    with caplog.at_level(logging.WARNING):
        answers = []
        for _ in range(3):
            r, w = await asyncio.open_unix_connection(str(path))
            answers.append(await asyncio.wait_for(r.read(), 3))
            w.close()
    for answer in answers:
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503")
        assert json.loads(body) == {"message": "too many connections to the engine, retry"}
    # One line for the episode, not one per refused client.
    assert sum("answering new ones 503" in r.message for r in caplog.records) == 1
    for r, w in held:
        assert (await asyncio.wait_for(r.readuntil(b"ok"), 5)).startswith(b"HTTP/1.1 200")
        w.close()
    await asyncio.sleep(0.05)
    r, w = await asyncio.open_unix_connection(str(path))
    w.write(b"GET /x HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (await asyncio.wait_for(r.readuntil(b"ok"), 5)).startswith(b"HTTP/1.1 200")
    w.close()


async def test_running_out_of_descriptors_is_one_log_line(caplog) -> None:  # type: ignore[no-untyped-def]
    loop = asyncio.get_running_loop()
    previous = loop.get_exception_handler()
    fold_accept_errors(loop)
    try:
        with caplog.at_level(logging.ERROR):
            for _ in range(50):
                loop.call_exception_handler(
                    {
                        "message": "socket.accept() out of system resource",
                        "exception": OSError(24, "Too many open files"),
                    }
                )
        lines = [r for r in caplog.records if "accepting connections failed" in r.message]
        assert len(lines) == 1 and "Too many open files" in lines[0].message
    finally:
        loop.set_exception_handler(previous)


def test_the_engine_socket_queues_a_burst_of_connects(engine) -> None:  # type: ignore[no-untyped-def]
    # ss shows a listening socket's backlog in its Send-Q column.
    out = subprocess.run(
        ["ss", "-xlnH", "src", str(engine.socket)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert int(out[3]) == min(BACKLOG, int(Path("/proc/sys/net/core/somaxconn").read_text()))
    # 1,000 connects at once, none accepted by us first: none is refused.
    socks = []
    try:
        for _ in range(1000):
            s = socket.socket(socket.AF_UNIX)
            s.setblocking(False)
            s.connect(str(engine.socket))
            socks.append(s)
    finally:
        for s in socks:
            s.close()
    assert engine.ping()
