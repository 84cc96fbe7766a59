"""Talking to a machine's host agent without Qt: its state file and its control socket.

The agent keeps ``MachineDirs.state`` current (JSON) and answers newline-delimited JSON on
``MachineDirs.agent_socket``. The CLI and the desktop app use this module; it imports
nothing from QEMU, the link or the engine, so it is cheap to import anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .paths import MachineDirs

STARTING, RUNNING, STOPPING, STOPPED, FAILED = (
    "starting",
    "running",
    "stopping",
    "stopped",
    "failed",
)
ACTIVE_STATES = (STARTING, RUNNING, STOPPING)


class ControlError(Exception):
    """The agent could not be reached or refused the request; the message is for the user."""


@dataclass
class PortEntry:
    """One published container port the agent forwards to the host."""

    proto: str
    host_address: str
    host_port: int
    container_id: str


@dataclass
class MachineState:
    """What the agent reports about its machine (the ``state.json`` document).

    ``state`` is one of starting/running/stopping/stopped/failed; ``progress`` is the last
    step the agent reported while starting; ``last_error`` why it failed, if it did.
    """

    name: str
    state: str = STOPPED
    progress: str = ""
    accel: str = ""
    accel_tried: list[list[str]] = field(default_factory=list)
    engine_version: str = ""
    ssh_port: int = 0
    docker_socket: str = ""
    forwarded: list[PortEntry] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    last_error: str = ""
    agent_pid: int = 0
    qemu_pid: int = 0
    link_connected: bool = False
    started_at: float = 0.0
    updated_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any]) -> MachineState:
        known = set(cls.__dataclass_fields__)
        values = {k: v for k, v in raw.items() if k in known}
        values["forwarded"] = [PortEntry(**p) for p in values.get("forwarded", [])]
        return cls(**values)

    def save(self, path: Path) -> None:
        """Write atomically, so a reader never sees half a document."""
        self.updated_at = time.time()
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(self.to_dict(), indent=2, sort_keys=True))
        os.replace(tmp, path)


def read_state(dirs: MachineDirs) -> MachineState:
    """The last state the agent wrote; ``stopped`` when it never wrote one."""
    try:
        return MachineState.from_dict(json.loads(dirs.state.read_text()))
    except (OSError, ValueError, TypeError):
        return MachineState(name=dirs.name)


def pid_alive(pid: int) -> bool:
    """Whether a process with this pid exists (a zombie counts as gone)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    if stat.exists():
        with contextlib.suppress(OSError, IndexError):
            # Field 3 after the parenthesised command name is the state letter.
            return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    return True


def agent_lock(dirs: MachineDirs) -> Path:
    """The file a running agent holds an exclusive ``flock`` on for its whole life."""
    return dirs.root / "agent.lock"


def agent_holds_lock(dirs: MachineDirs) -> bool:
    """Whether a live agent holds the machine's lock: the kernel drops it when the agent
    dies, however it dies, so this never trusts a stale pid file."""
    try:
        fd = os.open(agent_lock(dirs), os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def agent_pid(dirs: MachineDirs) -> int:
    """The running agent's pid, or 0 when no agent runs the machine."""
    if not agent_holds_lock(dirs):
        return 0
    try:
        return int(dirs.pid_file.read_text().strip())
    except (OSError, ValueError):
        # Between taking the lock and writing the pid file.
        return -1


def effective_state(dirs: MachineDirs) -> MachineState:
    """The recorded state, corrected when the agent died without saying so.

    An agent killed with SIGKILL leaves ``running`` in its state file; what is true then is
    that the machine is not running, and why.
    """
    st = read_state(dirs)
    if st.state in ACTIVE_STATES and not agent_pid(dirs):
        st.state = FAILED
        st.last_error = st.last_error or "the host agent exited unexpectedly"
        st.link_connected = False
        st.forwarded = []
    return st


class AgentClient:
    """One request per connection to an agent's control socket (asyncio)."""

    def __init__(self, dirs: MachineDirs, timeout: float = 10.0) -> None:
        self.dirs = dirs
        self.timeout = timeout

    async def request(self, op: str, **args: Any) -> dict[str, Any]:
        """Send ``{"op": op, ...}`` and return the answer; :class:`ControlError` if unreachable
        or when the answer carries an ``error``."""
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_unix_connection(str(self.dirs.agent_socket)), self.timeout
            )
        except (OSError, TimeoutError) as e:
            raise ControlError(f"machine {self.dirs.name!r} is not running") from e
        try:
            writer.write(json.dumps({"op": op, **args}).encode() + b"\n")
            await writer.drain()
            line = await asyncio.wait_for(reader.readline(), self.timeout)
        except (OSError, TimeoutError) as e:
            raise ControlError(f"the agent of machine {self.dirs.name!r} did not answer") from e
        finally:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()
        try:
            answer = json.loads(line)
        except ValueError as e:
            raise ControlError(f"the agent of machine {self.dirs.name!r} did not answer") from e
        if not isinstance(answer, dict):
            raise ControlError(f"the agent of machine {self.dirs.name!r} answered nonsense")
        if answer.get("error"):
            raise ControlError(str(answer["error"]))
        return answer

    async def status(self) -> MachineState:
        """The agent's live state."""
        return MachineState.from_dict((await self.request("status"))["state"])

    async def stop(self) -> None:
        """Ask the agent to stop the machine; returns once the agent accepted."""
        await self.request("stop")

    async def reachable(self) -> bool:
        try:
            await self.request("status")
        except ControlError:
            return False
        return True


async def wait_for_state(
    dirs: MachineDirs,
    wanted: tuple[str, ...],
    within: float,
    *,
    on_progress: Any = None,
    interval: float = 0.25,
) -> MachineState:
    """Poll the state file until its state is one of ``wanted`` (or the agent died, which
    reads as ``failed``); ``on_progress(text)`` sees each new progress line."""
    deadline = time.monotonic() + within
    last = ""
    while True:
        st = effective_state(dirs)
        if on_progress is not None and st.progress and st.progress != last:
            last = st.progress
            on_progress(st.progress)
        if st.state in wanted or st.state == FAILED:
            return st
        if time.monotonic() > deadline:
            raise ControlError(
                f"machine {dirs.name!r} did not reach {'/'.join(wanted)} within {within:.0f} s"
            )
        await asyncio.sleep(interval)


def list_machines(home: Path) -> list[MachineDirs]:
    """Every machine directory under ``home`` (those with a settings file), by name."""
    if not home.is_dir():
        return []
    return sorted(
        (d for d in map(MachineDirs, home.iterdir()) if d.config.is_file()),
        key=lambda d: d.name,
    )
