"""Exec sessions: what ``POST /containers/{id}/exec`` created, kept in memory.

Docker keeps exec configs in memory only: they vanish when the container stops (or
the daemon restarts), and finished ones are garbage-collected after a while. This
registry does the same, indexed by exec id and by container.
"""

from __future__ import annotations

import asyncio
import base64
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import changes
from ..errors import NotFound
from .stdio.tty import parse_detach_keys

# Finished sessions are forgotten this long after they exit (Docker: 5 minutes).
KEEP_FINISHED = 300.0
# ...and a container never keeps more than this many finished ones.
MAX_FINISHED_PER_CONTAINER = 64


@dataclass
class ExecSession:
    """One exec instance (Docker's ``ExecConfig``)."""

    id: str
    container_id: str
    entrypoint: str
    args: list[str]
    env: list[str]
    user: str
    working_dir: str
    privileged: bool
    tty: bool
    open_stdin: bool
    open_stdout: bool
    open_stderr: bool
    detach_keys: str  # as given (empty: the default)
    console_size: tuple[int, int] | None
    session_dir: Path
    running: bool = False
    started: bool = False
    exit_code: int | None = None
    pid: int = 0
    finished_at: float = 0.0
    # internal (health probes) sessions are never listed in ExecIDs
    internal: bool = False
    # the user came with the request (else the container's, already in its spec)
    explicit_user: bool = False
    # drop from the store as soon as the process exits (its container stopped)
    forget_on_exit: bool = False
    started_event: asyncio.Event = field(default_factory=asyncio.Event)
    exited_event: asyncio.Event = field(default_factory=asyncio.Event)
    process: Any = None  # the ExecProcess while it runs

    @property
    def argv(self) -> list[str]:
        """Entrypoint plus arguments."""
        return [self.entrypoint, *self.args]

    def to_docker(self) -> dict[str, Any]:
        """``GET /exec/{id}/json``."""
        return {
            "ID": self.id,
            "Running": self.running,
            "ExitCode": self.exit_code,
            "ProcessConfig": {
                "tty": self.tty,
                "entrypoint": self.entrypoint,
                "arguments": list(self.args),
                "privileged": self.privileged,
                "user": self.user,
            },
            "OpenStdin": self.open_stdin,
            "OpenStderr": self.open_stderr,
            "OpenStdout": self.open_stdout,
            "CanRemove": False,
            "ContainerID": self.container_id,
            # dockerd keeps the parsed bytes, and Go encodes bytes as base64
            "DetachKeys": base64.b64encode(parse_detach_keys(self.detach_keys)).decode()
            if self.detach_keys
            else "",
            "Pid": self.pid,
        }


def new_exec_id() -> str:
    """A 64-hex exec id."""
    return secrets.token_hex(32)


class ExecStore:
    """The live exec sessions of one engine."""

    def __init__(self) -> None:
        self._by_id: dict[str, ExecSession] = {}

    def add(self, s: ExecSession) -> None:
        """Register a new session (and forget stale finished ones)."""
        changes.bump()  # container inspect lists ExecIDs
        self.gc()
        self._by_id[s.id] = s

    def get(self, exec_id: str) -> ExecSession:
        """By full id or unique prefix; 404 with Docker's message."""
        s = self._by_id.get(exec_id)
        if s is None and exec_id:
            hits = [v for k, v in self._by_id.items() if k.startswith(exec_id)]
            if len(hits) == 1:
                s = hits[0]
        if s is None:
            raise NotFound(f"No such exec instance: {exec_id}")
        return s

    def remove(self, exec_id: str) -> None:
        """Forget one session."""
        changes.bump()
        self._by_id.pop(exec_id, None)

    def of_container(self, cid: str) -> list[ExecSession]:
        """Every session of a container, oldest first."""
        return [s for s in self._by_id.values() if s.container_id == cid]

    def ids_of(self, cid: str) -> list[str]:
        """ExecIDs as container inspect lists them: sessions not finished yet (Docker
        drops an exec from its container when it exits; health probes never show)."""
        return [s.id for s in self.of_container(cid) if not s.internal and s.exit_code is None]

    def gc(self, now: float | None = None) -> None:
        """Drop finished sessions older than :data:`KEEP_FINISHED` and the oldest
        beyond :data:`MAX_FINISHED_PER_CONTAINER` per container."""
        now = time.monotonic() if now is None else now
        per: dict[str, list[ExecSession]] = {}
        for s in list(self._by_id.values()):
            if s.running or s.exit_code is None:
                continue
            if now - s.finished_at > KEEP_FINISHED:
                self._by_id.pop(s.id, None)
            else:
                per.setdefault(s.container_id, []).append(s)
        for sessions in per.values():
            sessions.sort(key=lambda s: s.finished_at)
            for s in sessions[:-MAX_FINISHED_PER_CONTAINER]:
                self._by_id.pop(s.id, None)
