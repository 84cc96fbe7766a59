"""Engine core benchmark: run latency, ps/stats with many containers, memory.

Usage (root): .venv/bin/python bench/bench_engine.py [--containers 100] [--runs 10]
Prints a Markdown table with Portside beside dockerd and podman (when installed), all measured
in this run; paste it into docs/performance.md.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from peers import Peer, available_peers, print_table, rss_of, timed, timed_api
from support.images import busybox_archive

MiB = 1024 * 1024


def measure(peer: Peer, archive: Path, n_ps: int, n_stats: int, runs: int) -> dict[str, float]:
    """All metrics for one peer."""
    out: dict[str, float] = {}
    peer.load(archive)
    time.sleep(1)
    if peer.engine_pids():
        out["engine idle RSS"] = rss_of(peer.engine_pids()) / MiB
    out["run --rm --network none busybox true"] = timed(
        [*peer.cli, "run", *peer.run_args, "--rm", "--network", "none", "busybox", "true"],
        peer.env(),
        runs,
    )
    base_rss = rss_of(peer.engine_pids() + peer.supervisor_pids())
    names = []
    for i in range(n_ps):
        name = f"bench{i}"
        peer.run(
            "run",
            *peer.run_args,
            "-d",
            "--network",
            "none",
            "--name",
            name,
            "busybox",
            "sleep",
            "3600",
        )
        names.append(name)
        if i + 1 == n_stats:
            time.sleep(1)
            out[f"stats --no-stream ({n_stats} running)"] = timed(
                [*peer.cli, "stats", "--no-stream", *names], peer.env(), max(3, runs // 2)
            )
            sock = peer.socket()
            if sock:
                # The docker CLI paces `stats --no-stream` with its own 0.5 s ticker, which
                # hides the engine's answer time; this is the engine alone.
                out["GET /containers/{id}/stats?stream=false"] = timed_api(
                    sock, f"/containers/{names[0]}/stats?stream=false", runs
                )
    time.sleep(1)
    # Averaged over every running container: a single conmon's resident size moves by
    # ±0.1 MiB with where ASLR puts its libraries (the kernel maps code 64 KiB at a time).
    added = rss_of(peer.engine_pids() + peer.supervisor_pids()) - base_rss
    out[f"RSS added per running container ({n_ps} running)"] = added / n_ps / MiB
    out[f"ps ({n_ps} running)"] = timed([*peer.cli, "ps"], peer.env(), runs)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--containers", type=int, default=100)
    ap.add_argument("--stats-containers", type=int, default=10)
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    archive = busybox_archive()
    results: dict[str, dict[str, float]] = {}
    units = {}
    for cls in available_peers():
        peer = cls()
        try:
            print(f"measuring {peer.name} …", file=sys.stderr, flush=True)
            for metric, value in measure(
                peer, archive, args.containers, args.stats_containers, args.runs
            ).items():
                results.setdefault(metric, {})[peer.name] = value
                units[metric] = "MiB" if "RSS" in metric else "s"
        except Exception as e:  # a peer that fails is reported, the others still measured
            print(f"{peer.name} failed: {e}", file=sys.stderr)
        finally:
            peer.stop()
    print_table("Engine core", results, units)
    return 0


if __name__ == "__main__":
    sys.exit(main())
