"""A machine's settings: what ``machine init`` records and ``machine start`` boots.

Stored as JSON in ``MachineDirs.config``; unknown keys are kept out, missing ones take the
defaults, so a machine made by an older version still starts.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

NAME_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9_.-]{0,30}$")
DEFAULT_NAME = "default"


class MachineConfigError(ValueError):
    """A setting that cannot be used; the message is shown to the user as it is."""


@dataclass(frozen=True)
class Share:
    """A host folder mounted at the same path in the guest (9p)."""

    host_path: str
    guest_path: str = ""
    read_only: bool = False

    @property
    def mount_point(self) -> str:
        return self.guest_path or self.host_path


@dataclass(frozen=True)
class MachineConfig:
    """Everything needed to boot one machine.

    ``restrict_network`` turns QEMU's user networking into ``restrict=on``: the guest then
    reaches nothing but what the host forwards to it (tests use it; users want image pulls).
    ``ports_address`` is where published ports listen on the host: loopback unless the user
    opts into ``0.0.0.0``.
    """

    name: str = DEFAULT_NAME
    cpus: int = 2
    memory_mib: int = 2048
    disk_gib: int = 20
    shares: tuple[Share, ...] = ()
    bundle: str = ""
    accel: str = "auto"
    restrict_network: bool = False
    ports_address: str = "127.0.0.1"
    ssh_port: int = 0
    engine_config: dict[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not NAME_RE.match(self.name):
            raise MachineConfigError(
                f"invalid machine name {self.name!r}: use 1-31 letters, digits, '_', '.' or '-'"
            )
        if self.cpus < 1:
            raise MachineConfigError("a machine needs at least 1 CPU")
        if self.memory_mib < 512:
            raise MachineConfigError("a machine needs at least 512 MiB of memory")
        if self.disk_gib < 2:
            raise MachineConfigError("a machine needs at least 2 GiB of disk")
        if self.accel not in ("auto", "kvm", "hvf", "whpx", "tcg"):
            raise MachineConfigError(f"unknown accelerator {self.accel!r}")

    @classmethod
    def default_shares(cls) -> tuple[Share, ...]:
        """The user's home folder, shared by default as Docker Desktop does."""
        return (Share(host_path=str(Path.home())),)

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> MachineConfig:
        raw = json.loads(text)
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in raw.items() if k in known}
        values["shares"] = tuple(Share(**s) for s in values.get("shares", ()))
        return cls(**values)

    def save(self, path: Path) -> None:
        """Write atomically (a crash leaves the old file or the new one)."""
        tmp = path.with_suffix(".tmp")
        tmp.write_text(self.to_json())
        os.replace(tmp, path)

    @classmethod
    def load(cls, path: Path) -> MachineConfig:
        return cls.from_json(path.read_text())
