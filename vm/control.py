"""Talking to a machine's host agent without Qt: its state file and its control socket.

The agent keeps ``MachineDirs.state`` current (JSON) and answers newline-delimited JSON on
``MachineDirs.agent_socket``. The CLI and the desktop app use this module; it imports
nothing from QEMU, the link or the engine, so it is cheap to import anywhere.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
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

    ``state`` is one of starting/running/stopping/stopped/failed; ``steps`` are this run's
    progress lines (so a reader polling the file misses none), ``progress`` the last one;
    step the agent reported while starting; ``last_error`` why it failed, if it did.
    """

    name: str
    state: str = STOPPED
    progress: str = ""
    steps: list[str] = field(default_factory=list)
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
        import fcntl  # not on Windows, where the app still imports this module
    except ImportError:
        return _pid_file_alive(dirs)
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


def _pid_file_alive(dirs: MachineDirs) -> bool:
    try:
        return pid_alive(int(dirs.pid_file.read_text().strip()))
    except (OSError, ValueError):
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


def agent_command(dirs: MachineDirs, timeout: float) -> list[str]:
    """The command that runs the machine's host agent."""
    return [sys.executable, "-m", "portside.vm.agent", str(dirs.root), "--timeout", str(timeout)]


# Agents this process started: kept so that a still-running agent is never garbage
# collected as an "abandoned" child (it is meant to outlive us), and reaped once it exits.
_spawned: list[subprocess.Popen[bytes]] = []


def spawn_agent(dirs: MachineDirs, argv: list[str]) -> subprocess.Popen[bytes]:
    """Start a host agent in its own session, logging to ``dirs.agent_log``.

    Plain ``subprocess`` on purpose: an asyncio child is killed when its loop closes, and
    the agent must outlive the command or window that started it.
    """
    _spawned[:] = [p for p in _spawned if p.poll() is None]
    with open(dirs.agent_log, "ab") as log:
        proc = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
        )
    _spawned.append(proc)
    return proc


def _last_log_line(dirs: MachineDirs) -> str:
    try:
        lines = [ln for ln in dirs.agent_log.read_text(errors="replace").splitlines() if ln]
    except OSError:
        return "no log"
    return lines[-1] if lines else "no log"


# The agent's exit status when another agent already runs the machine.
ALREADY_RUNNING_EXIT = 3


async def _follow(
    dirs: MachineDirs,
    pid: int,
    exited: Callable[[], int | None],
    within: float,
    on_progress: Callable[[str], None] | None,
) -> MachineState:
    """Follow what agent ``pid`` writes until the machine runs or failed to start; each
    new progress line goes to ``on_progress``. ``exited()`` is the agent's exit status
    once it is gone."""
    deadline = time.monotonic() + within
    shown = 0
    while True:
        st = read_state(dirs)
        mine = st.agent_pid == pid
        if mine and on_progress is not None:
            for step in st.steps[shown:]:
                on_progress(step)
            shown = max(shown, len(st.steps))
        if mine and st.state in (RUNNING, FAILED):
            return st
        if exited() is not None:
            st = read_state(dirs)
            if st.agent_pid == pid and st.state == FAILED:
                return st
            raise ControlError(f"the host agent exited early: {_last_log_line(dirs)}")
        if time.monotonic() > deadline:
            raise ControlError(f"machine {dirs.name!r} did not start within {within:.0f} s")
        await asyncio.sleep(0.2)


async def wait_started(
    dirs: MachineDirs,
    proc: subprocess.Popen[bytes],
    within: float,
    on_progress: Callable[[str], None] | None = None,
) -> MachineState:
    """Follow the agent ``proc`` (which this process started) until running or failed."""
    return await _follow(dirs, proc.pid, proc.poll, within, on_progress)


async def start_machine(
    dirs: MachineDirs,
    *,
    boot_timeout: float = 900.0,
    on_progress: Callable[[str], None] | None = None,
    argv: list[str] | None = None,
) -> MachineState:
    """Start the machine's agent (unless one runs) and wait until the machine runs.

    Returns the final state: ``running``, or ``failed`` with ``last_error``. A start
    already under way (another terminal, the app) is followed rather than refused, also
    when two starts race for the machine. ``argv`` replaces the agent command (tests run
    the agent over a stand-in guest).
    """
    deadline = time.monotonic() + 10.0
    while True:
        pid = agent_pid(dirs)
        if pid > 0:
            st = effective_state(dirs)
            if st.state == RUNNING:
                return st
            if st.state != STARTING or st.agent_pid != pid:
                raise ControlError(f"machine {dirs.name!r} is {st.state}; try again once it is not")

            def gone() -> int | None:
                return None if agent_holds_lock(dirs) else 1

            return await _follow(dirs, pid, gone, boot_timeout + 60, on_progress)
        if pid < 0:
            # An agent holds the lock but has not written its pid yet.
            if time.monotonic() > deadline:
                raise ControlError(f"the host agent of machine {dirs.name!r} does not answer")
            await asyncio.sleep(0.1)
            continue
        proc = spawn_agent(dirs, argv or agent_command(dirs, boot_timeout))
        try:
            return await wait_started(dirs, proc, boot_timeout + 60, on_progress)
        except ControlError:
            if proc.returncode != ALREADY_RUNNING_EXIT:
                raise
            # Another start won the race for the machine: follow that one.


async def stop_machine(dirs: MachineDirs, *, force: bool = False, within: float = 120.0) -> bool:
    """Ask the agent to stop the machine and wait until it has; ``force`` kills the agent
    (and its QEMU) when that fails. False when the machine was not running."""
    pid = agent_pid(dirs)
    if not pid:
        return False
    try:
        await AgentClient(dirs).stop()
    except ControlError:
        if not force:
            raise
    deadline = time.monotonic() + (within if not force else within / 4)
    while agent_holds_lock(dirs):
        if time.monotonic() > deadline:
            if not force:
                raise ControlError(f"machine {dirs.name!r} did not stop within {within:.0f} s")
            if pid > 0:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            qemu = read_state(dirs).qemu_pid
            if qemu and pid_alive(qemu):
                # The agent's lock is gone with it; its QEMU must not outlive it.
                with contextlib.suppress(ProcessLookupError):
                    os.kill(qemu, signal.SIGKILL)
            break
        await asyncio.sleep(0.2)
    # The lock goes a moment before the process: a stopped machine is one whose agent and
    # QEMU are gone, so `rm` right after leaves no process behind.
    qemu = read_state(dirs).qemu_pid
    settle = time.monotonic() + 10
    while time.monotonic() < settle:
        if not (pid_alive(pid) or pid_alive(qemu)):
            break
        await asyncio.sleep(0.05)
    return True


def list_machines(home: Path) -> list[MachineDirs]:
    """Every machine directory under ``home`` (those with a settings file), by name."""
    if not home.is_dir():
        return []
    return sorted(
        (d for d in map(MachineDirs, home.iterdir()) if d.config.is_file()),
        key=lambda d: d.name,
    )
