"""The mounts of an OCI spec: Docker's defaults, /etc files, tmpfs, volumes, init.

Mirrors moby's DefaultLinuxSpec mounts and WithMounts: user mounts (volumes, binds,
tmpfs, the generated /etc/hosts, /etc/resolv.conf and /etc/hostname) replace defaults
at the same destination, a user /dev replaces everything under /dev, and they are
sorted by depth so a parent is mounted before its children.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from ...errors import InvalidParameter
from . import spec_resources as res

if TYPE_CHECKING:
    from .spec import SpecInput

DEFAULT_SHM_SIZE = 64 * 1024 * 1024
INIT_PATH_IN_CONTAINER = "/sbin/docker-init"
# Mounts a read-only rootfs leaves writable (moby's WithMounts).
_RW_EVEN_IF_READONLY = {"/proc", "/dev/pts", "/dev/shm", "/dev/mqueue", "/dev"}


def _ipc_mode(hc: dict[str, Any]) -> str:
    value = hc.get("IpcMode") or ""
    if not isinstance(value, str):
        raise InvalidParameter(f"invalid IpcMode: {value!r}")
    return value


def _default_mounts(shm_size: int) -> list[dict[str, Any]]:
    return [
        {"destination": "/proc", "type": "proc", "source": "proc",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs",
         "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts",
         "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs",
         "options": ["nosuid", "noexec", "nodev", "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup",
         "options": ["ro", "nosuid", "noexec", "nodev"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue",
         "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm",
         "options": ["nosuid", "noexec", "nodev", "mode=1777", f"size={shm_size}"]},
    ]  # fmt: skip


_FLAG_FAMILIES = [
    {"ro", "rw"},
    {"suid", "nosuid"},
    {"dev", "nodev"},
    {"exec", "noexec"},
    {"sync", "async"},
    {"atime", "noatime"},
    {"diratime", "nodiratime"},
    {"relatime", "norelatime"},
    {"strictatime", "nostrictatime"},
    {"mand", "nomand"},
    {"private", "rprivate", "shared", "rshared", "slave", "rslave", "unbindable",
     "runbindable"},
]  # fmt: skip


def merge_tmpfs_options(options: list[str]) -> list[str]:
    """moby's MergeTmpfsOptions: a later flag replaces its opposite (``exec`` wins over
    an earlier ``noexec``), a later ``key=value`` replaces the same key."""
    out: list[str] = []
    for opt in options:
        opt = opt.strip()
        if not opt or opt == "defaults":
            continue
        if "=" in opt:
            key = opt.split("=", 1)[0] + "="
            out = [o for o in out if not o.startswith(key)]
        else:
            family = next((f for f in _FLAG_FAMILIES if opt in f), {opt})
            out = [o for o in out if o not in family]
        out.append(opt)
    return out


def _user_mounts(inp: SpecInput, hc: dict[str, Any], readonly: bool) -> list[dict[str, Any]]:
    """Mounts that override defaults: /etc files, tmpfs, volumes/binds (moby's
    setupMounts + TmpfsMounts), sorted so parents mount before children."""
    mounts: dict[str, dict[str, Any]] = {}
    etc_opts = ["rbind", "rprivate"] + (["ro"] if readonly else [])
    for src, dest in (
        (inp.hostname_file, "/etc/hostname"),
        (inp.hosts_file, "/etc/hosts"),
        (inp.resolv_file, "/etc/resolv.conf"),
    ):
        if src is not None:
            mounts[dest] = {
                "destination": dest, "type": "bind", "source": str(src),
                "options": list(etc_opts),
            }  # fmt: skip
    tmpfs = hc.get("Tmpfs") or {}
    if not isinstance(tmpfs, dict):
        raise InvalidParameter("invalid Tmpfs: must be an object of path → options")
    for dest, data in tmpfs.items():
        if not isinstance(dest, str) or not dest.startswith("/"):
            raise InvalidParameter(
                f"invalid mount path for tmpfs: '{dest}' mount path must be absolute"
            )
        opts = ["noexec", "nosuid", "nodev", "rprivate"]
        if data:
            opts += str(data).split(",")
        mounts[dest] = {
            "destination": dest, "type": "tmpfs", "source": "tmpfs",
            "options": merge_tmpfs_options(opts),
        }  # fmt: skip
    for m in inp.extra_mounts:
        target = m.get("destination")
        if not isinstance(target, str) or not target.startswith("/"):
            raise InvalidParameter(f"invalid mount destination {target!r}")
        mounts[target] = dict(m)
    # Python's sort is stable, so equal depths keep their given order.
    return sorted(mounts.values(), key=lambda m: str(PurePosixPath(m["destination"])).count("/"))


def build_mounts(
    inp: SpecInput, hc: dict[str, Any], privileged: bool, readonly: bool, init: str | None
) -> tuple[list[dict[str, Any]], str | None]:
    """The spec's mounts and the rootfs propagation they need (None: runtime default).

    ``init`` is the host path of the init binary to bind at /sbin/docker-init.
    """
    shm_size = res._int(hc, "ShmSize") or DEFAULT_SHM_SIZE
    if shm_size < 0:
        raise InvalidParameter("SHM size can not be less than 0")
    defaults = _default_mounts(shm_size)
    ipc = _ipc_mode(hc)
    shm_src = "/dev/shm" if ipc == "host" else (str(inp.shm_path) if inp.shm_path else None)
    if shm_src:
        defaults[-1] = {
            "destination": "/dev/shm", "type": "bind", "source": shm_src,
            "options": ["rbind", "rprivate"],
        }  # fmt: skip
    if init:
        defaults.append({
            "destination": INIT_PATH_IN_CONTAINER, "type": "bind", "source": init,
            "options": ["bind", "ro"],
        })  # fmt: skip
    user = _user_mounts(inp, hc, readonly)
    user_dests = {m["destination"] for m in user}
    mount_dev = "/dev" in user_dests
    kept = []
    for m in defaults:
        dest = m["destination"]
        if dest in user_dests or (mount_dev and dest.startswith("/dev/")):
            continue
        if dest == "/dev/shm" and ipc == "none":
            continue
        if readonly and dest not in _RW_EVEN_IF_READONLY and "ro" not in m["options"]:
            m["options"].append("ro")
        if privileged and m["type"] in ("sysfs", "cgroup"):
            m["options"] = [o for o in m["options"] if o != "ro"]
        kept.append(m)
    # Shared or slave volume propagation needs a matching rootfs propagation (moby).
    propagation = None
    for m in user:
        opts = set(m.get("options") or [])
        if opts & {"shared", "rshared"}:
            propagation = "shared"
        elif opts & {"slave", "rslave"} and propagation is None:
            propagation = "rslave"
    return kept + user, propagation
