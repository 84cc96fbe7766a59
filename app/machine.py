"""The app's use of Portside Machine: where the engine cannot run here (not Linux, or not
root), the app offers to create and start the default machine and connects through its
forwarded socket.

Qt-free: it talks to the machine's host agent through ``portside.vm.control`` and creates a
machine with ``portside machine init`` (a subprocess, so the app never imports QEMU, SSH or
key generation).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from portside.vm.config import DEFAULT_NAME, MachineConfig
from portside.vm.control import (
    RUNNING,
    ControlError,
    MachineState,
    effective_state,
    start_machine,
    stop_machine,
)
from portside.vm.paths import HOME_ENV, MachineDirs

from .client import EngineAddress

# What the offer says it will do.
CREATE, START = "create", "start"


class MachineStartError(Exception):
    """The machine could not be created or started; the message is for the user."""


@dataclass(frozen=True)
class MachineFacts:
    """What the Engine panel shows about a machine."""

    name: str
    exists: bool
    state: MachineState
    config: MachineConfig | None


class MachineManager:
    """The default machine (or ``name``) as the app sees it.

    ``agent_argv`` replaces the agent command (tests run the agent over a stand-in guest).
    """

    def __init__(
        self,
        name: str = DEFAULT_NAME,
        home: Path | None = None,
        agent_argv: Callable[[MachineDirs], list[str]] | None = None,
    ) -> None:
        self.dirs = MachineDirs.of(name, home)
        self.agent_argv = agent_argv

    @property
    def address(self) -> EngineAddress:
        """The forwarded engine socket."""
        return EngineAddress.unix(str(self.dirs.docker_socket))

    def exists(self) -> bool:
        return self.dirs.config.is_file()

    def running(self) -> bool:
        return self.exists() and effective_state(self.dirs).state == RUNNING

    def offer(self) -> str:
        """``create`` or ``start``: what starting the machine involves from here."""
        return START if self.exists() else CREATE

    def facts(self) -> MachineFacts:
        config = None
        if self.exists():
            try:
                config = MachineConfig.load(self.dirs.config)
            except (OSError, ValueError, TypeError):
                config = None
        return MachineFacts(self.dirs.name, self.exists(), effective_state(self.dirs), config)

    async def start(self, progress: Callable[[str], None]) -> None:
        """Create the machine if needed, start it, and return once it runs."""
        if not self.exists():
            progress(f"Creating machine {self.dirs.name!r}…")
            await self._init()
        progress(f"Starting machine {self.dirs.name!r}…")
        argv = self.agent_argv(self.dirs) if self.agent_argv else None
        try:
            st = await start_machine(self.dirs, on_progress=progress, argv=argv)
        except ControlError as e:
            raise MachineStartError(str(e)) from e
        if st.state != RUNNING:
            raise MachineStartError(f"the machine failed to start: {st.last_error}")

    async def stop(self) -> None:
        try:
            await stop_machine(self.dirs)
        except ControlError as e:
            raise MachineStartError(str(e)) from e

    async def _init(self) -> None:
        # A thread running subprocess.run, not an asyncio child: the init takes a second,
        # and asyncio's child watching under the Qt loop has crashed the interpreter at exit.
        env = {**os.environ, HOME_ENV: str(self.dirs.root.parent)}
        argv = [sys.executable, "-m", "portside.vm.cli", "init", self.dirs.name]
        done = await asyncio.to_thread(
            subprocess.run,
            argv,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            env=env,
            check=False,
        )
        if done.returncode != 0:
            message = done.stderr.decode(errors="replace").strip().removeprefix("error: ")
            raise MachineStartError(f"could not create the machine: {message}")
