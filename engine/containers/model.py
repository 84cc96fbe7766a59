"""The container record: what is persisted per container and its state machine.

States follow Docker's ``State.Status``: created → running ⇄ paused → exited, plus
restarting (waiting out a restart back-off), removing and dead. A container is
"running" for the API while it is running, paused or restarting.
"""

from __future__ import annotations

import functools
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

CREATED, RUNNING, PAUSED, RESTARTING, REMOVING, EXITED, DEAD = (
    "created",
    "running",
    "paused",
    "restarting",
    "removing",
    "exited",
    "dead",
)
ZERO_TIME = "0001-01-01T00:00:00Z"


def now_rfc3339(ts: float | None = None) -> str:
    """Docker's RFC3339Nano timestamp (UTC, nanoseconds)."""
    ns = time.time_ns() if ts is None else int(ts * 1e9)
    secs, frac = divmod(ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs)) + f".{frac:09d}Z"


@functools.lru_cache(maxsize=8192)
def parse_rfc3339(s: str) -> float:
    """Seconds since the epoch for an RFC3339(Nano) timestamp (0 for the zero time).

    Memoized: every ``GET /containers/json`` parses each container's few timestamps again
    (for ``Created`` and the ``Up 5 minutes`` status), and ``strptime`` was the largest
    single cost of that answer under load; the strings themselves rarely change."""
    if not s or s.startswith("0001-"):
        return 0.0
    import calendar

    main, _, rest = s.partition(".")
    frac = 0.0
    if rest:
        digits = ""
        for ch in rest:
            if ch.isdigit():
                digits += ch
            else:
                break
        frac = float("0." + digits) if digits else 0.0
        tz = rest[len(digits) :]
    else:
        tz = main[19:]
        main = main[:19]
    base = calendar.timegm(time.strptime(main[:19], "%Y-%m-%dT%H:%M:%S"))
    offset = 0
    if tz and tz not in ("Z", "z"):
        sign = 1 if tz[0] == "+" else -1
        hh, _, mm = tz[1:].partition(":")
        offset = sign * (int(hh) * 3600 + int(mm or 0) * 60)
    return base + frac - offset


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
