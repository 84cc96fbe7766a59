"""HostConfig → OCI resources, devices and rlimits (helpers of spec.build_spec).

Mirrors moby's getMemoryResources/getCPUResources/getPidsLimit, WithDevices and
WithRlimits, plus the create-time checks of verifyPlatformContainerResources. Facts
about the host (cgroup mode, swap accounting, the engine's own rlimits) are read from
/sys and /proc; nothing here writes anywhere.
"""

from __future__ import annotations

import os
import re
import resource
import stat
from functools import lru_cache
from pathlib import Path
from typing import Any

from ...errors import InvalidParameter

CGROUP_ROOT = Path("/sys/fs/cgroup")
CPU_PERIOD_US = 100_000
MIN_MEMORY = 6 * 1024 * 1024

# Docker's default device cgroup: deny all, then allow the standard character devices
# (null, zero, full, random, urandom, tty, /dev/pts/*, ptmx) and deny /dev/net/tun
# (10:229) explicitly, as moby does.
DEFAULT_DEVICE_RULES: tuple[dict[str, Any], ...] = (
    {"allow": False, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 5, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 9, "access": "rwm"},
    {"allow": True, "type": "c", "major": 1, "minor": 8, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 0, "access": "rwm"},
    {"allow": True, "type": "c", "major": 5, "minor": 1, "access": "rwm"},
    {"allow": False, "type": "c", "major": 10, "minor": 229, "access": "rwm"},
)

# Linux resource numbers (asm-generic/resource.h); Python's module lacks some of them.
ULIMIT_NAMES: dict[str, int] = {
    "cpu": 0,
    "fsize": 1,
    "data": 2,
    "stack": 3,
    "core": 4,
    "rss": 5,
    "nproc": 6,
    "nofile": 7,
    "memlock": 8,
    "as": 9,
    "locks": 10,
    "sigpending": 11,
    "msgqueue": 12,
    "nice": 13,
    "rtprio": 14,
    "rttime": 15,
}
RLIM_INFINITY_U64 = 2**64 - 1

_CGROUP_RULE = re.compile(r"^([acb]) ([0-9]+|\*):([0-9]+|\*) ([rwm]{1,3})$")


def cgroup_unified(root: Path | None = None) -> bool:
    """True on a pure cgroup v2 host (what runc calls unified mode)."""
    return ((root or CGROUP_ROOT) / "cgroup.controllers").exists()


@lru_cache(maxsize=4)
def swap_limit_supported(root: Path | None = None) -> bool:
    """Whether the memory controller accounts swap (so a swap limit can be set)."""
    root = root or CGROUP_ROOT
    if not cgroup_unified(root):
        return (root / "memory" / "memory.memsw.limit_in_bytes").exists()
    try:
        children = [p for p in root.iterdir() if p.is_dir()]
    except OSError:
        return False
    return any((p / "memory.swap.max").exists() for p in children)


BLKIO_WEIGHT_DISCARDED = (
    "Your kernel does not support Block I/O weight or the cgroup is not mounted. Weight discarded."
)
BLKIO_WEIGHT_DEVICE_DISCARDED = (
    "Your kernel does not support Block I/O weight_device or the cgroup is not mounted. "
    "Weight-device discarded."
)


@lru_cache(maxsize=4)
def blkio_weight_supported(root: Path | None = None) -> bool:
    """Whether a blkio weight can be set: on cgroup v1 only where the blkio hierarchy has
    ``blkio.weight`` or ``blkio.bfq.weight`` (CFQ or BFQ). Elsewhere runc skips the
    weight silently while crun fails the create, so it is discarded up front with
    dockerd's warning."""
    root = root or CGROUP_ROOT
    if cgroup_unified(root):
        return True
    blkio = root / "blkio"
    return (blkio / "blkio.weight").exists() or (blkio / "blkio.bfq.weight").exists()


def resource_warnings(hc: dict[str, Any], root: Path | None = None) -> list[str]:
    """dockerd's create/update warnings for settings this host cannot apply."""
    warnings = []
    if not blkio_weight_supported(root):
        if _int(hc, "BlkioWeight") > 0:
            warnings.append(BLKIO_WEIGHT_DISCARDED)
        if hc.get("BlkioWeightDevice"):
            warnings.append(BLKIO_WEIGHT_DEVICE_DISCARDED)
    return warnings


def parse_cpuset(value: str) -> set[int]:
    """``"0-2,4"`` → {0, 1, 2, 4}; ValueError for anything else."""
    out: set[int] = set()
    for part in value.split(","):
        lo, sep, hi = part.strip().partition("-")
        if not lo.isdigit() or (sep and not hi.isdigit()):
            raise ValueError(value)
        first, last = int(lo), int(hi) if sep else int(lo)
        if last < first:
            raise ValueError(value)
        out.update(range(first, last + 1))
    return out


def _host_cpuset(root: Path, name: str, fallback: str) -> str:
    """The CPUs or memory nodes containers may use: the root cpuset's (effective) list."""
    candidates = [root / f"{name}.effective"] if cgroup_unified(root) else [root / "cpuset" / name]
    for path in (*candidates, Path(fallback)):
        try:
            text = path.read_text().strip()
        except OSError:
            continue
        if text:
            return text
    return ""


def check_cpusets(hc: dict[str, Any], root: Path | None = None) -> None:
    """dockerd's create/update check of CpusetCpus and CpusetMems against the host, so a
    CPU or memory node that does not exist gets Docker's 400 instead of whatever the
    runtime says when the kernel refuses it (crun and runc word it differently)."""
    root = root or CGROUP_ROOT
    for key, name, fallback, what, kind in (
        ("CpusetCpus", "cpuset.cpus", "/sys/devices/system/cpu/online", "CPUs", "cpus"),
        ("CpusetMems", "cpuset.mems", "/sys/devices/system/node/online", "memory nodes", "mems"),
    ):
        value = hc.get(key)
        if not value:
            continue
        try:
            wanted = parse_cpuset(str(value))
        except ValueError:
            raise InvalidParameter(f"Invalid value {value} for cpuset {kind}") from None
        available = _host_cpuset(root, name, fallback)
        if available and not wanted <= parse_cpuset(available):
            raise InvalidParameter(
                f"Requested {what} are not available - requested {value}, available: {available}"
            )


def _int(hc: dict[str, Any], key: str) -> int:
    v = hc.get(key)
    if v is None:
        return 0
    if isinstance(v, bool) or not isinstance(v, int):
        raise InvalidParameter(f"invalid value for {key}: {v!r}")
    return v


def apply_host_config_defaults(hc: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``hc`` with the defaults dockerd fills in at create time (so inspect
    shows them): ShmSize 64 MiB, MemorySwap = 2 × Memory when swap is accounted."""
    out = dict(hc)
    if not out.get("ShmSize"):
        out["ShmSize"] = 64 * 1024 * 1024
    if _int(out, "Memory") > 0 and _int(out, "MemorySwap") == 0 and swap_limit_supported():
        out["MemorySwap"] = 2 * out["Memory"]
    return out


def validate_resources(hc: dict[str, Any]) -> list[str]:
    """Check HostConfig resources as dockerd does at create; return its warnings.

    Raises ``InvalidParameter`` with Docker's messages for impossible settings.
    """
    warnings: list[str] = []
    memory = _int(hc, "Memory")
    swap = _int(hc, "MemorySwap")
    reservation = _int(hc, "MemoryReservation")
    if 0 < memory < MIN_MEMORY:
        raise InvalidParameter("Minimum memory limit allowed is 6MB")
    if swap > 0 and memory == 0:
        raise InvalidParameter(
            "You should always set the Memory limit when using Memoryswap limit, see usage"
        )
    if memory > 0 and 0 < swap < memory:
        raise InvalidParameter(
            "Minimum memoryswap limit should be larger than memory limit, see usage"
        )
    if memory > 0 and swap != 0 and not swap_limit_supported():
        warnings.append(
            "Your kernel does not support swap limit capabilities or the cgroup is not "
            "mounted. Memory limited without swap."
        )
    if memory > 0 and reservation > 0 and memory < reservation:
        raise InvalidParameter(
            "Minimum memory limit can not be less than memory reservation limit, see usage"
        )
    if 0 < reservation < MIN_MEMORY:
        raise InvalidParameter("Minimum memory reservation allowed is 6MB")
    swappiness = hc.get("MemorySwappiness")
    if swappiness is not None and swappiness != -1 and not 0 <= swappiness <= 100:
        raise InvalidParameter(
            f"Invalid value: {swappiness}, valid memory swappiness range is 0-100"
        )
    nano = _int(hc, "NanoCpus")
    if nano > 0 and (_int(hc, "CpuPeriod") or _int(hc, "CpuQuota")):
        raise InvalidParameter("Conflicting options: Nano CPUs and CPU Period cannot both be set")
    ncpu = os.cpu_count() or 1
    if nano < 0 or nano > ncpu * 10**9:
        raise InvalidParameter(
            f"Range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
        )
    if _int(hc, "CpuShares") < 0:
        raise InvalidParameter("shares: invalid argument")
    period = _int(hc, "CpuPeriod")
    if period and not 1000 <= period <= 1_000_000:
        raise InvalidParameter(
            "CPU cfs period can not be less than 1ms (i.e. 1000) or larger than 1s (i.e. 1000000)"
        )
    quota = _int(hc, "CpuQuota")
    if 0 < quota < 1000:
        raise InvalidParameter("CPU cfs quota can not be less than 1ms (i.e. 1000)")
    oom = _int(hc, "OomScoreAdj")
    if not -1000 <= oom <= 1000:
        raise InvalidParameter(f"Invalid value {oom}, range for oom score adj is [-1000, 1000]")
    if _int(hc, "ShmSize") < 0:
        raise InvalidParameter("SHM size can not be less than 0")
    for ul in hc.get("Ulimits") or []:
        _ulimit(ul)
    return warnings


def memory_resources(hc: dict[str, Any], cgroup_root: Path | None = None) -> dict[str, Any]:
    """OCI ``linux.resources.memory`` (empty dict when nothing is limited)."""
    mem: dict[str, Any] = {}
    if _int(hc, "Memory") > 0:
        mem["limit"] = hc["Memory"]
    if _int(hc, "MemoryReservation") > 0:
        mem["reservation"] = hc["MemoryReservation"]
    # Only a positive total is passed: -1 (unlimited) is what leaving it unset means,
    # and a swap limit without swap accounting would make runc fail.
    if _int(hc, "MemorySwap") > 0 and swap_limit_supported(cgroup_root):
        mem["swap"] = hc["MemorySwap"]
    swappiness = hc.get("MemorySwappiness")
    if isinstance(swappiness, int) and 0 <= swappiness <= 100 and not cgroup_unified(cgroup_root):
        mem["swappiness"] = swappiness
    if hc.get("OomKillDisable") is True:
        mem["disableOOMKiller"] = True
    return mem


def cpu_resources(hc: dict[str, Any]) -> dict[str, Any]:
    """OCI ``linux.resources.cpu``: shares, quota/period (NanoCpus → period 100 ms),
    cpuset. Empty dict when nothing is set."""
    cpu: dict[str, Any] = {}
    shares = _int(hc, "CpuShares")
    if shares < 0:
        raise InvalidParameter("shares: invalid argument")
    if shares > 0:
        cpu["shares"] = shares
    if hc.get("CpusetCpus"):
        cpu["cpus"] = hc["CpusetCpus"]
    if hc.get("CpusetMems"):
        cpu["mems"] = hc["CpusetMems"]
    nano = _int(hc, "NanoCpus")
    if nano > 0:
        cpu["period"] = CPU_PERIOD_US
        cpu["quota"] = nano * CPU_PERIOD_US // 10**9
    if _int(hc, "CpuPeriod"):
        cpu["period"] = hc["CpuPeriod"]
    if _int(hc, "CpuQuota"):
        cpu["quota"] = hc["CpuQuota"]
    return cpu


def pids_resources(hc: dict[str, Any]) -> dict[str, Any] | None:
    """OCI ``linux.resources.pids``, or None for no limit.

    0 or a negative PidsLimit means "unlimited"; at create dockerd then sets no pids
    limit at all rather than -1. crun 1.8 writes a -1 literally into cgroup v1's
    ``pids.max`` (the kernel wants ``max``) and fails every container the docker CLI
    creates, since the CLI always sends ``PidsLimit: 0``.
    """
    limit = hc.get("PidsLimit")
    if limit is None:
        return None
    if not isinstance(limit, int) or isinstance(limit, bool):
        raise InvalidParameter(f"invalid value for PidsLimit: {limit!r}")
    return {"limit": limit} if limit > 0 else None


def _device_numbers(path: str) -> tuple[int, int]:
    try:
        st = os.stat(path)
    except OSError as e:
        raise InvalidParameter(f"error getting device {path}: {e.strerror}") from None
    if not (stat.S_ISBLK(st.st_mode) or stat.S_ISCHR(st.st_mode)):
        raise InvalidParameter(f"{path} is not a block or character device")
    return os.major(st.st_rdev), os.minor(st.st_rdev)


def blkio_resources(hc: dict[str, Any], cgroup_root: Path | None = None) -> dict[str, Any]:
    """OCI ``linux.resources.blockIO`` from BlkioWeight and the per-device throttles
    (weights only where the host can apply them: :func:`blkio_weight_supported`)."""
    bio: dict[str, Any] = {}
    weighted = blkio_weight_supported(cgroup_root)
    if _int(hc, "BlkioWeight") > 0 and weighted:
        bio["weight"] = hc["BlkioWeight"]
    weights = []
    for wd in (hc.get("BlkioWeightDevice") or []) if weighted else []:
        major, minor = _device_numbers(wd.get("Path", ""))
        weights.append({"major": major, "minor": minor, "weight": wd.get("Weight", 0)})
    if weights:
        bio["weightDevice"] = weights
    for key, oci_key in (
        ("BlkioDeviceReadBps", "throttleReadBpsDevice"),
        ("BlkioDeviceWriteBps", "throttleWriteBpsDevice"),
        ("BlkioDeviceReadIOps", "throttleReadIOPSDevice"),
        ("BlkioDeviceWriteIOps", "throttleWriteIOPSDevice"),
    ):
        rows = []
        for td in hc.get(key) or []:
            major, minor = _device_numbers(td.get("Path", ""))
            rows.append({"major": major, "minor": minor, "rate": td.get("Rate", 0)})
        if rows:
            bio[oci_key] = rows
    return bio


def _device_entry(host_path: str, ctr_path: str, st: os.stat_result) -> dict[str, Any]:
    kind = "b" if stat.S_ISBLK(st.st_mode) else "c"
    return {
        "type": kind,
        "path": ctr_path,
        "major": os.major(st.st_rdev),
        "minor": os.minor(st.st_rdev),
        "fileMode": stat.S_IMODE(st.st_mode),
        "uid": st.st_uid,
        "gid": st.st_gid,
    }


def devices_from_path(
    host: str, ctr: str, perms: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """One ``--device`` mapping → (OCI devices, cgroup allow rules), like moby's
    DevicesFromPath: a directory maps every device node under it."""
    perms = perms or "rwm"
    if not re.fullmatch(r"[rwm]{1,3}", perms):
        raise InvalidParameter(f"invalid device permissions {perms!r}")
    ctr = ctr or host
    try:
        st = os.stat(host)
    except OSError as e:
        raise InvalidParameter(
            f'error gathering device information while adding custom device "{host}": '
            f"{e.strerror.lower() if e.strerror else e}"
        ) from None
    found: list[tuple[str, str, os.stat_result]] = []
    if stat.S_ISDIR(st.st_mode):
        for dirpath, _dirs, files in os.walk(host):
            for f in sorted(files):
                p = os.path.join(dirpath, f)
                try:
                    fst = os.stat(p)
                except OSError:
                    continue
                if stat.S_ISCHR(fst.st_mode) or stat.S_ISBLK(fst.st_mode):
                    found.append((p, os.path.join(ctr, os.path.relpath(p, host)), fst))
    elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
        found.append((host, ctr, st))
    else:
        raise InvalidParameter(
            f'error gathering device information while adding custom device "{host}": '
            "not a device node"
        )
    devices = [_device_entry(h, c, s) for h, c, s in found]
    rules = [
        {
            "allow": True,
            "type": d["type"],
            "major": d["major"],
            "minor": d["minor"],
            "access": perms,
        }
        for d in devices
    ]
    return devices, rules


def host_devices(root: str = "/dev") -> list[dict[str, Any]]:
    """Every device node on the host, for privileged containers (runc's HostDevices:
    pts, shm, fd, mqueue and the console are left to the runtime)."""
    out: list[dict[str, Any]] = []
    skip_dirs = {"pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"}
    for dirpath, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if d not in skip_dirs)
        for f in sorted(files):
            if f == "console":
                continue
            p = os.path.join(dirpath, f)
            try:
                st = os.lstat(p)
            except OSError:
                continue
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                out.append(_device_entry(p, p, st))
    return out


def cgroup_rule(rule: str) -> dict[str, Any]:
    """``--device-cgroup-rule "c 1:3 rwm"`` → an OCI allow rule."""
    m = _CGROUP_RULE.match(rule.strip())
    if not m:
        raise InvalidParameter(f"invalid device cgroup format '{rule}'")
    kind, major, minor, access = m.groups()
    out: dict[str, Any] = {"allow": True, "type": kind, "access": access}
    if major != "*":
        out["major"] = int(major)
    if minor != "*":
        out["minor"] = int(minor)
    return out


def _ulimit(ul: Any) -> tuple[str, int, int]:
    if not isinstance(ul, dict):
        raise InvalidParameter(f"invalid ulimit: {ul!r}")
    name = str(ul.get("Name", "")).lower()
    if name not in ULIMIT_NAMES:
        raise InvalidParameter(f"invalid ulimit type: {ul.get('Name')}")
    soft, hard = ul.get("Soft", 0), ul.get("Hard", 0)
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (soft, hard)):
        raise InvalidParameter(f"invalid ulimit value for {name}")
    soft_u = RLIM_INFINITY_U64 if soft < 0 else soft
    hard_u = RLIM_INFINITY_U64 if hard < 0 else hard
    if soft_u > hard_u:
        raise InvalidParameter(
            f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}"
        )
    return name, soft_u, hard_u


def _engine_limit(res: int) -> tuple[int, int]:
    soft, hard = resource.getrlimit(res)
    to_u = lambda v: RLIM_INFINITY_U64 if v == resource.RLIM_INFINITY or v < 0 else v  # noqa: E731
    return to_u(soft), to_u(hard)


def rlimits(hc: dict[str, Any]) -> list[dict[str, Any]]:
    """OCI ``process.rlimits`` from HostConfig.Ulimits, never above the engine's own
    hard limits (the engine lacks CAP_SYS_RESOURCE, so the runtime could not raise
    them), with RLIMIT_NOFILE defaulting to the engine's own soft/hard pair."""
    wanted: dict[str, tuple[int, int]] = {}
    for ul in hc.get("Ulimits") or []:
        name, soft, hard = _ulimit(ul)
        wanted[name] = (soft, hard)
    if "nofile" not in wanted:
        wanted["nofile"] = _engine_limit(resource.RLIMIT_NOFILE)
    out = []
    for name, (soft, hard) in wanted.items():
        _own_soft, own_hard = _engine_limit(ULIMIT_NAMES[name])
        hard = min(hard, own_hard)
        soft = min(soft, hard)
        out.append({"type": "RLIMIT_" + name.upper(), "soft": soft, "hard": hard})
    return out
