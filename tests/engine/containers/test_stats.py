"""Stats from a real cgroup (v1 here; v2 on unified hosts) and from a fake v2 tree."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from portside.engine.containers import stats

pytestmark = pytest.mark.runtime_matrix

ROOT = Path("/sys/fs/cgroup")
UNIFIED = (ROOT / "cgroup.controllers").exists()
V1_CONTROLLERS = ("cpu", "cpuacct", "memory", "pids", "blkio")


def cli_cpu_percent(s: dict) -> float:
    """The docker CLI's calculateCPUPercentUnix."""
    cpu, pre = s["cpu_stats"], s["precpu_stats"]
    cpu_delta = cpu["cpu_usage"]["total_usage"] - pre["cpu_usage"]["total_usage"]
    sys_delta = cpu.get("system_cpu_usage", 0) - pre.get("system_cpu_usage", 0)
    online = cpu.get("online_cpus") or len(cpu["cpu_usage"].get("percpu_usage") or [])
    if sys_delta > 0 and cpu_delta > 0:
        return cpu_delta / sys_delta * online * 100.0
    return 0.0


def cli_mem_usage(s: dict) -> int:
    """The docker CLI's calculateMemUsageUnixNoCache."""
    m = s["memory_stats"]
    st = m.get("stats") or {}
    for key in ("total_inactive_file", "inactive_file"):
        if key in st and st[key] < m["usage"]:
            return m["usage"] - st[key]
    return m["usage"]


@pytest.fixture
def busy_cgroup() -> Iterator[tuple[str, int]]:
    """A real cgroup holding a busy ``sh`` (a CPU loop that also allocates)."""
    if os.geteuid() != 0:
        pytest.skip("creating cgroups needs root")
    rel = f"portside-statstest-{os.getpid()}-{time.monotonic_ns()}"
    dirs = [ROOT / rel] if UNIFIED else [ROOT / c / rel for c in V1_CONTROLLERS]

    def enter_cgroup() -> None:
        # In the child before exec, so everything it allocates is charged to the cgroup
        # (v1 does not move existing charges with a process).
        for d in dirs:
            (d / "cgroup.procs").write_text(str(os.getpid()))

    child = None
    try:
        for d in dirs:
            d.mkdir()
        if UNIFIED:
            (ROOT / rel / "memory.max").write_text(str(256 << 20))
        else:
            (ROOT / "memory" / rel / "memory.limit_in_bytes").write_text(str(256 << 20))
        child = subprocess.Popen(
            ["sh", "-c", "x=$(seq 1 20000); while :; do :; done"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=enter_cgroup,
        )
        time.sleep(0.6)
        yield "/" + rel, child.pid
    finally:
        if child is not None:
            child.send_signal(signal.SIGKILL)
            child.wait()
        for d in dirs:
            for _ in range(50):
                if not d.exists():
                    break
                try:
                    d.rmdir()
                except OSError:
                    time.sleep(0.05)


def test_real_cgroup_sample(busy_cgroup: tuple[str, int]) -> None:
    path, pid = busy_cgroup
    s = stats.read_stats(path, pid, name="/busy", container_id="abc", own_netns=False)
    assert s["name"] == "/busy" and s["id"] == "abc"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z", s["read"])
    cpu = s["cpu_stats"]
    assert cpu["cpu_usage"]["total_usage"] > 100_000_000  # > 0.1 s of the busy loop
    assert cpu["cpu_usage"]["usage_in_usermode"] > 0
    assert cpu["online_cpus"] == os.sysconf("SC_NPROCESSORS_ONLN")
    assert cpu["system_cpu_usage"] > cpu["cpu_usage"]["total_usage"]
    if not UNIFIED:
        assert len(cpu["cpu_usage"]["percpu_usage"]) >= cpu["online_cpus"]
        assert sum(cpu["cpu_usage"]["percpu_usage"]) == pytest.approx(
            cpu["cpu_usage"]["total_usage"], rel=0.05
        )
    mem = s["memory_stats"]
    assert mem["usage"] > 0
    assert mem["limit"] == 256 << 20
    assert cli_mem_usage(s) > 0
    key = "inactive_file" if UNIFIED else "total_inactive_file"
    assert key in mem["stats"]
    if not UNIFIED:
        assert mem["max_usage"] >= mem["usage"]
    assert s["pids_stats"]["current"] >= 1
    assert "networks" not in s  # host network namespace: nothing of its own to report
    # First sample: precpu comes from the process start, so CPU% is already sensible.
    assert s["precpu_stats"]["cpu_usage"]["total_usage"] == 0
    assert 0 < s["precpu_stats"]["system_cpu_usage"] < cpu["system_cpu_usage"]
    first = cli_cpu_percent(s)
    assert 10 < first <= 100 * cpu["online_cpus"] + 5

    time.sleep(0.5)
    s2 = stats.read_stats(path, pid, s, own_netns=False)
    assert s2["precpu_stats"] == s["cpu_stats"]
    assert s2["preread"] == s["read"]
    # One busy loop is about one CPU: ~100 % in Docker's per-CPU-summed scale.
    assert 10 < cli_cpu_percent(s2) <= 100 * cpu["online_cpus"] + 5


def test_missing_cgroup_reads_as_zero() -> None:
    s = stats.read_stats("/portside/does-not-exist", None)
    assert s["cpu_stats"]["cpu_usage"]["total_usage"] == 0
    assert s["memory_stats"]["usage"] == 0
    assert s["pids_stats"] == {}
    assert s["preread"] == stats.ZERO_TIME


def write_tree(base: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        p = base / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)


def test_v2_tree(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "cgroup.controllers": "cpu io memory pids\n",
            "portside/abc/cpu.stat": "usage_usec 2500000\nuser_usec 2000000\n"
            "system_usec 500000\nnr_periods 10\nnr_throttled 3\nthrottled_usec 700\n",
            "portside/abc/memory.current": "10485760\n",
            "portside/abc/memory.max": "max\n",
            "portside/abc/memory.stat": "anon 4096\nfile 8192\ninactive_file 2048\n",
            "portside/abc/memory.events": "low 0\nhigh 0\nmax 4\noom 2\noom_kill 1\n",
            "portside/abc/pids.current": "3\n",
            "portside/abc/pids.max": "max\n",
            "portside/abc/io.stat": "8:0 rbytes=4096 wbytes=8192 rios=1 wios=2 dbytes=0 dios=0\n",
        },
    )
    s = stats.read_stats("/portside/abc", None, cgroup_root=tmp_path)
    usage = s["cpu_stats"]["cpu_usage"]
    assert usage["total_usage"] == 2_500_000_000
    assert usage["usage_in_usermode"] == 2_000_000_000
    assert usage["usage_in_kernelmode"] == 500_000_000
    assert "percpu_usage" not in usage
    assert s["cpu_stats"]["throttling_data"] == {
        "periods": 10,
        "throttled_periods": 3,
        "throttled_time": 700_000,
    }
    mem = s["memory_stats"]
    assert mem["usage"] == 10485760 and "max_usage" not in mem
    assert mem["limit"] == stats.machine_memory()  # unlimited → the host's memory
    assert mem["stats"]["inactive_file"] == 2048
    assert mem["failcnt"] == 2
    assert cli_mem_usage(s) == 10485760 - 2048
    assert s["pids_stats"] == {"current": 3}
    blk = s["blkio_stats"]
    assert blk["io_service_bytes_recursive"] == [
        {"major": 8, "minor": 0, "op": "read", "value": 4096},
        {"major": 8, "minor": 0, "op": "write", "value": 8192},
    ]
    assert blk["io_serviced_recursive"][1] == {"major": 8, "minor": 0, "op": "write", "value": 2}
    assert blk["io_queue_recursive"] is None


def test_v1_tree_blkio_and_limits(tmp_path: Path) -> None:
    rel = "portside/abc"
    write_tree(
        tmp_path,
        {
            f"cpuacct/{rel}/cpuacct.usage": "3000\n",
            f"cpuacct/{rel}/cpuacct.usage_percpu": "1000 2000 \n",
            f"cpuacct/{rel}/cpuacct.stat": "user 7\nsystem 3\n",
            f"cpu/{rel}/cpu.stat": "nr_periods 5\nnr_throttled 1\nthrottled_time 99\n",
            f"memory/{rel}/memory.usage_in_bytes": "5000\n",
            f"memory/{rel}/memory.max_usage_in_bytes": "6000\n",
            f"memory/{rel}/memory.limit_in_bytes": "9223372036854771712\n",
            f"memory/{rel}/memory.stat": "cache 10\ntotal_inactive_file 1000\n",
            f"pids/{rel}/pids.current": "2\n",
            f"pids/{rel}/pids.max": "100\n",
            f"blkio/{rel}/blkio.throttle.io_service_bytes_recursive": (
                "8:0 Read 512\n8:0 Write 1024\n8:0 Total 1536\nTotal 1536\n"
            ),
            f"blkio/{rel}/blkio.throttle.io_serviced_recursive": "8:0 Read 1\n8:0 Write 2\n",
        },
    )
    s = stats.read_stats("/" + rel, None, cgroup_root=tmp_path)
    hz = os.sysconf("SC_CLK_TCK")
    usage = s["cpu_stats"]["cpu_usage"]
    assert usage == {
        "total_usage": 3000,
        "percpu_usage": [1000, 2000],
        "usage_in_kernelmode": 3 * 10**9 // hz,
        "usage_in_usermode": 7 * 10**9 // hz,
    }
    assert s["cpu_stats"]["throttling_data"]["throttled_time"] == 99
    mem = s["memory_stats"]
    assert (mem["usage"], mem["max_usage"]) == (5000, 6000)
    assert mem["limit"] == stats.machine_memory()
    assert cli_mem_usage(s) == 4000
    assert s["pids_stats"] == {"current": 2, "limit": 100}
    ops = [(e["op"], e["value"]) for e in s["blkio_stats"]["io_service_bytes_recursive"]]
    assert ops == [("Read", 512), ("Write", 1024), ("Total", 1536)]
    assert s["blkio_stats"]["io_serviced_recursive"][0]["value"] == 1


def test_networks_from_proc_net_dev(tmp_path: Path) -> None:
    write_tree(
        tmp_path,
        {
            "42/net/dev": (
                "Inter-|   Receive                                                |  Transmit\n"
                " face |bytes    packets errs drop fifo frame compressed multicast|bytes"
                "    packets errs drop fifo colls carrier compressed\n"
                "    lo:     100       1    0    0    0     0          0         0      100"
                "       1    0    0    0     0       0          0\n"
                "  eth0:    2000      20    1    2    0     0          0         0     3000"
                "      30    3    4    0     0       0          0\n"
            ),
        },
    )
    nets = stats.read_networks(42, tmp_path)
    assert nets == {
        "eth0": {
            "rx_bytes": 2000,
            "rx_packets": 20,
            "rx_errors": 1,
            "rx_dropped": 2,
            "tx_bytes": 3000,
            "tx_packets": 30,
            "tx_errors": 3,
            "tx_dropped": 4,
        }
    }
    assert stats.read_networks(43, tmp_path) is None


def test_networks_attached_for_a_pid_with_its_own_netns() -> None:
    s = stats.read_stats("/nonexistent", os.getpid(), own_netns=True)
    assert isinstance(s["networks"], dict) and "lo" not in s["networks"]


def test_zero_stats_shape() -> None:
    z = stats.zero_stats("/c", "id1")
    assert z["read"] == z["preread"] == "0001-01-01T00:00:00Z"
    assert z["cpu_stats"]["cpu_usage"]["total_usage"] == 0
    assert z["memory_stats"] == {} and z["pids_stats"] == {}
    assert (z["name"], z["id"]) == ("/c", "id1")
