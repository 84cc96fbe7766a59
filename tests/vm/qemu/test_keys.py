"""The machine's SSH keys: OpenSSH ed25519, private halves 0600, made once."""

from __future__ import annotations

import stat
import subprocess
from pathlib import Path

from portside.vm.keys import ensure_keys, public_line
from portside.vm.paths import MachineDirs


def test_keys_are_made_once_with_mode_0600(tmp_path: Path) -> None:
    dirs = MachineDirs(tmp_path / "m1")
    ensure_keys(dirs)
    for key in (dirs.client_key, dirs.host_key):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert key.read_text().startswith("-----BEGIN OPENSSH PRIVATE KEY-----")
        assert public_line(key).startswith("ssh-ed25519 AAAA")
    first = (dirs.client_key.read_bytes(), dirs.host_key.read_bytes())
    ensure_keys(dirs)
    assert (dirs.client_key.read_bytes(), dirs.host_key.read_bytes()) == first
    assert public_line(dirs.client_key) != public_line(dirs.host_key)


def test_ssh_keygen_reads_the_keys_and_agrees_on_the_public_half(tmp_path: Path) -> None:
    dirs = MachineDirs(tmp_path / "m2")
    ensure_keys(dirs)
    for key in (dirs.client_key, dirs.host_key):
        derived = subprocess.run(
            ["ssh-keygen", "-y", "-f", str(key)], capture_output=True, text=True, check=True
        ).stdout.split()
        assert derived[:2] == public_line(key).split()[:2]


def test_a_lost_public_half_is_rewritten_from_the_private_key(tmp_path: Path) -> None:
    dirs = MachineDirs(tmp_path / "m3")
    ensure_keys(dirs)
    before = public_line(dirs.host_key)
    Path(str(dirs.host_key) + ".pub").unlink()
    ensure_keys(dirs)
    assert public_line(dirs.host_key).split()[:2] == before.split()[:2]
