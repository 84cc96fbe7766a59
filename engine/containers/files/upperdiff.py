"""What a container changed, from its overlay upper dir: ``docker diff`` and the layer
of ``docker commit``.

A container's changes are its overlay upper dir: new and modified entries, whiteouts
(char device 0:0) for deletions and opaque directories (``trusted.overlay.opaque=y``)
for replaced ones. Whether an entry is "added" or "modified" depends on whether it
exists in the image's layers (looked up without following symlinks, honouring the
layers' own whiteouts and opaque dirs).

Docker keeps the files it needs to create for every container (/etc/hosts,
/etc/resolv.conf, /etc/hostname, mountpoints for /proc, /sys, /dev...) in a hidden
"init" layer, so they never show up in ``docker diff`` nor in committed images. We let
the runtime create them in the upper dir; such placeholders (empty, absent from the
image) are left out here to match.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from ...fs.tarwrite import TreeTar

MODIFIED, ADDED, DELETED = 0, 1, 2
OPAQUE_XATTR = "trusted.overlay.opaque"
# Docker's init layer (daemon/initlayer): created for every container, never a change.
INIT_PATHS = {
    ("dev",),
    ("dev", "pts"),
    ("dev", "shm"),
    ("dev", "console"),
    ("proc",),
    ("sys",),
    (".dockerenv",),
    ("etc",),
    ("etc", "resolv.conf"),
    ("etc", "hosts"),
    ("etc", "hostname"),
    ("etc", "mtab"),
}
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass
class UpperEntry:
    """One entry of the upper dir, during the walk (``parent_fd`` valid until the next)."""

    parent_fd: int
    name: str
    parts: tuple[str, ...]
    st: os.stat_result
    opaque: bool = False

    @property
    def is_dir(self) -> bool:
        """A directory."""
        return stat.S_ISDIR(self.st.st_mode)

    @property
    def is_whiteout(self) -> bool:
        """An overlay whiteout (char device 0:0): the path was deleted."""
        return stat.S_ISCHR(self.st.st_mode) and self.st.st_rdev == 0


def _is_opaque(fd: int) -> bool:
    try:
        return os.getxattr(fd, OPAQUE_XATTR) == b"y"
    except OSError:
        return False


def walk_upper(root: Path) -> Iterator[UpperEntry]:
    """Pre-order, sorted walk of ``root`` through dir fds (symlinks never followed).

    A directory entry is yielded before its children; its ``opaque`` flag is set.
    """
    top = os.open(root, _OPEN_DIR)
    stack: list[tuple[int, tuple[str, ...], Iterator[str]]] = [
        (top, (), iter(sorted(os.listdir(top))))
    ]
    try:
        while stack:
            dfd, parts, names = stack[-1]
            name = next(names, None)
            if name is None:
                os.close(dfd)
                stack.pop()
                continue
            try:
                st = os.stat(name, dir_fd=dfd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            child = (*parts, name)
            if not stat.S_ISDIR(st.st_mode):
                yield UpperEntry(dfd, name, child, st)
                continue
            try:
                cfd = os.open(name, _OPEN_DIR, dir_fd=dfd)
            except OSError as e:
                if e.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
                    continue
                raise
            entry = UpperEntry(dfd, name, child, st, _is_opaque(cfd))
            stack.append((cfd, child, iter(sorted(os.listdir(cfd)))))
            yield entry
    finally:
        for dfd, _, _ in stack:
            os.close(dfd)


class LowerView:
    """Looks paths up in the image's layers (top-most first) as overlayfs would."""

    def __init__(self, layers: list[Path]) -> None:
        self.layers = layers

    def lookup(self, parts: tuple[str, ...]) -> os.stat_result | None:
        """The ``lstat`` of the path in the merged image, or None if absent."""
        for layer in self.layers:
            found, st = self._probe(layer, parts)
            if found == "found":
                return st
            if found == "gone":
                return None
        return None

    def _probe(self, layer: Path, parts: tuple[str, ...]) -> tuple[str, os.stat_result | None]:
        """ "found" (+stat), "gone" (whiteout/opaque/non-dir hides lower layers) or
        "absent" (look further down)."""
        try:
            fd = os.open(layer, _OPEN_DIR)
        except OSError:
            return "absent", None
        try:
            for i, comp in enumerate(parts):
                try:
                    st = os.stat(comp, dir_fd=fd, follow_symlinks=False)
                except FileNotFoundError:
                    return ("gone" if _is_opaque(fd) and i > 0 else "absent"), None
                except NotADirectoryError:
                    return "gone", None
                if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                    return "gone", None
                if i == len(parts) - 1:
                    return "found", st
                if not stat.S_ISDIR(st.st_mode):
                    return "gone", None  # a file here hides any directory below
                nfd = os.open(comp, _OPEN_DIR, dir_fd=fd)
                os.close(fd)
                fd = nfd
            return "found", os.stat(fd)
        finally:
            os.close(fd)


def is_placeholder(e: UpperEntry, lower: os.stat_result | None) -> bool:
    """A file or mountpoint the runtime created where the image has nothing (Docker's
    init layer holds those): an empty file or a directory at one of :data:`INIT_PATHS`.
    Anything real inside such a directory is still walked and reported."""
    if lower is not None or e.parts not in INIT_PATHS:
        return False
    if stat.S_ISREG(e.st.st_mode):
        return e.st.st_size == 0
    return stat.S_ISDIR(e.st.st_mode)


def _same_dir(a: os.stat_result, b: os.stat_result) -> bool:
    return (
        stat.S_ISDIR(a.st_mode)
        and stat.S_ISDIR(b.st_mode)
        and a.st_mode == b.st_mode
        and a.st_uid == b.st_uid
        and a.st_gid == b.st_gid
    )


def compute_changes(upper: Path, layers: list[Path]) -> list[dict[str, object]]:
    """``GET /containers/{id}/changes`` (blocking): ``[{"Path", "Kind"}]`` in walk order.

    Directories count as modified only when their mode or owner changed (Docker also
    compares mtimes, but every file the runtime creates bumps those) or when a change
    happened inside them.
    """
    lower = LowerView(layers)
    out: list[dict[str, object]] = []
    recorded: set[tuple[str, ...]] = set()

    def record(parts: tuple[str, ...], kind: int) -> None:
        # A change inside a directory shows the directory as modified (Docker's rule;
        # its mtime comparison catches the modified-file case, ours is explicit).
        parent = parts[:-1]
        if parent and parent not in recorded:
            recorded.add(parent)
            out.append({"Path": "/" + "/".join(parent), "Kind": MODIFIED})
        recorded.add(parts)
        out.append({"Path": "/" + "/".join(parts), "Kind": kind})

    for e in walk_upper(upper):
        if e.is_whiteout:
            if e.parts not in recorded:
                record(e.parts, DELETED)
            continue
        below = lower.lookup(e.parts)
        if is_placeholder(e, below):
            continue
        if e.is_dir and e.opaque and below is not None:
            record(e.parts, DELETED)
            continue
        if below is None:
            record(e.parts, ADDED)
        elif not (e.is_dir and _same_dir(e.st, below)):
            record(e.parts, MODIFIED)
    return out


def write_layer(tar: TreeTar, upper: Path, layers: list[Path]) -> None:
    """The committed layer (blocking): the upper dir as a tar, whiteouts as AUFS
    ``.wh.<name>`` entries and opaque dirs marked with ``.wh..wh..opq``."""
    lower = LowerView(layers)
    for e in walk_upper(upper):
        arc = "/".join(e.parts)
        if e.is_whiteout:
            parent = "/".join(e.parts[:-1])
            name = ".wh." + e.name
            tar.add_empty_file(f"{parent}/{name}" if parent else name, e.st)
            continue
        if e.parts in INIT_PATHS and is_placeholder(e, lower.lookup(e.parts)):
            continue  # not part of the image, as with Docker's init layer
        tar.add(e.parent_fd, e.name, arc, e.st)
        if e.is_dir and e.opaque:
            tar.add_empty_file(f"{arc}/.wh..wh..opq", e.st)
