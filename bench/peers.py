"""Engines to measure side by side: Portside, and dockerd / podman when installed.

Each peer runs on its own temporary roots and socket, so a benchmark never touches an engine
the machine already runs. Every engine is driven by its usual CLI: the docker CLI for Portside
and dockerd, podman's own CLI for podman.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from support.engine import PortsideEngine, start_daemon


def rss_of(pids: list[int]) -> int:
    """Resident set size in bytes of the given processes, summed."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


def pids_named(names: tuple[str, ...], mark: str | None = None) -> list[int]:
    """PIDs whose comm is in ``names`` (and whose command line holds ``mark``, if given)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            comm = (d / "comm").read_text().strip()
            if comm not in names:
                continue
            if mark and mark not in (d / "cmdline").read_bytes().decode(errors="replace"):
                continue
            out.append(int(d.name))
        except OSError:
            continue
    return out


def timed(cmd: list[str], env: dict[str, str] | None = None, runs: int = 10) -> float:
    """Median wall time of a command in seconds (one untimed warm-up run first)."""
    subprocess.run(cmd, env=env, check=True, capture_output=True)
    samples = []
    for _ in range(runs):
        t = time.perf_counter()
        subprocess.run(cmd, env=env, check=True, capture_output=True)
        samples.append(time.perf_counter() - t)
    return statistics.median(samples)


class Peer:
    """An engine under measurement."""

    name = ""
    cli: list[str] = []
    # Flags every `run` needs on this peer (after the word `run`).
    run_args: list[str] = []

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def engine_pids(self) -> list[int]:
        return []

    def supervisor_pids(self) -> list[int]:
        return []

    def load(self, archive: Path) -> None:
        subprocess.run(
            [*self.cli, "load", "-i", str(archive)], env=self.env(), check=True, capture_output=True
        )

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.cli, *args], env=self.env(), check=True, capture_output=True, text=True
        )

    def socket(self) -> Path | None:
        """The Docker API socket, for peers that have a daemon."""
        return None

    def stop(self) -> None:
        pass


class PortsidePeer(Peer):
    """Our engine, started exactly as the tests start it."""

    name = "portside"
    cli = ["docker"]

    def __init__(self) -> None:
        self.engine = PortsideEngine(log_level="info")
        self.engine.start()

    def env(self) -> dict[str, str]:
        return self.engine.env()

    def engine_pids(self) -> list[int]:
        return [self.engine.proc.pid] if self.engine.proc else []

    def socket(self) -> Path | None:
        return self.engine.socket

    def supervisor_pids(self) -> list[int]:
        return pids_named(("conmon",), str(self.engine.base))

    def stop(self) -> None:
        self.engine.cleanup()


class DockerdPeer(Peer):
    """Debian's dockerd on its own socket and data-root, no bridge, no iptables."""

    name = "dockerd"
    cli = ["docker"]

    def __init__(self, network_args: tuple[str, ...] = ("--bridge=none",)) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="bench-dockerd-"))
        self.sock = self.base / "docker.sock"
        cmd = [
            "dockerd",
            "-H",
            f"unix://{self.sock}",
            "--data-root",
            str(self.base / "data"),
            "--exec-root",
            str(self.base / "exec"),
            "--pidfile",
            str(self.base / "pid"),
            *network_args,
            "--iptables=false",
            "--ip6tables=false",
        ]
        try:
            self.proc = start_daemon(cmd, self.base / "log", self.sock, "dockerd", 60)
        except RuntimeError:
            self.stop()
            raise

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env["DOCKER_HOST"] = f"unix://{self.sock}"
        env["DOCKER_CONFIG"] = str(self.base / "cfg")
        return env

    def engine_pids(self) -> list[int]:
        return [self.proc.pid, *pids_named(("containerd",), str(self.base))]

    def socket(self) -> Path | None:
        return self.sock

    def supervisor_pids(self) -> list[int]:
        return pids_named(("containerd-shim", "containerd-shim-runc-v2"))

    def stop(self) -> None:
        subprocess.run(
            ["sh", "-c", "docker rm -f $(docker ps -aq) 2>/dev/null"],
            env=self.env(),
            capture_output=True,
        )
        proc = getattr(self, "proc", None)  # absent when dockerd never answered
        if proc is not None and proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
        subprocess.run(
            [
                "sh",
                "-c",
                f"grep -o ' {self.base}[^ ]*' /proc/self/mounts | sort -r | xargs -r -n1 umount -l",
            ],
            capture_output=True,
        )
        shutil.rmtree(self.base, ignore_errors=True)


class PodmanPeer(Peer):
    """podman with its own storage roots (daemonless: no engine RSS of its own)."""

    name = "podman"
    # podman asks for nofile/nproc limits above what root may set without CAP_SYS_RESOURCE,
    # which runc refuses; ask for modest ones (lowering always works).
    run_args = ["--ulimit", "nofile=1024:1024", "--ulimit", "nproc=4096:4096"]

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="bench-podman-"))
        # crun refuses this host's hybrid cgroups; podman then needs runc, like us.
        runtime = "runc" if Path("/sys/fs/cgroup/unified").is_dir() else "crun"
        self.cli = [
            "podman",
            "--root",
            str(self.base / "root"),
            "--runroot",
            str(self.base / "run"),
            "--runtime",
            runtime,
            "--cgroup-manager",
            "cgroupfs",
            "--events-backend",
            "file",
        ]

    def supervisor_pids(self) -> list[int]:
        return pids_named(("conmon",), str(self.base))

    def stop(self) -> None:
        subprocess.run([*self.cli, "rm", "-af", "-t", "0"], capture_output=True)
        subprocess.run([*self.cli, "system", "reset", "-f"], capture_output=True)
        subprocess.run(
            [
                "sh",
                "-c",
                f"grep -o ' {self.base}[^ ]*' /proc/self/mounts | sort -r | xargs -r -n1 umount -l",
            ],
            capture_output=True,
        )
        shutil.rmtree(self.base, ignore_errors=True)


def available_peers() -> list[type[Peer]]:
    """Portside always; dockerd and podman when their binaries are installed."""
    peers: list[type[Peer]] = [PortsidePeer]
    if shutil.which("dockerd"):
        peers.append(DockerdPeer)
    if shutil.which("podman"):
        peers.append(PodmanPeer)
    return peers


def print_table(
    title: str,
    rows: dict[str, dict[str, float]],
    units: dict[str, str],
    lower_is_better: bool = True,
) -> str:
    """A Markdown table: one row per metric, one column per peer, plus Portside's ratio to the
    best peer (below 1.0 means Portside is better)."""
    peers = sorted({p for r in rows.values() for p in r}, key=lambda p: p != "portside")
    lines = [
        f"### {title}",
        "",
        "| metric | " + " | ".join(peers) + " | portside / best peer |",
        "|---|" + "---|" * (len(peers) + 1),
    ]
    for metric, values in rows.items():
        cells = [f"{values[p]:.3f} {units[metric]}" if p in values else "—" for p in peers]
        others = [v for p, v in values.items() if p != "portside"]
        ratio = "—"
        if others and "portside" in values:
            best = min(others) if lower_is_better else max(others)
            ratio = f"{values['portside'] / best:.2f}×" if best else "—"
        lines.append(f"| {metric} | " + " | ".join(cells) + f" | {ratio} |")
    text = "\n".join(lines)
    print(text, flush=True)
    return text


def timed_api(sock: Path, path: str, runs: int = 10) -> float:
    """Median wall time of one Docker API GET over the unix socket (no CLI in the way)."""
    import httpx

    transport = httpx.HTTPTransport(uds=str(sock))
    with httpx.Client(transport=transport, base_url="http://engine", timeout=30) as client:
        client.get(path).raise_for_status()
        samples = []
        for _ in range(runs):
            t = time.perf_counter()
            client.get(path).raise_for_status()
            samples.append(time.perf_counter() - t)
    return statistics.median(samples)
