"""A throwaway OpenSSH server for link tests: the real ``/usr/sbin/sshd`` in the foreground
on a free 127.0.0.1 port, with its own host key, client key, authorized_keys and config in
its own temporary directory. Nothing of the system's sshd configuration is read.

``sshd -D`` forks one process per connection; ``kill_sessions()`` kills those (the link
sees its connection die) and ``restart()`` brings a new server up on the same port with the
same keys (the link must reconnect). ``cleanup()`` kills everything and removes the
directory, and runs in the fixture's ``finally``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psutil

SSHD = "/usr/sbin/sshd"
# sshd refuses to start without its privilege-separation directory; Debian's unit creates
# it at boot (RuntimeDirectory=sshd), a container image may not have it.
PRIVSEP_DIR = Path("/run/sshd")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def keygen(path: Path, comment: str) -> str:
    """An ed25519 key pair at ``path`` (+ .pub); returns the public line."""
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True,
        capture_output=True,
    )
    return path.with_suffix(".pub").read_text().strip()


class TestSshd:
    """One sshd; ``start()`` it, point an ``SshTarget`` at ``host``/``port``."""

    __test__ = False  # not a test class, despite the name

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="pssh-"))
        self.host = "127.0.0.1"
        self.port = free_port()
        self.host_key = self.dir / "host_ed25519"
        self.host_public = keygen(self.host_key, "test-host")
        self.client_key = self.dir / "client_ed25519"
        self.client_public = keygen(self.client_key, "test-client")
        self.authorized_keys = self.dir / "authorized_keys"
        self.authorized_keys.write_text(self.client_public + "\n")
        self.config = self.dir / "sshd_config"
        self.log_path = self.dir / "sshd.log"
        self.proc: subprocess.Popen[bytes] | None = None
        self._write_config()

    def _write_config(self) -> None:
        self.config.write_text(
            "\n".join(
                [
                    f"ListenAddress {self.host}:{self.port}",
                    f"HostKey {self.host_key}",
                    f"AuthorizedKeysFile {self.authorized_keys}",
                    "PidFile none",
                    "UsePAM no",
                    "StrictModes no",
                    "PermitRootLogin prohibit-password",
                    "PubkeyAuthentication yes",
                    "PasswordAuthentication no",
                    "KbdInteractiveAuthentication no",
                    "AllowStreamLocalForwarding yes",
                    "AllowTcpForwarding yes",
                    "UseDNS no",
                    "MaxStartups 100",
                    "MaxSessions 100",
                    "LogLevel VERBOSE",
                    "",
                ]
            )
        )

    def start(self, timeout: float = 10.0) -> None:
        """Start sshd and wait until it shows its SSH banner."""
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [SSHD, "-D", "-e", "-f", str(self.config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"sshd exited {self.proc.returncode}:\n{self.log()}")
            if self._banner():
                return
            time.sleep(0.05)
        raise RuntimeError(f"sshd did not answer within {timeout}s:\n{self.log()}")

    def _banner(self) -> bool:
        try:
            with socket.create_connection((self.host, self.port), timeout=1) as s:
                return s.recv(64).startswith(b"SSH-2.0-")
        except OSError:
            return False

    def sessions(self) -> list[psutil.Process]:
        """The per-connection processes sshd forked."""
        if self.proc is None or self.proc.poll() is not None:
            return []
        try:
            return psutil.Process(self.proc.pid).children()
        except psutil.NoSuchProcess:
            return []

    def kill_sessions(self) -> int:
        """SIGKILL every connection's process tree: the clients' connections drop."""
        killed = 0
        for child in self.sessions():
            try:
                tree = [*child.children(recursive=True), child]
            except psutil.NoSuchProcess:  # the session ended on its own meanwhile
                continue
            for p in tree:
                try:
                    p.kill()
                    killed += 1
                except psutil.NoSuchProcess:
                    pass
        return killed

    def stop(self) -> None:
        """Kill the server and all its sessions."""
        if self.proc is None:
            return
        try:
            self.kill_sessions()
        finally:
            if self.proc.poll() is None:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait()
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except OSError:
            return ""

    def cleanup(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)
