"""Build benchmark: the classic builder through the docker CLI (DOCKER_BUILDKIT=0) beside
dockerd's classic builder and ``podman build``.

Usage (root): .venv/bin/python bench/bench_build.py [--runs 5]
Prints a Markdown table and the load average; paste it into docs/performance.md.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from peers import Peer, available_peers, print_table, rss_of, timed
from support.images import busybox_archive

MiB = 1024 * 1024


def make_contexts(root: Path) -> dict[str, Path]:
    """The contexts every peer builds (same bytes for all)."""
    small = root / "copy10m"
    small.mkdir()
    (small / "blob").write_bytes(os.urandom(10 * MiB))
    (small / "Dockerfile").write_text("FROM busybox\nCOPY blob /blob\nRUN echo hi > /x\n")
    config = root / "config20"
    config.mkdir()
    steps = [f"ENV VAR{i}=value{i}" if i % 2 else f"LABEL step{i}=x{i}" for i in range(20)]
    (config / "Dockerfile").write_text("FROM busybox\n" + "\n".join(steps) + "\n")
    many = root / "files10k"
    many.mkdir()
    chunk = os.urandom(5 * 1024)
    for d in range(100):
        sub = many / f"d{d:03d}"
        sub.mkdir()
        for f in range(100):
            (sub / f"f{f:03d}").write_bytes(chunk[: 5000 + (d + f) % 200])
    (many / "Dockerfile").write_text("FROM busybox\nCOPY . /src/\n")
    return {"copy10m": small, "config20": config, "files10k": many}


def build_cmd(peer: Peer, ctx: Path, *extra: str) -> list[str]:
    """``build`` on this peer's CLI, tagging nothing (the cache is what is measured)."""
    return [*peer.cli, "build", "-q", *extra, str(ctx)]


def build_env(peer: Peer) -> dict[str, str]:
    env = peer.env()
    env["DOCKER_BUILDKIT"] = "0"
    return env


def peak_rss_during(peer: Peer, cmd: list[str], env: dict[str, str]) -> float:
    """How far the engine's RSS rises above its level before ``cmd`` (MiB)."""
    pids = peer.engine_pids()
    if not pids:
        return float("nan")
    before = rss_of(pids)
    peak = before
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, rss_of(pids))
            time.sleep(0.02)

    t = threading.Thread(target=sample)
    t.start()
    try:
        subprocess.run(cmd, env=env, check=True, capture_output=True)
    finally:
        done.set()
        t.join()
    return (peak - before) / MiB


def measure(peer: Peer, archive: Path, ctxs: dict[str, Path], runs: int) -> dict[str, float]:
    out: dict[str, float] = {}
    peer.load(archive)
    env = build_env(peer)
    few = max(2, runs // 2)
    out["cached rebuild: COPY 10 MB + RUN"] = timed(build_cmd(peer, ctxs["copy10m"]), env, runs)
    out["--no-cache: COPY 10 MB + RUN"] = timed(
        build_cmd(peer, ctxs["copy10m"], "--no-cache"), env, few
    )
    out["--no-cache: 20 config-only steps"] = timed(
        build_cmd(peer, ctxs["config20"], "--no-cache"), env, few
    )
    out["cached rebuild: 10,000 files / 50 MB"] = timed(build_cmd(peer, ctxs["files10k"]), env, few)
    out["engine RSS growth during a 10k-file build"] = peak_rss_during(
        peer, build_cmd(peer, ctxs["files10k"], "--no-cache"), env
    )
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    args = ap.parse_args()
    archive = busybox_archive()
    results: dict[str, dict[str, float]] = {}
    units: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="bench-build-") as tmp:
        ctxs = make_contexts(Path(tmp))
        for cls in available_peers():
            peer = cls()
            try:
                print(f"measuring {peer.name} …", file=sys.stderr, flush=True)
                for metric, value in measure(peer, archive, ctxs, args.runs).items():
                    results.setdefault(metric, {})[peer.name] = value
                    units[metric] = "MiB" if "RSS" in metric else "s"
            except Exception as e:  # a peer that fails is reported, the others still measured
                print(f"{peer.name} failed: {e}", file=sys.stderr)
            finally:
                peer.stop()
    print_table("docker build (classic builder)", results, units)
    load = os.getloadavg()
    print(f"\nload average during the run: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
