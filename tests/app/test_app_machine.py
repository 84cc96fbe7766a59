"""Where the engine cannot run here, the app offers Portside Machine, starts it, connects
through its forwarded socket and shows it in the Engine panel.

The machine is the real host agent over the stand-in guest of tests/support/standin_guest.py
(a real sshd in front of a real portsided): the agent, its state file, control socket and
forwarded socket are the real ones; booting QEMU is what tests/vm/test_machine_e2e.py does.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from portside.app import launcher as launcher_module
from portside.app.application import PortsideApp
from portside.app.connection import CONNECTED, STARTING, UNAVAILABLE
from portside.app.launcher import EngineLauncher
from portside.app.machine import MachineManager
from portside.app.settings import PORTSIDE, ConnectionChoice, Settings
from portside.vm.config import MachineConfig
from portside.vm.control import pid_alive, read_state
from portside.vm.paths import HOME_ENV, MachineDirs
from support.standin_guest import agent_argv, free_port

FORWARD_ADDRESS = "127.0.0.2"


@pytest.fixture
def not_root(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A user who cannot run the engine here; machines live in a temporary home."""
    monkeypatch.setattr(launcher_module.os, "geteuid", lambda: 1000)
    home = tmp_path / "machines"
    monkeypatch.setenv(HOME_ENV, str(home))
    return home


def _app(tmp_path: Path, machine: MachineManager) -> PortsideApp:
    launcher = EngineLauncher(args=["-H", f"unix://{tmp_path}/never.sock"])
    return PortsideApp(
        Settings(str(tmp_path / "s.ini")),
        ConnectionChoice(kind=PORTSIDE),
        launcher,
        tray=False,
        machine=machine,
    )


def test_offer_to_create_the_machine(aloop, qtbot, tmp_path, arun, not_root):  # type: ignore[no-untyped-def]
    app = _app(tmp_path, MachineManager(home=not_root))
    app.start()
    qtbot.waitUntil(lambda: app.ctx.connection.state == UNAVAILABLE, timeout=10000)
    page = app.window.offline
    assert page.machine.isVisible()
    assert page.machine.text() == "Create and start Portside Machine"
    assert "sudo portsided" in page.detail.text() and "Portside Machine" in page.detail.text()
    assert not not_root.exists()  # nothing is made until the user asks
    engine = app.window.show_panel("Engine")
    assert engine.machine_box.isVisible()
    assert engine.machine_section.grid.values["State"] == "not created"
    arun(app.shutdown())


def test_start_machine_connect_through_it_and_stop(  # type: ignore[no-untyped-def]
    aloop, qtbot, tmp_path, arun, not_root, shared_engine
):
    dirs = MachineDirs.of("default", not_root)
    dirs.root.mkdir(parents=True)
    MachineConfig(
        cpus=3, memory_mib=1536, disk_gib=7, restrict_network=True, ports_address=FORWARD_ADDRESS
    ).save(dirs.config)
    machine = MachineManager(
        home=not_root, agent_argv=lambda d: agent_argv(d.root, shared_engine.socket)
    )
    app = _app(tmp_path, machine)
    seen: list[str] = []
    app.ctx.connection.state_changed.connect(
        lambda state, detail: seen.append(detail) if state == STARTING else None
    )
    app.start()
    try:
        qtbot.waitUntil(lambda: app.ctx.connection.state == UNAVAILABLE, timeout=10000)
        page = app.window.offline
        assert page.machine.isVisible() and page.machine.text() == "Start Portside Machine"

        qtbot.mouseClick(page.machine, qtbot_button())
        qtbot.waitUntil(lambda: app.ctx.connection.state == CONNECTED, timeout=30000)
        client = app.ctx.connection.client
        assert client is not None and client.address.describe().endswith(str(dirs.docker_socket))
        assert any("stand-in guest's sshd" in line for line in seen), seen

        panel = app.window.show_panel("Engine")
        section = panel.machine_section
        assert panel.machine_box.isVisible()
        qtbot.waitUntil(lambda: section.grid.values.get("State") == "running", timeout=5000)
        values = section.grid.values
        assert values["Accelerator"].startswith("none")
        assert (values["CPUs"], values["Memory"], values["Disk"]) == ("3", "1536 MiB", "7 GiB")
        assert values["Shares"] == "none"
        assert section.stop_button.isEnabled() and not section.start_button.isEnabled()

        port = free_port()
        name = f"machine-web-{port}"
        shared_engine.docker(
            "run", "-d", "--name", name, "-p", f"127.0.0.1:{port}:80", "busybox", "sleep", "300"
        )
        try:
            qtbot.waitUntil(
                lambda: f"{FORWARD_ADDRESS}:{port}/tcp" in section.grid.values["Forwarded ports"],
                timeout=15000,
            )
        finally:
            shared_engine.docker("rm", "-f", name)

        guest = read_state(dirs).qemu_pid
        qtbot.mouseClick(section.stop_button, qtbot_button())
        qtbot.waitUntil(lambda: section.grid.values.get("State") == "stopped", timeout=30000)
        assert not pid_alive(guest)
        qtbot.waitUntil(lambda: app.ctx.connection.state == UNAVAILABLE, timeout=30000)
        qtbot.waitUntil(lambda: section.start_button.isEnabled(), timeout=5000)
        assert app.ctx.connection.machine_offer == "start"
    finally:
        arun(app.shutdown())
        if read_state(dirs).agent_pid and pid_alive(read_state(dirs).agent_pid):
            subprocess.run(["kill", str(read_state(dirs).agent_pid)], check=False)


def qtbot_button():  # type: ignore[no-untyped-def]
    from PySide6.QtCore import Qt

    return Qt.MouseButton.LeftButton


def test_create_offer_makes_the_machine_then_starts_it(  # type: ignore[no-untyped-def]
    vm_bundle, aloop, qtbot, tmp_path, arun, not_root, shared_engine, monkeypatch
):
    # vm_bundle comes first: not_root makes this process look unprivileged, and only root
    # can build a bundle.
    monkeypatch.setenv("PORTSIDE_BUNDLE", str(vm_bundle.root))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))
    machine = MachineManager(
        home=not_root, agent_argv=lambda d: agent_argv(d.root, shared_engine.socket)
    )
    app = _app(tmp_path, machine)
    app.start()
    dirs = machine.dirs
    try:
        qtbot.waitUntil(lambda: app.ctx.connection.state == UNAVAILABLE, timeout=10000)
        page = app.window.offline
        assert page.machine.text() == "Create and start Portside Machine"
        qtbot.mouseClick(page.machine, qtbot_button())
        qtbot.waitUntil(lambda: app.ctx.connection.state == CONNECTED, timeout=60000)
        config = MachineConfig.load(dirs.config)
        assert config.name == "default" and config.shares  # the home folder, as init does
        assert (tmp_path / "docker-config" / "contexts" / "meta").is_dir()
        arun(machine.stop())
        qtbot.waitUntil(lambda: app.ctx.connection.state == UNAVAILABLE, timeout=30000)
    finally:
        arun(app.shutdown())
        subprocess.run(
            [sys.executable, "-m", "portside.vm.cli", "rm", "-f", "default"],
            env={**os.environ, HOME_ENV: str(not_root)},
            capture_output=True,
            timeout=120,
            check=False,
        )
    assert not dirs.root.exists()
