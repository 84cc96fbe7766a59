"""The host agent's supervision against a guest that boots in a second.

The guest is tests/support/standin_guest.py: a real sshd in front of a real portsided, so the
agent's link, forwarded socket, port forwarders, control socket, state file and fault
handling all run for real; only QEMU is replaced (the QEMU guest is covered once per
session by tests/vm/test_machine_e2e.py).
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import stat
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from portside.vm import cli
from portside.vm.config import MachineConfig
from portside.vm.control import (
    ALREADY_RUNNING_EXIT,
    FAILED,
    RUNNING,
    STOPPED,
    AgentClient,
    ControlError,
    MachineState,
    agent_pid,
    effective_state,
    pid_alive,
    read_state,
    start_machine,
)
from portside.vm.paths import HOME_ENV, MachineDirs
from support.engine import PortsideEngine
from support.standin_guest import agent_argv, free_port
from support.waiting import wait_for

FORWARD_ADDRESS = "127.0.0.2"
HTTPD = "mkdir -p /www && echo hi from the machine > /www/index.html && exec httpd -f -p 80 -h /www"


@pytest.fixture(scope="module")
def guest_engine(busybox_tar: Path) -> Iterator[PortsideEngine]:
    """The engine "inside" the stand-in guest."""
    e = PortsideEngine()
    try:
        e.start()
        e.docker("load", "-i", str(busybox_tar))
        yield e
    finally:
        e.cleanup()


class AgentRun:
    """One agent process over the stand-in guest, for one machine directory."""

    def __init__(self, dirs: MachineDirs, engine: PortsideEngine) -> None:
        self.dirs = dirs
        self.engine = engine
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> subprocess.Popen[bytes]:
        with open(self.dirs.agent_log, "ab") as log:
            self.proc = subprocess.Popen(
                agent_argv(self.dirs.root, self.engine.socket),
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        return self.proc

    def wait_running(self) -> None:
        proc = self.proc
        assert proc is not None

        def settled() -> bool:
            st = read_state(self.dirs)
            return (st.agent_pid == proc.pid and st.state in (RUNNING, FAILED)) or (
                proc.poll() is not None
            )

        wait_for(settled, timeout=30)
        st = read_state(self.dirs)
        assert st.state == RUNNING, f"{st}\n{self.dirs.agent_log.read_text()}"

    def docker(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker", "-H", f"unix://{self.dirs.docker_socket}", *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def cleanup(self) -> None:
        proc = self.proc
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        qemu = read_state(self.dirs).qemu_pid
        if qemu and pid_alive(qemu):
            os.kill(qemu, signal.SIGKILL)


@pytest.fixture
def machine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, guest_engine: PortsideEngine
) -> Iterator[AgentRun]:
    home = tmp_path / "machines"
    monkeypatch.setenv(HOME_ENV, str(home))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    dirs = MachineDirs.of("standin", home)
    dirs.root.mkdir(parents=True)
    # Published ports are forwarded to 127.0.0.2: the stand-in's engine itself binds them on
    # 127.0.0.1 of this same host, and the forwarder must not collide with it.
    MachineConfig(
        name="standin", shares=(), restrict_network=True, ports_address=FORWARD_ADDRESS
    ).save(dirs.config)
    run = AgentRun(dirs, guest_engine)
    try:
        yield run
    finally:
        run.cleanup()


def test_running_agent_serves_the_engine_socket_and_its_state(machine: AgentRun) -> None:
    machine.start()
    machine.wait_running()
    dirs = machine.dirs

    assert stat.S_IMODE(dirs.docker_socket.stat().st_mode) == 0o600
    assert stat.S_IMODE(dirs.agent_socket.stat().st_mode) == 0o600
    version = machine.docker("version", "--format", "{{.Server.Version}}")
    assert version.returncode == 0, version.stderr
    st = asyncio.run(AgentClient(dirs).status())
    assert st.state == RUNNING and st.link_connected
    assert st.ssh_port > 0 and st.qemu_pid and pid_alive(st.qemu_pid)
    assert agent_pid(dirs) == machine.proc.pid  # type: ignore[union-attr]
    assert int(dirs.pid_file.read_text()) == machine.proc.pid  # type: ignore[union-attr]

    with pytest.raises(ControlError, match="unknown op"):
        asyncio.run(AgentClient(dirs).request("reboot"))

    # A second agent for the same machine refuses to run.
    second = subprocess.run(
        agent_argv(dirs.root, machine.engine.socket), capture_output=True, timeout=30
    )
    assert second.returncode == ALREADY_RUNNING_EXIT
    assert read_state(dirs).state == RUNNING


def test_published_port_answers_on_host_loopback(machine: AgentRun) -> None:
    machine.start()
    machine.wait_running()
    port = free_port()
    name = f"web{port}"
    run = machine.docker(
        "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:80", "busybox", "sh", "-c", HTTPD
    )
    assert run.returncode == 0, run.stderr
    try:

        def answers() -> str | None:
            try:
                url = f"http://{FORWARD_ADDRESS}:{port}/"
                with urllib.request.urlopen(url, timeout=2) as r:
                    return str(r.read().decode())
            except OSError:
                return None

        assert "hi from the machine" in wait_for(answers, timeout=30)
        # The state file follows the forwarder within a second.
        [entry] = wait_for(
            lambda: [p for p in read_state(machine.dirs).forwarded if p.host_port == port]
        )
        assert entry.host_address == FORWARD_ADDRESS and entry.proto == "tcp"
        # A port another program holds is reported, not fatal.
        with socket.socket() as holder:
            taken = free_port()
            holder.bind((FORWARD_ADDRESS, taken))
            holder.listen()
            busy = f"busy{taken}"
            made = machine.docker("run", "-d", "--name", busy, "-p", f"127.0.0.1:{taken}:80",
                                  "busybox", "sleep", "600")  # fmt: skip
            assert made.returncode == 0, made.stderr
            try:
                wait_for(lambda: any(str(taken) in p for p in read_state(machine.dirs).problems))
            finally:
                machine.docker("rm", "-f", busy)
        assert read_state(machine.dirs).state == RUNNING
    finally:
        machine.docker("rm", "-f", name)
    wait_for(lambda: not any(p.host_port == port for p in read_state(machine.dirs).forwarded))


def test_machine_stop_powers_off_and_cleans_up(machine: AgentRun, capsys) -> None:  # type: ignore[no-untyped-def]
    proc = machine.start()
    machine.wait_running()
    guest = read_state(machine.dirs).qemu_pid

    assert cli.main(["stop", "standin"]) == 0
    assert "stopped" in capsys.readouterr().out
    assert proc.wait(30) == 0
    st = read_state(machine.dirs)
    assert st.state == STOPPED and st.qemu_pid == 0 and st.forwarded == []
    assert not pid_alive(guest)
    for path in (machine.dirs.docker_socket, machine.dirs.agent_socket, machine.dirs.pid_file):
        assert not path.exists()
    assert machine.dirs.config.exists() and machine.dirs.client_key.exists()
    # Stopping again is not an error.
    assert cli.main(["stop", "standin"]) == 0
    assert "not running" in capsys.readouterr().out


def test_sigterm_stops_the_machine_gracefully(machine: AgentRun) -> None:
    proc = machine.start()
    machine.wait_running()
    guest = read_state(machine.dirs).qemu_pid
    proc.terminate()
    assert proc.wait(30) == 0
    assert read_state(machine.dirs).state == STOPPED
    assert not pid_alive(guest)


def test_guest_killed_records_failed_and_exits(machine: AgentRun) -> None:
    proc = machine.start()
    machine.wait_running()
    guest = read_state(machine.dirs).qemu_pid
    os.kill(guest, signal.SIGKILL)

    assert proc.wait(30) != 0
    st = read_state(machine.dirs)
    assert st.state == FAILED
    assert "killed by SIGKILL" in st.last_error
    for path in (machine.dirs.docker_socket, machine.dirs.agent_socket, machine.dirs.pid_file):
        assert not path.exists()
    # And the next start recovers.
    machine.start()
    machine.wait_running()
    assert machine.docker("version").returncode == 0


def test_agent_killed_leaves_no_guest_and_next_start_recovers(machine: AgentRun) -> None:
    proc = machine.start()
    machine.wait_running()
    guest = read_state(machine.dirs).qemu_pid
    proc.kill()
    proc.wait()
    # The watchdog stops the guest as soon as the agent is gone.
    wait_for(lambda: not pid_alive(guest), timeout=20)

    # What the CLI and the app see: not running, and why.
    st = effective_state(machine.dirs)
    assert st.state == FAILED and "unexpectedly" in st.last_error
    assert machine.dirs.docker_socket.exists()  # stale, left by the dead agent

    machine.start()
    machine.wait_running()
    assert machine.docker("version").returncode == 0


def _children(pid: int) -> list[int]:
    kids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            if ppid == pid:
                kids.append(int(entry.name))
    return kids


def test_link_drop_reconnects_and_the_socket_works_again(machine: AgentRun) -> None:
    machine.start()
    machine.wait_running()
    guest = read_state(machine.dirs).qemu_pid
    # Each SSH connection is served by a child of the listening sshd: killing it cuts the
    # link while the "guest" lives on.
    sessions = wait_for(lambda: _children(guest))
    for pid in sessions:
        os.kill(pid, signal.SIGKILL)

    def reconnected() -> bool:
        now = _children(guest)
        return (
            bool(now) and not set(now) & set(sessions) and read_state(machine.dirs).link_connected
        )

    wait_for(reconnected, timeout=40)
    assert read_state(machine.dirs).state == RUNNING
    assert wait_for(lambda: machine.docker("version").returncode == 0, timeout=20)


def test_ls_and_inspect_report_the_running_machine(machine: AgentRun, capsys) -> None:  # type: ignore[no-untyped-def]
    machine.start()
    machine.wait_running()
    capsys.readouterr()
    assert cli.main(["ls", "--format", "json"]) == 0
    [row] = json.loads(capsys.readouterr().out)
    assert row["Name"] == "standin" and row["State"]["state"] == RUNNING
    assert row["DockerHost"] == f"unix://{machine.dirs.docker_socket}"
    assert cli.main(["ls"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:2] == ["NAME", "STATE"]
    assert table[1].split()[:2] == ["standin", "running"]


def test_ssh_runs_a_command_with_the_pinned_key(machine: AgentRun) -> None:
    machine.start()
    machine.wait_running()
    st = read_state(machine.dirs)
    out = subprocess.run(
        cli.ssh_argv(machine.dirs, st.ssh_port, ["echo", "inside"]),
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "inside"
    # A different host key on that port is refused.
    other = machine.dirs.root / "other_known_hosts"
    key = subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(machine.dirs.root / "k")],
        check=True,
    )
    assert key.returncode == 0
    pub = (machine.dirs.root / "k.pub").read_text().split()
    other.write_text(f"[127.0.0.1]:{st.ssh_port} {pub[0]} {pub[1]}\n")
    argv = cli.ssh_argv(machine.dirs, st.ssh_port, ["true"])
    argv[argv.index(f"UserKnownHostsFile={machine.dirs.root / 'known_hosts'}")] = (
        f"UserKnownHostsFile={other}"
    )
    refused = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    assert refused.returncode != 0


def test_rm_stops_and_removes_everything(machine: AgentRun, capsys) -> None:  # type: ignore[no-untyped-def]
    from portside.vm.context import context_exists, write_context

    write_context("portside-standin", machine.dirs.docker_socket, "x")
    proc = machine.start()
    machine.wait_running()
    guest = read_state(machine.dirs).qemu_pid
    assert cli.main(["rm", "standin"]) == 0
    assert proc.wait(30) == 0
    assert not machine.dirs.root.exists()
    assert not pid_alive(guest)
    assert not context_exists("portside-standin")


def _watchdogs(dirs: MachineDirs) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                cmdline = (entry / "cmdline").read_bytes()
            except OSError:
                continue
            if b"portside.vm.agent.watchdog" in cmdline and str(dirs.root).encode() in cmdline:
                found.append(int(entry.name))
    return found


def test_next_start_stops_a_guest_that_outlived_agent_and_watchdog(machine: AgentRun) -> None:
    proc = machine.start()
    machine.wait_running()
    guest = read_state(machine.dirs).qemu_pid
    [watchdog] = _watchdogs(machine.dirs)
    os.kill(watchdog, signal.SIGKILL)
    proc.kill()
    proc.wait()
    assert pid_alive(guest)  # nothing left to stop it

    machine.start()
    machine.wait_running()
    assert not pid_alive(guest)
    assert machine.docker("version").returncode == 0


def test_start_reports_every_step_in_order(machine: AgentRun) -> None:
    steps: list[str] = []
    st = asyncio.run(
        start_machine(
            machine.dirs,
            on_progress=steps.append,
            argv=agent_argv(machine.dirs.root, machine.engine.socket),
        )
    )
    assert st.state == RUNNING
    assert steps[0] == "starting the host agent" and steps[-1] == "running"
    assert any(s.startswith("connecting to the guest over SSH") for s in steps)
    assert len(steps) == len(set(steps))
    # Starting a running machine changes nothing.
    again = asyncio.run(start_machine(machine.dirs, argv=["false"]))
    assert again.state == RUNNING and again.agent_pid == st.agent_pid
    assert cli.main(["stop", "standin"]) == 0


def test_ssh_without_openssh_runs_the_command_over_the_link(  # type: ignore[no-untyped-def]
    machine: AgentRun, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capfd
) -> None:
    machine.start()
    machine.wait_running()
    empty = tmp_path / "no-ssh-here"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    capfd.readouterr()
    # One string for the guest's shell, exactly as with OpenSSH's client.
    assert cli.main(["ssh", "standin", "--", "echo over the link; exit 3"]) == 3
    assert capfd.readouterr().out == "over the link\n"
    assert cli.main(["ssh", "standin"]) == 1
    assert "needs the OpenSSH client" in capfd.readouterr().err


def test_concurrent_starts_follow_one_agent(machine: AgentRun) -> None:
    """Two starts at once (the app and a terminal): one agent boots, both see it run."""
    argv = agent_argv(machine.dirs.root, machine.engine.socket)

    async def both() -> list[MachineState]:
        return list(
            await asyncio.gather(
                start_machine(machine.dirs, argv=argv), start_machine(machine.dirs, argv=argv)
            )
        )

    first, second = asyncio.run(both())
    assert first.state == second.state == RUNNING
    assert first.agent_pid == second.agent_pid == agent_pid(machine.dirs)
    assert cli.main(["stop", "standin"]) == 0


def test_start_follows_a_start_under_way(machine: AgentRun) -> None:
    proc = machine.start()
    wait_for(lambda: read_state(machine.dirs).agent_pid == proc.pid)
    steps: list[str] = []
    st = asyncio.run(start_machine(machine.dirs, on_progress=steps.append, argv=["false"]))
    assert st.state == RUNNING and st.agent_pid == proc.pid
    assert steps and steps[-1] == "running"


def test_guest_powering_itself_off_is_a_stop(machine: AgentRun) -> None:
    proc = machine.start()
    machine.wait_running()
    # sshd exits 0 on SIGTERM: as QEMU does when the guest powers off.
    os.kill(read_state(machine.dirs).qemu_pid, signal.SIGTERM)
    assert proc.wait(30) == 0
    st = read_state(machine.dirs)
    assert st.state == STOPPED and st.last_error == ""
    assert not machine.dirs.docker_socket.exists()
