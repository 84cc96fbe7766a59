"""Every container state change is an event; create options reach the runtime."""

from __future__ import annotations

import json
import subprocess
import time

import pytest

pytestmark = pytest.mark.runtime_matrix


def _events(engine, since: float, until: float) -> list[dict]:  # type: ignore[no-untyped-def]
    r = engine.api(
        "GET",
        "/events",
        params={
            "since": f"{since:.3f}",
            "until": f"{until:.3f}",
            "filters": json.dumps({"type": ["container"]}),
        },
    )
    return [json.loads(line) for line in r.text.splitlines() if line.strip()]


def test_lifecycle_events(shared_engine):
    e = shared_engine
    t0 = time.time() - 0.5
    e.docker("run", "-d", "--name", "ev", "--label", "team=core", "busybox", "sleep", "100")
    e.docker("pause", "ev")
    e.docker("unpause", "ev")
    e.docker("restart", "-t", "0", "ev")
    e.docker("rename", "ev", "ev2")
    e.docker("kill", "-s", "HUP", "ev2")
    e.docker("rm", "-f", "ev2")
    e.docker("run", "--rm", "--name", "ev3", "busybox", "sh", "-c", "exit 2", check=False)
    evs = _events(e, t0, time.time() + 0.5)
    actions = [(ev["Action"], ev["Actor"]["Attributes"].get("name")) for ev in evs]
    seq = [a for a, _ in actions]
    for want in (
        "create",
        "start",
        "pause",
        "unpause",
        "kill",
        "die",
        "stop",
        "restart",
        "rename",
        "destroy",
        "attach",
    ):
        assert want in seq, (want, seq)
    first = next(ev for ev in evs if ev["Action"] == "create")
    assert first["Actor"]["Attributes"]["image"] == "busybox"
    assert first["Actor"]["Attributes"]["team"] == "core"
    assert first["status"] == "create" and first["id"] == first["Actor"]["ID"]
    hup = [
        ev for ev in evs if ev["Action"] == "kill" and ev["Actor"]["Attributes"]["name"] == "ev2"
    ]
    assert hup[0]["Actor"]["Attributes"]["signal"] == "1"
    rename = next(ev for ev in evs if ev["Action"] == "rename")
    assert rename["Actor"]["Attributes"]["oldName"] == "/ev"
    die3 = [
        ev for ev in evs if ev["Action"] == "die" and ev["Actor"]["Attributes"]["name"] == "ev3"
    ]
    assert die3[0]["Actor"]["Attributes"]["exitCode"] == "2"
    # the auto-removed one is destroyed after it died
    names3 = [a for a, n in actions if n == "ev3"]
    assert names3.index("destroy") > names3.index("die")


def test_security_and_resource_options(shared_engine):
    e = shared_engine
    res = e.docker("run", "--rm", "--read-only", "busybox", "touch", "/x", check=False)
    assert res.returncode != 0 and "Read-only file system" in res.stderr
    res = e.docker(
        "run", "--rm", "--cap-drop", "ALL", "busybox", "chown", "1:1", "/tmp", check=False
    )
    assert res.returncode != 0
    e.docker(
        "run", "--rm", "--cap-drop", "ALL", "--cap-add", "CHOWN", "busybox", "chown", "1:1", "/tmp"
    )
    n_priv = e.docker("run", "--rm", "--privileged", "busybox", "ls", "/dev").stdout.split()
    n_def = e.docker("run", "--rm", "busybox", "ls", "/dev").stdout.split()
    assert len(n_priv) > len(n_def)
    out = e.docker("run", "--rm", "--init", "busybox", "ps", "-o", "pid,args").stdout
    assert "docker-init" in out.splitlines()[1] or "tini" in out.splitlines()[1]
    out = e.docker(
        "run",
        "--rm",
        "-u",
        "1234:5678",
        "-w",
        "/tmp",
        "-e",
        "FOO=bar",
        "busybox",
        "sh",
        "-c",
        "id -u; id -g; pwd; echo $FOO",
    ).stdout.split()
    assert out == ["1234", "5678", "/tmp", "bar"]
    out = e.docker(
        "run",
        "--rm",
        "--memory",
        "32m",
        "--pids-limit",
        "20",
        "--cpus",
        "0.5",
        "busybox",
        "sh",
        "-c",
        "cat /sys/fs/cgroup/pids.max /sys/fs/cgroup/memory.max 2>/dev/null || "
        "cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/memory/memory.limit_in_bytes",
    ).stdout.split()
    assert out == ["20", str(32 * 1024 * 1024)]


def test_stdin_reaches_the_container(shared_engine):
    res = subprocess.run(
        ["docker", "run", "--rm", "-i", "busybox", "sh", "-c", "read x; echo got:$x"],
        env=shared_engine.env(),
        input="hello\n",
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode == 0, res.stderr
    assert res.stdout == "got:hello\n"
