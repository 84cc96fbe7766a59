"""Transport failures are worded like Docker's (Go's) messages, not Python's."""

from __future__ import annotations

import errno
import socket

import httpx
from portside.engine.distribution.client import describe_transport_error

URL = "https://registry.example/v2/"


def _chained(cause: BaseException) -> httpx.ConnectError:
    # Built by hand: a real lookup would send a DNS query off this machine.
    try:
        try:
            raise cause
        except OSError as e:
            raise httpx.ConnectError(str(e)) from e
    except httpx.ConnectError as outer:
        return outer


def test_unknown_host_reads_like_go():
    e = _chained(socket.gaierror(socket.EAI_NONAME, "Name or service not known"))
    assert describe_transport_error("GET", URL, e) == (
        'Get "https://registry.example/v2/": dial tcp: lookup registry.example: no such host'
    )


def test_refused_reads_like_go():
    e = _chained(ConnectionRefusedError(errno.ECONNREFUSED, "Connection refused"))
    assert describe_transport_error("GET", URL, e) == (
        'Get "https://registry.example/v2/": dial tcp registry.example: connect: connection refused'
    )
