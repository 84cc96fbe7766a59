"""Docker's copy-up: seed a new, empty volume with the image's content at its mount path.

Everything here is blocking filesystem work and runs in an executor. The source is a
container's rootfs, which the image (and, on later starts, the container) controls, so
nothing is ever resolved through a symlink found there: paths are resolved inside the
rootfs like ``FollowSymlinkInScope``, and the copy walks directory file descriptors
opened with ``O_NOFOLLOW``. Ownership, modes, times, symlinks, device nodes, hard links
and extended attributes (file capabilities) are preserved.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from collections import deque
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidParameter, SystemError_
from ..system.crashpoint import crash_point

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
MAX_SYMLINKS = 255


def resolve_in_root(root: Path, path: str) -> Path:
    """``root`` joined with ``path``, every symlink interpreted as if ``root`` were ``/``.

    The result never leaves ``root``: ``..`` stops at the root and absolute link
    targets restart from it. Missing components are kept as they are.
    """
    base = os.path.realpath(root)
    parts = deque(p for p in path.split("/") if p)
    resolved: list[str] = []
    links = 0
    while parts:
        part = parts.popleft()
        if part == ".":
            continue
        if part == "..":
            if resolved:
                resolved.pop()
            continue
        candidate = os.path.join(base, *resolved, part)
        try:
            st = os.lstat(candidate)
        except (FileNotFoundError, NotADirectoryError):
            resolved.append(part)
            continue
        except OSError as e:
            if e.errno == errno.ENAMETOOLONG:
                # The mount path came from the client; the filesystem cannot hold it.
                raise InvalidParameter(f"lstat {path}: file name too long") from None
            raise
        if not stat.S_ISLNK(st.st_mode):
            resolved.append(part)
            continue
        links += 1
        if links > MAX_SYMLINKS:
            raise SystemError_(f"too many symlinks resolving {path} in {root}")
        target = os.readlink(candidate)
        if target.startswith("/"):
            resolved = []
        parts.extendleft(reversed([p for p in target.split("/") if p]))
    return Path(base, *resolved)


def seed(source: Path, dest: Path, marker: Path) -> bool:
    """:func:`copy_into_empty` that survives a crash of the engine mid-copy.

    ``marker`` (outside ``dest``) exists exactly while a copy may be incomplete: it is
    made durable before the first file is copied and removed after the last. Finding
    it means an earlier copy was cut short, so ``dest`` is emptied and the copy redone;
    an error (not a crash) empties ``dest`` itself, so the marker goes then too.
    """
    if marker.exists():
        discard_partial_seed(dest, marker)
    _durable_touch(marker)
    try:
        return copy_into_empty(source, dest)
    finally:
        marker.unlink(missing_ok=True)


def discard_partial_seed(dest: Path, marker: Path) -> None:
    """Empty a volume a crash left half-seeded (``marker`` present) and drop the marker."""
    _empty(dest)
    marker.unlink(missing_ok=True)


def _durable_touch(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    dfd = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)


def copy_into_empty(source: Path, dest: Path) -> bool:
    """Copy the directory ``source`` into ``dest`` if ``dest`` is empty.

    Returns False (and touches nothing) when ``dest`` already has content or
    ``source`` is not a directory. The volume's root takes the source directory's owner
    and mode, as in Docker. On failure ``dest`` is emptied again so the next start
    retries instead of leaving a half-seeded volume.
    """
    try:
        sfd = os.open(source, _DIR_FLAGS)
    except OSError as e:
        if e.errno in (errno.ENOENT, errno.ENOTDIR, errno.ELOOP):
            return False
        raise SystemError_(f"copy-up from {source}: {e.strerror}") from e
    try:
        dfd = os.open(dest, _DIR_FLAGS)
    except OSError as e:
        os.close(sfd)
        raise SystemError_(f"copy-up into {dest}: {e.strerror}") from e
    try:
        if os.listdir(dfd):
            return False
        try:
            _copy_tree(sfd, dfd)
            st = os.fstat(sfd)
            os.fchown(dfd, st.st_uid, st.st_gid)
            os.fchmod(dfd, stat.S_IMODE(st.st_mode))
        except OSError as e:
            _empty(dest)
            raise SystemError_(
                f"error while copying image content from {source} to volume {dest}: {e}"
            ) from e
        return True
    finally:
        os.close(sfd)
        os.close(dfd)


def _empty(path: Path) -> None:
    for name in os.listdir(path):
        p = path / name
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            try:
                p.unlink()
            except OSError:
                pass


@dataclass
class _Frame:
    sfd: int
    dfd: int
    rel: str
    names: list[str]
    own: bool
    i: int = 0


def _copy_tree(src_root: int, dst_root: int) -> None:
    """Depth-first copy holding only the file descriptors of the current path."""
    links: dict[tuple[int, int], str] = {}
    dir_times: list[tuple[str, os.stat_result]] = []
    stack = [_Frame(src_root, dst_root, "", sorted(os.listdir(src_root)), own=False)]
    try:
        while stack:
            fr = stack[-1]
            if fr.i >= len(fr.names):
                stack.pop()
                if fr.own:
                    os.close(fr.sfd)
                    os.close(fr.dfd)
                continue
            name = fr.names[fr.i]
            fr.i += 1
            try:
                st = os.stat(name, dir_fd=fr.sfd, follow_symlinks=False)
            except FileNotFoundError:
                continue
            rel = f"{fr.rel}/{name}" if fr.rel else name
            mode = st.st_mode
            if stat.S_ISDIR(mode):
                os.mkdir(name, 0o700, dir_fd=fr.dfd)
                csfd = os.open(name, _DIR_FLAGS, dir_fd=fr.sfd)
                try:
                    cdfd = os.open(name, _DIR_FLAGS, dir_fd=fr.dfd)
                except OSError:
                    os.close(csfd)
                    raise
                os.fchown(cdfd, st.st_uid, st.st_gid)
                os.fchmod(cdfd, stat.S_IMODE(mode))
                _copy_xattrs(csfd, cdfd)
                dir_times.append((rel, st))
                stack.append(_Frame(csfd, cdfd, rel, sorted(os.listdir(csfd)), own=True))
            elif stat.S_ISREG(mode):
                key = (st.st_dev, st.st_ino)
                if st.st_nlink > 1 and key in links:
                    os.link(
                        links[key],
                        name,
                        src_dir_fd=dst_root,
                        dst_dir_fd=fr.dfd,
                        follow_symlinks=False,
                    )
                    continue
                _copy_file(fr.sfd, fr.dfd, name, st)
                crash_point("volume-seed")
                if st.st_nlink > 1:
                    links[key] = rel
            elif stat.S_ISLNK(mode):
                target = os.readlink(name, dir_fd=fr.sfd)
                os.symlink(target, name, dir_fd=fr.dfd)
                os.chown(name, st.st_uid, st.st_gid, dir_fd=fr.dfd, follow_symlinks=False)
                os.utime(
                    name,
                    ns=(st.st_atime_ns, st.st_mtime_ns),
                    dir_fd=fr.dfd,
                    follow_symlinks=False,
                )
            else:  # device nodes, fifos, sockets
                os.mknod(name, mode, st.st_rdev, dir_fd=fr.dfd)
                os.chown(name, st.st_uid, st.st_gid, dir_fd=fr.dfd, follow_symlinks=False)
                os.chmod(name, stat.S_IMODE(mode), dir_fd=fr.dfd)
                os.utime(name, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=fr.dfd)
    finally:
        for fr in stack:
            if fr.own:
                os.close(fr.sfd)
                os.close(fr.dfd)
    # Directory times last: creating their entries changed them.
    for rel, st in reversed(dir_times):
        os.utime(rel, ns=(st.st_atime_ns, st.st_mtime_ns), dir_fd=dst_root, follow_symlinks=False)


def _copy_file(src_dir: int, dst_dir: int, name: str, st: os.stat_result) -> None:
    src = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=src_dir)
    try:
        dst = os.open(
            name,
            os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o600,
            dir_fd=dst_dir,
        )
        try:
            _copy_data(src, dst, st.st_size)
            # chown before chmod: chown clears setuid/setgid bits.
            os.fchown(dst, st.st_uid, st.st_gid)
            os.fchmod(dst, stat.S_IMODE(st.st_mode))
            _copy_xattrs(src, dst)
            os.utime(dst, ns=(st.st_atime_ns, st.st_mtime_ns))
        finally:
            os.close(dst)
    finally:
        os.close(src)


def _copy_data(src: int, dst: int, size: int) -> None:
    """Kernel-side copy; falls back to sendfile, then read/write."""
    copied = 0
    try:
        while True:
            n = os.copy_file_range(src, dst, 1 << 30)
            if n == 0:
                return
            copied += n
    except OSError as e:
        if e.errno not in (errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
            raise
    try:
        while True:
            n = os.sendfile(dst, src, copied, 1 << 30)
            if n == 0:
                return
            copied += n
    except OSError as e:
        if e.errno not in (errno.EINVAL, errno.ENOSYS):
            raise
    os.lseek(src, copied, os.SEEK_SET)
    os.lseek(dst, copied, os.SEEK_SET)
    while True:
        buf = os.read(src, 1 << 20)
        if not buf:
            return
        view = memoryview(buf)
        while view:
            view = view[os.write(dst, view) :]


def _copy_xattrs(src: int, dst: int) -> None:
    """Best effort: file capabilities and user xattrs survive; unsupported ones don't."""
    try:
        names = os.listxattr(src)
    except OSError:
        return
    for attr in names:
        try:
            os.setxattr(dst, attr, os.getxattr(src, attr))
        except OSError:
            continue
