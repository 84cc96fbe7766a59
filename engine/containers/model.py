"""The container record: what is persisted per container and its state machine.

States follow Docker's ``State.Status``: created → running ⇄ paused → exited, plus
restarting (waiting out a restart back-off), removing and dead. A container is
"running" for the API while it is running, paused or restarting.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import changes
from ..conventions import ZERO_TIME

CREATED, RUNNING, PAUSED, RESTARTING, REMOVING, EXITED, DEAD = (
    "created",
    "running",
    "paused",
    "restarting",
    "removing",
    "exited",
    "dead",
)


log = logging.getLogger(__name__)

# The one table of status transitions: from each status, the statuses a container may
# move to. Every change goes through :meth:`State.move_to`; the operations check the
# status they start from themselves (with Docker's 304/409s), so a move missing here
# would be a bug, logged rather than raised to keep a container usable.
TRANSITIONS: dict[str, frozenset[str]] = {
    # start; a failed start or an exit before the first start stays created;
    # removal; live restore of a record the engine never saw run
    CREATED: frozenset({CREATED, RUNNING, EXITED, REMOVING, DEAD}),
    # pause; exit (or the engine died meanwhile, found by restore); removal
    RUNNING: frozenset({RUNNING, PAUSED, EXITED, CREATED, REMOVING, DEAD}),
    # unpause (also before a stop or SIGKILL); exit; removal
    PAUSED: frozenset({PAUSED, RUNNING, EXITED, REMOVING, DEAD}),
    # the restart after the back-off, a failed one, or a stop/removal cancelling it
    RESTARTING: frozenset({RUNNING, EXITED, CREATED, REMOVING, DEAD}),
    # start; the restart policy's back-off; live restore finding it running; removal
    EXITED: frozenset({EXITED, CREATED, RUNNING, PAUSED, RESTARTING, REMOVING, DEAD}),
    # a removal that fails leaves it dead; an exit during removal keeps removing
    REMOVING: frozenset({REMOVING, DEAD}),
    # only removal again
    DEAD: frozenset({DEAD, REMOVING}),
}


@dataclass
class State:
    """Docker's ``State`` object (Health comes later with healthchecks)."""

    status: str = CREATED
    pid: int = 0
    exit_code: int = 0
    error: str = ""
    oom_killed: bool = False
    started_at: str = ZERO_TIME
    finished_at: str = ZERO_TIME

    def __setattr__(self, name: str, value: Any) -> None:
        # The API's kept lists and inspections are current only while nothing changes.
        changes.bump()
        object.__setattr__(self, name, value)

    def to_docker(self) -> dict[str, Any]:
        """The JSON shape of ``State`` in inspect."""
        return {
            "Status": self.status,
            # dockerd keeps Running set through a restart back-off (State.SetRestarting)
            "Running": self.status in (RUNNING, PAUSED, RESTARTING),
            "Paused": self.status == PAUSED,
            "Restarting": self.status == RESTARTING,
            "OOMKilled": self.oom_killed,
            "Dead": self.status == DEAD,
            "Pid": self.pid,
            "ExitCode": self.exit_code,
            "Error": self.error,
            "StartedAt": self.started_at,
            "FinishedAt": self.finished_at,
        }

    def move_to(self, status: str) -> None:
        """Change ``status`` along :data:`TRANSITIONS`."""
        if status not in TRANSITIONS.get(self.status, frozenset()):
            log.warning("container status moved %s -> %s, outside TRANSITIONS", self.status, status)
        self.status = status


@dataclass
class Container:
    """One container's persistent record (stored as JSON in ``container_containers``)."""

    id: str
    name: str  # without the leading "/"
    created: str
    image: str  # the image reference as the user gave it (Config.Image)
    image_id: str  # "sha256:<hex>"
    path: str
    args: list[str]
    config: dict[str, Any]  # Docker's Config (Env, Cmd, Labels, Tty, ...)
    host_config: dict[str, Any]  # Docker's HostConfig
    state: State = field(default_factory=State)
    restart_count: int = 0
    # Set by an explicit stop/kill so restart policies (and unless-stopped across
    # engine restarts) leave the container alone, as Docker's HasBeenManuallyStopped.
    manually_stopped: bool = False
    has_been_started: bool = False
    conmon_pid: int = 0
    # runtime container exists (conmon launched, `create` done) but may not be started
    runtime_created: bool = False
    network_settings: dict[str, Any] = field(default_factory=dict)
    mounts: list[dict[str, Any]] = field(default_factory=list)
    # free-form slot for hooks (networks/volumes) to keep their own per-container data
    extra: dict[str, Any] = field(default_factory=dict)

    def __setattr__(self, name: str, value: Any) -> None:
        # As State's: any field reassigned makes kept answers old (in-place changes to
        # the dicts are saved or announced, which does the same).
        changes.bump()
        object.__setattr__(self, name, value)

    # -- derived -------------------------------------------------------------------
    @property
    def running(self) -> bool:
        """Running or paused (Docker's ``State.Running``)."""
        return self.state.status in (RUNNING, PAUSED)

    @property
    def labels(self) -> dict[str, str]:
        """Config.Labels (never None)."""
        return dict(self.config.get("Labels") or {})

    def to_json(self) -> dict[str, Any]:
        """Serialisable form for the store."""
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Container:
        """Inverse of :meth:`to_json` (tolerates fields added later)."""
        data = dict(data)
        state = State(**data.pop("state", {}))
        known = {f for f in cls.__dataclass_fields__}
        return cls(state=state, **{k: v for k, v in data.items() if k in known})


@dataclass
class Paths:
    """Where one container's files live."""

    root: Path  # <data-root>/containers/<id>

    @property
    def bundle(self) -> Path:
        """The OCI bundle (config.json; conmon's attach socket and ctl fifo)."""
        return self.root / "bundle"

    @property
    def commit_pause(self) -> Path:
        """Present while a commit holds the container paused (so a crash can undo it)."""
        return self.root / "commit-paused"

    @property
    def rootfs(self) -> Path:
        """The overlay mountpoint (the bundle's root.path)."""
        return self.root / "rootfs"

    @property
    def upper(self) -> Path:
        """Overlay upper dir: the container's writable layer."""
        return self.root / "upper"

    @property
    def work(self) -> Path:
        """Overlay work dir."""
        return self.root / "work"

    @property
    def log(self) -> Path:
        """conmon's k8s-file log."""
        return self.root / "ctr.log"

    @property
    def exit_dir(self) -> Path:
        """conmon's exit file directory."""
        return self.root / "exit"

    @property
    def pidfile(self) -> Path:
        """The container init's pid, written by the runtime."""
        return self.root / "pidfile"

    @property
    def conmon_pidfile(self) -> Path:
        """conmon's own pid."""
        return self.root / "conmon.pid"

    @property
    def hostname(self) -> Path:
        """Generated /etc/hostname."""
        return self.root / "hostname"

    @property
    def hosts(self) -> Path:
        """Generated /etc/hosts."""
        return self.root / "hosts"

    @property
    def resolv(self) -> Path:
        """Generated /etc/resolv.conf."""
        return self.root / "resolv.conf"
