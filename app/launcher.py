"""Starting the bundled engine (``python -m portside.engine``) when no engine answers.

Only on Linux and as root: the engine mounts filesystems, builds networks and creates
cgroups. Elsewhere the app explains what to do and offers Portside Machine (``machine.py``),
which runs the engine in a Linux VM.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
from pathlib import Path

from .client import PORTSIDE_SOCKET, EngineAddress, EngineClient, EngineUnreachable


def default_log_path() -> Path:
    """Where the engine we start writes its log."""
    state = os.environ.get("XDG_STATE_HOME") or os.path.expanduser("~/.local/state")
    return Path(state) / "portside" / "engine.log"


class EngineLauncher:
    """One engine process started by the app (``args`` go to ``portsided``)."""

    def __init__(self, args: list[str] | None = None, log_path: Path | None = None):
        self.args = list(args or [])
        self.log_path = log_path or default_log_path()
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def address(self) -> EngineAddress:
        """The socket the started engine listens on (``-H`` in ``args``, else the default)."""
        for i, arg in enumerate(self.args):
            if arg in ("-H", "--host") and i + 1 < len(self.args):
                return EngineAddress(self.args[i + 1])
            if arg.startswith("--host="):
                return EngineAddress(arg.split("=", 1)[1])
        return EngineAddress.unix(PORTSIDE_SOCKET)

    @staticmethod
    def can_launch() -> tuple[bool, str]:
        """Whether this process may start the engine, and if not, what the user can do."""
        if not sys.platform.startswith("linux"):
            return False, (
                "Portside's engine runs on Linux; on this system it runs in Portside "
                "Machine, a small Linux virtual machine. You can also connect to another "
                "Docker-compatible engine in Engine → Connection."
            )
        if os.geteuid() != 0:
            return False, (
                "Portside's engine manages mounts, networks and cgroups, so it runs as root, "
                "as a system service. Start it with:  portside engine start  (installed "
                "from the package; elsewhere:  sudo portsided -G portside ), make sure you "
                "are in the portside group (sudo usermod -aG portside $USER, then log in "
                "again), and press Retry."
            )
        return True, ""

    @property
    def running(self) -> bool:
        """True while the process we started is alive."""
        return self.proc is not None and self.proc.returncode is None

    async def start(self) -> None:
        """Spawn the engine; its output goes to :attr:`log_path`."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # A local log file opens in microseconds; no executor hop needed.
        with open(self.log_path, "ab") as log:  # noqa: ASYNC230
            self.proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "portside.engine",
                *self.args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )

    def log_tail(self, n: int = 15) -> str:
        """The last lines of the engine's log (for error messages)."""
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    async def wait_ready(self, within: float = 30.0) -> None:
        """Wait until the engine answers ``/_ping``; raise with its log if it dies or stalls."""
        deadline = time.monotonic() + within
        while True:
            if self.proc is not None and self.proc.returncode is not None:
                raise EngineUnreachable(
                    f"Portside's engine exited with status {self.proc.returncode}.\n"
                    f"{self.log_tail()}"
                )
            client = EngineClient(self.address)
            try:
                await client.system.ping()
                return
            except EngineUnreachable:
                pass
            finally:
                await client.aclose()
            if time.monotonic() > deadline:
                raise EngineUnreachable(
                    f"Portside's engine did not answer within {within:.0f} s.\n{self.log_tail()}"
                )
            await asyncio.sleep(0.1)

    async def stop(self, grace: float = 15.0) -> None:
        """SIGTERM the engine we started (its containers keep running) and reap it."""
        proc, self.proc = self.proc, None
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        try:
            await asyncio.wait_for(proc.wait(), grace)
        except TimeoutError:
            proc.kill()
            await proc.wait()
