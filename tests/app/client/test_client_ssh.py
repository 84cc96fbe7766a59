"""The client over ``ssh://``: a throwaway OpenSSH sshd on 127.0.0.1 in front of a real
engine's socket, reached with ``direct-streamlocal`` (no socat, no docker CLI remotely)."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from portside.app.client import EngineAddress, EngineClient, EngineRefused, EngineUnreachable
from support.sshd import TestSshd


@pytest.fixture
def sshd() -> Iterator[TestSshd]:
    server = TestSshd()
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A HOME of the test's own: its ~/.ssh/known_hosts starts empty, no agent."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return home


def url(sshd: TestSshd, socket: Path) -> str:
    return f"ssh://root@{sshd.host}:{sshd.port}{socket}"


async def test_engine_over_ssh_lists_and_asks_about_the_host_key(
    sshd: TestSshd, home: Path, real_engine
) -> None:
    asked = []

    def ask(question):
        asked.append(question)
        return True

    address = EngineAddress(url(sshd, real_engine.socket), ssh_key=str(sshd.client_key))
    async with EngineClient(address, ask_host_key=ask) as client:
        assert client.api_version
        names = {c["Names"][0] for c in await client.containers.list(all=True)}
        assert isinstance(names, set)
        assert any("busybox" in t for i in await client.images.list() for t in i["RepoTags"] or [])
        # a stream over the channel: the event subscription opens, and ends when we stop
        opened = asyncio.Event()

        async def follow() -> None:
            async for _ev in client.system.events(on_open=opened.set):
                pass

        task = asyncio.ensure_future(follow())
        await asyncio.wait_for(opened.wait(), 15)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
    assert [q.host for q in asked] == [f"127.0.0.1:{sshd.port}"]
    assert f"[127.0.0.1]:{sshd.port} ssh-ed25519 " in (home / ".ssh" / "known_hosts").read_text()


async def test_refused_key_and_missing_socket_say_why(
    sshd: TestSshd, home: Path, shared_engine, tmp_path: Path, strict_warnings
) -> None:
    # paramiko logs the refused channel itself; the test asserts on the error we raise
    strict_warnings.allow(r"Secsh channel \d+ open FAILED")
    address = EngineAddress(url(sshd, shared_engine.socket), ssh_key=str(sshd.client_key))
    client = EngineClient(address, ask_host_key=lambda q: False)
    with pytest.raises(EngineRefused, match="is not known"):
        await client.connect()
    await client.aclose()
    assert not (home / ".ssh" / "known_hosts").exists()
    # the key from ~/.ssh (no key file given), the host now known
    shutil.copy(sshd.client_key, home / ".ssh" / "id_ed25519")
    os.chmod(home / ".ssh" / "id_ed25519", 0o600)
    known = EngineAddress(url(sshd, shared_engine.socket))
    async with EngineClient(known, ask_host_key=lambda q: True) as client:
        assert client.engine_name
    client = EngineClient(EngineAddress(url(sshd, tmp_path / "nothing.sock")))
    with pytest.raises(EngineUnreachable, match="could not connect to"):
        await client.connect()
    await client.aclose()
