"""Path handling that never follows a symlink: names are cleaned lexically and walked
one component at a time with ``O_NOFOLLOW`` directory file descriptors.

Layer contents are hostile input. A layer may legitimately contain a symlink to ``/``
or ``/etc``; if any later write resolved a path through it, the write would land on
the host. Walking with dir fds and ``O_NOFOLLOW`` makes that impossible by
construction instead of by checking strings.
"""

from __future__ import annotations

import errno
import os
import stat

from ..errors import InvalidParameter

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_PATH = 4096
MAX_COMPONENT = 255


class UnsafePath(InvalidParameter):
    """A layer entry that would escape or abuse the layer directory (400)."""


def shown(name: bytes) -> str:
    """A byte path for messages."""
    return name.decode("utf-8", "replace")


def clean(name: bytes, what: str = "entry") -> list[bytes]:
    """Split ``name`` into components inside the root.

    A leading ``/`` is dropped (GNU tar and Docker both treat member names as relative
    to the archive root); ``.`` and empty components vanish; ``..`` that climbs above
    the root is refused rather than clamped, because no honest layer contains one.
    """
    if b"\0" in name:
        raise UnsafePath(f"invalid layer {what} {shown(name)!r}: NUL byte in name")
    if len(name) > MAX_PATH:
        raise UnsafePath(f"invalid layer {what}: name longer than {MAX_PATH} bytes")
    parts: list[bytes] = []
    for comp in name.split(b"/"):
        if comp in (b"", b"."):
            continue
        if comp == b"..":
            if not parts:
                raise UnsafePath(f"invalid layer {what} {shown(name)!r}: path escapes the layer")
            parts.pop()
            continue
        if len(comp) > MAX_COMPONENT:
            raise UnsafePath(
                f"invalid layer {what}: file name component longer than {MAX_COMPONENT} bytes"
            )
        parts.append(comp)
    return parts


def open_child_dir(parent_fd: int, comp: bytes, full: bytes, create: bool) -> int:
    """Open directory ``comp`` under ``parent_fd`` without following a symlink.

    With ``create`` a missing directory is made (mode 0755, as Docker makes implied
    parents). A symlink or non-directory in the way is refused.
    """
    try:
        return os.open(comp, DIR_FLAGS, dir_fd=parent_fd)
    except FileNotFoundError:
        if not create:
            raise UnsafePath(f"invalid layer entry: {shown(full)!r} is not in the layer") from None
        os.mkdir(comp, 0o755, dir_fd=parent_fd)
        return os.open(comp, DIR_FLAGS, dir_fd=parent_fd)
    except OSError as e:
        if e.errno not in (errno.ELOOP, errno.ENOTDIR):
            raise
        st = os.stat(comp, dir_fd=parent_fd, follow_symlinks=False)
        if stat.S_ISLNK(st.st_mode):
            raise UnsafePath(
                f"invalid layer entry {shown(full)!r}: path escapes the layer through "
                f"symlink {shown(comp)!r}"
            ) from None
        raise UnsafePath(
            f"invalid layer entry {shown(full)!r}: {shown(comp)!r} is not a directory"
        ) from None


def open_parent(root_fd: int, parts: list[bytes], full: bytes, create: bool = False) -> int:
    """A new fd for the directory holding ``parts[-1]`` (the caller closes it)."""
    fd = os.dup(root_fd)
    try:
        for comp in parts[:-1]:
            nxt = open_child_dir(fd, comp, full, create)
            os.close(fd)
            fd = nxt
    except BaseException:
        os.close(fd)
        raise
    return fd


def open_file(root_fd: int, path: bytes) -> int:
    """Open a regular file under ``root_fd`` for reading, refusing symlinks anywhere."""
    parts = clean(path)
    if not parts:
        raise UnsafePath("empty path")
    parent = open_parent(root_fd, parts, path)
    try:
        fd = os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=parent)
    finally:
        os.close(parent)
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise UnsafePath(f"{shown(path)!r} is not a regular file")
    return fd
