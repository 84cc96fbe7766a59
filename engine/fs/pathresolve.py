"""Resolving container paths as if chrooted, without ever leaving the container.

A container path is walked one component at a time from a directory fd of the
container's root: every component is looked at with ``lstat`` relative to its parent
fd and directories are entered with ``O_NOFOLLOW``; symlinks are read and resolved by
us, absolute targets from the container's root and ``..`` never above it (the
semantics of filepath-securejoin / ``openat2(RESOLVE_IN_ROOT)``). A symlink planted
as ``/escape -> /`` or ``../../..`` therefore lands on the container's own root, and
a link swapped in mid-walk makes the ``O_NOFOLLOW`` open fail instead of being
followed on the host.

The view is the container's rootfs plus its volumes and binds (and the generated
/etc/hosts, /etc/hostname, /etc/resolv.conf), as Docker shows it to ``docker cp``:
when the walk reaches a mount destination it continues in the mount's host source.
"""

from __future__ import annotations

import errno
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InvalidParameter, NotFound

MAX_SYMLINKS = 40
O_PATH_DIR = os.O_PATH | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass
class MountSource:
    """A volume, bind or generated file shown inside the container."""

    destination: tuple[str, ...]
    source: Path  # host path (trusted: the engine or the user's own bind)
    rw: bool = True


@dataclass
class Resolved:
    """Where a container path ended up.

    ``parent_fd`` (owned by the caller: close it) is the directory holding ``name``;
    for the container's root itself ``name`` is ``""`` and ``parent_fd`` is the root.
    ``mount`` is the innermost mount the final entry lives in (None: the rootfs).
    """

    parent_fd: int
    name: str
    parts: tuple[str, ...]
    mount: MountSource | None = None

    @property
    def path(self) -> str:
        """The resolved container path."""
        return "/" + "/".join(self.parts)

    def lstat(self) -> os.stat_result:
        """lstat of the final entry (FileNotFoundError when missing)."""
        if not self.name:
            return os.stat(self.parent_fd)
        return os.stat(self.name, dir_fd=self.parent_fd, follow_symlinks=False)

    def close(self) -> None:
        """Release the parent fd."""
        if self.parent_fd >= 0:
            os.close(self.parent_fd)
            self.parent_fd = -1


@dataclass
class _Level:
    fd: int
    part: str | None
    mount: MountSource | None


@dataclass
class RootView:
    """A container's filesystem as ``docker cp`` sees it."""

    root: Path
    mounts: list[MountSource] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._by_dest = {m.destination: m for m in self.mounts}

    def mount_at(self, parts: tuple[str, ...]) -> MountSource | None:
        """The mount whose destination is exactly ``parts``."""
        return self._by_dest.get(parts)

    def source_at(self, parts: tuple[str, ...]) -> Path | None:
        """Host source of the mount at exactly ``parts`` (for :class:`TreeTar`)."""
        m = self._by_dest.get(parts)
        return m.source if m is not None else None

    def names_under(self, parts: tuple[str, ...]) -> set[str]:
        """Names of mount destinations directly under ``parts`` (for :class:`TreeTar`)."""
        n = len(parts)
        return {d[n] for d in self._by_dest if len(d) == n + 1 and d[:n] == parts}

    def mount_under(self, parts: tuple[str, ...]) -> MountSource | None:
        """A mount whose destination lies strictly below ``parts`` (None if none)."""
        n = len(parts)
        return next((m for d, m in self._by_dest.items() if len(d) > n and d[:n] == parts), None)

    def mount_of(self, parts: tuple[str, ...]) -> MountSource | None:
        """The innermost mount holding container path ``parts``."""
        for i in range(len(parts), 0, -1):
            m = self._by_dest.get(parts[:i])
            if m is not None:
                return m
        return None

    def resolve(self, path: str, follow_last: bool = True) -> Resolved:
        """Resolve ``path`` (relative paths start at the root).

        ``follow_last`` False keeps a final symlink itself (``docker cp c:/link``).
        A missing final component is fine (``Resolved.lstat`` tells); a missing or
        non-directory parent raises :class:`NotFound`.
        """
        pending = split_path(path)
        root_fd = os.open(self.root, O_PATH_DIR)
        stack = [_Level(root_fd, None, None)]
        links = 0
        try:
            while pending:
                part = pending.pop(0)
                if part == "..":
                    if len(stack) > 1:
                        os.close(stack.pop().fd)
                    continue
                cand = (*_here(stack), part)
                last = not pending
                mount = self._by_dest.get(cand)
                if mount is not None:
                    if last:
                        return _mount_result(mount, cand)
                    if not mount.source.is_dir():
                        raise NotFound(f"{_show(cand)}: not a directory")
                    fd = os.open(mount.source, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
                    stack.append(_Level(fd, part, mount))
                    continue
                parent = stack[-1]
                try:
                    st = os.stat(part, dir_fd=parent.fd, follow_symlinks=False)
                except FileNotFoundError:
                    if last:
                        return self._result(stack, part, cand)
                    raise NotFound(f"{_show(cand)}: no such file or directory") from None
                except OSError as e:
                    if e.errno == errno.ENAMETOOLONG:
                        # A name longer than the filesystem allows is the caller's mistake.
                        raise InvalidParameter(f"lstat {_show(cand)}: file name too long") from None
                    raise
                if stat.S_ISLNK(st.st_mode) and (follow_last or not last):
                    links += 1
                    if links > MAX_SYMLINKS:
                        raise InvalidParameter(f"too many levels of symbolic links in {path}")
                    target = os.readlink(part, dir_fd=parent.fd)
                    if target.startswith("/"):
                        while len(stack) > 1:
                            os.close(stack.pop().fd)
                    pending = split_path(target) + pending
                    continue
                if last:
                    return self._result(stack, part, cand)
                if not stat.S_ISDIR(st.st_mode):
                    raise NotFound(f"{_show(cand)}: not a directory")
                try:
                    fd = os.open(part, O_PATH_DIR, dir_fd=parent.fd)
                except OSError as e:
                    if e.errno in (errno.ELOOP, errno.ENOTDIR, errno.ENOENT):
                        # Swapped for a symlink (or removed) under our feet: refuse.
                        raise NotFound(f"{_show(cand)} changed while resolving") from e
                    raise
                stack.append(_Level(fd, part, parent.mount))
            # The path ended at a directory level: the root, or after a "..".
            top = stack[-1]
            if top.part is None:
                return Resolved(os.dup(top.fd), "", (), None)
            cand = _here(stack)
            if top.mount is not None and top.mount.destination == cand:
                return _mount_result(top.mount, cand)
            return Resolved(os.dup(stack[-2].fd), top.part, cand, self.mount_of(cand))
        finally:
            for lv in stack:
                os.close(lv.fd)

    def _result(self, stack: list[_Level], name: str, cand: tuple[str, ...]) -> Resolved:
        return Resolved(os.dup(stack[-1].fd), name, cand, self.mount_of(cand))


def _here(stack: list[_Level]) -> tuple[str, ...]:
    return tuple(lv.part for lv in stack[1:] if lv.part is not None)


def _show(parts: tuple[str, ...]) -> str:
    return "/" + "/".join(parts)


def _mount_result(m: MountSource, cand: tuple[str, ...]) -> Resolved:
    """A mount named itself: its host source, reached through its parent dir."""
    pfd = os.open(m.source.parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    return Resolved(pfd, m.source.name, cand, m)


def split_path(path: str) -> list[str]:
    """Non-empty components of a container path (``.`` dropped, ``..`` kept)."""
    return [p for p in path.split("/") if p not in ("", ".")]
