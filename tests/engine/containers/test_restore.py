"""Live restore: containers survive the engine's death (SIGKILL and SIGTERM); on the
next start they are re-adopted, exits that happened meanwhile are read from conmon's
exit files and restart policies / AutoRemove are then applied. Also: restart
policies with back-off, and two engines side by side."""

from __future__ import annotations

import json
import time

import pytest
from support.engine import PortsideEngine
from support.waiting import wait_for

pytestmark = pytest.mark.runtime_matrix


def _wait_for(pred):  # type: ignore[no-untyped-def]
    return wait_for(pred, timeout=20.0)


def _state(engine, ref: str) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(engine.docker("inspect", ref).stdout)[0]["State"]


def _pid_alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


def test_live_restore_after_sigkill(engine_with_busybox):
    e = engine_with_busybox
    e.docker(
        "run",
        "-d",
        "--name",
        "counter",
        "busybox",
        "sh",
        "-c",
        "i=0; while true; do i=$((i+1)); echo line$i; sleep 0.2; done",
    )
    e.docker("run", "-d", "--name", "short", "busybox", "sh", "-c", "sleep 1.5; exit 7")
    e.docker("run", "-d", "--name", "auto", "--rm", "busybox", "sh", "-c", "sleep 1.5; exit 0")
    e.docker(
        "run",
        "-d",
        "--name",
        "again",
        "--restart",
        "on-failure:1",
        "busybox",
        "sh",
        "-c",
        "sleep 1.5; exit 5",
    )
    pid = _state(e, "counter")["Pid"]
    _wait_for(lambda: "line3" in e.docker("logs", "counter").stdout)

    e.kill9()
    assert _pid_alive(pid), "the container died with the engine"
    time.sleep(2.5)  # "short", "auto" and "again" exit while the engine is down
    e.start()

    st = _state(e, "counter")
    assert st["Running"] and st["Pid"] == pid
    names = e.docker("ps", "--format", "{{.Names}}").stdout.split()
    assert "counter" in names
    # conmon kept logging while we were dead: the numbering has no gap
    lines = e.docker("logs", "counter").stdout.split()
    numbers = [int(x[4:]) for x in lines]
    assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) >= 15

    st = _state(e, "short")
    assert st["Status"] == "exited" and st["ExitCode"] == 7
    assert st["FinishedAt"] > st["StartedAt"]
    # AutoRemove applied after restore
    _wait_for(lambda: "auto" not in e.docker("ps", "-a", "--format", "{{.Names}}").stdout)
    # the restart policy applied after restore: restarted once, then gave up
    _wait_for(lambda: json.loads(e.docker("inspect", "again").stdout)[0]["RestartCount"] == 1)
    _wait_for(lambda: _state(e, "again")["Status"] == "exited")
    assert _state(e, "again")["ExitCode"] == 5

    e.docker("stop", "-t", "1", "counter")
    assert not _pid_alive(pid)
    assert _state(e, "counter")["ExitCode"] == 137


def test_sigterm_leaves_containers_running(engine_with_busybox):
    e = engine_with_busybox
    e.docker("run", "-d", "--name", "stay", "busybox", "sleep", "1000")
    pid = _state(e, "stay")["Pid"]
    e.stop()
    assert _pid_alive(pid)
    e.start()
    assert _state(e, "stay")["Pid"] == pid
    e.docker("pause", "stay")
    e.stop()
    e.start()
    assert _state(e, "stay")["Status"] == "paused"
    e.docker("rm", "-f", "stay")
    assert not _pid_alive(pid)


def test_restart_policy_on_failure_restarts(shared_engine):
    e = shared_engine
    e.docker(
        "run",
        "-d",
        "--name",
        "flaky",
        "--restart",
        "on-failure:3",
        "busybox",
        "sh",
        "-c",
        "echo run; exit 1",
    )
    try:
        _wait_for(lambda: json.loads(e.docker("inspect", "flaky").stdout)[0]["RestartCount"] == 3)
        _wait_for(lambda: _state(e, "flaky")["Status"] == "exited")
        assert e.docker("logs", "flaky").stdout == "run\n" * 4
    finally:
        e.docker("rm", "-f", "flaky", check=False)


def test_restart_always_and_manual_stop(shared_engine):
    e = shared_engine
    e.docker(
        "run",
        "-d",
        "--name",
        "always",
        "--restart",
        "always",
        "busybox",
        "sh",
        "-c",
        "sleep 0.3; exit 0",
    )
    try:
        _wait_for(lambda: json.loads(e.docker("inspect", "always").stdout)[0]["RestartCount"] >= 2)
        e.docker("stop", "-t", "1", "always")
        count = json.loads(e.docker("inspect", "always").stdout)[0]["RestartCount"]
        time.sleep(1.0)
        st = _state(e, "always")
        assert st["Status"] == "exited"
        assert json.loads(e.docker("inspect", "always").stdout)[0]["RestartCount"] == count
    finally:
        e.docker("rm", "-f", "always", check=False)


def test_restore_keeps_each_containers_runtime_when_the_default_changes(engine_with_busybox):
    """A host change (hugetlb mounted as v1, say) flips the engine's default between crun
    and runc; containers created before keep being driven by their own runtime."""
    e = engine_with_busybox
    usable = list(e.api("GET", "/info").json()["Runtimes"])
    other = next((n for n in usable if n != e.runtime), e.runtime)
    e.docker("run", "-d", "--name", "kept", "busybox", "sleep", "100")
    first = e.runtime
    e.stop()
    e.runtime = other
    e.start()
    assert e.api("GET", "/info").json()["DefaultRuntime"] == other
    assert _state(e, "kept")["Running"]
    assert json.loads(e.docker("inspect", "kept").stdout)[0]["HostConfig"]["Runtime"] == first
    assert e.docker("exec", "kept", "echo", "still").stdout == "still\n"
    e.docker("pause", "kept")
    e.docker("unpause", "kept")
    e.docker("stop", "-t", "1", "kept")
    assert _state(e, "kept")["Status"] == "exited"
    e.docker("start", "kept")
    assert _state(e, "kept")["Running"]
    e.docker("rm", "-f", "kept")


def test_two_engines_side_by_side(engine_with_busybox, busybox_tar):
    a = engine_with_busybox
    b = PortsideEngine(runtime=a.runtime)
    try:
        b.start()
        b.docker("load", "-i", str(busybox_tar))
        a.docker("run", "-d", "--name", "same", "busybox", "sleep", "100")
        b.docker("run", "-d", "--name", "same", "busybox", "sleep", "100")
        ida = json.loads(a.docker("inspect", "same").stdout)[0]["Id"]
        idb = json.loads(b.docker("inspect", "same").stdout)[0]["Id"]
        assert ida != idb
        assert b.docker("run", "--rm", "busybox", "echo", "b").stdout == "b\n"
        a.docker("rm", "-f", "same")
        assert _state(b, "same")["Running"]
    finally:
        b.cleanup()
