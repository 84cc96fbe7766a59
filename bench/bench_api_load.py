"""API under load: N concurrent clients on kept-alive connections, K running containers.

Usage (root): .venv/bin/python bench/bench_api_load.py [--clients 200] [--containers 30]
              [--seconds 15] [--engines portside,dockerd] [--engine-cpus 0.4]

Every client is one kept-alive HTTP/1.1 connection over the engine's unix socket that sends
a request, reads the whole answer and sends the next, cycling through a fixed mix of
``/_ping``, ``/containers/json``, ``/containers/{id}/json``, ``/images/json`` and ``/version``.
The client is a small asyncio one of its own (no load tool), bounded in connections and in
time. Prints requests per second, p50/p99 latency (all requests, and ``/_ping`` alone), the
engine's CPU use and the load average for each engine, measured in this run, and the ratio.

``--engine-cpus N`` holds each engine's main process to N cores (a CFS quota over 10 ms
periods, in a cgroup of its own) while it is measured: what a busy shared machine leaves an
engine, reproduced without loading the machine for everyone else.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from peers import DockerdPeer, Peer, PortsidePeer, print_table
from support.images import busybox_archive

# (path template, weight): /_ping dominates as it does for real clients (every docker CLI
# command and docker-py client starts with one), then the list answers.
MIX = [
    ("/_ping", 4),
    ("/containers/json", 2),
    ("/containers/{id}/json", 2),
    ("/images/json", 1),
    ("/version", 1),
]


class Stats:
    """Latencies per path template, counted only inside the measuring window."""

    def __init__(self) -> None:
        self.latencies: dict[str, list[float]] = {t: [] for t, _ in MIX}
        self.errors = 0
        self.measuring = False


async def _read_answer(reader: asyncio.StreamReader) -> int:
    """Read one whole HTTP/1.1 answer (Content-Length or chunked); its status."""
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split(b" ", 2)[1])
    length = None
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status


async def _client(
    sock: str, ids: list[str], stats: Stats, stop_at: float, seed: int, api: str
) -> None:
    rng = random.Random(seed)
    templates = [t for t, w in MIX for _ in range(w)]
    reader, writer = await asyncio.open_unix_connection(sock)
    try:
        while time.monotonic() < stop_at:
            template = rng.choice(templates)
            path = template.replace("{id}", rng.choice(ids)) if "{id}" in template else template
            request = f"GET {api}{path} HTTP/1.1\r\nHost: docker\r\nUser-Agent: bench\r\n\r\n"
            t = time.perf_counter()
            writer.write(request.encode())
            status = await _read_answer(reader)
            took = time.perf_counter() - t
            if stats.measuring:
                if status == 200:
                    stats.latencies[template].append(took)
                else:
                    stats.errors += 1
    finally:
        writer.close()


def _cpu_seconds(pids: list[int]) -> float:
    """User + system CPU time of the processes, in seconds."""
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError):
            pass
    return total / os.sysconf("SC_CLK_TCK")


def _pct(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


async def load(
    sock: str,
    ids: list[str],
    clients: int,
    warmup: float,
    seconds: float,
    api: str,
    pids: list[int],
) -> tuple[Stats, float, float]:
    """Run the clients: ``warmup`` seconds unmeasured, then ``seconds`` measured; the
    stats, the measured window and the engine's CPU seconds in it."""
    stats = Stats()
    start = time.monotonic()
    stop_at = start + warmup + seconds + 0.5
    tasks = [
        asyncio.create_task(_client(sock, ids, stats, stop_at, i, api)) for i in range(clients)
    ]
    await asyncio.sleep(warmup)
    stats.measuring = True
    t0 = time.monotonic()
    cpu0 = _cpu_seconds(pids)
    await asyncio.sleep(seconds)
    stats.measuring = False
    window = time.monotonic() - t0
    cpu = _cpu_seconds(pids) - cpu0
    # Bounded: a client stuck on an engine that stopped answering is cancelled.
    _, pending = await asyncio.wait(tasks, timeout=30)
    for task in pending:
        task.cancel()
    for task in tasks:
        if task.done() and not task.cancelled() and task.exception() is not None:
            stats.errors += 1
    return stats, window, cpu


CGROUP_ROOT = Path("/sys/fs/cgroup")
PERIOD_US = 10_000


@contextlib.contextmanager
def cpu_limited(pids: list[int], cpus: float | None) -> Iterator[None]:
    """``pids`` held to ``cpus`` cores inside the block (cgroup v2 ``cpu.max``, or v1's
    ``cpu`` controller), then back in the cgroups they came from."""
    if cpus is None:
        yield
        return
    v2 = (CGROUP_ROOT / "cgroup.controllers").exists()
    base = CGROUP_ROOT if v2 else CGROUP_ROOT / "cpu"
    group = base / f"bench-api-load-{os.getpid()}"
    group.mkdir()
    quota = max(1000, int(cpus * PERIOD_US))
    if v2:
        (group / "cpu.max").write_text(f"{quota} {PERIOD_US}")
    else:
        (group / "cpu.cfs_period_us").write_text(str(PERIOD_US))
        (group / "cpu.cfs_quota_us").write_text(str(quota))
    origins = {pid: _cgroup_of(pid, v2) for pid in pids}
    try:
        for pid in pids:
            (group / "cgroup.procs").write_text(str(pid))
        yield
    finally:
        for pid, origin in origins.items():
            with contextlib.suppress(OSError):
                (base / origin.lstrip("/") / "cgroup.procs").write_text(str(pid))
        with contextlib.suppress(OSError):
            group.rmdir()


def _cgroup_of(pid: int, v2: bool) -> str:
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if (v2 and controllers == "") or (not v2 and "cpu" in controllers.split(",")):
            return path
    return "/"


def measure(
    peer: Peer,
    archive: Path,
    containers: int,
    clients: int,
    seconds: float,
    engine_cpus: float | None = None,
) -> dict[str, float]:
    """Start ``containers`` busybox containers on ``peer`` and put it under load."""
    peer.load(archive)
    ids = []
    for _ in range(containers):
        out = peer.run("run", *peer.run_args, "-d", "--network", "none", "busybox", "sleep", "3600")
        ids.append(out.stdout.strip())
    sock = peer.socket()
    assert sock is not None
    time.sleep(1)
    own0 = time.process_time()
    with cpu_limited(peer.engine_pids(), engine_cpus):
        stats, window, cpu_seconds = asyncio.run(
            load(str(sock), ids, clients, 2.0, seconds, "/v1.41", peer.engine_pids())
        )
    own = (time.process_time() - own0) / (window + 2.5)
    load1 = os.getloadavg()[0]
    every = [x for samples in stats.latencies.values() for x in samples]
    pings = stats.latencies["/_ping"]
    return {
        "requests per second": len(every) / window,
        "p50, all requests": _pct(every, 50) * 1000,
        "p99, all requests": _pct(every, 99) * 1000,
        "p50, /_ping": _pct(pings, 50) * 1000,
        "p99, /_ping": _pct(pings, 99) * 1000,
        "p99, /containers/json": _pct(stats.latencies["/containers/json"], 99) * 1000,
        "engine CPU (cores busy)": cpu_seconds / window,
        # Under a shared machine's load the engine gets what CPU it gets; what it spends on
        # each answer is the figure that does not move with the neighbours.
        "engine CPU per request": cpu_seconds / max(1, len(every)) * 1000,
        "load client CPU (cores busy)": own,
        "failed requests": float(stats.errors),
        "load average (1 min) after the run": load1,
    }


UNITS = {
    "requests per second": "req/s",
    "engine CPU (cores busy)": "",
    "load client CPU (cores busy)": "",
    "failed requests": "",
    "load average (1 min) after the run": "",
}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clients", type=int, default=200)
    ap.add_argument("--containers", type=int, default=30)
    ap.add_argument("--seconds", type=float, default=15.0)
    ap.add_argument("--engines", default="portside,dockerd")
    ap.add_argument("--engine-cpus", type=float, default=None)
    args = ap.parse_args()
    archive = busybox_archive()
    wanted = args.engines.split(",")
    classes = [c for c in (PortsidePeer, DockerdPeer) if c.name in wanted]
    results: dict[str, dict[str, float]] = {}
    for cls in classes:
        peer = cls()
        try:
            print(f"measuring {peer.name} …", file=sys.stderr, flush=True)
            for metric, value in measure(
                peer, archive, args.containers, args.clients, args.seconds, args.engine_cpus
            ).items():
                results.setdefault(metric, {})[peer.name] = value
        except Exception as e:  # a peer that fails is reported, the others still measured
            print(f"{peer.name} failed: {e!r}", file=sys.stderr)
        finally:
            peer.stop()
    units = {m: UNITS.get(m, "ms") for m in results}
    limit = f", engines held to {args.engine_cpus:g} cores" if args.engine_cpus else ""
    print_table(
        f"API under load ({args.clients} clients, {args.containers} running{limit})",
        results,
        units,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
