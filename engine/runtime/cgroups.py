"""Removing a container's cgroup directories that its runtime left behind.

``runtime delete`` removes a container's cgroups. But when ``create`` fails after the
runtime made them — crun 1.8 failing to write a resource file such as ``cpuset.cpus``
— the runtime keeps no state for the container, ``delete`` has nothing to act on, and
crun left ``/portside/<id>`` in every hierarchy (eleven on a v1 host), for good. An
empty cgroup without processes is removed with ``rmdir``; one that still has processes
refuses (EBUSY) and stays.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _candidates(cgroups_path: str, root: Path) -> list[Path]:
    rel = cgroups_path.strip("/")
    if (root / "cgroup.controllers").exists():  # pure cgroup v2: one hierarchy
        return [root / rel]
    try:
        hierarchies = [d for d in root.iterdir() if d.is_dir() and not d.is_symlink()]
    except OSError:
        return []
    return [h / rel for h in hierarchies]


def remove_leftovers(cgroups_path: str, root: Path = CGROUP_ROOT) -> list[Path]:
    """rmdir ``cgroups_path`` in every hierarchy where it still exists; return the ones
    that could not be removed."""
    kept = []
    for d in _candidates(cgroups_path, root):
        try:
            os.rmdir(d)
        except FileNotFoundError:
            continue
        except OSError as e:
            log.warning("cannot remove the cgroup %s: %s", d, e.strerror)
            kept.append(d)
    return kept
