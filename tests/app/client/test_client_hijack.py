"""The exec hijack (``Upgrade: tcp`` → 101 → raw stream) against a loopback fake engine.

The fake speaks just enough HTTP/1.1 over a unix socket: keep-alive JSON answers for
``/version``, exec create/resize/inspect, and an upgrade for exec start after which it
echoes input in upper case (TTY) or answers with multiplexed frames (no TTY).
"""

from __future__ import annotations

import asyncio
import json

import pytest
from portside.app.client import EngineClient, EngineError
from portside.app.client.streams import frame


class FakeEngine:
    def __init__(self, path: str):
        self.path = path
        self.resizes: list[tuple[str, str]] = []
        self.exec_bodies: list[dict] = []
        self.upgrade = True
        self.server: asyncio.AbstractServer | None = None

    async def __aenter__(self):
        self.server = await asyncio.start_unix_server(self._conn, self.path)
        return self

    async def __aexit__(self, *exc):
        self.server.close()
        await self.server.wait_closed()

    async def _conn(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode().split("\r\n")
                method, target, _ = lines[0].split(" ")
                headers = {
                    k.strip().lower(): v.strip()
                    for k, v in (ln.split(":", 1) for ln in lines[1:] if ln)
                }
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                path, _, query = target.partition("?")
                if path.endswith("/start") and path.startswith("/v1.47/exec/"):
                    await self._hijack(json.loads(body), headers, reader, writer)
                    return
                await self._answer(method, path, query, body, writer)
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    async def _answer(self, method, path, query, body, writer):
        status, doc = 404, {"message": "page not found"}
        if path == "/version":
            status, doc = 200, {"ApiVersion": "1.47", "MinAPIVersion": "1.24"}
        elif path == "/v1.47/containers/c1/exec":
            self.exec_bodies.append(json.loads(body))
            status, doc = 201, {"Id": "e1"}
        elif path == "/v1.47/exec/e1/resize":
            self.resizes.append(tuple(sorted(query.split("&"))))
            status, doc = 201, None
        elif path == "/v1.47/exec/e1/json":
            status, doc = 200, {"Running": False, "ExitCode": 3}
        payload = b"" if doc is None else json.dumps(doc).encode()
        writer.write(
            f"HTTP/1.1 {status} X\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(payload)}\r\n\r\n".encode()
            + payload
        )
        await writer.drain()

    async def _hijack(self, body, headers, reader, writer):
        if not self.upgrade or headers.get("upgrade") != "tcp":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            await writer.drain()
            return
        # The first output travels in the same packet as the 101 headers on purpose.
        greeting = b"$ " if body["Tty"] else frame(1, b"out\n") + frame(2, b"err\n")
        writer.write(
            b"HTTP/1.1 101 UPGRADED\r\nContent-Type: application/vnd.docker.raw-stream\r\n"
            b"Connection: Upgrade\r\nUpgrade: tcp\r\n\r\n" + greeting
        )
        await writer.drain()
        if not body["Tty"]:
            return
        while data := await reader.read(1024):
            writer.write(data.upper())
            await writer.drain()
        writer.write(b"[eof]")
        await writer.drain()


@pytest.fixture
async def fake(tmp_path):
    async with FakeEngine(str(tmp_path / "fake.sock")) as f:
        yield f


async def _read_until(stream, marker: bytes) -> bytes:
    got = b""
    while marker not in got:
        chunk = await asyncio.wait_for(stream.read(), 5)
        if not chunk:
            break
        got += chunk
    return got


async def test_tty_exec_is_a_two_way_raw_stream(fake):
    async with EngineClient(f"unix://{fake.path}") as c:
        exec_id = await c.exec.create("c1", ["sh"], tty=True, console_size=(24, 80))
        assert fake.exec_bodies[-1]["Tty"] is True
        assert fake.exec_bodies[-1]["ConsoleSize"] == [24, 80]
        stream = await c.exec.start(exec_id)
        assert await _read_until(stream, b"$ ") == b"$ "
        await stream.write(b"echo hi\n")
        assert await _read_until(stream, b"ECHO HI\n") == b"ECHO HI\n"
        await c.exec.resize(exec_id, 40, 120)
        assert fake.resizes == [("h=40", "w=120")]
        stream.close_write()
        assert await _read_until(stream, b"[eof]") == b"[eof]"
        assert await stream.read() == b""
        await stream.aclose()
        assert stream.closed and await stream.read() == b""
        # The client keeps working after a hijacked connection is gone.
        assert (await c.exec.inspect(exec_id))["ExitCode"] == 3


async def test_exec_run_without_tty_demultiplexes(fake):
    async with EngineClient(f"unix://{fake.path}") as c:
        code, out, err = await c.exec.run("c1", ["ls"])
    assert (code, out, err) == (3, b"out\n", b"err\n")


async def test_engine_that_does_not_upgrade_is_an_error(fake):
    fake.upgrade = False
    async with EngineClient(f"unix://{fake.path}") as c:
        with pytest.raises(EngineError, match="did not switch"):
            await c.exec.start("e1")
