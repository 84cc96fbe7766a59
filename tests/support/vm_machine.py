"""A machine booted for tests, on its own event loop in a background thread.

Tests then use it from any event loop (or none) through its SSH port, keys and files;
``call`` runs a coroutine against the ``Machine`` on the machine's own loop.
"""

from __future__ import annotations

import asyncio
import subprocess
import threading
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from portside.vm.config import MachineConfig
from portside.vm.image import Bundle
from portside.vm.keys import public_line
from portside.vm.paths import MachineDirs
from portside.vm.qemu import Machine, ReadyInfo

T = TypeVar("T")
BOOT_TIMEOUT = 600.0


class MachineLoop:
    """An event loop in a daemon thread, owning one ``Machine``."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self._thread.start()

    def run(self, coro: Awaitable[T], timeout: float | None = None) -> T:
        async def wrap() -> T:
            return await coro

        fut: Future[T] = asyncio.run_coroutine_threadsafe(wrap(), self.loop)
        return fut.result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(10)
        if not self.loop.is_running():
            self.loop.close()


@dataclass
class BootedMachine:
    """A running machine: what a test needs to reach it."""

    machine: Machine
    config: MachineConfig
    dirs: MachineDirs
    bundle: Bundle
    info: ReadyInfo
    boot_seconds: float
    _loop: MachineLoop

    @property
    def ssh_port(self) -> int:
        return self.info.ssh_port

    def shutdown(self, timeout: float = 60) -> None:
        """Stop (ACPI poweroff, then kill) and close the loop; QEMU is gone afterwards."""
        try:
            self._loop.run(self.machine.stop(timeout=timeout), timeout + 60)
        finally:
            self._loop.run(self.machine.kill(), 60)
            self._loop.close()

    def ssh(self, command: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """Run ``command`` in the guest as root with OpenSSH, the host key pinned."""
        known = self.dirs.root / "known_hosts"
        known.write_text(f"[127.0.0.1]:{self.ssh_port} {public_line(self.dirs.host_key)}\n")
        return subprocess.run(
            [
                "ssh",
                "-i",
                str(self.dirs.client_key),
                "-o",
                f"UserKnownHostsFile={known}",
                "-o",
                "StrictHostKeyChecking=yes",
                "-o",
                "BatchMode=yes",
                "-o",
                "LogLevel=ERROR",
                "-p",
                str(self.ssh_port),
                "root@127.0.0.1",
                command,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def call(self, fn: Callable[[Machine], Awaitable[T]], timeout: float | None = 120) -> T:
        """Run ``fn(machine)`` on the machine's event loop and return its result."""
        return self._loop.run(fn(self.machine), timeout)


def boot_machine(root: Path, bundle: Bundle, **config: Any) -> BootedMachine:
    """Boot a machine in ``root`` to READY; on failure QEMU is gone and the loop closed."""
    cfg = MachineConfig(**{"name": "vmtest", "restrict_network": True, "disk_gib": 4, **config})
    dirs = MachineDirs(root)
    loop = MachineLoop()
    machine = Machine(cfg, dirs, bundle)
    try:
        started = time.monotonic()
        info = loop.run(machine.start(timeout=BOOT_TIMEOUT), BOOT_TIMEOUT + 60)
        took = time.monotonic() - started
    except BaseException:
        loop.run(machine.kill(), 60)
        loop.close()
        raise
    return BootedMachine(machine, cfg, dirs, bundle, info, took, loop)
