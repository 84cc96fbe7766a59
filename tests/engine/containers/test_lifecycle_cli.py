"""The unchanged docker CLI drives real containers: run, ps, logs, stats, pause, top,
stop, rm, kill, restart, rename, wait, update, prune."""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

import pytest
from portside.engine.containers.oci import spec_resources
from support.docker_inspect import inspect as _inspect
from support.waiting import wait_for as _wait_for

pytestmark = pytest.mark.runtime_matrix


def test_run_rm_prints_output(shared_engine):
    res = shared_engine.docker("run", "--rm", "busybox", "echo", "hello")
    assert res.stdout == "hello\n"
    # --rm really removed it
    assert shared_engine.docker("ps", "-aq", "--filter", "ancestor=busybox").stdout == ""


def test_run_exit_code_and_stderr(shared_engine):
    res = shared_engine.docker(
        "run", "--rm", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3", check=False
    )
    assert res.returncode == 3
    assert res.stdout == "out\n"
    assert res.stderr == "err\n"


def test_run_output_from_first_byte(shared_engine):
    # Output printed immediately at start must not be lost (attach before start).
    res = shared_engine.docker("run", "--rm", "busybox", "seq", "1", "2000")
    lines = res.stdout.split()
    assert lines[0] == "1" and lines[-1] == "2000" and len(lines) == 2000


def test_worker_ps_logs_stats_pause_top_stop_rm(shared_engine):
    e = shared_engine
    e.docker(
        "run",
        "-d",
        "--name",
        "worker",
        "busybox",
        "sh",
        "-c",
        "while true; do echo tick; sleep 1; done",
    )
    try:
        ps = e.docker("ps", "--format", "{{.Names}} {{.Status}} {{.Image}}").stdout
        assert "worker Up" in ps and "busybox" in ps
        _wait_for(lambda: e.docker("logs", "worker").stdout.count("tick") >= 2)

        proc = subprocess.Popen(
            ["docker", "logs", "-f", "--tail", "2", "worker"],
            env=e.env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            got = [proc.stdout.readline() for _ in range(4)]  # 2 from tail, 2 live
        finally:
            proc.kill()
            proc.wait()
        assert got == [b"tick\n"] * 4

        stats = e.docker(
            "stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}}", "worker"
        ).stdout
        name, mem = stats.split(" ", 1)
        assert name == "worker"
        assert not mem.startswith("0B"), mem

        e.docker("pause", "worker")
        assert _inspect(e, "worker")["State"]["Status"] == "paused"
        assert "(Paused)" in e.docker("ps", "--format", "{{.Status}}").stdout
        res = e.docker("pause", "worker", check=False)
        assert res.returncode != 0 and "already paused" in res.stderr
        e.docker("unpause", "worker")
        assert _inspect(e, "worker")["State"]["Status"] == "running"

        top = e.docker("top", "worker").stdout
        assert "PID" in top and "while true" in top

        e.docker("stop", "-t", "1", "worker")
        st = _inspect(e, "worker")["State"]
        assert st["Status"] == "exited" and st["ExitCode"] == 137 and not st["Running"]
        assert "Exited (137)" in e.docker("ps", "-a", "--format", "{{.Status}}").stdout
    finally:
        e.docker("rm", "-f", "worker", check=False)
    assert "worker" not in e.docker("ps", "-a", "--format", "{{.Names}}").stdout


def test_stop_uses_signal_handler(shared_engine):
    e = shared_engine
    e.docker(
        "run",
        "-d",
        "--name",
        "polite",
        "busybox",
        "sh",
        "-c",
        "trap 'echo bye; exit 0' TERM; while true; do sleep 0.1; done",
    )
    try:
        _wait_for(lambda: _inspect(e, "polite")["State"]["Running"])
        time.sleep(0.3)  # let the shell install its trap
        e.docker("stop", "polite")
        st = _inspect(e, "polite")["State"]
        assert st["ExitCode"] == 0
        assert "bye" in e.docker("logs", "polite").stdout
        # 304 from the engine: the CLI says nothing and succeeds
        e.docker("stop", "polite")
    finally:
        e.docker("rm", "-f", "polite", check=False)


def test_kill_signals_and_not_running(shared_engine):
    e = shared_engine
    e.docker(
        "run",
        "-d",
        "--name",
        "victim",
        "busybox",
        "sh",
        "-c",
        "trap 'echo got-usr1' USR1; while true; do sleep 0.1; done",
    )
    try:
        time.sleep(0.3)
        e.docker("kill", "-s", "USR1", "victim")
        _wait_for(lambda: "got-usr1" in e.docker("logs", "victim").stdout)
        assert _inspect(e, "victim")["State"]["Running"]
        e.docker("kill", "-s", "9", "victim")
        st = _wait_for(lambda: (s := _inspect(e, "victim")["State"])["Status"] == "exited" and s)
        assert st["ExitCode"] == 137
        r = e.api("POST", "/containers/victim/kill")
        assert r.status_code == 409
        assert r.json()["message"] == f"Container {_inspect(e, 'victim')['Id']} is not running"
        r = e.api("POST", "/containers/victim/kill?signal=NOPE")
        assert r.status_code in (400, 409)
    finally:
        e.docker("rm", "-f", "victim", check=False)


def test_kill_racing_the_containers_own_exit_is_409_not_500(shared_engine):
    e = shared_engine
    answers = set()
    for _ in range(15):
        r = e.api("POST", "/containers/create", json={"Image": "busybox", "Cmd": ["true"]})
        cid = r.json()["Id"]
        try:
            assert e.api("POST", f"/containers/{cid}/start").status_code == 204
            r = e.api("POST", f"/containers/{cid}/kill")
            answers.add(r.status_code)
            if r.status_code == 409:
                assert r.json() == {"message": f"Container {cid} is not running"}
        finally:
            e.api("DELETE", f"/containers/{cid}?force=1")
    assert answers <= {204, 409}, answers


def test_restart_rename_wait(shared_engine):
    e = shared_engine
    e.docker("run", "-d", "--name", "r1", "busybox", "sleep", "1000")
    try:
        pid1 = _inspect(e, "r1")["State"]["Pid"]
        e.docker("restart", "-t", "0", "r1")
        st = _inspect(e, "r1")["State"]
        assert st["Running"] and st["Pid"] != pid1
        e.docker("rename", "r1", "r2")
        assert _inspect(e, "r2")["Name"] == "/r2"
        assert e.api("GET", "/containers/r1/json").status_code == 404
        e.docker("kill", "r2")
        assert e.docker("wait", "r2").stdout.strip() == "137"
    finally:
        e.docker("rm", "-f", "r2", check=False)


def test_start_again_keeps_logs_and_304(shared_engine):
    e = shared_engine
    e.docker("create", "--name", "twice", "busybox", "echo", "again")
    try:
        e.docker("start", "-a", "twice")
        e.docker("start", "-a", "twice")
        assert e.docker("logs", "twice").stdout == "again\nagain\n"
        e.docker("run", "-d", "--name", "long", "busybox", "sleep", "100")
        cid = _inspect(e, "long")["Id"]
        assert e.api("POST", f"/containers/{cid}/start").status_code == 304
    finally:
        e.docker("rm", "-f", "twice", "long", check=False)


def test_update_resources(shared_engine):
    e = shared_engine
    e.docker("run", "-d", "--name", "upd", "--memory", "64m", "busybox", "sleep", "1000")
    try:
        assert _inspect(e, "upd")["HostConfig"]["Memory"] == 64 * 1024 * 1024
        e.docker(
            "update",
            "--memory",
            "128m",
            "--memory-swap",
            "256m",
            "--cpus",
            "0.5",
            "--pids-limit",
            "50",
            "--restart",
            "on-failure:2",
            "upd",
        )
        hc = _inspect(e, "upd")["HostConfig"]
        assert hc["Memory"] == 128 * 1024 * 1024
        assert hc["NanoCpus"] == 500_000_000
        assert hc["PidsLimit"] == 50
        assert hc["RestartPolicy"] == {"Name": "on-failure", "MaximumRetryCount": 2}
        stats = e.api("GET", "/containers/upd/stats?stream=0").json()
        assert stats["memory_stats"]["limit"] == 128 * 1024 * 1024
        # the CLI sends every other field as 0: those keep their values
        e.docker("update", "--memory-reservation", "10m", "upd")
        hc = _inspect(e, "upd")["HostConfig"]
        assert hc["Memory"] == 128 * 1024 * 1024 and hc["NanoCpus"] == 500_000_000
        assert hc["MemoryReservation"] == 10 * 1024 * 1024 and hc["PidsLimit"] == 50
        stats = e.api("GET", "/containers/upd/stats?stream=0").json()
        assert stats["memory_stats"]["limit"] == 128 * 1024 * 1024
    finally:
        e.docker("rm", "-f", "upd", check=False)


def test_update_pids_limit_and_back_to_unlimited(shared_engine):
    e = shared_engine
    e.docker("run", "-d", "--name", "pids", "--pids-limit", "20", "busybox", "sleep", "1000")

    def pids_max() -> str:
        return e.docker(
            "exec",
            "pids",
            "sh",
            "-c",
            "cat /sys/fs/cgroup/pids.max 2>/dev/null || cat /sys/fs/cgroup/pids/pids.max",
        ).stdout.strip()

    try:
        assert pids_max() == "20"
        e.docker("update", "--pids-limit", "-1", "pids")  # the CLI's "unlimited"
        assert pids_max() == "max"
        e.docker("update", "--pids-limit", "30", "pids")
        assert pids_max() == "30"
        # 0 means unlimited too (dockerd's API); nothing else in the body changes
        r = e.api("POST", "/containers/pids/update", json={"PidsLimit": 0})
        assert r.status_code == 200, r.text
        assert pids_max() == "max"
        # a restart applies the stored setting from scratch
        e.docker("restart", "-t", "0", "pids")
        assert pids_max() == "max"
    finally:
        e.docker("rm", "-f", "pids", check=False)


def test_prune_removes_only_stopped(shared_engine):
    e = shared_engine
    e.docker("create", "--name", "p-created", "--label", "prune=yes", "busybox", "true")
    e.docker("run", "-d", "--name", "p-running", "--label", "prune=yes", "busybox", "sleep", "100")
    try:
        out = e.api(
            "POST", "/containers/prune", params={"filters": json.dumps({"label": ["prune=yes"]})}
        ).json()
        created_id = out["ContainersDeleted"]
        assert len(created_id) == 1
        names = e.docker("ps", "-a", "--format", "{{.Names}}").stdout.split()
        assert "p-created" not in names and "p-running" in names
    finally:
        e.docker("rm", "-f", "p-created", "p-running", check=False)


@pytest.mark.parametrize("mode", ["none", "host"])
def test_network_modes(shared_engine, mode):
    out = shared_engine.docker(
        "run", "--rm", "--network", mode, "busybox", "sh", "-c", "ls /sys/class/net | sort"
    ).stdout.split()
    if mode == "none":
        assert out == ["lo"]
    else:
        assert len(out) > 1  # the host's interfaces


def test_etc_files(shared_engine):
    out = shared_engine.docker(
        "run",
        "--rm",
        "--hostname",
        "boxy",
        "busybox",
        "sh",
        "-c",
        "cat /etc/hostname; cat /etc/resolv.conf; grep boxy /etc/hostname",
    ).stdout
    assert out.startswith("boxy\n")
    assert "nameserver 127.0.0.1" in out


def test_diff(shared_engine):
    e = shared_engine
    e.docker(
        "run",
        "--name",
        "differ",
        "busybox",
        "sh",
        "-c",
        "echo x > /new; echo y >> /etc/passwd; rm /bin/vi; mkdir -p /tmp/d",
    )
    try:
        lines = set(e.docker("diff", "differ").stdout.splitlines())
        assert {"A /new", "C /etc", "C /etc/passwd", "D /bin/vi", "A /tmp/d"} <= lines
    finally:
        e.docker("rm", "-f", "differ", check=False)


def test_start_failures_use_dockers_exit_codes(shared_engine):
    e = shared_engine
    res = e.docker("run", "--name", "nocmd", "busybox", "nosuchcmd", check=False)
    try:
        assert res.returncode == 127
        assert 'exec: "nosuchcmd": executable file not found' in res.stderr
        st = _inspect(e, "nocmd")["State"]
        assert st["Status"] == "created" and st["ExitCode"] == 127 and "nosuchcmd" in st["Error"]
    finally:
        e.docker("rm", "-f", "nocmd", check=False)
    res = e.docker("run", "--rm", "--name", "noexec", "busybox", "/etc", check=False)
    assert res.returncode == 126 and 'exec: "/etc": permission denied' in res.stderr
    res = e.docker("run", "--rm", "busybox", "/no/such", check=False)
    assert res.returncode == 127
    assert 'exec: "/no/such": stat /no/such: no such file or directory' in res.stderr
    # a --rm container that cannot start is removed, as dockerd does
    assert "noexec" not in e.docker("ps", "-a", "--format", "{{.Names}}").stdout


def test_a_create_failing_in_cgroup_setup_leaves_no_cgroup(shared_engine):
    """/dev/null is no block device: the runtime fails writing blkio.throttle.read_bps_device
    after it made the container's cgroups (crun then left them in every hierarchy)."""
    e = shared_engine
    res = e.docker(
        "run",
        "--name",
        "badbps",
        "--device-read-bps",
        "/dev/null:1mb",
        "busybox",
        "true",
        check=False,
    )
    try:
        assert res.returncode == 125 and "OCI runtime create failed" in res.stderr
        cid = _inspect(e, "badbps")["Id"]
        root = Path("/sys/fs/cgroup")
        assert [*root.glob(f"*/portside/{cid}"), *root.glob(f"portside/{cid}")] == []
    finally:
        e.docker("rm", "-f", "badbps", check=False)


def test_blkio_weight_runs_where_the_host_has_none(shared_engine):
    e = shared_engine
    res = e.docker("run", "--rm", "--blkio-weight", "300", "busybox", "true", check=False)
    assert res.returncode == 0, res.stderr
    e.docker("run", "-d", "--name", "weighted", "busybox", "sleep", "100")
    try:
        upd = e.docker("update", "--blkio-weight", "200", "weighted", check=False)
        assert upd.returncode == 0, upd.stderr
    finally:
        e.docker("rm", "-f", "weighted", check=False)
    if not spec_resources.blkio_weight_supported():
        assert "Block I/O weight" in res.stderr and "Weight discarded" in res.stderr


def test_run_with_each_runtime_docker_info_lists(shared_engine):
    """``docker run --runtime``: the container is created, exec'd into, paused and
    stopped by the runtime it names, whatever the engine's default; inspect shows it."""
    e = shared_engine
    state_files = {"crun": "status", "runc": "state.json"}
    runtimes = e.api("GET", "/info").json()["Runtimes"]
    assert e.runtime in runtimes
    for name in runtimes:
        e.docker("run", "-d", "--name", f"on-{name}", "--runtime", name, "busybox", "sleep", "100")
        try:
            cid = _inspect(e, f"on-{name}")["Id"]
            assert _inspect(e, f"on-{name}")["HostConfig"]["Runtime"] == name
            assert (e.exec_root / "runtime" / cid / state_files[name]).exists()
            assert e.docker("exec", f"on-{name}", "echo", "in").stdout == "in\n"
            e.docker("pause", f"on-{name}")
            e.docker("unpause", f"on-{name}")
            e.docker("stop", "-t", "1", f"on-{name}")
            assert _inspect(e, f"on-{name}")["State"]["Status"] == "exited"
        finally:
            e.docker("rm", "-f", f"on-{name}", check=False)
    # no --runtime: the engine's own, recorded at create
    e.docker("create", "--name", "on-default", "busybox", "true")
    try:
        assert _inspect(e, "on-default")["HostConfig"]["Runtime"] == e.runtime
    finally:
        e.docker("rm", "-f", "on-default", check=False)
    res = e.docker("run", "--rm", "--runtime", "nope", "busybox", "true", check=False)
    assert res.returncode == 125 and "Unknown runtime specified nope" in res.stderr


def test_cpus_the_host_lacks_are_refused_before_the_runtime(shared_engine):
    e = shared_engine
    cpus = os.cpu_count() or 1
    res = e.docker("run", "--rm", "--cpuset-cpus", str(cpus + 5), "busybox", "true", check=False)
    assert res.returncode == 125
    assert f"Requested CPUs are not available - requested {cpus + 5}, available: " in res.stderr
    e.docker("run", "-d", "--name", "pinned", "--cpuset-cpus", "0", "busybox", "sleep", "100")
    try:
        res = e.docker("update", "--cpuset-cpus", str(cpus + 5), "pinned", check=False)
        assert res.returncode != 0 and "Requested CPUs are not available" in res.stderr
        assert _inspect(e, "pinned")["HostConfig"]["CpusetCpus"] == "0"
    finally:
        e.docker("rm", "-f", "pinned", check=False)


def test_join_another_containers_namespaces(shared_engine):
    e = shared_engine
    e.docker("run", "-d", "--name", "host-ns", "busybox", "sleep", "100")
    try:
        out = e.docker(
            "run",
            "--rm",
            "--pid",
            "container:host-ns",
            "--network",
            "container:host-ns",
            "--ipc",
            "container:host-ns",
            "busybox",
            "ps",
        ).stdout
        assert "sleep 100" in out
        e.docker("stop", "-t", "0", "host-ns")
        res = e.docker("run", "--rm", "--pid", "container:host-ns", "busybox", "true", check=False)
        assert res.returncode != 0 and "non running container" in res.stderr
    finally:
        e.docker("rm", "-f", "host-ns", check=False)


def test_oom_killed_is_reported(shared_engine):
    e = shared_engine
    res = e.docker(
        "run",
        "--name",
        "oomy",
        "--memory",
        "8m",
        "--memory-swap",
        "8m",
        "busybox",
        "sh",
        "-c",
        "x=$(head -c 50000000 /dev/zero | tr '\\0' x); echo survived",
        check=False,
    )
    try:
        assert res.returncode == 137 and "survived" not in res.stdout
        st = _inspect(e, "oomy")["State"]
        assert st["OOMKilled"] is True and st["ExitCode"] == 137
    finally:
        e.docker("rm", "-f", "oomy", check=False)


def test_interactive_tty(shared_engine):
    import pexpect

    child = pexpect.spawn(
        "docker", ["run", "-it", "--rm", "busybox", "sh"], env=shared_engine.env(), timeout=20
    )
    try:
        child.setwinsize(30, 100)
        child.expect("# ")
        child.sendline("echo $((6*7)); stty size")
        child.expect("42")
        child.expect(r"(\d+) (\d+)")
        assert child.match.group(0) == b"30 100"  # the CLI resized the TTY via conmon
        child.sendline("exit 5")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 5
