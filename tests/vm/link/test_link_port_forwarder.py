"""The port forwarder driven by a real engine's events, through a real sshd.

The "guest" is this host, so the engine's own published port and the forwarder's host
port would be the same socket. The test containers therefore publish on 127.0.0.2 (the
engine binds and DNATs only that address) while the forwarder listens on 127.0.0.1 — the
forwarder connects to the guest address the engine reports, exactly as in a machine,
where a port published on the guest's 0.0.0.0 is reached at the guest's 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator, Callable

import httpx
import pytest
from portside.vm.link import PortForwarder, SshLink
from support.engine import PortsideEngine
from support.sshd import TestSshd

HTTPD = "mkdir -p /www && echo hi from $(hostname) > /www/index.html && exec httpd -f -p 80 -h /www"
GUEST = "127.0.0.2"


def free_port() -> int:
    """A TCP port free on both 127.0.0.1 and 127.0.0.2."""
    while True:
        with socket.socket() as a:
            a.bind(("127.0.0.1", 0))
            port = a.getsockname()[1]
            with socket.socket() as b:
                try:
                    b.bind((GUEST, port))
                except OSError:
                    continue
                return int(port)


async def within(seconds: float, condition: Callable[[], bool]) -> float:
    """Wait until ``condition()`` holds; how long it took. Fails after ``seconds``."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            raise AssertionError(f"not within {seconds}s")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def http_get(port: int, wait: float = 10.0) -> str:
    """GET / on host 127.0.0.1:port, retrying while httpd in the container starts."""
    deadline = time.monotonic() + wait
    async with httpx.AsyncClient(timeout=3) as client:
        while True:
            try:
                r = await client.get(f"http://127.0.0.1:{port}/")
                if r.status_code == 200:
                    return r.text
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"127.0.0.1:{port} did not answer within {wait}s")
            await asyncio.sleep(0.1)


def refused(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


async def docker(engine: PortsideEngine, *args: str) -> str:
    return (await asyncio.to_thread(engine.docker, *args)).stdout.strip()


@pytest.fixture
async def ports(link: SshLink, shared_engine: PortsideEngine) -> AsyncIterator[PortForwarder]:
    forwarder = PortForwarder(link, str(shared_engine.socket))
    running = asyncio.create_task(forwarder.run())
    try:
        await within(5, lambda: forwarder.following)
        yield forwarder
    finally:
        await forwarder.close()
        await asyncio.wait_for(running, 5)


def tcp_ports(forwarder: PortForwarder) -> list[int]:
    return [p.host_port for p in forwarder.forwarded]


async def test_published_port_follows_container_start_and_removal(
    ports: PortForwarder, shared_engine: PortsideEngine
) -> None:
    e = shared_engine
    port, udp = free_port(), free_port()
    name = f"pf{uuid.uuid4().hex[:6]}"
    assert refused(port)
    cid = await docker(
        e, "run", "-d", "--name", name, "-p", f"{GUEST}:{port}:80",
        "-p", f"{GUEST}:{udp}:5353/udp", "busybox", "sh", "-c", HTTPD,
    )  # fmt: skip
    try:
        took = await within(1.0, lambda: tcp_ports(ports) == [port])
        [fwd] = ports.forwarded
        assert (fwd.proto, fwd.host_address, fwd.container_id) == ("tcp", "127.0.0.1", cid)
        assert (fwd.guest_address, fwd.guest_port) == (GUEST, port)
        # UDP is not forwarded yet, and the user is told so
        assert ports.problems == [
            f"port {udp}/udp is not forwarded: only TCP ports reach the host for now"
        ]
        assert (await http_get(port)).startswith("hi from ")
        print(f"forwarded {took:.3f}s after docker run returned")
    finally:
        await docker(e, "rm", "-f", name)
    await within(1.0, lambda: ports.forwarded == [] and ports.problems == [])
    assert refused(port)


async def test_busy_host_port_is_reported_and_retried(
    ports: PortForwarder, shared_engine: PortsideEngine
) -> None:
    e = shared_engine
    port = free_port()
    blocker = socket.create_server(("127.0.0.1", port))
    name = f"pf{uuid.uuid4().hex[:6]}"
    await docker(e, "run", "-d", "--name", name, "-p", f"{GUEST}:{port}:80", "busybox", "sh",
                 "-c", HTTPD)  # fmt: skip
    try:
        problem = f"port {port} on 127.0.0.1 is in use by another program"
        await within(1.0, lambda: problem in ports.problems)
        assert ports.forwarded == []
        # 127.0.0.1:port really is the blocker's, not the engine's published port (which
        # is only on 127.0.0.2): what answers there later is the forwarder
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            blocker.settimeout(2)
            blocker.accept()[0].close()
        blocker.close()
        await ports.reconcile()
        assert tcp_ports(ports) == [port] and ports.problems == []
        assert (await http_get(port)).startswith("hi from ")
    finally:
        blocker.close()
        await docker(e, "rm", "-f", name)
    await within(1.0, lambda: ports.forwarded == [])


async def test_reconcile_after_the_link_comes_back(
    sshd: TestSshd, link: SshLink, ports: PortForwarder, shared_engine: PortsideEngine
) -> None:
    e = shared_engine
    old_port, new_port = free_port(), free_port()
    old, new = f"pf{uuid.uuid4().hex[:6]}", f"pf{uuid.uuid4().hex[:6]}"
    await docker(e, "run", "-d", "--name", old, "-p", f"{GUEST}:{old_port}:80", "busybox",
                 "sh", "-c", HTTPD)  # fmt: skip
    try:
        await within(1.0, lambda: tcp_ports(ports) == [old_port])
        assert ports.following
        # sshd goes away; meanwhile the containers change and no event can arrive
        await asyncio.to_thread(sshd.stop)
        await asyncio.wait_for(link.wait_closed(), 5)
        await within(1.0, lambda: not ports.following)
        await docker(e, "rm", "-f", old)
        await docker(e, "run", "-d", "--name", new, "-p", f"{GUEST}:{new_port}:80", "busybox",
                     "sh", "-c", HTTPD)  # fmt: skip
        assert tcp_ports(ports) == [old_port]  # nothing to learn it from while down
        await asyncio.to_thread(sshd.start)
        await asyncio.wait_for(link.reconnect(max_delay=0.3), 10)
        await within(1.0, lambda: tcp_ports(ports) == [new_port])
        assert (await http_get(new_port)).startswith("hi from ")
        # and events flow again on the new connection
        await docker(e, "stop", "-t", "0", new)
        await within(1.0, lambda: ports.forwarded == [])
    finally:
        for name in (old, new):
            await asyncio.to_thread(e.docker, "rm", "-f", name, check=False)


def test_wanted_ports_from_a_listing() -> None:
    from portside.vm.link.ports import wanted_ports

    def port(ip: str, public: int, kind: str = "tcp") -> dict[str, object]:
        return {"IP": ip, "PrivatePort": 80, "PublicPort": public, "Type": kind}

    listing = [
        {"Id": "a", "State": "running", "Ports": [port("0.0.0.0", 8080), port("::", 8080)]},
        {"Id": "b", "State": "paused", "Ports": [port("127.0.0.1", 8081)]},
        {"Id": "c", "State": "running", "Ports": [port("0.0.0.0", 5353, "udp")]},
        {"Id": "d", "State": "exited", "Ports": [port("0.0.0.0", 8082)]},
        {"Id": "e", "State": "running", "Ports": [{"PrivatePort": 443, "Type": "tcp"}]},
        {"Id": "f", "State": "running", "Ports": [port("10.0.0.5", 8081)]},
    ]
    wanted, conflicts = wanted_ports(listing)
    assert {p: (w.guest_address, w.container_id) for p, w in wanted.items()} == {
        8080: ("127.0.0.1", "a"),
        8081: ("127.0.0.1", "b"),
    }
    assert conflicts == [
        "port 8081 is published on 127.0.0.1 and 10.0.0.5 in the machine; "
        "only 127.0.0.1 is forwarded",
        "port 5353/udp is not forwarded: only TCP ports reach the host for now",
    ]
