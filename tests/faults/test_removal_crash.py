"""An engine killed while it removes a container never brings back a half-deleted one:
the removal is recorded before any file goes, and the next start finishes it."""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import pytest
from support.engine import PortsideEngine


def _set_status(e: PortsideEngine, cid: str, status: str) -> None:
    """Rewrite a stopped engine's record as a crash at that point would have left it."""
    db = sqlite3.connect(e.data_root / "portside.db")
    try:
        (data,) = db.execute("SELECT data FROM container_containers WHERE id=?", (cid,)).fetchone()
        record = json.loads(data)
        record["state"]["status"] = status
        db.execute("UPDATE container_containers SET data=? WHERE id=?", (json.dumps(record), cid))
        db.commit()
    finally:
        db.close()


def test_a_removal_recorded_before_a_crash_is_finished_at_start(
    engine_with_busybox: PortsideEngine,
) -> None:
    e = engine_with_busybox
    cid = e.docker("run", "-d", "busybox", "sh", "-c", "echo data > /f; sleep 600").stdout.strip()
    e.docker("kill", cid)
    e.stop()
    _set_status(e, cid, "removing")
    # Part of its files were gone when the engine died.
    upper = next((e.data_root / "containers" / cid).rglob("f"))
    upper.unlink()
    e.start()
    assert e.docker("ps", "-aq").stdout.strip() == ""
    assert not (e.data_root / "containers" / cid).exists()


def test_a_dead_container_can_be_removed_but_never_started(
    engine_with_busybox: PortsideEngine,
) -> None:
    e = engine_with_busybox
    cid = e.docker("create", "busybox", "true").stdout.strip()
    e.stop()
    _set_status(e, cid, "dead")
    e.start()
    assert e.docker("ps", "-a", "--format", "{{.Status}}").stdout.strip() == "Dead"
    out = e.docker("start", cid, check=False)
    assert out.returncode == 1
    assert f"container {cid} is marked for removal and cannot be started" in out.stderr
    e.docker("rm", cid)
    assert not (e.data_root / "containers" / cid).exists()


@pytest.mark.parametrize("delay", [0.0, 0.05, 0.15])
def test_kill_9_during_rm_leaves_the_container_whole_or_gone(
    engine_with_busybox: PortsideEngine, delay: float
) -> None:
    e = engine_with_busybox
    cid = e.docker(
        "run",
        "-d",
        "busybox",
        "sh",
        "-c",
        "mkdir /d && for i in $(seq 2000); do echo $i > /d/$i; done && touch /d/done; sleep 600",
    ).stdout.strip()
    deadline = time.monotonic() + 60
    while e.docker("exec", cid, "ls", "/d/done", check=False).returncode != 0:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    remover = threading.Thread(target=e.docker, args=("rm", "-f", cid), kwargs={"check": False})
    remover.start()
    time.sleep(delay)
    e.kill9()
    remover.join()
    e.start()
    left = e.docker("ps", "-aq", "--no-trunc").stdout.split()
    if left:
        # Not yet recorded as removing when the engine died: the container is whole.
        assert left == [cid]
        e.docker("start", cid)
        assert e.docker("exec", cid, "sh", "-c", "ls /d | wc -l").stdout.strip() == "2001"
        e.docker("rm", "-f", cid)
    assert not (e.data_root / "containers" / cid).exists()
