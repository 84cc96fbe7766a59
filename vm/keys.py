"""The SSH keys of one machine: the host's client key and the guest's host key.

Both are made on the host. The guest's host key travels to the guest in the seed, so the
host knows its public half before the first connection and pins it: no trust-on-first-use.
"""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from .paths import MachineDirs


def _write_private(path: Path, data: bytes) -> None:
    """Write with mode 0600 from the first byte (never readable by others, not even briefly)."""
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def generate_key(path: Path, comment: str) -> None:
    """Write an ed25519 key pair: ``path`` (OpenSSH private key, 0600) and ``path.pub``."""
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    _write_private(path, private)
    pub = _pub_path(path)
    pub.write_bytes(public + b" " + comment.encode() + b"\n")
    os.chmod(pub, 0o600)


def _pub_path(private_key_path: Path) -> Path:
    return private_key_path.with_name(private_key_path.name + ".pub")


def ensure_keys(dirs: MachineDirs) -> None:
    """Create ``dirs.client_key`` and ``dirs.host_key`` (each with ``.pub``) if missing.

    A key whose public half went missing gets its ``.pub`` rewritten from the private key,
    so a pinned host key never changes behind the user's back.
    """
    for path, comment in (
        (dirs.client_key, f"portside-machine-{dirs.name}"),
        (dirs.host_key, f"root@{dirs.name}"),
    ):
        if not path.exists():
            generate_key(path, comment)
        elif not _pub_path(path).exists():
            key = serialization.load_ssh_private_key(path.read_bytes(), password=None)
            public = key.public_key().public_bytes(
                serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
            )
            _pub_path(path).write_bytes(public + b" " + comment.encode() + b"\n")
            os.chmod(_pub_path(path), 0o600)


def public_line(private_key_path: Path) -> str:
    """The ``ssh-ed25519 AAAA... comment`` line of the key's ``.pub`` file."""
    return _pub_path(private_key_path).read_text().strip()
