"""A client of conmon's attach socket (SOCK_SEQPACKET).

Each message conmon sends is one stream byte (2 stdout, 3 stderr) plus up to 8192
bytes of output; whatever we send is written to the container's stdin (when conmon
was started with ``-i``). conmon closes the socket after the container exits and its
output is drained, so EOF means "no more output".

The socket path (``<bundle>/attach``) can be longer than a unix address allows, so we
connect through ``/proc/self/fd/<dirfd>/attach``.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path

from ...runtime.conmon import ATTACH_STDERR, ATTACH_STDOUT

BUF = 8192 + 1
STDOUT, STDERR = 1, 2


class AttachConn:
    """One connection to a container's attach socket."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    @classmethod
    async def open(cls, bundle: Path) -> AttachConn:
        """Connect to ``<bundle>/attach``."""
        loop = asyncio.get_running_loop()
        dfd = os.open(bundle, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        sock.setblocking(False)
        try:
            await loop.sock_connect(sock, f"/proc/self/fd/{dfd}/attach")
        except OSError:
            sock.close()
            raise
        finally:
            os.close(dfd)
        return cls(sock)

    async def output(self) -> AsyncIterator[tuple[int, bytes]]:
        """``(1 stdout | 2 stderr, data)`` messages until conmon closes the socket."""
        loop = asyncio.get_running_loop()
        while True:
            try:
                msg = await loop.sock_recv(self.sock, BUF)
            except (ConnectionResetError, OSError):
                return
            if not msg:
                return
            kind = msg[0]
            if kind == ATTACH_STDOUT:
                yield STDOUT, msg[1:]
            elif kind == ATTACH_STDERR:
                yield STDERR, msg[1:]

    async def send_stdin(self, data: bytes) -> None:
        """Write to the container's stdin (conmon started with ``-i``)."""
        loop = asyncio.get_running_loop()
        for i in range(0, len(data), BUF - 1):
            await loop.sock_sendall(self.sock, data[i : i + BUF - 1])

    def close_stdin(self) -> None:
        """Half-close: conmon closes the container's stdin unless --leave-stdin-open."""
        try:
            self.sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def close(self) -> None:
        """Drop the connection."""
        self.sock.close()
