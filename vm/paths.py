"""Where Portside Machine keeps its files, per platform, and the layout of one machine.

Everything of a machine lives in one directory, so ``machine rm`` is one tree removal and a
test points ``PORTSIDE_MACHINE_HOME`` at a temporary directory.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

HOME_ENV = "PORTSIDE_MACHINE_HOME"


def machines_home() -> Path:
    """The directory holding every machine: ``$PORTSIDE_MACHINE_HOME``, else the platform's
    user data directory (XDG on Linux, Application Support on macOS, LOCALAPPDATA on Windows)."""
    override = os.environ.get(HOME_ENV)
    if override:
        return Path(override)
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Application Support" / "Portside"
    elif sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local"
        base = Path(local) / "Portside"
    else:
        data = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
        base = Path(data) / "portside"
    return base / "machines"


@dataclass(frozen=True)
class MachineDirs:
    """The files of one machine, all below ``root``.

    Unix socket paths are limited to ~107 bytes; the machine's sockets live directly in
    ``root`` with short names so a deep home directory still fits.
    """

    root: Path

    @classmethod
    def of(cls, name: str, home: Path | None = None) -> MachineDirs:
        """The directory of machine ``name`` under ``home`` (default: ``machines_home()``)."""
        return cls((home or machines_home()) / name)

    @property
    def name(self) -> str:
        return self.root.name

    @property
    def config(self) -> Path:
        """The machine's settings (``MachineConfig`` as JSON)."""
        return self.root / "machine.json"

    @property
    def state(self) -> Path:
        """What the host agent last reported (JSON), kept for ``ls``/``inspect`` when it is gone."""
        return self.root / "state.json"

    @property
    def client_key(self) -> Path:
        """The host's private key for logging into this machine (OpenSSH ed25519)."""
        return self.root / "id_ed25519"

    @property
    def host_key(self) -> Path:
        """The guest's private host key, made by the host and handed over in the seed."""
        return self.root / "ssh_host_ed25519_key"

    @property
    def disk(self) -> Path:
        """The machine's own qcow2 overlay on the read-only bundle disk."""
        return self.root / "disk.qcow2"

    @property
    def serial_log(self) -> Path:
        """The guest console (kernel and systemd messages)."""
        return self.root / "console.log"

    @property
    def agent_log(self) -> Path:
        return self.root / "agent.log"

    @property
    def seed(self) -> Path:
        """The first-boot seed handed to the guest with ``-fw_cfg``."""
        return self.root / "seed.json"

    @property
    def qmp_socket(self) -> Path:
        return self.root / "qmp.sock"

    @property
    def ready_socket(self) -> Path:
        """The host end of the guest's virtio-serial readiness port."""
        return self.root / "ready.sock"

    @property
    def agent_socket(self) -> Path:
        """The host agent's control socket (the CLI and the app talk to it)."""
        return self.root / "agent.sock"

    @property
    def docker_socket(self) -> Path:
        """The forwarded engine socket: point ``DOCKER_HOST`` here."""
        return self.root / "docker.sock"

    @property
    def pid_file(self) -> Path:
        """The host agent's pid, written by the agent."""
        return self.root / "agent.pid"
