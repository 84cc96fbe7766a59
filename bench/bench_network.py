"""Network benchmark: container start/stop with a bridge network, beside dockerd and podman.

Usage (root): .venv/bin/python bench/bench_network.py [--runs 10]

Measures, for every engine in the same run, the median wall time of
``run --rm busybox true`` on the default bridge, the same with ``--network none`` (the
difference is what setting up and tearing down a container's network costs), on a
user-defined network (embedded DNS included) and with one published port. Prints a
Markdown table with Portside's ratio to the best peer; paste it into docs/performance.md.

dockerd runs on its own roots with a bridge this script creates (``--bridge``) and
``--iptables=false`` so it never rewrites the host's firewall; podman uses its default
netavark bridge. Both run beside Portside, on the same machine, in the same run.
"""

from __future__ import annotations

import argparse
import ipaddress
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

from peers import DockerdPeer, Peer, PodmanPeer, PortsidePeer, print_table, timed
from support.images import busybox_archive


def _free_subnet() -> ipaddress.IPv4Network:
    """A /24 nothing on the host uses (addresses and routes, read from the kernel)."""
    from pyroute2 import IPRoute

    used = []
    with IPRoute() as ipr:
        for a in ipr.get_addr(family=socket.AF_INET):
            used.append(ipaddress.ip_network(f"{a.get('address')}/{a['prefixlen']}", False))
        for r in ipr.get_routes(family=socket.AF_INET):
            if r["dst_len"] and r.get("dst"):
                used.append(ipaddress.ip_network(f"{r.get('dst')}/{r['dst_len']}", False))
    for b in range(200, 250):
        cand = ipaddress.ip_network(f"10.{b}.77.0/24")
        if not any(cand.overlaps(u) for u in used):
            return cand
    raise RuntimeError("no free subnet for dockerd's bridge")


class BridgedDockerdPeer(DockerdPeer):
    """dockerd with a real bridge (its own, created here) but no iptables changes."""

    def __init__(self) -> None:
        self.bridge = f"bd{uuid.uuid4().hex[:6]}"
        net = _free_subnet()
        subprocess.run(["ip", "link", "add", self.bridge, "type", "bridge"], check=True)
        subprocess.run(
            ["ip", "addr", "add", f"{next(net.hosts())}/{net.prefixlen}", "dev", self.bridge],
            check=True,
        )
        subprocess.run(["ip", "link", "set", self.bridge, "up"], check=True)
        try:
            super().__init__((f"--bridge={self.bridge}", "--ip-masq=false"))
        except BaseException:
            subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
            raise

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


HTTPD = "mkdir -p /www && echo hi > /www/index.html && exec httpd -f -p 80 -h /www"


def _get(port: int) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    return data


def published_port_requests(peer: Peer, run: list[str], n: int = 200) -> float:
    """Seconds for ``n`` sequential HTTP/1.0 GETs through a port published on 127.0.0.1
    (kernel DNAT for Portside and podman, docker-proxy in userland for dockerd)."""
    port = _free_port()
    cid = subprocess.run(
        [*run, "-d", "-p", f"127.0.0.1:{port}:80", "busybox", "sh", "-c", HTTPD],
        env=peer.env(),
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                if b"hi" in _get(port):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("the published port never answered")
            time.sleep(0.1)
        t = time.perf_counter()
        for _ in range(n):
            _get(port)
        return time.perf_counter() - t
    finally:
        subprocess.run([*peer.cli, "rm", "-f", cid], env=peer.env(), capture_output=True)


def measure(peer: Peer, archive: Path, runs: int) -> dict[str, float]:
    """The metrics for one engine."""
    peer.load(archive)
    env = peer.env()
    run = [*peer.cli, "run", *peer.run_args]
    out: dict[str, float] = {}
    out["run --rm busybox true (default bridge)"] = timed(
        [*run, "--rm", "busybox", "true"], env, runs
    )
    out["run --rm --network none busybox true"] = timed(
        [*run, "--rm", "--network", "none", "busybox", "true"], env, runs
    )
    out["network setup+teardown (difference)"] = max(
        0.0,
        out["run --rm busybox true (default bridge)"] - out["run --rm --network none busybox true"],
    )
    net = f"bench{uuid.uuid4().hex[:6]}"
    peer.run("network", "create", net)
    try:
        out["run --rm on a user network"] = timed(
            [*run, "--rm", "--network", net, "busybox", "true"], env, runs
        )
    finally:
        subprocess.run([*peer.cli, "network", "rm", net], env=env, capture_output=True)
    out["run --rm -p 127.0.0.1:P:80 busybox true"] = timed(
        [*run, "--rm", "-p", f"127.0.0.1:{_free_port()}:80", "busybox", "true"],
        env,
        runs,
    )
    out["200 HTTP GETs through a published 127.0.0.1 port"] = published_port_requests(peer, run)
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    archive = busybox_archive()
    peers: list[type[Peer]] = [PortsidePeer]
    if shutil.which("dockerd"):
        peers.append(BridgedDockerdPeer)
    if shutil.which("podman"):
        peers.append(PodmanPeer)
    results: dict[str, dict[str, float]] = {}
    units: dict[str, str] = {}
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    for cls in peers:
        print(f"measuring {cls.name} …", file=sys.stderr, flush=True)
        peer = None
        try:
            peer = cls()
            for metric, value in measure(peer, archive, args.runs).items():
                results.setdefault(metric, {})[cls.name] = value
                units[metric] = "s"
        except Exception as e:  # one failing engine is reported; the others are measured
            print(f"{cls.name} failed: {e}", file=sys.stderr)
        finally:
            if peer is not None:
                peer.stop()
    print_table("Networking", results, units)
    return 0


if __name__ == "__main__":
    sys.exit(main())
