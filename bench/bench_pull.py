"""Pull benchmark: cold pulls from a loopback registry, Portside beside dockerd and podman.

Usage (root): .venv/bin/python bench/bench_pull.py [--runs 3]

A Debian ``docker-registry`` on 127.0.0.1 holds two images: Debian bookworm-slim (one
~30 MB gzip layer, built offline by debootstrap) and a two-layer image (busybox plus a
16 MiB layer of mostly incompressible data). Every engine pulls each image cold — the
image and its layers are removed between runs — and the median wall time of the
engine's own CLI (`docker pull`, `podman pull`) is reported in a Markdown table with
Portside's ratio to the best peer, all measured in this same run.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from peers import Peer, PodmanPeer, available_peers, print_table
from support.debian_image import debian_archive
from support.images import busybox_rootfs_tar
from support.registry import Registry, file_layer


def _seed(reg: Registry) -> dict[str, str]:
    reg.skopeo_copy(f"docker-archive:{debian_archive()}", "bench/debian:bookworm-slim")
    p = reg.pusher()
    # Half random, half text: a realistic mix for gzip.
    data = os.urandom(8 << 20) + (b"portside benchmark line\n" * (350_000))
    p.push_image("bench/two", "1", [busybox_rootfs_tar(), file_layer({"data.bin": data})])
    p.close()
    return {
        "debian:bookworm-slim (1 layer, ~30 MB)": f"{reg.host}/bench/debian:bookworm-slim",
        "two-layer image (~10 MB)": f"{reg.host}/bench/two:1",
    }


def _pull_cmd(peer: Peer, ref: str) -> list[str]:
    if isinstance(peer, PodmanPeer):
        return [*peer.cli, "pull", "--quiet", "--tls-verify=false", ref]
    return [*peer.cli, "pull", "--quiet", ref]


def _remove(peer: Peer, ref: str) -> None:
    subprocess.run([*peer.cli, "rmi", "-f", ref], env=peer.env(), capture_output=True)
    if isinstance(peer, PodmanPeer):
        subprocess.run([*peer.cli, "image", "prune", "-af"], env=peer.env(), capture_output=True)


def cold_pull(peer: Peer, ref: str, runs: int) -> float:
    """Median seconds of a pull with nothing of the image present."""
    samples = []
    for _ in range(runs):
        _remove(peer, ref)
        time.sleep(0.2)
        t = time.perf_counter()
        res = subprocess.run(_pull_cmd(peer, ref), env=peer.env(), capture_output=True)
        samples.append(time.perf_counter() - t)
        if res.returncode != 0:
            raise RuntimeError(f"{peer.name} pull failed: {res.stderr.decode()[-500:]}")
    _remove(peer, ref)
    return statistics.median(samples)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    reg = Registry().start()
    results: dict[str, dict[str, float]] = {}
    units: dict[str, str] = {}
    try:
        images = _seed(reg)
        for cls in available_peers():
            peer = cls()
            try:
                print(f"measuring {peer.name} …", file=sys.stderr, flush=True)
                for label, ref in images.items():
                    metric = f"cold pull {label}"
                    results.setdefault(metric, {})[peer.name] = cold_pull(peer, ref, args.runs)
                    units[metric] = "s"
            except Exception as e:  # a failing peer is reported, the others still measured
                print(f"{peer.name} failed: {e}", file=sys.stderr)
            finally:
                peer.stop()
    finally:
        reg.stop()
    print_table("Registry pulls from loopback", results, units)
    return 0


if __name__ == "__main__":
    sys.exit(main())
