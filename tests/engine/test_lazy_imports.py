"""An idle engine loads nothing it does not need yet.

The daemon runs with ``PYTHONPROFILEIMPORTTIME=1``, so every module it imports is named
in its log; libnftables (loaded with ctypes) shows up in ``/proc/<pid>/maps``. Idle work
(info, lists, inspect, network create, docker load, a ``--network none`` container)
must load neither the registry client (httpx), the netlink library (pyroute2, and psutil
/ multiprocessing through it), the compressors (isal, zstandard) nor libnftables. The
first container on a bridge then loads netlink and nft: the same probes see them, so
the check is known to be able to fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from support.engine import PortsideEngine

HEAVY = {"pyroute2", "httpx", "httpcore", "isal", "zstandard", "psutil"}


def _imported(engine: PortsideEngine) -> set[str]:
    """Top-level packages the daemon imported so far (its -X importtime lines)."""
    out = set()
    for line in engine.log().splitlines():
        if line.startswith("import time:") and "|" in line:
            out.add(line.rsplit("|", 1)[1].strip().split(".")[0])
    return out


def _mapped(engine: PortsideEngine, fragment: str) -> bool:
    assert engine.proc is not None
    return fragment in Path(f"/proc/{engine.proc.pid}/maps").read_text()


@pytest.fixture
def profiled_engine(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """An engine whose interpreter logs every import."""
    monkeypatch.setenv("PYTHONPROFILEIMPORTTIME", "1")
    e = PortsideEngine(log_level="info")
    try:
        e.start()
        yield e
    finally:
        e.cleanup()


def test_idle_engine_loads_no_heavy_modules(profiled_engine, busybox_tar):
    e = profiled_engine
    assert "portside" in _imported(e)  # the probe works at all
    e.docker("info")
    e.docker("ps", "-a")
    e.docker("images")
    e.docker("volume", "ls")
    e.docker("network", "ls")
    e.docker("network", "inspect", "bridge")
    e.docker("network", "create", "idle-net")
    e.docker("load", "-i", str(busybox_tar))
    e.docker("run", "--rm", "--network", "none", "busybox", "true")
    e.docker("network", "rm", "idle-net")
    loaded = _imported(e) & HEAVY
    assert not loaded, f"an idle engine imported {sorted(loaded)}"
    assert not _mapped(e, "libnftables")
    # The first container on a bridge needs netlink and the firewall: now they load.
    e.docker("run", "--rm", "busybox", "true")
    assert "pyroute2" in _imported(e)
    assert _mapped(e, "libnftables")
