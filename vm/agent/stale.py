"""What a previous agent may have left behind, and the lock that makes one agent per machine.

An agent killed with SIGKILL cannot clean up: its pid file, sockets and state file stay, and
its QEMU may outlive it for a moment. The next agent takes the lock (the kernel dropped the
dead agent's), stops that QEMU gently (SIGTERM lets QEMU flush the disk) and removes the
sockets, so ``machine start`` always recovers and the disk is never touched.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import logging
import os
import signal
import time
from pathlib import Path

from ..control import agent_lock, pid_alive
from ..paths import MachineDirs

log = logging.getLogger("portside.vm.agent")

QEMU_TERM_GRACE = 10.0


def claim_lock(dirs: MachineDirs) -> int | None:
    """Take the machine's agent lock for the life of this process (None if another agent
    holds it). The descriptor is not inherited, so QEMU never keeps the lock alive. A few
    tries: a reader probing the lock holds it for an instant."""
    fd = os.open(agent_lock(dirs), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    for _ in range(20):
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            time.sleep(0.05)
    os.close(fd)
    return None


def _is_our_qemu(pid: int, dirs: MachineDirs) -> bool:
    """Whether ``pid`` is this machine's QEMU (its command line names the machine's
    directory), so a reused pid is never killed."""
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    return str(dirs.root).encode() in cmdline


async def _wait_gone(pid: int, within: float) -> bool:
    deadline = time.monotonic() + within
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.1)
    return True


async def stop_leftover_qemu(dirs: MachineDirs, pid: int) -> bool:
    """Stop QEMU ``pid`` that a dead agent left running; False if it was not running."""
    if not pid or not pid_alive(pid) or not _is_our_qemu(pid, dirs):
        return False
    log.warning("stopping QEMU %d left behind by a previous agent", pid)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not await _wait_gone(pid, QEMU_TERM_GRACE):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        await _wait_gone(pid, QEMU_TERM_GRACE)
    return True


async def clear_stale(dirs: MachineDirs, leftover_qemu: int) -> bool:
    """Remove what a dead agent left: its QEMU (``leftover_qemu``, the pid its state
    recorded) and sockets; never the disk. True if a QEMU had to be stopped."""
    stopped = await stop_leftover_qemu(dirs, leftover_qemu)
    for path in (dirs.agent_socket, dirs.docker_socket, dirs.qmp_socket, dirs.ready_socket):
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
    return stopped
