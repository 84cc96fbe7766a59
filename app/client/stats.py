"""Numbers from a Docker stats document, computed the way the docker CLI computes them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class StatsSample:
    """One decoded stats sample.

    ``cpu_percent`` is relative to one CPU (200 % = two CPUs busy), like ``docker stats``.
    Network and block I/O are cumulative byte counters since the container started.
    """

    read: str
    cpu_percent: float
    memory_usage: int
    memory_limit: int
    net_rx: int
    net_tx: int
    block_read: int
    block_write: int
    pids: int

    @property
    def memory_percent(self) -> float:
        """Memory use as a share of the limit, in percent."""
        return 100.0 * self.memory_usage / self.memory_limit if self.memory_limit else 0.0

    @classmethod
    def from_docker(cls, doc: dict[str, Any]) -> StatsSample:
        """Decode ``GET /containers/{id}/stats`` output."""
        return cls(
            read=str(doc.get("read") or ""),
            cpu_percent=cpu_percent(doc),
            memory_usage=memory_usage(doc),
            memory_limit=int((doc.get("memory_stats") or {}).get("limit") or 0),
            net_rx=_sum_networks(doc, "rx_bytes"),
            net_tx=_sum_networks(doc, "tx_bytes"),
            block_read=_sum_blkio(doc, "read"),
            block_write=_sum_blkio(doc, "write"),
            pids=int((doc.get("pids_stats") or {}).get("current") or 0),
        )


def cpu_percent(doc: dict[str, Any]) -> float:
    """CPU use between ``precpu_stats`` and ``cpu_stats``, in percent of one CPU."""
    cpu = doc.get("cpu_stats") or {}
    pre = doc.get("precpu_stats") or {}
    usage = (cpu.get("cpu_usage") or {}).get("total_usage") or 0
    pre_usage = (pre.get("cpu_usage") or {}).get("total_usage") or 0
    system = cpu.get("system_cpu_usage") or 0
    pre_system = pre.get("system_cpu_usage") or 0
    cpu_delta = usage - pre_usage
    system_delta = system - pre_system
    if cpu_delta <= 0 or system_delta <= 0 or not pre_system:
        return 0.0
    online = cpu.get("online_cpus") or len((cpu.get("cpu_usage") or {}).get("percpu_usage") or [])
    return cpu_delta / system_delta * max(online, 1) * 100.0


def memory_usage(doc: dict[str, Any]) -> int:
    """Memory in use without the page cache that can be dropped (as the CLI shows it)."""
    mem = doc.get("memory_stats") or {}
    usage = int(mem.get("usage") or 0)
    stats = mem.get("stats") or {}
    # cgroup v1 reports total_inactive_file, v2 inactive_file; older engines only cache.
    for key in ("total_inactive_file", "inactive_file"):
        if key in stats and stats[key] < usage:
            return usage - int(stats[key])
    return usage


def _sum_networks(doc: dict[str, Any], key: str) -> int:
    nets = doc.get("networks") or {}
    return sum(int(n.get(key) or 0) for n in nets.values() if isinstance(n, dict))


def _sum_blkio(doc: dict[str, Any], op: str) -> int:
    entries = (doc.get("blkio_stats") or {}).get("io_service_bytes_recursive") or []
    return sum(int(e.get("value") or 0) for e in entries if str(e.get("op", "")).lower() == op)
