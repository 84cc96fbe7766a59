"""Small probes the network tests share: sysctl-like files, one-line TCP fetches (also
from a socket made in a namespace), free ports and host links by name."""

from __future__ import annotations

import asyncio
import socket
import subprocess


def read(path: str) -> str:
    """A small file's text (sync on purpose: /proc and /sys reads do not block)."""
    with open(path) as f:
        return f.read()


def write(path: str, text: str) -> None:
    """Write a sysctl-like file."""
    with open(path, "w") as f:
        f.write(text)


async def fetch(host: str, port: int, wait: float = 3.0) -> str:
    """One line from a TCP server."""
    r, w = await asyncio.wait_for(asyncio.open_connection(host, port), wait)
    try:
        return (await asyncio.wait_for(r.readline(), wait)).decode().strip()
    finally:
        w.close()


async def fetch_from(s: socket.socket, host: str, port: int, wait: float = 3.0) -> str:
    """One line from a TCP server, connecting with socket ``s`` (e.g. made in a netns)."""
    s.setblocking(False)
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(loop.sock_connect(s, (host, port)), wait)
        r, w = await asyncio.open_connection(sock=s)
    except BaseException:
        s.close()
        raise
    try:
        return (await asyncio.wait_for(r.readline(), wait)).decode().strip()
    finally:
        w.close()


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port nothing on the host uses right now."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def links_with(fragment: str) -> list[str]:
    """Names of host links whose name contains ``fragment``."""
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return [
        line.split(":")[1].strip().split("@")[0] for line in out.splitlines() if fragment in line
    ]
