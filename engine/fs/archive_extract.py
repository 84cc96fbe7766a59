"""Extracting an uploaded tar into a container (``PUT /containers/{id}/archive``).

The images area's hostile-tar extractor does the writing, adapted to what the
container sees (the :class:`~.pathresolve.RootView`):

- an entry whose path reaches a mount destination continues in the mount's host
  source (``data/x`` uploaded to ``/`` lands in the volume at ``/data``), and a
  regular file uploaded onto a file mount (``/etc/hosts``) is rewritten in place so
  the running container sees it;
- a directory in an entry's path that is a symlink *already in the container* is
  followed as if chrooted (absolute targets from the container's root, ``..``
  never above it), as Docker's chrooted extraction does; a symlink written by the
  same tar is still refused, so a tar cannot build its own way out;
- every directory written into is checked against read-only mounts and a
  read-only rootfs, and a hard link may not join two different mounts.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

from ..errors import Forbidden, InvalidParameter, NotFound
from . import pathsafe
from .pathresolve import MountSource, RootView
from .pathsafe import UnsafePath, shown
from .tarformat import BLOCKDEV, CHAR, DIR, SYMLINK, Entry, TarStream
from .tarsafe import WHITEOUT, LayerExtractor, write_payload

_CHUNK = 1 << 20


def _show(parts: tuple[str, ...]) -> str:
    return "/" + "/".join(parts)


class CopyExtractor(LayerExtractor):
    """The images area's safe extractor, adapted to ``docker cp`` semantics.

    Rooted at an already-open directory fd; ``.wh.`` names are refused rather than
    turned into whiteouts (they would delete files in the container); device nodes
    are skipped; ``owner`` replaces every entry's uid/gid (``copyUIDGID``); with
    ``no_overwrite`` a directory is never replaced by a non-directory or vice versa.
    With ``view`` (the container's files) and ``base`` (the container path of the
    destination), mounts and the container's own symlinks are honoured as described
    in the module docstring; ``where`` is the mount holding the destination (None:
    the rootfs) and ``rootfs_ro`` whether the rootfs refuses writes.
    """

    def __init__(
        self,
        dest_fd: int,
        shown_root: str,
        owner: tuple[int, int] | None,
        no_overwrite: bool,
        view: RootView | None = None,
        base: tuple[str, ...] = (),
        where: MountSource | None = None,
        rootfs_ro: bool = False,
    ) -> None:
        # The base class opens its root by path; we already hold the resolved
        # directory (a path could be swapped for a symlink), so use a dup of that fd.
        super().__init__(Path("/"), None, None)
        os.close(self.root_fd)
        self.root_fd = os.dup(dest_fd)
        self.shown_root = shown_root.rstrip("/")
        self.owner = owner
        self.no_overwrite = no_overwrite
        self.view = view
        self.base = base
        self.where = where
        self.rootfs_ro = rootfs_ro
        # Which mount each directory (by tar path) lives in, and the symlinks this
        # tar wrote (by inode: the same link can be reached under several names).
        self._loc: dict[tuple[bytes, ...], MountSource | None] = {}
        self._made_links: set[tuple[int, int]] = set()

    # -- entries -------------------------------------------------------------------
    def _entry(self, e: Entry, stream: TarStream) -> None:
        base = e.name.rstrip(b"/").rsplit(b"/", 1)[-1]
        if base.startswith(WHITEOUT):
            raise UnsafePath(f"refusing to copy {e.shown()!r}: .wh. names are overlay whiteouts")
        if e.type in (CHAR, BLOCKDEV):
            self.stats.warnings.append(f"skipped device node {e.shown()!r}")
            return
        if not [p for p in e.name.split(b"/") if p not in (b"", b".")]:
            return  # the destination itself: never re-own or re-mode it
        if self.owner is not None:
            e.uid, e.gid = self.owner
        if self.view is None:
            super()._entry(e, stream)
            return
        self._trim_cache()
        parts = pathsafe.clean(e.name)
        self._parent(parts)
        self._check_writable(self._loc_of(parts))
        cparts = self._cparts(parts)
        mount = self.view.mount_at(cparts)
        if mount is not None:
            self._onto_mount(e, mount, stream)
            return
        if e.type != DIR:
            inner = self.view.mount_under(cparts)
            if inner is not None:
                # Replacing the directory would drop the mount point from under a mount
                # the container still has; dockerd's unlink fails with EBUSY here.
                raise InvalidParameter(
                    f'cannot overwrite directory "{_show(cparts)}" with non-directory: '
                    f'"{_show(inner.destination)}" is a mount point (device or resource busy)'
                )
        super()._entry(e, stream)
        if e.type == SYMLINK:
            st = os.stat(parts[-1], dir_fd=self._parent(parts), follow_symlinks=False)
            self._made_links.add((st.st_dev, st.st_ino))

    def _onto_mount(self, e: Entry, mount: MountSource, stream: TarStream) -> None:
        """An entry naming a mount destination: applied to the mount's source."""
        self._check_writable(mount)
        where = _show(mount.destination)
        src = mount.source
        if e.type == DIR:
            try:
                fd = os.open(src, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            except NotADirectoryError:
                raise InvalidParameter(
                    f'cannot overwrite non-directory "{where}" with directory "{where}"'
                ) from None
            try:
                self._set_meta_fd(fd, e)
            finally:
                os.close(fd)
            return
        if not e.is_file:
            raise InvalidParameter(f"cannot replace the mount point {where}")
        # Rewritten in place: a new inode would not be what the container has mounted.
        fd = os.open(src, os.O_WRONLY | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise InvalidParameter(
                    f'cannot overwrite directory "{where}" with non-directory "{where}"'
                )
            os.set_blocking(fd, True)
            os.ftruncate(fd, 0)
            write_payload(stream, fd)
            self._set_meta_fd(fd, e)
        finally:
            os.close(fd)
        self.stats.size += e.size

    def _hardlink(self, e: Entry, parts: list[bytes], parent: int) -> None:
        if self.view is not None:
            target = pathsafe.clean(e.linkname, "hard link target")
            if target:
                self._parent(target, create=False, full=e.linkname)
                if self.view.mount_at(self._cparts(target)) is not None or self._loc_of(
                    target
                ) is not self._loc_of(parts):
                    raise InvalidParameter(
                        f"invalid hard link {e.shown()!r}: target {shown(e.linkname)!r} "
                        "is on another mount"
                    )
        super()._hardlink(e, parts, parent)

    # -- directories ---------------------------------------------------------------
    def _parent(self, parts: list[bytes], create: bool = True, full: bytes | None = None) -> int:
        if self.view is None:
            return super()._parent(parts, create, full)
        fd = self.root_fd
        for i in range(len(parts) - 1):
            key = tuple(parts[: i + 1])
            cached = self._dirs.get(key)
            if cached is None:
                name = full if full is not None else b"/".join(parts)
                cached, self._loc[key] = self._open_dir(fd, key, name, create)
                self._dirs[key] = cached
            else:
                self._dirs.move_to_end(key)
            fd = cached
        return fd

    def _open_dir(
        self, parent_fd: int, key: tuple[bytes, ...], full: bytes, create: bool
    ) -> tuple[int, MountSource | None]:
        """A new fd of directory ``key`` and the mount it lives in."""
        assert self.view is not None
        cparts = self._cparts(list(key))
        mount = self.view.mount_at(cparts)
        if mount is not None:
            try:
                return os.open(mount.source, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC), mount
            except NotADirectoryError:
                raise UnsafePath(
                    f"invalid entry {shown(full)!r}: {_show(cparts)} is not a directory"
                ) from None
        comp = key[-1]
        try:
            st: os.stat_result | None = os.stat(comp, dir_fd=parent_fd, follow_symlinks=False)
        except FileNotFoundError:
            st = None
        if (
            st is not None
            and stat.S_ISLNK(st.st_mode)
            and (st.st_dev, st.st_ino) not in self._made_links
        ):
            return self._follow(cparts, full, create)
        # Not a link of the container's: never follow (a link swapped in meanwhile,
        # or one this tar wrote, is refused by the O_NOFOLLOW open).
        fd = pathsafe.open_child_dir(parent_fd, comp, full, create)
        return fd, self._loc_of(list(key))

    def _follow(
        self, cparts: tuple[str, ...], full: bytes, create: bool
    ) -> tuple[int, MountSource | None]:
        """Open the directory a container symlink at ``cparts`` points to, resolved
        inside the container (it never leads out of the root or its mounts)."""
        assert self.view is not None
        try:
            r = self.view.resolve(_show(cparts), follow_last=True)
        except NotFound:
            raise UnsafePath(
                f"invalid entry {shown(full)!r}: symlink {_show(cparts)} leads nowhere"
            ) from None
        try:
            try:
                fd = os.open(r.name or ".", pathsafe.DIR_FLAGS, dir_fd=r.parent_fd)
            except FileNotFoundError:
                if not create:
                    raise UnsafePath(
                        f"invalid entry {shown(full)!r}: {r.path} is not in the container"
                    ) from None
                self._check_writable(r.mount)
                os.mkdir(r.name, 0o755, dir_fd=r.parent_fd)
                fd = os.open(r.name, pathsafe.DIR_FLAGS, dir_fd=r.parent_fd)
            except OSError as err:
                if err.errno in (errno.ENOTDIR, errno.ELOOP):
                    raise UnsafePath(
                        f"invalid entry {shown(full)!r}: {r.path} is not a directory"
                    ) from None
                raise
            return fd, r.mount
        finally:
            r.close()

    # -- helpers -------------------------------------------------------------------
    def _cparts(self, parts: list[bytes]) -> tuple[str, ...]:
        return (*self.base, *(os.fsdecode(p) for p in parts))

    def _loc_of(self, parts: list[bytes]) -> MountSource | None:
        """The mount holding the directory of ``parts[-1]`` (after ``_parent``)."""
        key = tuple(parts[:-1])
        return self._loc.get(key, self.where) if key else self.where

    def _check_writable(self, where: MountSource | None) -> None:
        if where is None:
            if self.rootfs_ro:
                raise Forbidden("container rootfs is marked read-only")
        elif not where.rw:
            raise Forbidden("mounted volume is marked read-only")

    def _remove_existing(self, parent: int, parts: list[bytes], keep_dir: bool) -> bool:
        if self.no_overwrite:
            try:
                st = os.stat(parts[-1], dir_fd=parent, follow_symlinks=False)
            except FileNotFoundError:
                st = None
            if st is not None:
                shown_path = f"{self.shown_root}/{b'/'.join(parts).decode(errors='replace')}"
                if stat.S_ISDIR(st.st_mode) and not keep_dir:
                    raise InvalidParameter(
                        f'cannot overwrite directory "{shown_path}" with non-directory '
                        f'"{shown_path}"'
                    )
                if not stat.S_ISDIR(st.st_mode) and keep_dir:
                    raise InvalidParameter(
                        f'cannot overwrite non-directory "{shown_path}" with directory '
                        f'"{shown_path}"'
                    )
        return super()._remove_existing(parent, parts, keep_dir)


__all__ = ["CopyExtractor"]
