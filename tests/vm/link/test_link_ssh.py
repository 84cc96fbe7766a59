"""SshLink against a real OpenSSH sshd: host key pin and known_hosts policy, login,
commands, channels, keepalive and reconnect."""

from __future__ import annotations

import asyncio
import dataclasses
import re
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from portside.vm.link import (
    AuthenticationFailed,
    HostKeyMismatch,
    LinkError,
    LinkState,
    SshLink,
    SshTarget,
    UnknownHostKey,
    accept_fingerprint,
)
from support.sshd import TestSshd, keygen


def ssh_keygen_fingerprint(pub: Path) -> str:
    """The fingerprint as OpenSSH's own tool prints it."""
    out = subprocess.run(["ssh-keygen", "-l", "-f", str(pub)], capture_output=True, text=True)
    return out.stdout.split()[1]


async def test_pinned_key_connects_and_runs_a_command(target: SshTarget) -> None:
    link = SshLink(target)
    states: list[LinkState] = []
    link.add_listener(states.append)
    try:
        await link.connect()
        assert link.connected and link.state is LinkState.CONNECTED
        status, out, err = await link.run("echo hi; echo oops >&2; exit 3")
        assert (status, out, err) == (3, b"hi\n", b"oops\n")
    finally:
        await link.close()
    assert states == [LinkState.CONNECTING, LinkState.CONNECTED, LinkState.CLOSED]
    assert not link.connected
    with pytest.raises(LinkError, match="closed"):
        await link.open_unix("/run/anything.sock")


async def test_wrong_pinned_key_is_refused_naming_both_fingerprints(
    sshd: TestSshd, target: SshTarget, tmp_path: Path
) -> None:
    other = keygen(tmp_path / "other", "other")
    link = SshLink(dataclasses.replace(target, pinned_host_key=other))
    with pytest.raises(HostKeyMismatch) as caught:
        await link.connect()
    message = str(caught.value)
    expected = ssh_keygen_fingerprint(tmp_path / "other.pub")
    offered = ssh_keygen_fingerprint(sshd.host_key.with_suffix(".pub"))
    assert f"host key for 127.0.0.1:{sshd.port} does not match the pinned key" in message
    assert f"expected {expected}" in message
    assert f"offered ED25519 key {offered}" in message
    assert not link.connected and link.state is LinkState.DISCONNECTED
    # a mismatch is never retried
    with pytest.raises(HostKeyMismatch):
        await asyncio.wait_for(link.reconnect(max_delay=0.2), 5)
    await link.close()


async def test_known_hosts_unknown_then_accepted_then_known_then_changed(
    sshd: TestSshd, tmp_path: Path
) -> None:
    known = tmp_path / "known_hosts"
    base = SshTarget(sshd.host, sshd.port, key_file=sshd.client_key, known_hosts=known)
    offered = ssh_keygen_fingerprint(sshd.host_key.with_suffix(".pub"))

    with pytest.raises(UnknownHostKey) as caught:
        await SshLink(base).connect()
    assert caught.value.fingerprint == offered
    assert f"the host key of 127.0.0.1:{sshd.port} is not known (ED25519 key {offered})" in str(
        caught.value
    )
    assert not known.exists()

    # a hook for another fingerprint refuses too
    with pytest.raises(UnknownHostKey):
        await SshLink(base, unknown_host_key=accept_fingerprint("SHA256:nope")).connect()

    asked: list[str] = []

    async def ask(question):  # the app's dialog would go here
        asked.append(question.fingerprint)
        return True

    link = SshLink(base, unknown_host_key=ask)
    await link.connect()
    await link.close()
    assert asked == [offered]
    assert known.read_text() == f"[127.0.0.1]:{sshd.port} {sshd.host_public.rsplit(' ', 1)[0]}\n"
    # now ssh itself agrees the host is known
    res = await asyncio.to_thread(
        subprocess.run,
        ["ssh-keygen", "-F", f"[127.0.0.1]:{sshd.port}", "-f", str(known)],
        capture_output=True,
    )
    assert res.returncode == 0

    link = SshLink(base)  # known: no question asked
    await link.connect()
    await link.close()

    other = keygen(tmp_path / "other", "other")
    known.write_text(f"[127.0.0.1]:{sshd.port} {other}\n")
    with pytest.raises(HostKeyMismatch, match=f"host key for 127.0.0.1:{sshd.port} has changed"):
        await SshLink(base, unknown_host_key=ask).connect()
    assert asked == [offered]  # a changed key is never a question


async def test_wrong_client_key_and_unreachable_host(
    sshd: TestSshd, target: SshTarget, tmp_path: Path
) -> None:
    keygen(tmp_path / "stranger", "stranger")
    with pytest.raises(AuthenticationFailed, match="refused the key"):
        await SshLink(dataclasses.replace(target, key_file=tmp_path / "stranger")).connect()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed_port = s.getsockname()[1]
    with pytest.raises(LinkError, match=f"cannot reach 127.0.0.1:{closed_port}"):
        await SshLink(dataclasses.replace(target, port=closed_port)).connect(timeout=3)


async def test_tcp_and_unix_channels(link: SshLink, tmp_path: Path) -> None:
    # a TCP echo server on the "guest" (this host's loopback)
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def echo() -> None:
        conn, _ = server.accept()
        with conn:
            while data := conn.recv(4096):
                conn.sendall(data.upper())

    threading.Thread(target=echo, daemon=True).start()
    chan = await link.open_tcp("127.0.0.1", port)
    chan.sendall(b"hello")
    chan.shutdown_write()
    assert await asyncio.to_thread(chan.makefile("rb").read) == b"HELLO"
    chan.close()
    server.close()

    with pytest.raises(LinkError, match=re.escape("could not connect to /nonexistent/x.sock")):
        await link.open_unix("/nonexistent/x.sock")
    with pytest.raises(LinkError, match=re.escape("could not connect to 127.0.0.1:1:")):
        await link.open_tcp("127.0.0.1", 1)


async def test_reconnect_after_sessions_are_killed_and_sshd_restarts(
    sshd: TestSshd, link: SshLink
) -> None:
    first = link.generation
    assert sshd.kill_sessions() > 0
    await asyncio.wait_for(link.wait_closed(), 5)
    assert not link.connected and link.state is LinkState.DISCONNECTED
    with pytest.raises(LinkError, match="is down"):
        await link.open_tcp("127.0.0.1", 22)
    await asyncio.wait_for(link.reconnect(max_delay=0.5), 10)
    assert link.connected and link.generation == first + 1
    assert (await link.run("echo back"))[1] == b"back\n"

    # the server goes away for a while: reconnect keeps trying with backoff
    sshd.stop()
    await asyncio.wait_for(link.wait_closed(), 5)
    reconnecting = asyncio.create_task(link.reconnect(max_delay=0.5))
    await asyncio.sleep(1.0)
    assert not reconnecting.done()
    await asyncio.to_thread(sshd.start)
    await asyncio.wait_for(reconnecting, 10)
    assert link.connected and link.generation == first + 2


async def test_keepalive_notices_a_frozen_peer(sshd: TestSshd, target: SshTarget) -> None:
    link = SshLink(target, keepalive=0.3, keepalive_count=2)
    await link.connect()
    frozen = [p for s in sshd.sessions() for p in [s, *s.children(recursive=True)]]
    try:
        for p in frozen:
            p.send_signal(signal.SIGSTOP)
        started = time.monotonic()
        # a stopped guest keeps its TCP connection open; only the keepalive can notice
        await asyncio.wait_for(link.wait_closed(), 5)
        assert time.monotonic() - started < 2.5
        assert not link.connected
    finally:
        for p in frozen:
            p.send_signal(signal.SIGCONT)
        await link.close()


async def test_supervise_keeps_the_link_up(sshd: TestSshd, link: SshLink) -> None:
    supervisor = asyncio.create_task(link.supervise(max_delay=0.3))
    try:
        for _ in range(2):
            generation = link.generation
            sshd.kill_sessions()
            await asyncio.wait_for(link.wait_closed(), 5)
            await asyncio.wait_for(link.wait_connected(), 10)
            assert link.generation == generation + 1
    finally:
        await link.close()
        await asyncio.wait_for(supervisor, 5)


async def test_run_drains_both_streams_and_times_out(link: SshLink) -> None:
    # more stderr than one SSH window (2 MiB) while stdout waits: must not stall
    status, out, err = await link.run("head -c 3000000 /dev/zero | tr '\\0' x >&2; echo done")
    assert (status, out, len(err)) == (0, b"done\n", 3000000)
    started = time.monotonic()
    with pytest.raises(LinkError, match=re.escape("did not finish in 0.5s")):
        await link.run("sleep 5", timeout=0.5)
    assert time.monotonic() - started < 2
    assert (await link.run("true"))[0] == 0  # the link is fine afterwards


async def test_default_key_and_known_hosts_come_from_home(
    sshd: TestSshd, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    target = SshTarget(sshd.host, sshd.port, pinned_host_key=sshd.host_public)
    with pytest.raises(AuthenticationFailed, match="no SSH key"):
        await SshLink(target).connect()
    (home / ".ssh" / "id_ed25519").write_bytes(sshd.client_key.read_bytes())
    link = SshLink(target)
    await link.connect()
    await link.close()
    # without a pin, ~/.ssh/known_hosts is the policy's file
    unpinned = dataclasses.replace(target, pinned_host_key=None)
    link = SshLink(unpinned, unknown_host_key=lambda question: True)
    await link.connect()
    await link.close()
    assert f"[127.0.0.1]:{sshd.port} ssh-ed25519 " in (home / ".ssh" / "known_hosts").read_text()
