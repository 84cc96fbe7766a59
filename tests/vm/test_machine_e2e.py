"""Portside Machine end to end: ``portside machine`` boots the real guest under QEMU, and the
docker CLI works through the forwarded socket.

The machine boots ONCE per session (TCG boots take minutes here); the tests share it and
run in file order, the destructive ones (stop/start, SIGKILLs, rm) last.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from portside.vm.context import context_exists
from portside.vm.control import (
    FAILED,
    RUNNING,
    STOPPED,
    AgentClient,
    effective_state,
    pid_alive,
    read_state,
)
from portside.vm.paths import HOME_ENV, MachineDirs
from support.standin_guest import free_port
from support.waiting import wait_for

pytestmark = [pytest.mark.vm, pytest.mark.timeout(1800)]

NAME = "e2e"
HTTPD = "mkdir -p /www && echo hi from the guest > /www/index.html && exec httpd -f -p 80 -h /www"


@dataclass
class BootedMachine:
    dirs: MachineDirs
    share: Path
    env: dict[str, str]

    def machine(self, *args: str, timeout: float = 1200) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "portside.vm.cli", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
            check=False,
        )

    def docker(self, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", "--context", f"portside-{NAME}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.env,
            check=False,
        )

    def start(self) -> None:
        out = self.machine("start", NAME)
        assert out.returncode == 0, f"{out.stdout}\n{out.stderr}\n{self.agent_log()}"

    def agent_log(self) -> str:
        try:
            return self.dirs.agent_log.read_text(errors="replace")[-4000:]
        except OSError:
            return ""


@pytest.fixture(scope="session")
def machine() -> Iterator[BootedMachine]:
    """One machine made and booted with ``portside machine init/start``, removed at the end."""
    from support.vm_bundle import cached_bundle

    bundle = cached_bundle()
    base = Path(tempfile.mkdtemp(prefix="psm-"))
    share = base / "share"
    share.mkdir()
    env = {
        **os.environ,
        HOME_ENV: str(base / "m"),
        "DOCKER_CONFIG": str(base / "docker-config"),
    }
    booted = BootedMachine(MachineDirs.of(NAME, base / "m"), share, env)
    try:
        init = booted.machine(
            "init", "--cpus", "2", "--memory", "1024", "--no-home-share",
            "--share", str(share), "--bundle", str(bundle.root), "--restrict-network", NAME,
        )  # fmt: skip
        assert init.returncode == 0, init.stderr
        booted.start()
        yield booted
    finally:
        booted.machine("rm", "-f", NAME, timeout=300)
        st = read_state(booted.dirs)
        for pid in (st.agent_pid, st.qemu_pid):
            if pid and pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        subprocess.run(["rm", "-rf", str(base)], check=False)


def test_engine_answers_through_the_docker_context(machine: BootedMachine) -> None:
    out = machine.docker("version", "--format", "{{json .Server}}")
    assert out.returncode == 0, out.stderr
    server = json.loads(out.stdout)
    assert "Portside" in json.dumps(server)
    assert server["Os"] == "linux"
    st = read_state(machine.dirs)
    assert st.state == RUNNING and st.accel in ("kvm", "tcg") and st.engine_version
    assert oct(machine.dirs.docker_socket.stat().st_mode & 0o777) == "0o600"


def test_load_and_run_busybox(machine: BootedMachine, busybox_tar: Path) -> None:
    loaded = machine.docker("load", "-i", str(busybox_tar))
    assert loaded.returncode == 0, loaded.stderr
    out = machine.docker("run", "--rm", "busybox", "echo", "hi")
    assert out.returncode == 0, out.stderr
    assert out.stdout == "hi\n"


def test_published_port_answers_on_host_loopback(machine: BootedMachine) -> None:
    port = free_port()
    run = machine.docker(
        "run", "-d", "--name", "web", "-p", f"127.0.0.1:{port}:80", "busybox", "sh", "-c", HTTPD
    )
    assert run.returncode == 0, run.stderr
    try:

        def answers() -> str | None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=3) as r:
                    return str(r.read().decode())
            except OSError:
                return None

        assert "hi from the guest" in wait_for(answers, timeout=60)
        # The agent's live answer has it at once; the state file within a second.
        live = asyncio.run(AgentClient(machine.dirs).status()).forwarded
        assert any(p.host_port == port and p.host_address == "127.0.0.1" for p in live)
        wait_for(lambda: any(p.host_port == port for p in read_state(machine.dirs).forwarded))
    finally:
        machine.docker("rm", "-f", "web")
    wait_for(lambda: not any(p.host_port == port for p in read_state(machine.dirs).forwarded))


def test_shared_host_folder_with_symlinks(machine: BootedMachine) -> None:
    (machine.share / "hello.txt").write_text("written on the host\n")
    (machine.share / "link.txt").symlink_to("hello.txt")
    out = machine.docker(
        "run", "--rm", "-v", f"{machine.share}:/data", "busybox",
        "sh", "-c", "cat /data/hello.txt /data/link.txt && readlink /data/link.txt"
        " && echo from the container > /data/back.txt",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout == "written on the host\nwritten on the host\nhello.txt\n"
    assert (machine.share / "back.txt").read_text() == "from the container\n"


def test_ls_inspect_and_ssh(machine: BootedMachine) -> None:
    ls = machine.machine("ls", "--format", "json")
    assert ls.returncode == 0, ls.stderr
    [row] = json.loads(ls.stdout)
    assert row["Name"] == NAME and row["State"]["state"] == RUNNING
    assert row["DockerContext"] == f"portside-{NAME}"
    table = machine.machine("ls")
    assert table.stdout.splitlines()[1].split()[:2] == [NAME, RUNNING]
    inspect = machine.machine("inspect", NAME)
    [info] = json.loads(inspect.stdout)
    assert info["State"]["ssh_port"] > 0 and info["Config"]["restrict_network"] is True
    ssh = machine.machine("ssh", NAME, "--", "uname", "-s")
    assert ssh.returncode == 0, ssh.stderr
    assert ssh.stdout.strip() == "Linux"
    logs = machine.machine("logs", NAME)
    assert logs.returncode == 0 and logs.stdout


def test_stop_and_start_keep_images(machine: BootedMachine) -> None:
    qemu = read_state(machine.dirs).qemu_pid
    stop = machine.machine("stop", NAME, timeout=300)
    assert stop.returncode == 0, stop.stderr
    st = effective_state(machine.dirs)
    assert st.state == STOPPED
    assert not pid_alive(qemu)
    assert not machine.dirs.docker_socket.exists()
    assert machine.dirs.disk.exists()
    machine.start()
    images = machine.docker("images", "--format", "{{.Repository}}")
    assert "busybox" in images.stdout.split()


def test_qemu_killed_is_recorded_and_start_recovers(machine: BootedMachine) -> None:
    st = read_state(machine.dirs)
    os.kill(st.qemu_pid, signal.SIGKILL)
    wait_for(lambda: not pid_alive(st.agent_pid), timeout=60)
    after = read_state(machine.dirs)
    assert after.state == FAILED and "SIGKILL" in after.last_error
    assert not machine.dirs.docker_socket.exists() and not machine.dirs.agent_socket.exists()
    ls = machine.machine("ls", "--format", "json")
    assert json.loads(ls.stdout)[0]["State"]["state"] == FAILED
    machine.start()
    images = machine.docker("images", "--format", "{{.Repository}}")
    assert "busybox" in images.stdout.split()


def test_agent_killed_leaves_no_qemu_after_recovery(machine: BootedMachine) -> None:
    st = read_state(machine.dirs)
    os.kill(st.agent_pid, signal.SIGKILL)
    # The agent's watchdog stops QEMU: never a stray VM, even before the next start.
    deadline = time.monotonic() + 30
    while pid_alive(st.qemu_pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not pid_alive(st.qemu_pid)
    assert effective_state(machine.dirs).state == FAILED
    machine.start()
    assert not pid_alive(st.qemu_pid)
    out = machine.docker("run", "--rm", "busybox", "echo", "back")
    assert out.stdout == "back\n", out.stderr


def test_rm_leaves_nothing_behind(machine: BootedMachine) -> None:
    st = read_state(machine.dirs)
    out = machine.machine("rm", NAME, timeout=300)
    assert out.returncode == 0, out.stderr
    assert not machine.dirs.root.exists()
    assert not pid_alive(st.agent_pid) and not pid_alive(st.qemu_pid)
    assert not context_exists(f"portside-{NAME}", Path(machine.env["DOCKER_CONFIG"]))
    left = subprocess.run(["pgrep", "-f", str(machine.dirs.root)], capture_output=True, text=True)
    assert left.stdout == ""
