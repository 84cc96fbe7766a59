"""Keeps QEMU from outliving its host agent.

The agent may be killed with SIGKILL and then cannot stop its QEMU. This small process
holds the read end of a pipe whose only write end lives in the agent: the kernel closes it
when the agent dies, however it dies, and the watchdog then stops QEMU (SIGTERM first, so
QEMU flushes the disk; SIGKILL if it lingers). It exits by itself once QEMU is gone.

``python -m portside.vm.agent.watchdog <qemu-pid> <machine-dir> <pipe-fd>``
"""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from ..control import pid_alive

TERM_GRACE = 10.0
CHECK_EVERY = 1.0


def _names_machine(pid: int, machine_dir: str) -> bool:
    """Whether ``pid`` still is this machine's QEMU (a reused pid never is)."""
    try:
        return machine_dir.encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False


def watch(qemu_pid: int, machine_dir: str, fd: int) -> int:
    """Block until the agent dies (EOF on ``fd``) or QEMU exits; stop QEMU in the first case."""
    while pid_alive(qemu_pid):
        ready, _, _ = select.select([fd], [], [], CHECK_EVERY)
        if ready and not os.read(fd, 64):
            break
    else:
        return 0
    if not _names_machine(qemu_pid, machine_dir):
        return 0
    os.kill(qemu_pid, signal.SIGTERM)
    deadline = time.monotonic() + TERM_GRACE
    while pid_alive(qemu_pid):
        if time.monotonic() > deadline:
            os.kill(qemu_pid, signal.SIGKILL)
            break
        time.sleep(0.1)
    return 0


def spawn(qemu_pid: int, machine_dir: Path) -> int:
    """Start a watchdog for ``qemu_pid``; returns the pipe's write end, which the agent
    keeps open (never inherited) for as long as it lives."""
    read_end, write_end = os.pipe()
    try:
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "portside.vm.agent.watchdog",
                str(qemu_pid),
                str(machine_dir),
                str(read_end),
            ],
            pass_fds=(read_end,),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,
        )
    finally:
        os.close(read_end)
    return write_end


def main(argv: list[str]) -> int:
    # The agent's terminal signals are not ours: only the pipe decides.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    return watch(int(argv[0]), argv[1], int(argv[2]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
