"""Changing a running container's resources (``docker update``).

Everything goes through the runtime's ``update`` except "no pids limit" on a cgroup v1
pids hierarchy. The kernel wants ``max`` in ``pids.max``; the OCI spec says ``-1``.
runc translates, but crun 1.8 writes ``-1`` as it is on v1 (it translates only on
cgroup v2), the kernel answers EINVAL and ``docker update --pids-limit -1`` failed. So
on v1 the engine writes ``max`` itself, whatever the runtime, and leaves ``pids`` out of
what it hands the runtime.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import SystemError_
from .oci import OciRuntime

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _v1_pids_dir(cgroups_path: str, root: Path) -> Path | None:
    """The container's v1 pids cgroup, or None on cgroup v2."""
    if (root / "cgroup.controllers").exists():
        return None
    return root / "pids" / cgroups_path.strip("/")


async def update(
    oci: OciRuntime,
    cid: str,
    cgroups_path: str,
    resources: dict[str, Any],
    cgroup_root: Path = CGROUP_ROOT,
) -> None:
    """Apply OCI ``linux.resources`` to the running container ``cid``."""
    res = dict(resources)
    unlimit_pids: Path | None = None
    limit = (res.get("pids") or {}).get("limit")
    if isinstance(limit, int) and limit < 0:
        unlimit_pids = _v1_pids_dir(cgroups_path, cgroup_root)
        if unlimit_pids is not None:
            del res["pids"]
    if res:
        await oci.update(cid, res)
    if unlimit_pids is not None and unlimit_pids.is_dir():
        try:
            (unlimit_pids / "pids.max").write_text("max")
        except OSError as e:
            raise SystemError_(f"{oci.name} update: writing pids.max: {e.strerror}") from e
