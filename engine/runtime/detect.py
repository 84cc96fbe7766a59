"""Choose the OCI runtime (crun where it works, else runc) and find conmon.

crun 1.8 refuses to create containers on a cgroup v1/v2 *hybrid* host whose v2
hierarchy (``/sys/fs/cgroup/unified``) has controllers enabled: it answers "cgroups in
hybrid mode not supported, drop all controllers from cgroupv2". A controller lands in
the v2 hierarchy when it is not mounted as v1 (typically ``hugetlb``). We read that
from /sys instead of running crun, so the answer costs nothing and the host is never
changed (we do not mount anything to "fix" it: a user's cgroup layout belongs to their init
system). The test set-up, on a disposable machine, does mount those controllers as v1
(``packaging/dev.sh test``) so that crun, the runtime users get where it works, is tested.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from ..config import DaemonConfig
from ..errors import EngineError

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP2_MAGIC = 0x63677270


@dataclass
class RuntimeInfo:
    """The selected OCI runtime and conmon."""

    name: str
    path: str
    version: str = ""
    conmon_version: str = ""
    warnings: list[str] = field(default_factory=list)
    conmon_path: str = ""
    # every runtime that can run containers on this host (name → path), the chosen one too
    usable: dict[str, str] = field(default_factory=dict)


def cgroup_mode(root: Path = CGROUP_ROOT) -> str:
    """``"unified"`` (pure v2), ``"hybrid"`` (v1 with a v2 mount at unified/) or
    ``"legacy"`` (v1 only)."""
    if (root / "cgroup.controllers").exists():
        return "unified"
    if (root / "unified" / "cgroup.procs").exists():
        return "hybrid"
    return "legacy"


def crun_hybrid_problem(root: Path = CGROUP_ROOT) -> str | None:
    """Why crun cannot run containers on this host, or None when it can."""
    if cgroup_mode(root) != "hybrid":
        return None
    try:
        controllers = (root / "unified" / "cgroup.controllers").read_text().split()
    except OSError:
        return None
    if not controllers:
        return None
    return (
        "crun 1.8 refuses cgroup v1/v2 hybrid hosts whose v2 hierarchy has controllers "
        f"({', '.join(controllers)} in {root / 'unified'}); mounting those controllers "
        "as cgroup v1 (e.g. hugetlb) or booting with a pure cgroup v2 "
        "(systemd.unified_cgroup_hierarchy=1) would let crun work"
    )


def _version(path: str) -> str:
    """First ``N.N.N`` token of ``<path> --version`` (runtimes print it on line one)."""
    try:
        out = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return ""
    for line in out.splitlines():
        for tok in line.split():
            if tok[:1].isdigit() and "." in tok:
                return tok
    return ""


def select_runtime(config: DaemonConfig, cgroup_root: Path = CGROUP_ROOT) -> RuntimeInfo:
    """Pick the runtime: the configured one, else crun where it works, else runc.

    Raises :class:`EngineError` (the daemon refuses to start) when the configured
    runtime is missing, when crun is forced on a host it cannot serve, or when conmon
    is missing.
    """
    warnings: list[str] = []
    crun = shutil.which("crun")
    runc = shutil.which("runc")
    problem = crun_hybrid_problem(cgroup_root)
    wanted = config.runtime
    if wanted == "crun":
        if not crun:
            raise EngineError("runtime crun was requested but is not installed")
        if problem:
            raise EngineError(f"cannot use the crun runtime on this host: {problem}")
        name, path = "crun", crun
    elif wanted == "runc":
        if not runc:
            raise EngineError("runtime runc was requested but is not installed")
        name, path = "runc", runc
    elif wanted:
        raise EngineError(f"unknown runtime {wanted!r} (choose crun or runc)")
    elif crun and not problem:
        name, path = "crun", crun
    elif runc:
        name, path = "runc", runc
        if crun and problem:
            msg = f"using runc instead of crun: {problem}"
            log.warning("%s", msg)
            warnings.append(msg)
    else:
        raise EngineError("no OCI runtime found: install crun or runc")
    conmon = shutil.which("conmon")
    if not conmon:
        raise EngineError("conmon is not installed; it supervises every container")
    info = RuntimeInfo(
        name=name,
        path=os.path.realpath(path),
        version=_version(path),
        conmon_version=_version(conmon),
        warnings=warnings,
        conmon_path=os.path.realpath(conmon),
        usable={
            n: os.path.realpath(p)
            for n, p in (("crun", crun if not problem else None), ("runc", runc))
            if p
        },
    )
    log.info(
        "OCI runtime %s %s (%s), conmon %s", name, info.version, info.path, info.conmon_version
    )
    return info
