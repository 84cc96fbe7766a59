"""Facts about the host for ``/info`` and ``/version``, each read cheaply from /proc or /sys."""

from __future__ import annotations

import os
import platform
import uuid
from functools import cache
from pathlib import Path

_GO_ARCH = {
    "x86_64": "amd64",
    "aarch64": "arm64",
    "armv7l": "arm",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
    "i686": "386",
}


def go_arch() -> str:
    """The host architecture spelled as OCI/Go spell it (amd64, arm64, ...)."""
    return _GO_ARCH.get(platform.machine(), platform.machine())


def engine_id(data_root: Path) -> str:
    """A stable engine ID, kept in the data-root."""
    p = data_root / "engine-id"
    try:
        return p.read_text().strip()
    except FileNotFoundError:
        value = str(uuid.uuid4())
        p.write_text(value)
        return value


@cache
def cgroup_version() -> str:
    """``"2"`` on a pure cgroup v2 host, else ``"1"`` (legacy and hybrid)."""
    return "2" if Path("/sys/fs/cgroup/cgroup.controllers").exists() else "1"


def fs_type(path: Path) -> str:
    """The filesystem type that holds ``path`` (from /proc/self/mounts)."""
    best, kind = "", "unknown"
    target = str(path.resolve())
    try:
        for line in Path("/proc/self/mounts").read_text().splitlines():
            parts = line.split()
            mnt = parts[1]
            if (target == mnt or target.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(
                best
            ):
                best, kind = mnt, parts[2]
    except OSError:
        pass
    return kind


def ip_forwarding() -> bool:
    """Whether the kernel forwards IPv4."""
    try:
        return Path("/proc/sys/net/ipv4/ip_forward").read_text().strip() == "1"
    except OSError:
        return False


def open_fds() -> int:
    """How many file descriptors the engine holds."""
    try:
        return len(os.listdir("/proc/self/fd"))
    except OSError:
        return 0


def mem_total() -> int:
    """Total host memory in bytes."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _os_release() -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            k, _, v = line.partition("=")
            out[k] = v.strip().strip('"')
    except OSError:
        pass
    return out


def os_name() -> str:
    """PRETTY_NAME from os-release."""
    return _os_release().get("PRETTY_NAME", "Linux")


def os_version() -> str:
    """VERSION_ID from os-release."""
    return _os_release().get("VERSION_ID", "")
