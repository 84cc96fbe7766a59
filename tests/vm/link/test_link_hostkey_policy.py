"""The link's host-key policy interface: the same ``SshLink`` trusts a machine's pinned key
or a remote engine's known_hosts entry (asking the user for unknown keys), and any other
``HostKeyPolicy`` is consulted before a single authentication attempt is made."""

from __future__ import annotations

from pathlib import Path

import paramiko
import pytest
from portside.vm.link import (
    HostKeyMismatch,
    HostKeyQuestion,
    KnownHostsPolicy,
    LinkError,
    PinnedHostKey,
    SshLink,
    SshTarget,
    UnknownHostKey,
    fingerprint,
)
from support.sshd import TestSshd, keygen


def unpinned(sshd: TestSshd) -> SshTarget:
    return SshTarget(sshd.host, sshd.port, key_file=sshd.client_key)


async def test_pinned_policy_object_is_what_the_machine_uses(
    sshd: TestSshd, tmp_path: Path
) -> None:
    link = SshLink(unpinned(sshd), host_key_policy=PinnedHostKey(sshd.host_public))
    await link.connect()
    assert (await link.run("echo pinned"))[1] == b"pinned\n"
    await link.close()
    other = keygen(tmp_path / "other", "other")
    with pytest.raises(HostKeyMismatch, match="does not match the pinned key"):
        await SshLink(unpinned(sshd), host_key_policy=PinnedHostKey(other)).connect()
    # a target with a pin gets the pinned policy by default
    pinned = SshTarget(sshd.host, sshd.port, key_file=sshd.client_key, pinned_host_key=other)
    assert SshLink(pinned).host_key_policy == PinnedHostKey(other)


async def test_known_hosts_policy_asks_once_then_knows_then_refuses_a_change(
    sshd: TestSshd, tmp_path: Path
) -> None:
    known = tmp_path / "ssh" / "known_hosts"
    questions: list[HostKeyQuestion] = []

    async def ask(question: HostKeyQuestion) -> bool:
        questions.append(question)
        return True

    policy = KnownHostsPolicy(known, ask)
    link = SshLink(unpinned(sshd), host_key_policy=policy)
    await link.connect()
    await link.close()
    assert [q.host for q in questions] == [f"127.0.0.1:{sshd.port}"]
    assert questions[0].public_line == sshd.host_public.rsplit(" ", 1)[0]
    # known now: not asked again
    link = SshLink(unpinned(sshd), host_key_policy=policy)
    await link.connect()
    await link.close()
    assert len(questions) == 1
    # the server's key changes: refused, with the remedy, without asking
    sshd.stop()
    sshd.host_public = keygen(sshd.host_key.with_name("host2"), "new-host")
    sshd.host_key = sshd.host_key.with_name("host2")
    sshd._write_config()
    sshd.start()
    with pytest.raises(HostKeyMismatch, match=r"has changed.*ssh-keygen -R"):
        await SshLink(unpinned(sshd), host_key_policy=policy).connect()
    assert len(questions) == 1
    # refusing an unknown key leaves known_hosts as it was
    other_file = tmp_path / "other_known_hosts"
    with pytest.raises(UnknownHostKey):
        await SshLink(
            unpinned(sshd), host_key_policy=KnownHostsPolicy(other_file, lambda q: False)
        ).connect()
    assert not other_file.exists()


class RecordingPolicy:
    """A third policy: the link must consult it and honour its refusal."""

    def __init__(self) -> None:
        self.offered: list[str] = []

    def preferred_key_types(self, host: str, port: int) -> list[str]:
        return ["ssh-ed25519"]

    async def check(self, offered: paramiko.PKey, host: str, port: int) -> None:
        self.offered.append(fingerprint(offered))
        raise LinkError(f"policy refuses {host}:{port}")


async def test_any_policy_is_consulted_before_logging_in(sshd: TestSshd) -> None:
    policy = RecordingPolicy()
    link = SshLink(unpinned(sshd), host_key_policy=policy)
    with pytest.raises(LinkError, match="policy refuses"):
        await link.connect()
    assert policy.offered and policy.offered[0].startswith("SHA256:")
    assert not link.connected
    # the refusal happened before authentication: sshd never saw a public key offered
    assert "Accepted publickey" not in sshd.log()
    await link.close()
