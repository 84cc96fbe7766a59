"""Portside Machine benchmark: cold start, /_ping through the forwarded socket, idle cost.

Usage (root, with the test bundle cached or buildable):
    .venv/bin/python bench/bench_vm.py [--pings 200] [--idle 60]

Boots a throwaway machine with ``portside machine init/start`` (restricted network, one
shared host folder), measures, and removes it. Prints a Markdown table with the load average
beside each figure: on a shared host the boot time and the latencies move with the load.
dockerd and podman run natively on this Linux host, without a VM, so there is nothing of
theirs to set beside these figures: they are Portside's only.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from portside.vm.control import read_state
from portside.vm.paths import HOME_ENV, MachineDirs
from support.vm_bundle import cached_bundle

PING = b"GET /_ping HTTP/1.1\r\nHost: docker\r\n\r\n"
NAME = "bench"
CLK_TCK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def read_answer(sock: socket.socket, buf: bytearray) -> bytearray:
    """Read one HTTP response (headers + Content-Length body); return what is left over."""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("the engine closed the connection")
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == b"content-length":
            length = int(value.strip())
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"unexpected answer: {head[:60]!r}")
    body = bytearray(rest)
    while len(body) < length:
        body += sock.recv(65536)
    return body[length:]


def ping_kept(path: Path, n: int) -> list[float]:
    """``n`` pings on one kept-alive connection (each a full round trip through SSH)."""
    times = []
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(path))
        buf = bytearray()
        for _ in range(n):
            t = time.perf_counter()
            s.sendall(PING)
            buf = read_answer(s, buf)
            times.append(time.perf_counter() - t)
    return times


def ping_new(path: Path, n: int) -> list[float]:
    """``n`` pings, each on a new connection (a new SSH channel each)."""
    times = []
    for _ in range(n):
        t = time.perf_counter()
        with socket.socket(socket.AF_UNIX) as s:
            s.connect(str(path))
            s.sendall(PING)
            read_answer(s, bytearray())
        times.append(time.perf_counter() - t)
    return times


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def rss_mib(pid: int) -> float:
    pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return pages * PAGE / (1024 * 1024)


def ms(values: list[float]) -> str:
    p90 = sorted(values)[int(len(values) * 0.9)]
    return f"{statistics.median(values) * 1000:.2f} ms (p90 {p90 * 1000:.2f})"


def folder_throughput(
    machine: Callable[..., subprocess.CompletedProcess[str]],
    share: Path,
    mib: int = 512,
    runs: int = 3,
) -> list[tuple[str, str, str]]:
    """Sequential write then read of ``mib`` MiB through the host-folder share, timed in
    the guest, ``runs`` times each.

    Every read starts cold on both sides (host and guest page caches dropped), as a first
    read of a project's files would. On a host shared with other work one run says little:
    the median and the best run are both reported, with every run's load average.
    """
    target = share / "bench.bin"
    write = f"dd if=/dev/zero of={target} bs=1M count={mib} conv=fsync"
    read = f"echo 3 > /proc/sys/vm/drop_caches; dd if={target} of=/dev/null bs=1M"
    rows = []
    for what, cmd in (("write", write), ("read", read)):
        rates, loads = [], []
        for _ in range(runs):
            if what == "read":
                subprocess.run(["sh", "-c", "sync; echo 3 > /proc/sys/vm/drop_caches"], check=False)
            loads.append(f"{os.getloadavg()[0]:.2f}")
            timed = f"s=$(date +%s.%N); {cmd} 2>/dev/null; e=$(date +%s.%N); echo $s $e"
            out = machine("ssh", NAME, "--", timed).stdout.split()
            rates.append(mib / (float(out[-1]) - float(out[-2])))
        each = ", ".join(f"{r:.0f}" for r in rates)
        rows.append(
            (
                f"host folder (9p) sequential {what}, {mib} MiB, {runs} runs",
                f"median {statistics.median(rates):.0f} MiB/s, best {max(rates):.0f} ({each})",
                "1 min at each run: " + ", ".join(loads),
            )
        )
    target.unlink(missing_ok=True)
    return rows


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pings", type=int, default=200)
    ap.add_argument("--idle", type=float, default=60.0, help="seconds idle before sampling")
    ap.add_argument("--memory", type=int, default=2048)
    ap.add_argument("--cpus", type=int, default=2)
    ap.add_argument("--share-runs", type=int, default=3, help="runs of each share transfer")
    args = ap.parse_args()

    bundle = cached_bundle()
    base = Path(tempfile.mkdtemp(prefix="psvm-bench-"))
    env = {**os.environ, HOME_ENV: str(base / "m"), "DOCKER_CONFIG": str(base / "docker")}
    dirs = MachineDirs.of(NAME, base / "m")

    def machine(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "portside.vm.cli", *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=1800,
            check=False,
        )

    rows: list[tuple[str, str, str]] = []
    try:
        share = base / "share"
        share.mkdir()
        made = machine(
            "init", "--no-home-share", "--share", str(share), "--restrict-network",
            "--bundle", str(bundle.root),
            "--cpus", str(args.cpus), "--memory", str(args.memory), NAME,
        )  # fmt: skip
        if made.returncode != 0:
            print(made.stderr, file=sys.stderr)
            return 1
        before = load()
        t = time.perf_counter()
        started = machine("start", NAME)
        cold = time.perf_counter() - t
        if started.returncode != 0:
            print(started.stdout, started.stderr, file=sys.stderr)
            return 1
        st = read_state(dirs)
        rows.append(
            ("cold start to engine ready (first boot, accel " + st.accel + ")",
             f"{cold:.1f} s", before)
        )  # fmt: skip
        ping_kept(dirs.docker_socket, 10)  # warm the channel and the engine
        before = load()
        rows.append(
            ("/_ping, kept connection", ms(ping_kept(dirs.docker_socket, args.pings)), before)
        )
        before = load()
        rows.append(
            (
                "/_ping, new connection each",
                ms(ping_new(dirs.docker_socket, args.pings // 4)),
                before,
            )
        )

        rows += folder_throughput(machine, share, runs=args.share_runs)

        time.sleep(args.idle)
        st = read_state(dirs)
        pids = {"QEMU": st.qemu_pid, "agent": st.agent_pid}
        cpu0 = {k: cpu_seconds(p) for k, p in pids.items()}
        t0 = time.monotonic()
        before = load()
        time.sleep(10)
        wall = time.monotonic() - t0
        for what, pid in pids.items():
            busy = (cpu_seconds(pid) - cpu0[what]) / wall * 100
            rows.append(
                (f"idle CPU of the {what} after {args.idle:.0f} s idle", f"{busy:.1f} %", before)
            )
        rows.append(
            (
                f"QEMU RSS after {args.idle:.0f} s idle ({args.memory} MiB guest)",
                f"{rss_mib(st.qemu_pid):.0f} MiB",
                load(),
            )
        )
        used = machine("ssh", NAME, "--", "free -m | awk '/^Mem:/ {print $3}'")
        rows.append(("guest memory in use (free -m)", f"{used.stdout.strip()} MiB", load()))
        rows.append(("agent RSS", f"{rss_mib(st.agent_pid):.0f} MiB", load()))

        before = load()
        t = time.perf_counter()
        machine("stop", NAME)
        rows.append(("machine stop (guest poweroff)", f"{time.perf_counter() - t:.1f} s", before))
    finally:
        machine("rm", "-f", NAME)
        subprocess.run(["rm", "-rf", str(base)], check=False)

    print(
        f"Portside Machine on {os.cpu_count()} CPUs (load average 1/5/15 min beside each figure)."
    )
    print("dockerd and podman run natively here (no VM), so these figures are Portside's only.\n")
    print("| Measure | Portside Machine | Load average |")
    print("|---|---|---|")
    for what, value, load_avg in rows:
        print(f"| {what} | {value} | {load_avg} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
