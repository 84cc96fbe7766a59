"""Safe layer extraction: a hostile tar can never write outside the layer directory.

Rules (each one has a test in tests/engine/images/test_tarsafe.py):

- Names are cleaned lexically; a leading ``/`` is dropped, ``..`` above the root is
  refused (400 "path escapes the layer").
- Every write goes through directory fds opened with ``O_NOFOLLOW``; a symlink in a
  parent position is refused, so ``link -> /etc`` followed by ``link/passwd`` fails.
  Symlinks themselves (absolute ones too) are stored verbatim and never followed.
- Hard links must name an existing non-directory of the same layer, reached without
  crossing a symlink; ``linkat`` is called without ``AT_SYMLINK_FOLLOW``.
- Devices: the overlay whiteout (char 0:0) is created; any other char/block device is
  skipped with a warning. Refusing would make old images that ship ``/dev`` nodes
  unloadable, while creating them would put raw host devices into image layers; a
  skipped node is still recorded in the tar-split so the diff-id and ``save`` stay
  exact. FIFOs are created (they give no access to anything).
- Ownership, modes (setuid/setgid/sticky), mtimes and xattrs are kept; ``trusted.*``
  xattrs from the tar are dropped because overlayfs interprets them (redirects,
  metacopy) — only ``trusted.overlay.opaque`` is set, from ``.wh..wh..opq``.
- AUFS whiteouts: ``.wh.<name>`` becomes a char 0:0 node ``<name>``; other
  ``.wh..wh.*`` meta-files are dropped.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
import stat
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

from ..images.tarsplit import SplitWriter
from . import pathsafe
from .pathsafe import UnsafePath, shown
from .tarformat import (
    BLOCKDEV,
    CHAR,
    DIR,
    FIFO,
    LINK,
    SYMLINK,
    Entry,
    TarStream,
)

log = logging.getLogger(__name__)

WHITEOUT = b".wh."
OPAQUE = b".wh..wh..opq"
_FD_CACHE = 64
_CHUNK = 1 << 20
_IGNORED_XATTR_ERRORS = (errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EACCES)


@dataclass
class ExtractStats:
    """What an extraction produced."""

    size: int = 0  # apparent size: file payloads plus symlink targets
    entries: int = 0
    warnings: list[str] = field(default_factory=list)


def write_payload(stream: TarStream, fd: int) -> None:
    """Copy the current entry's payload to ``fd`` (short writes retried)."""
    while chunk := stream.read_payload(_CHUNK):
        view = memoryview(chunk)
        while view:
            view = view[os.write(fd, view) :]


class LayerExtractor:
    """Unpacks one tar stream into ``root`` (blocking; run it in an executor)."""

    def __init__(self, root: Path, split: SplitWriter | None, shadow: Path | None) -> None:
        self.root_fd = os.open(root, pathsafe.DIR_FLAGS)
        self.split = split
        self.shadow = shadow
        self.stats = ExtractStats()
        self._dirs: OrderedDict[tuple[bytes, ...], int] = OrderedDict()
        self._dir_times: list[tuple[tuple[bytes, ...], int, int]] = []
        self._payloads: dict[bytes, int] = {}  # path -> tar-split ordinal

    def close(self) -> None:
        """Release every fd."""
        for fd in self._dirs.values():
            os.close(fd)
        self._dirs.clear()
        if self.root_fd >= 0:
            os.close(self.root_fd)
            self.root_fd = -1

    # -- driver ------------------------------------------------------------------------
    def run(self, stream: TarStream) -> ExtractStats:
        """Extract every entry, then drain the stream (the trailer is hashed too)."""
        try:
            while (entry := stream.next()) is not None:
                self.stats.entries += 1
                self._entry(entry, stream)
            stream.drain()
            self._apply_dir_times()
        finally:
            self.close()
        return self.stats

    def _entry(self, e: Entry, stream: TarStream) -> None:
        self._trim_cache()  # only between entries: fds handed out below stay open
        parts = pathsafe.clean(e.name)
        if not parts:
            if e.type != DIR:
                raise UnsafePath(f"invalid layer entry {e.shown()!r}: the root must be a directory")
            self._set_meta_fd(self.root_fd, e)
            self._dir_times.append(((), _atime(e), e.mtime_ns))
            return
        base = parts[-1]
        if base.startswith(WHITEOUT):
            self._whiteout(e, parts)
            return
        t = e.type
        if t in (CHAR, BLOCKDEV) and not (t == CHAR and e.devmajor == 0 and e.devminor == 0):
            msg = f"skipped device node {e.shown()!r} ({e.devmajor}:{e.devminor})"
            log.warning("layer extraction: %s", msg)
            self.stats.warnings.append(msg)
            return
        if t == LINK and pathsafe.clean(e.linkname, "hard link target") == parts:
            return  # a link to itself: nothing to do
        parent = self._parent(parts)
        kept_dir = self._remove_existing(parent, parts, keep_dir=t == DIR)
        if t == DIR:
            if not kept_dir:
                os.mkdir(base, 0o700, dir_fd=parent)
            fd = os.open(base, pathsafe.DIR_FLAGS, dir_fd=parent)
            try:
                self._set_meta_fd(fd, e)
            finally:
                os.close(fd)
            self._dir_times.append((tuple(parts), _atime(e), e.mtime_ns))
        elif e.is_file:
            self._file(e, parts, parent, stream)
        elif t == SYMLINK:
            if not e.linkname:
                raise UnsafePath(f"invalid layer entry {e.shown()!r}: symlink without a target")
            os.symlink(e.linkname, base, dir_fd=parent)
            self._set_meta_path(parent, base, e)
            self.stats.size += len(e.linkname)
        elif t == LINK:
            self._hardlink(e, parts, parent)
        elif t == CHAR:  # 0:0, an overlay whiteout shipped as such
            os.mknod(base, stat.S_IFCHR | (e.mode & 0o7777), os.makedev(0, 0), dir_fd=parent)
            self._set_meta_path(parent, base, e)
        elif t == FIFO:
            os.mkfifo(base, 0o600, dir_fd=parent)
            self._set_meta_path(parent, base, e)
        else:
            raise UnsafePath(f"invalid layer entry {e.shown()!r}: unsupported tar entry type {t!r}")

    # -- entry kinds -------------------------------------------------------------------
    def _file(self, e: Entry, parts: list[bytes], parent: int, stream: TarStream) -> None:
        fd = os.open(
            parts[-1],
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
            dir_fd=parent,
        )
        try:
            if e.size and self.split is not None:
                path = b"/".join(parts)
                self._payloads[path] = self.split.file(path, e.size)
            write_payload(stream, fd)
            self._set_meta_fd(fd, e)
        finally:
            os.close(fd)
        self.stats.size += e.size

    def _hardlink(self, e: Entry, parts: list[bytes], parent: int) -> None:
        target = pathsafe.clean(e.linkname, "hard link target")
        if not target:
            raise UnsafePath(f"invalid hard link {e.shown()!r}: empty target")
        tparent = self._parent(target, create=False, full=e.linkname)
        try:
            st = os.stat(target[-1], dir_fd=tparent, follow_symlinks=False)
        except FileNotFoundError:
            raise UnsafePath(
                f"invalid hard link {e.shown()!r}: target {shown(e.linkname)!r} is not in the layer"
            ) from None
        if stat.S_ISDIR(st.st_mode):
            raise UnsafePath(f"invalid hard link {e.shown()!r}: target is a directory")
        # linkat without AT_SYMLINK_FOLLOW: a link to a symlink links the symlink itself.
        os.link(target[-1], parts[-1], src_dir_fd=tparent, dst_dir_fd=parent, follow_symlinks=False)

    def _whiteout(self, e: Entry, parts: list[bytes]) -> None:
        base = parts[-1]
        parent = self._parent(parts)
        if base == OPAQUE:
            os.setxattr(parent, "trusted.overlay.opaque", b"y")
            return
        if base.startswith(WHITEOUT + WHITEOUT):
            return  # AUFS bookkeeping (.wh..wh.plnk, .wh..wh.aufs): meaningless here
        name = base[len(WHITEOUT) :]
        if name in (b"", b".", b".."):
            raise UnsafePath(f"invalid whiteout {e.shown()!r}")
        target = [*parts[:-1], name]
        self._remove_existing(parent, target, keep_dir=False)
        os.mknod(name, stat.S_IFCHR, os.makedev(0, 0), dir_fd=parent)
        os.chown(name, e.uid, e.gid, dir_fd=parent, follow_symlinks=False)

    # -- helpers -----------------------------------------------------------------------
    def _parent(self, parts: list[bytes], create: bool = True, full: bytes | None = None) -> int:
        """A cached fd of the directory holding ``parts[-1]`` (valid until the next
        entry starts)."""
        fd = self.root_fd
        for i in range(len(parts) - 1):
            key = tuple(parts[: i + 1])
            cached = self._dirs.get(key)
            if cached is None:
                name = full if full is not None else b"/".join(parts)
                cached = pathsafe.open_child_dir(fd, parts[i], name, create)
                self._dirs[key] = cached
            else:
                self._dirs.move_to_end(key)
            fd = cached
        return fd

    def _trim_cache(self) -> None:
        while len(self._dirs) > _FD_CACHE:
            _, old = self._dirs.popitem(last=False)
            os.close(old)

    def _remove_existing(self, parent: int, parts: list[bytes], keep_dir: bool) -> bool:
        """Clear the way for a new entry; returns True when an existing dir is kept."""
        base = parts[-1]
        try:
            st = os.stat(base, dir_fd=parent, follow_symlinks=False)
        except FileNotFoundError:
            return False
        path = b"/".join(parts)
        if stat.S_ISDIR(st.st_mode):
            if keep_dir:
                return True
            for p in [p for p in self._payloads if p.startswith(path + b"/")]:
                self._to_shadow(p)
            self._forget_dirs(tuple(parts))
            shutil.rmtree(base, dir_fd=parent)
            return False
        if path in self._payloads:
            self._to_shadow(path)
        else:
            os.unlink(base, dir_fd=parent)
        return False

    def _to_shadow(self, path: bytes) -> None:
        """Keep a replaced file's payload for the tar-split (duplicate tar entries)."""
        ordinal = self._payloads.pop(path)
        if self.shadow is None:
            raise UnsafePath(f"duplicate entry {shown(path)!r}")
        self.shadow.mkdir(exist_ok=True)
        parts = path.split(b"/")
        parent = self._parent(parts, create=False)
        os.rename(parts[-1], self.shadow / str(ordinal), src_dir_fd=parent)

    def _forget_dirs(self, prefix: tuple[bytes, ...]) -> None:
        n = len(prefix)
        for key in [k for k in self._dirs if k[:n] == prefix]:
            os.close(self._dirs.pop(key))

    def _set_meta_fd(self, fd: int, e: Entry) -> None:
        # chown first: it clears setuid bits and file capabilities.
        os.fchown(fd, e.uid, e.gid)
        self._set_xattrs(fd, e)
        os.fchmod(fd, e.mode & 0o7777)
        if e.type != DIR:  # only files and dirs come here; dirs get times at the end
            os.utime(fd, ns=(_atime(e), e.mtime_ns))

    def _set_meta_path(self, parent: int, base: bytes, e: Entry) -> None:
        """Ownership and times of a node that cannot be opened (symlink, fifo, device)."""
        os.chown(base, e.uid, e.gid, dir_fd=parent, follow_symlinks=False)
        if e.type != SYMLINK:
            # Not a symlink: we created this node under a name only we write to.
            os.chmod(base, e.mode & 0o7777, dir_fd=parent)
        os.utime(base, ns=(_atime(e), e.mtime_ns), dir_fd=parent, follow_symlinks=False)

    def _set_xattrs(self, fd: int, e: Entry) -> None:
        for key, value in e.xattrs.items():
            if key.startswith("trusted."):
                self.stats.warnings.append(f"dropped xattr {key} on {e.shown()!r}")
                continue
            try:
                os.setxattr(fd, key, value)
            except OSError as err:
                if err.errno not in _IGNORED_XATTR_ERRORS:
                    raise

    def _apply_dir_times(self) -> None:
        # Children were written after their directory: set its times last, deepest first.
        for parts, atime, mtime in reversed(self._dir_times):
            self._trim_cache()
            try:
                if not parts:
                    os.utime(self.root_fd, ns=(atime, mtime))
                    continue
                parent = self._parent(list(parts), create=False)
                fd = os.open(parts[-1], pathsafe.DIR_FLAGS, dir_fd=parent)
            except (OSError, UnsafePath):
                continue  # replaced by a later entry
            try:
                os.utime(fd, ns=(atime, mtime))
            finally:
                os.close(fd)


def _atime(e: Entry) -> int:
    return e.atime_ns if e.atime_ns is not None and e.atime_ns > e.mtime_ns else e.mtime_ns
