"""Choose the OCI runtime (placeholder)."""

from __future__ import annotations

import shutil
from dataclasses import dataclass, field

from ..config import DaemonConfig


@dataclass
class RuntimeInfo:
    """The selected OCI runtime and conmon."""

    name: str
    path: str
    version: str = ""
    conmon_version: str = ""
    warnings: list[str] = field(default_factory=list)


def select_runtime(config: DaemonConfig) -> RuntimeInfo:
    """Pick crun where it works, else runc."""
    name = config.runtime or "runc"
    return RuntimeInfo(name=name, path=shutil.which(name) or name)
