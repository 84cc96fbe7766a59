"""A guest that boots in a second, for exercising the host agent's supervision.

The "machine" is a real ``sshd`` on a loopback port (the machine's pinned host key, the
machine's client key authorized for root) in front of a real ``portsided`` on the host: the
agent's link, forwarded socket and port forwarders do exactly what they do against the
QEMU guest, and killing the sshd with SIGKILL is QEMU dying. Booting the real guest takes
minutes under TCG; tests/vm/test_machine_e2e.py covers that once per session.

Run as ``python standin_guest.py <machine-dir> <engine-socket>`` it is the host agent with
this machine in place of QEMU.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

SSHD = "/usr/sbin/sshd"


@dataclass(frozen=True)
class StandInAccel:
    chosen: str = "none"
    tried: tuple[tuple[str, str], ...] = (("none", "stand-in guest: sshd + portsided on the host"),)


@dataclass(frozen=True)
class StandInReady:
    engine_version: str
    accel: StandInAccel
    ssh_port: int


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class StandInMachine:
    """The ``Machine`` interface over an sshd child process."""

    def __init__(self, dirs, engine_socket: str) -> None:  # type: ignore[no-untyped-def]
        self.dirs = dirs
        self.engine_socket = engine_socket
        self.proc: asyncio.subprocess.Process | None = None

    def _prepare(self) -> Path:
        """Keys, the authorized key file and sshd's privilege-separation directory."""
        from portside.vm.keys import ensure_keys, public_line

        ensure_keys(self.dirs)
        authorized = self.dirs.root / "standin_authorized_keys"
        authorized.write_text(public_line(self.dirs.client_key) + "\n")
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        return authorized

    # The signature is Machine's (the contract names the parameter ``timeout``).
    async def start(self, *, timeout: float = 600.0, progress=None):  # type: ignore[no-untyped-def]  # noqa: ASYNC109
        authorized = self._prepare()
        console = self.dirs.serial_log.open("ab")  # the child keeps its own copy
        port = free_port()
        if progress:
            progress(f"starting the stand-in guest's sshd on 127.0.0.1:{port}")
        self.proc = await asyncio.create_subprocess_exec(
            SSHD, "-D", "-e", "-f", "/dev/null", "-p", str(port),
            "-h", str(self.dirs.host_key),
            "-o", "ListenAddress=127.0.0.1",
            "-o", f"AuthorizedKeysFile={authorized}",
            "-o", "PermitRootLogin=prohibit-password",
            "-o", "StrictModes=no", "-o", "UsePAM=no", "-o", "PidFile=none",
            "-o", "AllowStreamLocalForwarding=yes", "-o", "AllowTcpForwarding=yes",
            stdin=subprocess.DEVNULL,
            stderr=console,
        )  # fmt: skip
        console.close()
        deadline = time.monotonic() + timeout
        while True:
            try:
                _, w = await asyncio.open_connection("127.0.0.1", port)
                w.close()
                break
            except OSError:
                if self.proc.returncode is not None or time.monotonic() > deadline:
                    raise RuntimeError("the stand-in sshd did not start") from None
                await asyncio.sleep(0.05)
        return StandInReady("stand-in", StandInAccel(), port)

    async def stop(self, timeout: float = 60.0) -> None:  # noqa: ASYNC109
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            await self.proc.wait()

    async def kill(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.kill()
            await self.proc.wait()

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.returncode is None

    async def wait_exit(self) -> int:
        assert self.proc is not None
        return await self.proc.wait()


def agent_argv(machine_dir: Path, engine_socket: Path) -> list[str]:
    """The command that runs the host agent over a stand-in guest."""
    return [sys.executable, __file__, str(machine_dir), str(engine_socket)]


def main() -> int:
    from portside.vm.agent.host import HostAgent, install_signal_handlers
    from portside.vm.paths import MachineDirs

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    dirs = MachineDirs(Path(sys.argv[1]))
    engine_socket = sys.argv[2]

    async def make(config, dirs):  # type: ignore[no-untyped-def]
        return StandInMachine(dirs, engine_socket)

    agent = HostAgent(dirs, make_machine=make, guest_engine_socket=engine_socket)

    async def run() -> int:
        install_signal_handlers(agent)
        return await agent.run()

    return asyncio.run(run())


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
