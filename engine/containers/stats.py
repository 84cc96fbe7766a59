"""Container stats from cgroup v1 or v2, in Docker's ``/containers/{id}/stats`` shape.

Docker's CLI computes CPU % from ``cpu_stats`` minus ``precpu_stats``. dockerd answers
``stream=false`` only after a second sample a second later; we answer at once
instead: the caller keeps each sample and passes it back as ``previous``, and for the
very first sample of a container ``precpu_stats`` is synthesised from the
container's start time (zero CPU used, host CPU time as it was then), so the CLI
shows the average CPU use since start rather than 0 %.

Only pseudo-files are read (cgroupfs, procfs): cheap and never blocking on disk, so
callers may call these functions directly from the event loop.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from ..conventions import ZERO_TIME, format_rfc3339

CGROUP_ROOT = Path("/sys/fs/cgroup")
PROC_ROOT = Path("/proc")
_NS = 1_000_000_000
_BLKIO_KEYS = (
    "io_service_bytes_recursive",
    "io_serviced_recursive",
    "io_queue_recursive",
    "io_service_time_recursive",
    "io_wait_time_recursive",
    "io_merged_recursive",
    "io_time_recursive",
    "sectors_recursive",
)


def _read(path: Path) -> str | None:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return None


def _read_int(path: Path) -> int | None:
    text = _read(path)
    if text is None:
        return None
    text = text.strip()
    if text == "max":
        return None
    try:
        return int(text)
    except ValueError:
        return None


def _read_kv(path: Path) -> dict[str, int]:
    """``key value`` lines (memory.stat, cpu.stat, cpuacct.stat) as ints."""
    out: dict[str, int] = {}
    for line in (_read(path) or "").splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                continue
    return out


def _clock_ticks() -> int:
    try:
        return os.sysconf("SC_CLK_TCK")
    except (ValueError, OSError):
        return 100


def online_cpus() -> int:
    """Number of online CPUs (sysconf, as dockerd)."""
    try:
        return max(1, os.sysconf("SC_NPROCESSORS_ONLN"))
    except (ValueError, OSError):
        return os.cpu_count() or 1


def system_cpu_usage(proc_root: Path = PROC_ROOT) -> int:
    """Host CPU time in ns: the first seven fields of /proc/stat's ``cpu`` line, as
    dockerd's getSystemCPUUsage."""
    for line in (_read(proc_root / "stat") or "").splitlines():
        if line.startswith("cpu "):
            ticks = sum(int(x) for x in line.split()[1:8])
            return ticks * _NS // _clock_ticks()
    return 0


def machine_memory(proc_root: Path = PROC_ROOT) -> int:
    """Total host memory in bytes (MemTotal)."""
    for line in (_read(proc_root / "meminfo") or "").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def _process_start(pid: int, proc_root: Path) -> float | None:
    """Seconds since boot at which ``pid`` started (field 22 of /proc/<pid>/stat)."""
    text = _read(proc_root / str(pid) / "stat")
    if not text:
        return None
    # The command name may contain spaces and parentheses; fields follow the last ')'.
    fields = text[text.rfind(")") + 2 :].split()
    try:
        return int(fields[19]) / _clock_ticks()
    except (IndexError, ValueError):
        return None


def _uptime(proc_root: Path) -> float | None:
    text = _read(proc_root / "uptime")
    try:
        return float(text.split()[0]) if text else None
    except ValueError:
        return None


def _zero_cpu() -> dict[str, Any]:
    return {
        "cpu_usage": {"total_usage": 0, "usage_in_kernelmode": 0, "usage_in_usermode": 0},
        "throttling_data": {"periods": 0, "throttled_periods": 0, "throttled_time": 0},
    }


def _blkio_v1(d: Path) -> dict[str, Any]:
    def entries(name: str) -> list[dict[str, Any]]:
        rows = []
        for line in (_read(d / name) or "").splitlines():
            parts = line.split()
            if len(parts) != 3 or ":" not in parts[0]:
                continue  # the trailing "Total N" line has no device
            major, _, minor = parts[0].partition(":")
            try:
                rows.append(
                    {"major": int(major), "minor": int(minor), "op": parts[1],
                     "value": int(parts[2])}
                )  # fmt: skip
            except ValueError:
                continue
        return rows

    out: dict[str, Any] = {}
    # CFQ/BFQ files when the scheduler provides them, else the throttle layer's (what
    # containerd does): those exist on every v1 host.
    for key in _BLKIO_KEYS:
        rows = entries(f"blkio.{key}") or entries(f"blkio.bfq.{key}")
        if not rows and key in ("io_service_bytes_recursive", "io_serviced_recursive"):
            rows = entries(f"blkio.throttle.{key}")
        out[key] = rows
    return out


def _blkio_v2(d: Path) -> dict[str, Any]:
    service: list[dict[str, Any]] = []
    serviced: list[dict[str, Any]] = []
    for line in (_read(d / "io.stat") or "").splitlines():
        parts = line.split()
        if not parts or ":" not in parts[0]:
            continue
        major, _, minor = parts[0].partition(":")
        kv = dict(p.split("=", 1) for p in parts[1:] if "=" in p)
        try:
            dev = {"major": int(major), "minor": int(minor)}
            service += [
                {**dev, "op": "read", "value": int(kv.get("rbytes", 0))},
                {**dev, "op": "write", "value": int(kv.get("wbytes", 0))},
            ]
            serviced += [
                {**dev, "op": "read", "value": int(kv.get("rios", 0))},
                {**dev, "op": "write", "value": int(kv.get("wios", 0))},
            ]
        except ValueError:
            continue
    out: dict[str, Any] = dict.fromkeys(_BLKIO_KEYS)
    out["io_service_bytes_recursive"] = service
    out["io_serviced_recursive"] = serviced
    return out


def _cap_limit(limit: int | None, machine: int) -> int:
    if limit is None or (machine and limit > machine):
        return machine
    return limit


def _sample_v1(root: Path, rel: str, machine: int) -> dict[str, Any]:
    def ctrl(name: str) -> Path:
        return root / name / rel

    acct = ctrl("cpuacct")
    ticks_ns = _NS // _clock_ticks()
    acct_stat = _read_kv(acct / "cpuacct.stat")
    percpu = [int(x) for x in (_read(acct / "cpuacct.usage_percpu") or "").split()]
    cpu_stat = _read_kv(ctrl("cpu") / "cpu.stat")
    cpu_usage: dict[str, Any] = {"total_usage": _read_int(acct / "cpuacct.usage") or 0}
    if percpu:
        cpu_usage["percpu_usage"] = percpu
    cpu_usage["usage_in_kernelmode"] = acct_stat.get("system", 0) * ticks_ns
    cpu_usage["usage_in_usermode"] = acct_stat.get("user", 0) * ticks_ns
    mem = ctrl("memory")
    memory: dict[str, Any] = {"usage": _read_int(mem / "memory.usage_in_bytes") or 0}
    max_usage = _read_int(mem / "memory.max_usage_in_bytes")
    if max_usage:
        memory["max_usage"] = max_usage
    memory["stats"] = _read_kv(mem / "memory.stat")
    failcnt = _read_int(mem / "memory.failcnt")
    if failcnt:
        memory["failcnt"] = failcnt
    memory["limit"] = _cap_limit(_read_int(mem / "memory.limit_in_bytes"), machine)
    return {
        "pids": (ctrl("pids") / "pids.current", ctrl("pids") / "pids.max"),
        "blkio": _blkio_v1(ctrl("blkio")),
        "cpu_usage": cpu_usage,
        "throttling": {
            "periods": cpu_stat.get("nr_periods", 0),
            "throttled_periods": cpu_stat.get("nr_throttled", 0),
            "throttled_time": cpu_stat.get("throttled_time", 0),
        },
        "memory": memory,
    }


def _sample_v2(d: Path, machine: int) -> dict[str, Any]:
    cpu_stat = _read_kv(d / "cpu.stat")
    memory: dict[str, Any] = {
        "usage": _read_int(d / "memory.current") or 0,
        "stats": _read_kv(d / "memory.stat"),
    }
    oom = _read_kv(d / "memory.events").get("oom", 0)
    if oom:
        memory["failcnt"] = oom
    memory["limit"] = _cap_limit(_read_int(d / "memory.max"), machine)
    return {
        "pids": (d / "pids.current", d / "pids.max"),
        "blkio": _blkio_v2(d),
        "cpu_usage": {
            "total_usage": cpu_stat.get("usage_usec", 0) * 1000,
            "usage_in_kernelmode": cpu_stat.get("system_usec", 0) * 1000,
            "usage_in_usermode": cpu_stat.get("user_usec", 0) * 1000,
        },
        "throttling": {
            "periods": cpu_stat.get("nr_periods", 0),
            "throttled_periods": cpu_stat.get("nr_throttled", 0),
            "throttled_time": cpu_stat.get("throttled_usec", 0) * 1000,
        },
        "memory": memory,
    }


def read_networks(pid: int, proc_root: Path = PROC_ROOT) -> dict[str, Any] | None:
    """Per-interface counters from /proc/<pid>/net/dev (the pid's netns), without lo."""
    text = _read(proc_root / str(pid) / "net" / "dev")
    if text is None:
        return None
    nets: dict[str, Any] = {}
    for line in text.splitlines()[2:]:
        name, _, rest = line.partition(":")
        name = name.strip()
        f = rest.split()
        if not name or name == "lo" or len(f) < 16:
            continue
        v = [int(x) for x in f[:16]]
        nets[name] = {
            "rx_bytes": v[0], "rx_packets": v[1], "rx_errors": v[2], "rx_dropped": v[3],
            "tx_bytes": v[8], "tx_packets": v[9], "tx_errors": v[10], "tx_dropped": v[11],
        }  # fmt: skip
    return nets


def _baseline_precpu(
    pid: int | None, now_system: int, ncpu: int, proc_root: Path
) -> tuple[dict[str, Any], str]:
    """precpu_stats as they were when the container's process started (see module doc)."""
    pre = _zero_cpu()
    if pid is None:
        return pre, ZERO_TIME
    start, uptime = _process_start(pid, proc_root), _uptime(proc_root)
    if start is None or uptime is None:
        return pre, ZERO_TIME
    elapsed = max(0.0, uptime - start)
    pre["system_cpu_usage"] = max(0, now_system - int(elapsed * ncpu * _NS))
    pre["online_cpus"] = ncpu
    return pre, format_rfc3339(time.time() - elapsed, fraction="trim")


def read_stats(
    cgroups_path: str,
    pid: int | None,
    previous: dict[str, Any] | None = None,
    *,
    name: str = "",
    container_id: str = "",
    own_netns: bool = True,
    cgroup_root: Path = CGROUP_ROOT,
    proc_root: Path = PROC_ROOT,
) -> dict[str, Any]:
    """One stats sample for the container in cgroup ``cgroups_path`` ("/portside/<id>").

    ``previous`` is the last sample this function returned for the container: its
    ``cpu_stats``/``read`` become ``precpu_stats``/``preread``. Without one, precpu is
    synthesised from the start time of ``pid`` (zero when ``pid`` is None).
    ``networks`` is filled from /proc/<pid>/net/dev when the container has a ``pid``
    and its own network namespace. cgroup v2 is used when ``cgroup_root`` is a
    unified hierarchy, else the v1 controllers under it (hybrid hosts included).
    """
    rel = cgroups_path.strip("/")
    machine = machine_memory(proc_root)
    if (cgroup_root / "cgroup.controllers").exists():
        sample = _sample_v2(cgroup_root / rel, machine)
    else:
        sample = _sample_v1(cgroup_root, rel, machine)
    ncpu = online_cpus()
    now_system = system_cpu_usage(proc_root)
    read = format_rfc3339(time.time(), fraction="trim")

    current_path, max_path = sample["pids"]
    pids_stats: dict[str, Any] = {}
    current = _read_int(current_path)
    if current is not None:
        pids_stats["current"] = current
        limit = _read_int(max_path)
        if limit:
            pids_stats["limit"] = limit
    cpu_stats: dict[str, Any] = {"cpu_usage": sample["cpu_usage"]}
    if now_system:
        cpu_stats["system_cpu_usage"] = now_system
    cpu_stats["online_cpus"] = ncpu
    cpu_stats["throttling_data"] = sample["throttling"]

    if previous is not None:
        precpu, preread = previous.get("cpu_stats") or _zero_cpu(), previous.get("read", ZERO_TIME)
    else:
        precpu, preread = _baseline_precpu(pid, now_system, ncpu, proc_root)

    out: dict[str, Any] = {
        "read": read,
        "preread": preread,
        "pids_stats": pids_stats,
        "blkio_stats": sample["blkio"],
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": cpu_stats,
        "precpu_stats": precpu,
        "memory_stats": sample["memory"],
        "name": name,
        "id": container_id,
    }
    if pid and own_netns:
        nets = read_networks(pid, proc_root)
        if nets is not None:
            out["networks"] = nets
    return out


def zero_stats(name: str = "", container_id: str = "") -> dict[str, Any]:
    """Docker's stats answer for a container that is not running (all zero)."""
    return {
        "read": ZERO_TIME,
        "preread": ZERO_TIME,
        "pids_stats": {},
        "blkio_stats": dict.fromkeys(_BLKIO_KEYS),
        "num_procs": 0,
        "storage_stats": {},
        "cpu_stats": _zero_cpu(),
        "precpu_stats": _zero_cpu(),
        "memory_stats": {},
        "name": name,
        "id": container_id,
    }
