"""Fixtures for the link tests: a throwaway sshd whose "guest" is this host, and links to it."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator

import pytest
from portside.vm.link import SshLink, SshTarget
from support.sshd import TestSshd


@pytest.fixture
def sshd() -> Iterator[TestSshd]:
    """A fresh sshd for one test (tests kill its sessions and restart it)."""
    if os.geteuid() != 0:
        pytest.fail("the link tests run sshd as root (it logs in as root)")
    server = TestSshd()
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


def pinned_target(server: TestSshd) -> SshTarget:
    return SshTarget(
        host=server.host,
        port=server.port,
        key_file=server.client_key,
        pinned_host_key=server.host_public,
    )


@pytest.fixture
def target(sshd: TestSshd) -> SshTarget:
    return pinned_target(sshd)


@pytest.fixture
async def link(target: SshTarget) -> AsyncIterator[SshLink]:
    """A connected link with a short keepalive, closed at the end."""
    ssh = SshLink(target, keepalive=1.0)
    try:
        await ssh.connect()
        yield ssh
    finally:
        await ssh.close()
