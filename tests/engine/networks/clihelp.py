"""Helpers for the networks CLI tests (imported by test_cli_*.py)."""

from __future__ import annotations

import socket
import subprocess
import time
import uuid
from pathlib import Path

import httpx

HTTPD = "mkdir -p /www && echo hi from $(hostname) > /www/index.html && exec httpd -f -p 80 -h /www"


def uniq(prefix: str) -> str:
    """A name unique to this test run."""
    return f"{prefix}{uuid.uuid4().hex[:6]}"


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A port nothing on the host uses right now."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url: str, wait: float = 10.0) -> str:
    """GET with retries while the server inside the container starts."""
    deadline = time.monotonic() + wait
    while True:
        try:
            r = httpx.get(url, timeout=2)
            if r.status_code == 200:
                return r.text
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{url} did not answer within {wait}s")
        time.sleep(0.2)


def wget_in(
    engine, network: str, name: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """busybox wget of http://<name>/ from a throwaway container on ``network``."""
    script = (
        "for i in 1 2 3 4 5 6 7 8 9 10; do "
        f"timeout 5 wget -qO- http://{name}/ && exit 0; sleep 0.3; done; exit 1"
    )
    return engine.docker(
        "run", "--rm", "--network", network, "busybox", "sh", "-c", script, check=check
    )


def read_text(path: str) -> str:
    return Path(path).read_text()


def our_links(engine) -> list[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    return [
        line.split(":")[1].strip().split("@")[0]
        for line in out.splitlines()
        if f"alias portside/ps{engine.tag}" in line
    ]


def our_table(engine) -> str:
    return subprocess.run(
        ["nft", "list", "table", "inet", f"portside_ps{engine.tag}"], capture_output=True, text=True
    ).stdout


def our_links_named(engine, prefix: str) -> list[str]:
    return [name for name in our_links(engine) if name.startswith(prefix)]


def free_subnet() -> str:
    """A 10.x.y.0/24 no host interface or route uses (engines of other tests may run at
    the same time, so fixed subnets could clash)."""
    import ipaddress
    import random

    from portside.engine.networks import hostnets

    used = [h.net for h in hostnets.host_networks()]
    while True:
        cand = ipaddress.IPv4Network(f"10.{random.randint(100, 250)}.{random.randint(0, 255)}.0/24")
        if not any(cand.overlaps(u) for u in used):
            return str(cand)
