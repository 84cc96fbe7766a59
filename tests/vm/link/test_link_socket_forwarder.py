"""direct-streamlocal to a real portsided and the host-side socket forwarder, driven by the
real docker CLI and docker-py: the guest is this host, reached through a real sshd."""

from __future__ import annotations

import asyncio
import os
import socket
import stat
import subprocess
import time
from collections.abc import AsyncIterator
from pathlib import Path

import docker
import pexpect
import pytest
from portside.vm.link import LinkError, SocketForwarder, SshLink
from support.engine import PortsideEngine


@pytest.fixture
async def forwarded(
    link: SshLink, shared_engine: PortsideEngine, tmp_path: Path
) -> AsyncIterator[Path]:
    """The engine's socket forwarded to ``<tmp>/docker.sock`` over the link."""
    sock = tmp_path / "docker.sock"
    forwarder = SocketForwarder(link, sock, str(shared_engine.socket))
    await forwarder.start()
    try:
        yield sock
    finally:
        await forwarder.close()


def cli_env(engine: PortsideEngine, sock: Path) -> dict[str, str]:
    env = engine.env()
    env["DOCKER_HOST"] = f"unix://{sock}"
    return env


async def docker_cli(
    engine: PortsideEngine, sock: Path, *args: str, stdin: bytes | None = None
) -> subprocess.CompletedProcess[bytes]:
    """The docker CLI through the forwarded socket (off the loop: the forwarder runs on it)."""
    return await asyncio.to_thread(
        subprocess.run,
        ["docker", *args],
        env=cli_env(engine, sock),
        input=stdin,
        capture_output=True,
        timeout=60,
    )


async def test_streamlocal_reaches_the_engine_socket(
    link: SshLink, shared_engine: PortsideEngine
) -> None:
    chan = await link.open_unix(str(shared_engine.socket))
    chan.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
    reply = await asyncio.to_thread(chan.makefile("rb").read)
    chan.close()
    assert reply.startswith(b"HTTP/1.1 200") and reply.endswith(b"\r\n\r\nOK")


async def test_docker_cli_through_the_forwarded_socket(
    forwarded: Path, shared_engine: PortsideEngine
) -> None:
    assert stat.S_IMODE(os.stat(forwarded).st_mode) == 0o600
    version = await docker_cli(shared_engine, forwarded, "version", "--format", "{{.Server.Os}}")
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == b"linux"
    run = await docker_cli(shared_engine, forwarded, "run", "--rm", "busybox", "echo", "hi")
    assert (run.returncode, run.stdout) == (0, b"hi\n"), run.stderr


async def test_stdin_half_close_ends_a_hijacked_stream(
    forwarded: Path, shared_engine: PortsideEngine
) -> None:
    payload = b"".join(b"line %d\n" % i for i in range(20000))  # ~200 KiB, many windows
    started = time.monotonic()
    res = await docker_cli(
        shared_engine, forwarded, "run", "-i", "--rm", "busybox", "cat", stdin=payload
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout == payload
    assert time.monotonic() - started < 20
    res = await docker_cli(
        shared_engine, forwarded, "run", "-i", "--rm", "busybox", "wc", "-c", stdin=b"hi\n"
    )
    assert (res.returncode, res.stdout.strip()) == (0, b"3"), res.stderr


async def test_interactive_tty(forwarded: Path, shared_engine: PortsideEngine) -> None:
    def session() -> int:
        child = pexpect.spawn(
            "docker",
            ["run", "-it", "--rm", "busybox", "sh"],
            env=cli_env(shared_engine, forwarded),
            timeout=30,
        )
        child.expect_exact("/ # ")
        child.sendline("echo $((6*7))")
        child.expect_exact("42")
        child.expect_exact("/ # ")
        child.sendline("exit 5")
        child.expect(pexpect.EOF)
        child.close()
        return int(child.exitstatus)

    assert await asyncio.to_thread(session) == 5


async def test_docker_py_exec_and_attach(forwarded: Path, shared_engine: PortsideEngine) -> None:
    def work() -> tuple[object, bytes, bytes]:
        client = docker.DockerClient(base_url=f"unix://{forwarded}", timeout=60)
        c = client.containers.run(
            "busybox", ["sh", "-c", "read x; echo got $x; sleep 60"], detach=True, stdin_open=True
        )
        try:
            result = c.exec_run(["sh", "-c", "echo from exec; echo to err >&2"], demux=True)
            attached = c.attach_socket(params={"stdin": 1, "stdout": 1, "stream": 1})
            raw = attached._sock
            raw.sendall(b"hello\n")
            got = b""
            raw.settimeout(10)
            while b"got hello" not in got:
                chunk = raw.recv(4096)
                if not chunk:
                    break
                got += chunk
            raw.close()
            return result.exit_code, result.output[0], got
        finally:
            c.remove(force=True)
            client.close()

    exit_code, out, got = await asyncio.to_thread(work)
    assert exit_code == 0 and out == b"from exec\n"
    assert b"got hello" in got


async def test_socket_file_rules(link: SshLink, shared_engine: PortsideEngine, tmp_path: Path):
    sock = tmp_path / "docker.sock"
    # a stale socket file (nobody listens) is replaced
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(sock))
    stale.close()
    first = SocketForwarder(link, sock, str(shared_engine.socket))
    await first.start()
    # a socket someone answers on is never taken over
    second = SocketForwarder(link, sock, str(shared_engine.socket))
    with pytest.raises(LinkError, match="in use: another process answers on it"):
        await second.start()
    assert sock.exists()
    await first.close()
    assert not sock.exists()
    # a path that is not a socket is left alone
    sock.write_text("mine")
    with pytest.raises(LinkError, match="is not a socket"):
        await SocketForwarder(link, sock, str(shared_engine.socket)).start()
    assert sock.read_text() == "mine"
    os.unlink(sock)


async def test_forwarder_follows_link_reconnects(
    sshd, link: SshLink, shared_engine: PortsideEngine, tmp_path: Path
) -> None:
    patient = SocketForwarder(link, tmp_path / "patient.sock", str(shared_engine.socket))
    hasty = SocketForwarder(link, tmp_path / "hasty.sock", str(shared_engine.socket), link_grace=0)
    await patient.start()
    await hasty.start()
    try:
        await asyncio.to_thread(sshd.stop)
        await asyncio.wait_for(link.wait_closed(), 5)
        started = time.monotonic()
        down = await docker_cli(shared_engine, tmp_path / "hasty.sock", "version")
        assert down.returncode != 0 and time.monotonic() - started < 3  # refused, not hung
        # a command started while the link is down waits for the reconnect and succeeds
        patient_sock = tmp_path / "patient.sock"
        during = asyncio.create_task(
            docker_cli(shared_engine, patient_sock, "run", "--rm", "busybox", "echo", "waited")
        )
        await asyncio.sleep(0.5)
        assert not during.done()
        await asyncio.to_thread(sshd.start)
        await asyncio.wait_for(link.reconnect(max_delay=0.3), 10)
        res = await asyncio.wait_for(during, 30)
        assert (res.returncode, res.stdout) == (0, b"waited\n"), res.stderr
        up = await docker_cli(shared_engine, tmp_path / "hasty.sock", "run", "--rm", "busybox",
                              "echo", "again")  # fmt: skip
        assert (up.returncode, up.stdout) == (0, b"again\n"), up.stderr
    finally:
        await patient.close()
        await hasty.close()
