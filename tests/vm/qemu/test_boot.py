"""The real guest booted under QEMU to READY, with the real engine inside."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from portside.vm.config import MachineConfig
from portside.vm.image import Bundle
from portside.vm.paths import MachineDirs
from portside.vm.qemu import Machine, MachineError
from support.vm_machine import BootedMachine, boot_machine

pytestmark = pytest.mark.vm


def qemu_processes_of(root: Path) -> list[psutil.Process]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmd = p.info["cmdline"] or []
        if cmd and "qemu-system" in cmd[0] and any(str(root) in arg for arg in cmd):
            found.append(p)
    return found


def test_boots_to_ready_with_the_engine_and_a_checked_accelerator(
    booted_machine: BootedMachine,
) -> None:
    m = booted_machine
    info = m.info
    print(f"\ncold boot to READY: {m.boot_seconds:.1f} s, accelerator {info.accel}")
    assert info.engine_version == "0.1.0"
    assert m.machine.running and m.machine.pid is not None
    # Here /dev/kvm exists but cannot run a guest: KVM is tried, fails fast, TCG runs it.
    assert info.accel.chosen == "tcg"
    tried = dict(info.accel.tried)
    assert "kvm" in tried and tried["kvm"] != "ok"


def test_qemu_runs_with_the_restricted_network_and_answers_qmp(
    booted_machine: BootedMachine,
) -> None:
    m = booted_machine
    (proc,) = qemu_processes_of(m.dirs.root)
    assert proc.pid == m.machine.pid
    assert proc.ppid() == os.getpid()  # a child of the process that started it
    cmdline = " ".join(proc.cmdline())
    assert "restrict=on" in cmdline
    assert f"hostfwd=tcp:127.0.0.1:{m.ssh_port}-:22" in cmdline

    async def status(machine: Machine) -> object:
        assert machine.qmp is not None
        return await machine.qmp.execute("query-status")

    assert m.call(status) == {"status": "running", "singlestep": False, "running": True}


def test_ssh_answers_with_the_pinned_host_key(booted_machine: BootedMachine) -> None:
    m = booted_machine
    scanned = subprocess.run(
        ["ssh-keyscan", "-T", "20", "-t", "ed25519", "-p", str(m.ssh_port), "127.0.0.1"],
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout.split()
    pinned = (m.dirs.host_key.with_name(m.dirs.host_key.name + ".pub")).read_text().split()
    assert scanned[1:3] == pinned[:2]


def test_the_overlay_sits_on_the_bundle_disk_at_the_machine_size(
    booted_machine: BootedMachine,
) -> None:
    out = subprocess.run(
        ["qemu-img", "info", "-U", "--output=json", str(booted_machine.dirs.disk)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    info = json.loads(out)
    assert info["virtual-size"] == booted_machine.config.disk_gib << 30
    assert info["backing-filename"] == str(booted_machine.bundle.disk.resolve())


def test_stop_powers_the_guest_off_and_leaves_no_qemu(vm_bundle: Bundle, tmp_path: Path) -> None:
    """A machine of its own (the session machine stays up for the other tests)."""
    m = boot_machine(tmp_path / "m", vm_bundle)
    try:
        assert m.machine.running
        m.call(lambda machine: machine.stop(timeout=90), 150)
        assert not m.machine.running and m.machine.pid is None
        assert not qemu_processes_of(m.dirs.root)
        # The guest shut itself down (ACPI power button → poweroff), it was not killed.
        assert "reboot: Power down" in m.dirs.serial_log.read_text(errors="replace")
        assert not m.dirs.qmp_socket.exists()
    finally:
        m.shutdown()


async def test_an_engine_that_cannot_start_is_reported_with_its_reason(
    vm_bundle: Bundle, tmp_path: Path
) -> None:
    """The guest's OnFailure unit writes FAILED on the readiness port; no waiting it out."""
    dirs = MachineDirs(tmp_path / "broken")
    config = MachineConfig(
        name="broken",
        restrict_network=True,
        engine_config={"hosts": ["tcp://0.0.0.0:2375"]},
    )
    machine = Machine(config, dirs, vm_bundle)
    why = r"failed to start: portsided\.service: .*unsupported host"
    with pytest.raises(MachineError, match=why):
        await machine.start(timeout=550)
    assert not machine.running
    assert not qemu_processes_of(dirs.root)


async def test_a_boot_that_times_out_fails_with_the_console_and_leaves_no_qemu(
    vm_bundle: Bundle, tmp_path: Path
) -> None:
    dirs = MachineDirs(tmp_path / "slow")
    machine = Machine(MachineConfig(name="slow", restrict_network=True), dirs, vm_bundle)
    with pytest.raises(MachineError, match=r"not ready after 8 s .*Last console lines"):
        await machine.start(timeout=8)
    assert not machine.running
    assert not qemu_processes_of(dirs.root)


async def test_qemu_killed_during_boot_fails_the_start_and_wait_exit_reports_it(
    vm_bundle: Bundle, tmp_path: Path
) -> None:
    dirs = MachineDirs(tmp_path / "killed")
    machine = Machine(MachineConfig(name="killed", restrict_network=True), dirs, vm_bundle)
    start = asyncio.create_task(machine.start(timeout=300))
    for _ in range(400):
        if machine.pid is not None:
            break
        await asyncio.sleep(0.05)
    assert machine.pid is not None
    os.kill(machine.pid, signal.SIGTERM)  # as if killed from outside
    with pytest.raises(MachineError, match="QEMU exited"):
        await start
    assert await machine.wait_exit() != 0 or not machine.running
    assert not machine.running and not qemu_processes_of(dirs.root)


async def test_a_busy_ssh_port_chosen_by_the_user_is_an_error(
    vm_bundle: Bundle, tmp_path: Path
) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        dirs = MachineDirs(tmp_path / "busy")
        config = MachineConfig(name="busy", restrict_network=True, ssh_port=port, accel="tcg")
        machine = Machine(config, dirs, vm_bundle)
        with pytest.raises(MachineError, match=f"127.0.0.1:{port}: the port is in use"):
            await machine.start(timeout=120)
        assert not machine.running and not qemu_processes_of(dirs.root)


def test_qemu_dies_with_the_process_that_started_it(vm_bundle: Bundle, tmp_path: Path) -> None:
    """A SIGKILLed owner (agent, test run) must not leave a machine running."""
    root = tmp_path / "orphan"
    script = f"""
import asyncio
from pathlib import Path
from portside.vm.config import MachineConfig
from portside.vm.image import Bundle
from portside.vm.paths import MachineDirs
from portside.vm.qemu import Machine

async def main():
    bundle = Bundle.load(Path({str(vm_bundle.root)!r}), verify=False)
    config = MachineConfig(name="orphan", restrict_network=True, accel="tcg")
    await Machine(config, MachineDirs(Path({str(root)!r})), bundle).start(timeout=600)

asyncio.run(main())
"""
    owner = subprocess.Popen([sys.executable, "-c", script])
    try:
        for _ in range(600):
            if qemu_processes_of(root):
                break
            time.sleep(0.05)
        (qemu,) = qemu_processes_of(root)
        assert qemu.ppid() == owner.pid
        owner.kill()
        owner.wait(10)
        qemu.wait(20)
        assert not qemu_processes_of(root)
    finally:
        owner.kill()
        owner.wait(10)
        for p in qemu_processes_of(root):
            p.kill()
