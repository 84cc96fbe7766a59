"""A flood of 2,000 clients at once on a real engine's socket — complete requests kept
alive, heads left half-sent, silent connections, clients that reset mid-request — leaves
it answering, its log free of tracebacks, and its descriptors back where they were once
the clients leave."""

from __future__ import annotations

import asyncio
import os
import resource
import socket
import struct
import time
from pathlib import Path

from support.engine import PortsideEngine

CLIENTS = 2000
PING = b"GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n"


def _open_fds(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def _room_for(clients: int) -> None:
    """This test process holds every client socket at once."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < clients + 256:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, clients + 1024), hard))


async def _client(path: Path, kind: int, held: list[asyncio.StreamWriter]) -> int:
    """One client of the flood; the HTTP status it read (0 when it read none)."""
    reader, writer = await asyncio.open_unix_connection(str(path))
    held.append(writer)
    if kind == 0:  # a whole request on a connection then kept open
        writer.write(PING)
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 60)
        await reader.readexactly(2)  # "OK"
        return int(head.split(b" ", 2)[1])
    if kind == 1:  # half a head, then nothing
        writer.write(b"GET /_ping HTTP/1.1\r\nHo")
        await writer.drain()
    elif kind == 2:  # a request, then a reset before the answer is read
        sock = writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        writer.write(PING * 50)
        await writer.drain()
        writer.transport.abort()
    # kind 3: connected, silent
    return 0


def _ping_within(path: Path, seconds: float) -> float:
    """How long a fresh client waits for a 200 to ``/_ping``."""
    t = time.monotonic()
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(seconds)
        s.connect(str(path))
        s.sendall(PING)
        assert s.recv(64).startswith(b"HTTP/1.1 200")
    return time.monotonic() - t


async def _flood(engine: PortsideEngine, pid: int, before: int) -> None:
    held: list[asyncio.StreamWriter] = []
    try:
        statuses = await asyncio.wait_for(
            asyncio.gather(*(_client(engine.socket, i % 4, held) for i in range(CLIENTS))), 120
        )
        assert len(held) == CLIENTS
        # The flood really was concurrent: the engine holds a socket for each client still
        # connected (all but the ones that reset).
        during = _open_fds(pid) - before
        assert during >= CLIENTS * 3 // 4 - 10, f"only {during} client sockets in the engine"
        # Every complete request was answered, none refused: 2,000 is under the cap.
        answered = [s for i, s in enumerate(statuses) if i % 4 == 0]
        assert answered == [200] * (CLIENTS // 4)
        # With all of them still connected, a new client is served at once.
        waited = await asyncio.to_thread(_ping_within, engine.socket, 10)
        assert waited < 2, f"/_ping took {waited:.2f} s with {CLIENTS} clients connected"
    finally:
        for w in held:
            w.transport.abort()


def test_a_connection_flood_leaves_the_engine_answering_and_its_fds_as_they_were(
    engine: PortsideEngine,
) -> None:
    assert engine.proc is not None
    pid = engine.proc.pid
    _room_for(CLIENTS)
    assert engine.ping()
    before = _open_fds(pid)
    log_before = engine.log_path.stat().st_size

    asyncio.run(_flood(engine, pid, before))

    # The clients are gone: within a few seconds the engine holds no socket of theirs.
    deadline = time.monotonic() + 20
    while _open_fds(pid) > before + 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    assert _open_fds(pid) <= before + 2, f"{_open_fds(pid)} fds open, {before} before the flood"
    assert engine.ping()
    assert _ping_within(engine.socket, 5) < 1
    with open(engine.log_path, "rb") as f:
        f.seek(log_before)
        log = f.read().decode(errors="replace")
    assert "Traceback" not in log, log[-4000:]
    # Debug logging notes ended connections; nothing else grows with the flood's size.
    noisy = [line for line in log.splitlines() if "ERROR" in line or "WARNING" in line]
    assert not noisy, noisy[:20]
