"""The container's root filesystem: an overlay of the image layers plus a private upper.

The kernel limits mount options to one page (4096 bytes). With many layers the
absolute lowerdir list outgrows it, so then we give each layer a tiny numbered
symlink in the container's ``lower/`` directory and mount from a child process whose
cwd is that directory, passing ``0:1:2:...`` (the idea of moby's overlay2 "l/" short
links); past what even that allows we refuse with a clear error.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import errno
import os
import shutil
from pathlib import Path

from ...errors import SystemError_

_libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_char_p,
]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]

MNT_DETACH = 2
PAGE_LIMIT = 4000  # a little under 4096: the kernel also counts the terminator


def is_mounted(path: Path) -> bool:
    """Whether ``path`` is a mount point (from /proc/self/mountinfo)."""
    target = str(path)
    try:
        with open("/proc/self/mountinfo") as f:
            for line in f:
                mnt = line.split(" ", 5)[4]
                if mnt == target or mnt.encode().decode("unicode_escape") == target:
                    return True
    except OSError:
        return False
    return False


def _options(lower: list[str], upper: Path, work: Path) -> str:
    return f"lowerdir={':'.join(lower)},upperdir={upper},workdir={work}"


async def mount_overlay(layers: list[Path], upper: Path, work: Path, target: Path) -> None:
    """Mount ``layers`` (top-most first) + ``upper`` on ``target``.

    An image with no layers gets an empty lower directory (overlay needs one).
    """
    for d in (upper, work, target):
        d.mkdir(parents=True, exist_ok=True)
    if is_mounted(target):
        return
    if not layers:
        empty = target.parent / "empty-lower"
        empty.mkdir(exist_ok=True)
        layers = [empty]
    opts = _options([str(p) for p in layers], upper, work)
    if len(opts) < PAGE_LIMIT:
        if _libc.mount(b"overlay", str(target).encode(), b"overlay", 0, opts.encode()) != 0:
            err = ctypes.get_errno()
            raise SystemError_(f"mounting the container's overlay failed: {os.strerror(err)}")
        return
    # Short relative names: <container>/lower/<n> -> layer dir, mounted with that cwd.
    short = target.parent / "lower"
    shutil.rmtree(short, ignore_errors=True)
    short.mkdir()
    for i, layer in enumerate(layers):
        os.symlink(layer, short / str(i))
    opts = _options([str(i) for i in range(len(layers))], upper, work)
    if len(opts) >= PAGE_LIMIT:
        raise SystemError_(
            f"the image has too many layers ({len(layers)}) for one overlay mount: the "
            "lowerdir option would exceed the kernel's page-size limit"
        )
    proc = await asyncio.create_subprocess_exec(
        "mount",
        "-t",
        "overlay",
        "overlay",
        "-o",
        opts,
        str(target),
        cwd=str(short),
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, err_out = await proc.communicate()
    if proc.returncode != 0:
        raise SystemError_(f"mounting the container's overlay failed: {err_out.decode().strip()}")


def unmount(target: Path) -> None:
    """Unmount ``target`` if mounted (lazily when busy)."""
    path = str(target).encode()
    for _ in range(5):
        if not is_mounted(target):
            return
        if _libc.umount2(path, 0) == 0:
            continue
        err = ctypes.get_errno()
        if err == errno.EBUSY:
            _libc.umount2(path, MNT_DETACH)
        elif err in (errno.EINVAL, errno.ENOENT):
            return
        else:
            raise SystemError_(f"unmounting {target} failed: {os.strerror(err)}")


def dir_size(path: Path) -> int:
    """Bytes used by the files under ``path`` (for SizeRw); call in an executor."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total
