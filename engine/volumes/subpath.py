"""``VolumeOptions.Subpath``: mount a directory inside a volume, race-free.

A container sharing the volume could swap a path component for a symlink between
our check and the runtime's mount, making the runtime bind a host directory. So the
sub-path is opened once (``O_PATH|O_NOFOLLOW`` after an in-volume resolution), checked
through its file descriptor, and bind-mounted from ``/proc/self/fd/N`` onto a private
staging point under ``<exec-root>/volume-subpaths/<container>/``; the runtime mounts
the staging point. This is what dockerd's ``safepath`` does.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import shutil
from pathlib import Path

from ..errors import InvalidParameter, SystemError_
from .copyup import resolve_in_root
from .local import mounts_under

MS_BIND = 0x1000
MS_REC = 0x4000
MNT_DETACH = 2

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)


def _bind(source: str, target: str) -> None:
    if _libc.mount(source.encode(), target.encode(), None, MS_BIND | MS_REC, None) != 0:
        err = ctypes.get_errno()
        raise SystemError_(f"bind-mounting volume subpath: {os.strerror(err)}")


def _detach(target: str) -> None:
    _libc.umount2(target.encode(), MNT_DETACH)


def staging_root(exec_root: Path, container_id: str) -> Path:
    """Where a container's sub-path staging points live."""
    return exec_root / "volume-subpaths" / container_id


def stage(volume_data: Path, subpath: str, staging: Path) -> Path:
    """Bind ``volume_data/subpath`` (which must exist inside the volume) onto
    ``staging`` and return ``staging``. Blocking but quick (a few syscalls)."""
    target = resolve_in_root(volume_data, subpath)
    try:
        fd = os.open(target, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as e:
        raise InvalidParameter(f"cannot access path {target}: {e.strerror}") from None
    try:
        real = os.readlink(f"/proc/self/fd/{fd}")
        base = os.path.realpath(volume_data)
        if real != base and not real.startswith(base + "/"):
            raise InvalidParameter(f"subpath {subpath} resolves outside its volume")
        staging.parent.mkdir(parents=True, exist_ok=True)
        if os.path.isdir(f"/proc/self/fd/{fd}"):
            staging.mkdir(exist_ok=True)
        else:
            staging.touch(exist_ok=True)
        _bind(f"/proc/self/fd/{fd}", str(staging))
    finally:
        os.close(fd)
    return staging


def unstage_all(exec_root: Path, container_id: str) -> None:
    """Detach and delete a container's staging points (idempotent)."""
    root = staging_root(exec_root, container_id)
    if not root.exists():
        return
    for mnt in sorted(mounts_under(root), key=len, reverse=True):
        _detach(mnt)
    if not mounts_under(root):
        shutil.rmtree(root, ignore_errors=True)
