"""Container stats from cgroup v1 or v2, in Docker's ``/containers/{id}/stats`` shape."""

from __future__ import annotations

from pathlib import Path
from typing import Any

CGROUP_ROOT = Path("/sys/fs/cgroup")


def read_stats(
    cgroups_path: str,
    pid: int | None,
    previous: dict[str, Any] | None = None,
    *,
    name: str = "",
    container_id: str = "",
    own_netns: bool = True,
    cgroup_root: Path = CGROUP_ROOT,
) -> dict[str, Any]:
    """One stats sample. ``previous`` is the last sample this function returned for the
    container (it becomes ``precpu_stats``/``preread``; None gives zeroed precpu like
    Docker's first sample). ``networks`` is filled from /proc/<pid>/net/dev when the
    container has a ``pid`` and its own network namespace.

    Only pseudo-files are read (cgroupfs, procfs): cheap and non-blocking, so callers
    may call it directly from the event loop.
    """
    raise NotImplementedError


def zero_stats(name: str = "", container_id: str = "") -> dict[str, Any]:
    """Docker's stats answer for a container that is not running (all zero)."""
    raise NotImplementedError
