"""Helpers for the interactive-I/O tests (attach, exec, archive, health)."""

from __future__ import annotations

import socket
import struct
import time
import uuid
from typing import Any

import pexpect
from support.waiting import wait_for

__all__ = ["wait_for"]


def uniq(prefix: str) -> str:
    """A container name unique to this test."""
    return f"{prefix}{uuid.uuid4().hex[:6]}"


def events(engine: Any, ref: str, since: str = "120s") -> list[str]:
    """Actions of the container's events so far (``docker events`` up to now)."""
    until = str(int(time.time()) + 1)
    out = engine.docker(
        "events",
        "--since",
        since,
        "--until",
        until,
        "--filter",
        f"container={ref}",
        "--format",
        "{{.Action}}",
    ).stdout
    return out.splitlines()


def spawn(engine: Any, *args: str, rows: int = 24, cols: int = 80) -> pexpect.spawn:
    """The docker CLI under a pseudo-terminal of the given size."""
    return pexpect.spawn(
        "docker",
        list(args),
        env=engine.env(),
        timeout=20,
        dimensions=(rows, cols),
        encoding="utf-8",
        codec_errors="replace",
    )


def raw_request(
    engine: Any, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> tuple[socket.socket, bytes, bytes]:
    """Send one HTTP/1.1 request on a raw unix socket; returns the socket, the
    response head and whatever body bytes arrived with it."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(20)
    s.connect(str(engine.socket))
    hdrs = {"Host": "docker", "Content-Length": str(len(body))}
    if body:
        hdrs["Content-Type"] = "application/json"
    hdrs.update(headers or {})
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in hdrs.items())
    s.sendall(head.encode() + b"\r\n" + body)
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(4096)
        if not chunk:
            break
        buf += chunk
    resp_head, _, rest = buf.partition(b"\r\n\r\n")
    return s, resp_head, rest


def read_all(s: socket.socket, first: bytes = b"") -> bytes:
    """Everything until the server closes the connection."""
    out = first
    while True:
        chunk = s.recv(65536)
        if not chunk:
            return out
        out += chunk


def demux(data: bytes) -> dict[int, bytes]:
    """Split Docker's multiplexed stream into {1: stdout, 2: stderr}."""
    out: dict[int, bytes] = {1: b"", 2: b""}
    while data:
        assert len(data) >= 8, data
        kind, size = struct.unpack(">BxxxL", data[:8])
        out[kind] = out.get(kind, b"") + data[8 : 8 + size]
        data = data[8 + size :]
    return out
