"""The engine's HTTP layer over a real unix socket: framing, keep-alive, bodies, hijack,
cancellation and shutdown, driven by raw bytes the way the docker CLI sends them."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from portside.engine.api.web import Request, Response, StreamResponse, UnixListener
from portside.engine.api.web.connection import HIGH_WATER, MAX_HEAD

Handler = Callable[[Request], Awaitable[StreamResponse | None]]


class Server:
    """A listener with one handler and a way to talk to it."""

    def __init__(self, path: Path, handler: Handler) -> None:
        self.path = path
        self.listener = UnixListener(handler, None, {"Api-Version": "1.47"})

    async def connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        return await asyncio.open_unix_connection(str(self.path))

    async def exchange(self, raw: bytes) -> bytes:
        """Send ``raw``, read until the server closes."""
        reader, writer = await self.connect()
        writer.write(raw)
        data = await asyncio.wait_for(reader.read(), 5)
        writer.close()
        return data


@pytest.fixture
async def serve(tmp_path: Path) -> AsyncIterator[Callable[[Handler], Awaitable[Server]]]:
    servers: list[Server] = []

    async def start(handler: Handler) -> Server:
        s = Server(tmp_path / f"s{len(servers)}.sock", handler)
        await s.listener.listen(s.path)
        servers.append(s)
        return s

    yield start
    for s in servers:
        await s.listener.close(grace=0.5)


async def hello(request: Request) -> Response:
    return Response(body=f"{request.method} {request.path}".encode(), content_type="text/plain")


async def read_head(reader: asyncio.StreamReader) -> bytes:
    return await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 5)


async def test_keep_alive_answers_requests_in_order(serve) -> None:  # type: ignore[no-untyped-def]
    s = await serve(hello)
    reader, writer = await s.connect()
    writer.write(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b%20c HTTP/1.1\r\nHost: x\r\n\r\n")
    head = await read_head(reader)
    assert head.startswith(b"HTTP/1.1 200")
    assert b"Api-Version: 1.47" in head
    assert await reader.readexactly(6) == b"GET /a"
    head = await read_head(reader)
    assert await reader.readexactly(8) == b"GET /b c"
    writer.close()


async def test_http_1_0_client_gets_an_answer_and_a_close(serve) -> None:  # type: ignore[no-untyped-def]
    s = await serve(hello)
    data = await s.exchange(b"GET /_ping HTTP/1.0\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 200") and data.endswith(b"GET /_ping")


async def test_chunked_upload_is_streamed_to_the_handler(serve) -> None:  # type: ignore[no-untyped-def]
    pieces: list[bytes] = []

    async def collect(request: Request) -> Response:
        while chunk := await request.content.readany():
            pieces.append(chunk)
        return Response(body=str(sum(map(len, pieces))).encode())

    s = await serve(collect)
    body = b"5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"
    data = await s.exchange(
        b"POST /load HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
        b"Connection: close\r\n\r\n" + body
    )
    assert data.endswith(b"\r\n\r\n11")
    assert b"".join(pieces) == b"hello world"


async def test_streamed_response_is_chunked(serve) -> None:  # type: ignore[no-untyped-def]
    async def stream(request: Request) -> StreamResponse:
        resp = StreamResponse(headers={"Content-Type": "application/json"})
        await resp.prepare(request)
        await resp.write(b'{"a":1}\n')
        await resp.write(b'{"b":2}\n')
        await resp.write_eof()
        return resp

    s = await serve(stream)
    data = await s.exchange(b"GET /events HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in data
    assert data.endswith(b'8\r\n{"a":1}\n\r\n8\r\n{"b":2}\n\r\n0\r\n\r\n')


async def test_head_sends_headers_without_the_body(serve) -> None:  # type: ignore[no-untyped-def]
    s = await serve(hello)
    data = await s.exchange(b"HEAD /x HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert b"Content-Length: 7" in data
    assert data.endswith(b"\r\n\r\n")


async def test_malformed_request_is_400_and_closes(serve) -> None:  # type: ignore[no-untyped-def]
    s = await serve(hello)
    data = await s.exchange(b"GARBAGE\r\n\r\n")
    assert data.startswith(b"HTTP/1.1 400")
    assert b"bad request" in data


async def test_oversized_head_is_refused(serve) -> None:  # type: ignore[no-untyped-def]
    s = await serve(hello)
    big = b"X-Big: " + b"a" * (2 * MAX_HEAD) + b"\r\n"
    data = await s.exchange(b"GET / HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n")
    assert data.startswith(b"HTTP/1.1 431")


async def test_expect_100_continue_is_answered_before_the_body_is_read(serve) -> None:  # type: ignore[no-untyped-def]
    async def echo(request: Request) -> Response:
        return Response(body=await request.read())

    s = await serve(echo)
    reader, writer = await s.connect()
    writer.write(b"PUT /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n")
    assert (await read_head(reader)).startswith(b"HTTP/1.1 100")
    writer.write(b"abc")
    head = await read_head(reader)
    assert head.startswith(b"HTTP/1.1 200")
    assert await reader.readexactly(3) == b"abc"
    writer.close()


async def test_an_early_answer_reaches_a_client_still_uploading(serve) -> None:  # type: ignore[no-untyped-def]
    async def refuse(request: Request) -> Response:
        return Response(status=400, body=b'{"message":"RUN is not a valid change"}')

    s = await serve(refuse)
    reader, writer = await s.connect()
    size = 4 * HIGH_WATER
    writer.write(
        f"POST /images/create HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode()
    )
    for _ in range(size // 65536):  # the whole upload goes out: no broken pipe
        writer.write(b"x" * 65536)
        await writer.drain()
    data = await asyncio.wait_for(reader.read(), 10)
    assert data.startswith(b"HTTP/1.1 400 Bad Request")
    assert b"Connection: close" in data
    assert data.endswith(b'RUN is not a valid change"}')
    writer.close()


@pytest.mark.parametrize("how", ["close", "half-close"])
async def test_a_guarded_handler_is_cancelled_when_its_client_leaves(serve, how: str) -> None:  # type: ignore[no-untyped-def]
    cancelled = asyncio.Event()
    started = asyncio.Event()

    async def wait_forever(request: Request) -> Response:
        request.cancel_on_disconnect()
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        return Response()

    s = await serve(wait_forever)
    _, writer = await s.connect()
    writer.write(b"POST /containers/x/wait HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    await asyncio.wait_for(started.wait(), 5)
    if how == "close":
        writer.close()
    else:
        writer.write_eof()
    await asyncio.wait_for(cancelled.wait(), 5)
    writer.close()


async def test_an_unguarded_handler_finishes_after_its_client_left(serve) -> None:  # type: ignore[no-untyped-def]
    finished = asyncio.Event()
    started = asyncio.Event()

    async def slow_create(request: Request) -> Response:
        started.set()
        await asyncio.sleep(0.3)
        finished.set()
        return Response(status=201)

    s = await serve(slow_create)
    _, writer = await s.connect()
    writer.write(b"POST /containers/create HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n")
    await asyncio.wait_for(started.wait(), 5)
    writer.close()
    await asyncio.wait_for(finished.wait(), 5)


async def echo_upper(request: Request) -> None:
    if request.headers.get("Upgrade") == "tcp":
        stream = await request.upgrade({"Content-Type": "application/vnd.docker.raw-stream"})
    else:
        stream = await request.take_over(200, {"Content-Type": "application/vnd.docker.raw-stream"})
    while (data := await stream.read()) is not None:
        await stream.write(data.upper())
    await stream.write(b"[stdin closed]")
    stream.close()
    return None


async def test_upgrade_carries_raw_bytes_both_ways_and_half_close_ends_input(serve) -> None:  # type: ignore[no-untyped-def]
    s = await serve(echo_upper)
    reader, writer = await s.connect()
    writer.write(
        b"POST /containers/x/attach?stream=1 HTTP/1.1\r\nHost: x\r\n"
        b"Connection: Upgrade\r\nUpgrade: tcp\r\nContent-Length: 0\r\n\r\n"
    )
    head = await read_head(reader)
    assert head.startswith(b"HTTP/1.1 101 UPGRADED")
    assert b"Api-Version: 1.47" in head
    writer.write(b"hello")
    assert await asyncio.wait_for(reader.readexactly(5), 5) == b"HELLO"
    writer.write_eof()  # what `docker attach` does when its stdin ends
    assert await asyncio.wait_for(reader.read(), 5) == b"[stdin closed]"
    writer.close()


async def test_bytes_sent_right_after_the_request_reach_the_raw_stream(serve) -> None:  # type: ignore[no-untyped-def]
    s = await serve(echo_upper)
    reader, writer = await s.connect()
    writer.write(
        b"POST /exec/x/start HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
        b"Content-Length: 0\r\n\r\nearly"
    )
    assert (await read_head(reader)).startswith(b"HTTP/1.1 101")
    assert await asyncio.wait_for(reader.readexactly(5), 5) == b"EARLY"
    writer.write_eof()
    assert await asyncio.wait_for(reader.read(), 5) == b"[stdin closed]"
    writer.close()


async def test_old_clients_get_a_raw_200_until_close(serve) -> None:  # type: ignore[no-untyped-def]
    s = await serve(echo_upper)
    reader, writer = await s.connect()
    writer.write(b"POST /containers/x/attach HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\nabc")
    head = await read_head(reader)
    assert head.startswith(b"HTTP/1.1 200 OK")
    assert b"Transfer-Encoding" not in head and b"Content-Length" not in head
    assert await asyncio.wait_for(reader.readexactly(3), 5) == b"ABC"
    writer.write_eof()
    assert await asyncio.wait_for(reader.read(), 5) == b"[stdin closed]"
    writer.close()


async def test_an_upload_is_not_buffered_beyond_the_high_water_mark(serve) -> None:  # type: ignore[no-untyped-def]
    peak = 0

    async def slow_reader(request: Request) -> Response:
        nonlocal peak
        total = 0
        while chunk := await request.content.readany():
            total += len(chunk)
            peak = max(peak, len(request._conn._inbox) + len(chunk))
            await asyncio.sleep(0.001)
        return Response(body=str(total).encode())

    s = await serve(slow_reader)
    size = 16 * HIGH_WATER
    reader, writer = await s.connect()
    writer.write(f"PUT /archive HTTP/1.1\r\nHost: x\r\nContent-Length: {size}\r\n\r\n".encode())
    for _ in range(size // 65536):
        writer.write(b"x" * 65536)
        await writer.drain()
    head = await read_head(reader)
    assert head.startswith(b"HTTP/1.1 200")
    assert (await reader.read(64)).endswith(str(size).encode())
    writer.close()
    # Kernel socket buffers add a little on top of our own mark, never the whole upload.
    assert peak <= 2 * HIGH_WATER + 65536


async def test_close_waits_for_running_handlers_then_cancels_streams(tmp_path: Path) -> None:
    finished, cancelled = asyncio.Event(), asyncio.Event()

    async def handler(request: Request) -> Response:
        try:
            await asyncio.sleep(0.2 if request.path == "/short" else 3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise
        finished.set()
        return Response()

    listener = UnixListener(handler)
    path = tmp_path / "s.sock"
    await listener.listen(path)
    assert path.stat().st_mode & 0o777 == 0o660
    idle_reader, idle_writer = await asyncio.open_unix_connection(str(path))
    clients = []
    for p in ("/short", "/long"):
        _, w = await asyncio.open_unix_connection(str(path))
        w.write(f"GET {p} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        clients.append(w)
    await asyncio.sleep(0.05)
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await listener.close(grace=1.0)
    assert finished.is_set() and cancelled.is_set()
    assert loop.time() - t0 < 3
    assert await asyncio.wait_for(idle_reader.read(), 2) == b""
    with pytest.raises(OSError):
        s = socket.socket(socket.AF_UNIX)
        try:
            s.connect(str(path))
        finally:
            s.close()
    for w in [idle_writer, *clients]:
        w.close()
