"""Healthchecks with the real CLI: probes on schedule, healthy → unhealthy with events,
``docker ps`` status and the health filter, image HEALTHCHECKs, timeouts, the start
period, validation, stop, pause and live restore."""

from __future__ import annotations

import time

import pytest
from iohelp import events, uniq, wait_for
from support.docker_inspect import inspect

pytestmark = pytest.mark.runtime_matrix


def _health(engine, name: str) -> dict:  # type: ignore[no-untyped-def]
    return inspect(engine, name)["State"].get("Health") or {}


def _status(engine, name: str) -> str:  # type: ignore[no-untyped-def]
    return _health(engine, name).get("Status", "")


def _ps_status(engine, name: str) -> str:  # type: ignore[no-untyped-def]
    return engine.docker(
        "ps", "-a", "--filter", f"name=^/{name}$", "--format", "{{.Status}}"
    ).stdout


def test_healthy_then_unhealthy_with_events(shared_engine):
    e = shared_engine
    name = uniq("hc")
    e.docker(
        "run", "-d", "--name", name, "--health-cmd", "test -e /tmp/ok && echo fine",
        "--health-interval", "1s", "--health-retries", "2", "--health-timeout", "3s",
        "busybox", "sh", "-c", "touch /tmp/ok; exec sleep 300",
    )  # fmt: skip
    try:
        assert "(health: starting)" in _ps_status(e, name) or _status(e, name) == "healthy"
        wait_for(lambda: _status(e, name) == "healthy", timeout=15, step=0.2)
        assert "(healthy)" in _ps_status(e, name)
        h = _health(e, name)
        assert h["FailingStreak"] == 0
        assert h["Log"][-1]["ExitCode"] == 0 and h["Log"][-1]["Output"] == "fine\n"
        assert e.docker("ps", "-q", "--filter", "health=healthy", "--filter", f"name={name}").stdout
        # the check starts failing: two failures in a row make it unhealthy
        e.docker("exec", name, "rm", "/tmp/ok")
        wait_for(lambda: _status(e, name) == "unhealthy", timeout=15, step=0.2)
        assert "(unhealthy)" in _ps_status(e, name)
        h = _health(e, name)
        assert h["FailingStreak"] >= 2 and h["Log"][-1]["ExitCode"] == 1
        assert len(h["Log"]) <= 5
        assert e.docker(
            "ps", "-q", "--filter", "health=unhealthy", "--filter", f"name={name}"
        ).stdout
        assert not e.docker(
            "ps", "-q", "--filter", "health=healthy", "--filter", f"name={name}"
        ).stdout
        actions = events(e, name, since="60s")
        assert "health_status: healthy" in actions
        assert "health_status: unhealthy" in actions
        assert actions.index("health_status: healthy") < actions.index("health_status: unhealthy")
        assert any(a.startswith("exec_start: /bin/sh -c test -e /tmp/ok") for a in actions)
        # and back
        e.docker("exec", name, "touch", "/tmp/ok")
        wait_for(lambda: _status(e, name) == "healthy", timeout=15, step=0.2)
        # health probes are not listed as the container's exec sessions
        assert not inspect(e, name)["ExecIDs"]
    finally:
        e.docker("rm", "-f", name, check=False)


def test_image_healthcheck_and_no_healthcheck(shared_engine):
    e = shared_engine
    src = uniq("hcsrc")
    repo = uniq("hcimg")
    e.docker("create", "--name", src, "busybox", "sleep", "300")
    try:
        e.docker("commit", "-c", 'HEALTHCHECK --interval=1s --retries=1 CMD ["true"]', src, repo)
        name = uniq("fromimg")
        e.docker("run", "-d", "--name", name, repo)
        wait_for(lambda: _status(e, name) == "healthy", timeout=15, step=0.2)
        cfg = inspect(e, name)["Config"]["Healthcheck"]
        assert cfg["Test"] == ["CMD", "true"] and cfg["Interval"] == 1_000_000_000
        e.docker("rm", "-f", name)
        # only the interval overridden: the test comes from the image
        e.docker("run", "-d", "--name", name, "--health-interval", "2s", repo)
        cfg = inspect(e, name)["Config"]["Healthcheck"]
        assert cfg["Test"] == ["CMD", "true"] and cfg["Interval"] == 2_000_000_000
        e.docker("rm", "-f", name)
        e.docker("run", "-d", "--name", name, "--no-healthcheck", repo)
        time.sleep(1.5)
        assert "Health" not in inspect(e, name)["State"]
        assert "health" not in _ps_status(e, name)
        assert e.docker("ps", "-q", "--filter", "health=none", "--filter", f"name={name}").stdout
        e.docker("rm", "-f", name)
    finally:
        e.docker("rm", "-f", src, check=False)
        e.docker("rmi", "-f", repo, check=False)


def test_probe_timeout_and_start_period(shared_engine):
    e = shared_engine
    name = uniq("slow")
    e.docker(
        "run", "-d", "--name", name, "--health-cmd", "echo slow; sleep 10",
        "--health-interval", "1s", "--health-timeout", "1s", "--health-retries", "1",
        "busybox", "sleep", "300",
    )  # fmt: skip
    try:
        wait_for(lambda: _status(e, name) == "unhealthy", timeout=20, step=0.2)
        last = _health(e, name)["Log"][-1]
        assert last["ExitCode"] == -1
        assert last["Output"].startswith("Health check exceeded timeout (1s)")
    finally:
        e.docker("rm", "-f", name, check=False)
    name = uniq("grace")
    e.docker(
        "run", "-d", "--name", name, "--health-cmd", "false", "--health-interval", "1s",
        "--health-retries", "1", "--health-start-period", "60s",
        "--health-start-interval", "1s", "busybox", "sleep", "300",
    )  # fmt: skip
    try:
        wait_for(lambda: len(_health(e, name).get("Log") or []) >= 2, timeout=15, step=0.2)
        h = _health(e, name)
        # failures inside the start period do not count
        assert h["Status"] == "starting" and h["FailingStreak"] == 0
    finally:
        e.docker("rm", "-f", name, check=False)


def test_invalid_healthchecks_are_400(shared_engine):
    e = shared_engine
    for hc, msg in [
        ({"Test": ["CMD", "true"], "Interval": 1000}, "Interval in Healthcheck cannot be less"),
        ({"Test": ["CMD", "true"], "Timeout": 10}, "Timeout in Healthcheck cannot be less"),
        ({"Test": ["CMD", "true"], "Retries": -1}, "Retries in Healthcheck cannot be negative"),
    ]:
        r = e.api(
            "POST",
            "/containers/create",
            json={"Image": "busybox", "Cmd": ["true"], "Healthcheck": hc},
        )
        assert r.status_code == 400 and msg in r.json()["message"], r.text


def test_stop_and_pause_stop_the_probes(shared_engine):
    e = shared_engine
    name = uniq("stops")
    e.docker(
        "run", "-d", "--name", name, "--health-cmd", "true", "--health-interval", "1s",
        "busybox", "sleep", "300",
    )  # fmt: skip
    try:
        wait_for(lambda: _status(e, name) == "healthy", timeout=15, step=0.2)
        e.docker("pause", name)
        first = _health(e, name)["Log"][-1]["Start"]
        time.sleep(2.5)
        assert _health(e, name)["Log"][-1]["Start"] == first  # no probe while paused
        e.docker("unpause", name)
        wait_for(lambda: _health(e, name)["Log"][-1]["Start"] != first, timeout=10, step=0.2)
        e.docker("stop", "-t", "1", name)
        assert _status(e, name) == "unhealthy"
        last = _health(e, name)["Log"][-1]["Start"]
        time.sleep(2)
        assert _health(e, name)["Log"][-1]["Start"] == last
        assert "(health" not in _ps_status(e, name)
        # a restart starts over
        e.docker("start", name)
        assert _status(e, name) in ("starting", "healthy")
        wait_for(lambda: _status(e, name) == "healthy", timeout=15, step=0.2)
    finally:
        e.docker("rm", "-f", name, check=False)


def test_health_resumes_after_live_restore(engine_with_busybox):
    e = engine_with_busybox
    name = uniq("restore")
    e.docker(
        "run", "-d", "--name", name, "--health-cmd", "test -e /tmp/ok",
        "--health-interval", "1s", "--health-retries", "1",
        "busybox", "sh", "-c", "touch /tmp/ok; exec sleep 300",
    )  # fmt: skip
    wait_for(lambda: _status(e, name) == "healthy", timeout=15, step=0.2)
    e.kill9()
    e.start()
    assert _status(e, name) == "healthy"  # the state survived
    e.docker("exec", name, "rm", "/tmp/ok")
    wait_for(lambda: _status(e, name) == "unhealthy", timeout=15, step=0.2)
    assert "health_status: unhealthy" in events(e, name, since="30s")
