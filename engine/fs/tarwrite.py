"""Writing tar streams of container files (``docker cp`` out, export, commit).

Everything is read through directory fds without following symlinks: a tree is
walked with ``O_NOFOLLOW`` opens relative to its parent, so a symlink in the
container is archived as a symlink and never read through. Hard links inside one
archive become tar hard links; sockets are skipped (as Docker does); only the
``security.capability`` xattr is kept (as Docker does).

The writing is blocking and runs in an executor thread; :func:`stream_from_thread`
turns it into an async iterator of chunks with back-pressure, and stops the thread
when the consumer goes away.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import stat
import tarfile
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any, Protocol, cast

CHUNK = 1 << 20
_XATTRS = ("security.capability",)
_OPEN_FILE = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NOCTTY | os.O_NONBLOCK
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


class StreamAborted(Exception):
    """The consumer of a tar stream went away."""


class _Sink:
    """File-like object tarfile writes to; hands full chunks to ``emit``."""

    def __init__(self, emit: Callable[[bytes], None]) -> None:
        self.emit = emit
        self.buf = bytearray()

    def write(self, data: bytes) -> int:
        self.buf += data
        if len(self.buf) >= CHUNK:
            self.emit(bytes(self.buf))
            self.buf.clear()
        return len(data)

    def flush(self) -> None:
        if self.buf:
            self.emit(bytes(self.buf))
            self.buf.clear()


class _FdReader:
    """Exactly ``size`` bytes from a file descriptor: a file that shrank while being
    archived is padded with zeros, one that grew is cut (the header said ``size``)."""

    def __init__(self, fd: int, size: int) -> None:
        self.fd = fd
        self.left = size

    def read(self, n: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        n = self.left if n < 0 else min(n, self.left)
        try:
            data = os.read(self.fd, n)
        except BlockingIOError:
            data = b""
        if not data:
            data = bytes(n)
        self.left -= len(data)
        return data


class MountOverlay(Protocol):
    """Host sources shown over a tree (``docker cp`` of a container with mounts).

    ``parts`` are container path components. A walk that reaches a mount
    destination archives the mount's source in place of what lies beneath it.
    """

    def source_at(self, parts: tuple[str, ...]) -> Path | None:
        """The host source mounted exactly at ``parts`` (None: no mount there)."""
        ...

    def names_under(self, parts: tuple[str, ...]) -> set[str]:
        """Names of mount destinations directly under directory ``parts``."""
        ...


class TreeTar:
    """A tar stream being written (blocking)."""

    def __init__(self, emit: Callable[[bytes], None]) -> None:
        self._sink = _Sink(emit)
        self.tar = tarfile.open(
            fileobj=cast(Any, self._sink),
            mode="w|",
            format=tarfile.PAX_FORMAT,
            encoding="utf-8",
            errors="surrogateescape",
        )
        self._links: dict[tuple[int, int], str] = {}

    def close(self) -> None:
        """Write the end-of-archive blocks and flush."""
        self.tar.close()
        self._sink.flush()

    # -- entries -------------------------------------------------------------------
    def info(self, arcname: str, st: os.stat_result) -> tarfile.TarInfo:
        """A header for ``arcname`` from its ``lstat``."""
        ti = tarfile.TarInfo(arcname)
        ti.mode = stat.S_IMODE(st.st_mode)
        ti.uid, ti.gid = st.st_uid, st.st_gid
        ti.uname = ti.gname = ""
        ti.mtime = int(st.st_mtime)
        return ti

    def add(
        self,
        parent_fd: int,
        name: str,
        arcname: str,
        st: os.stat_result | None = None,
    ) -> os.stat_result | None:
        """Archive one entry (not its children); None when skipped or gone."""
        if st is None:
            try:
                st = (
                    os.stat(name, dir_fd=parent_fd, follow_symlinks=False)
                    if name
                    else os.stat(parent_fd)
                )
            except FileNotFoundError:
                return None
        mode = st.st_mode
        ti = self.info(arcname, st)
        if stat.S_ISREG(mode):
            key = (st.st_dev, st.st_ino)
            if st.st_nlink > 1 and key in self._links:
                ti.type = tarfile.LNKTYPE
                ti.linkname = self._links[key]
                self.tar.addfile(ti)
                return st
            try:
                fd = os.open(name, _OPEN_FILE, dir_fd=parent_fd)
            except OSError as e:
                if e.errno in (errno.ENOENT, errno.ELOOP):
                    return None  # removed or swapped for a link meanwhile
                raise
            try:
                if st.st_nlink > 1:
                    self._links[key] = arcname
                self._xattrs(ti, fd)
                ti.type = tarfile.REGTYPE
                ti.size = st.st_size
                os.set_blocking(fd, True)
                self.tar.addfile(ti, cast(Any, _FdReader(fd, st.st_size)))
            finally:
                os.close(fd)
        elif stat.S_ISDIR(mode):
            ti.type = tarfile.DIRTYPE
            self.tar.addfile(ti)
        elif stat.S_ISLNK(mode):
            ti.type = tarfile.SYMTYPE
            ti.linkname = os.readlink(name, dir_fd=parent_fd)
            self.tar.addfile(ti)
        elif stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            ti.type = tarfile.CHRTYPE if stat.S_ISCHR(mode) else tarfile.BLKTYPE
            ti.devmajor, ti.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
            self.tar.addfile(ti)
        elif stat.S_ISFIFO(mode):
            ti.type = tarfile.FIFOTYPE
            self.tar.addfile(ti)
        else:
            return None  # sockets: Docker skips them too
        return st

    def add_empty_file(self, arcname: str, st: os.stat_result) -> None:
        """An empty regular file with ``st``'s owner and times (AUFS whiteouts)."""
        ti = self.info(arcname, st)
        ti.mode = 0o644 if not stat.S_ISREG(st.st_mode) else ti.mode
        ti.type = tarfile.REGTYPE
        ti.size = 0
        self.tar.addfile(ti)

    def _xattrs(self, ti: tarfile.TarInfo, fd: int) -> None:
        for key in _XATTRS:
            try:
                value = os.getxattr(fd, key)
            except OSError:
                continue
            headers = dict(ti.pax_headers)
            headers["SCHILY.xattr." + key] = value.decode("utf-8", "surrogateescape")
            ti.pax_headers = headers

    # -- trees ---------------------------------------------------------------------
    def add_tree(
        self,
        parent_fd: int,
        name: str,
        arcname: str,
        *,
        descend: Callable[[str, os.stat_result, os.stat_result], bool] | None = None,
        skip: Callable[[str], bool] | None = None,
        overlay: MountOverlay | None = None,
        parts: tuple[str, ...] = (),
    ) -> None:
        """Archive ``name`` and, if a directory, everything under it (sorted).

        ``descend(arcname, dir_stat, parent_stat)`` may refuse to enter a directory
        (the entry itself is kept), ``skip(arcname)`` drops an entry entirely.
        With ``overlay``, ``parts`` is the container path of ``name`` and mounts
        below it are archived from their host sources.
        """
        st = self.add(parent_fd, name, arcname)
        if st is None or not stat.S_ISDIR(st.st_mode):
            return
        try:
            fd = os.open(name or ".", _OPEN_DIR, dir_fd=parent_fd)
        except OSError as e:
            if e.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR):
                return
            raise
        self._walk(fd, arcname, st, descend, skip, overlay, parts)

    def _walk(
        self,
        top_fd: int,
        top_arc: str,
        top_st: os.stat_result,
        descend: Callable[[str, os.stat_result, os.stat_result], bool] | None,
        skip: Callable[[str], bool] | None,
        overlay: MountOverlay | None = None,
        top_parts: tuple[str, ...] = (),
    ) -> None:
        def listing(fd: int, parts: tuple[str, ...]) -> Iterator[str]:
            names = set(os.listdir(fd))
            if overlay is not None:
                names |= overlay.names_under(parts)  # mount points the tree lacks
            return iter(sorted(names))

        # Explicit stack of (dir fd, arcname, stat, container parts, sorted child
        # iterator): deep trees must not hit the recursion limit.
        stack: list[tuple[int, str, os.stat_result, tuple[str, ...], Iterator[str]]] = [
            (top_fd, top_arc, top_st, top_parts, listing(top_fd, top_parts))
        ]
        try:
            while stack:
                dfd, darc, dst, dparts, children = stack[-1]
                child = next(children, None)
                if child is None:
                    os.close(dfd)
                    stack.pop()
                    continue
                arc = _join(darc, child)
                if skip is not None and skip(arc):
                    continue
                cparts = (*dparts, child)
                source = overlay.source_at(cparts) if overlay is not None else None
                pfd, name = dfd, child
                if source is not None:
                    # A mount: its host source replaces the placeholder beneath it.
                    try:
                        pfd = os.open(source.parent, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
                    except OSError:
                        continue
                    name = source.name
                try:
                    st = self.add(pfd, name, arc)
                    if st is None or not stat.S_ISDIR(st.st_mode):
                        continue
                    if descend is not None and not descend(arc, st, dst):
                        continue
                    try:
                        cfd = os.open(name, _OPEN_DIR, dir_fd=pfd)
                    except OSError as e:
                        if e.errno in (errno.ENOENT, errno.ELOOP, errno.ENOTDIR, errno.EACCES):
                            continue
                        raise
                finally:
                    if pfd != dfd:
                        os.close(pfd)
                stack.append((cfd, arc, st, cparts, listing(cfd, cparts)))
        finally:
            for dfd, *_ in stack:
                os.close(dfd)


def _join(base: str, name: str) -> str:
    if not base or base == ".":
        return name if not base else f"./{name}"
    return f"{base.rstrip('/')}/{name}"


async def stream_from_thread(
    work: Callable[[Callable[[bytes], None]], Any], depth: int = 8
) -> AsyncIterator[bytes]:
    """Run ``work(emit)`` in an executor thread and yield what it emits.

    At most ``depth`` chunks wait in memory; when the consumer stops early (client
    gone) the thread's next ``emit`` raises :class:`StreamAborted`. Errors raised by
    ``work`` are re-raised here.
    """
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    room = threading.Semaphore(depth)
    stop = threading.Event()
    end = object()

    def emit(data: bytes) -> None:
        room.acquire()
        if stop.is_set():
            raise StreamAborted()
        loop.call_soon_threadsafe(queue.put_nowait, data)

    def run() -> None:
        try:
            work(emit)
        except BaseException as e:  # handed to the consumer
            loop.call_soon_threadsafe(queue.put_nowait, e)
        else:
            loop.call_soon_threadsafe(queue.put_nowait, end)

    fut = loop.run_in_executor(None, run)
    try:
        while True:
            item = await queue.get()
            room.release()
            if item is end:
                break
            if isinstance(item, BaseException):
                if isinstance(item, StreamAborted):
                    break
                raise item
            yield item
    finally:
        stop.set()
        room.release(depth + 1)  # wake a producer waiting for room
        if not fut.done():
            fut.add_done_callback(lambda f: f.cancelled() or f.exception())
        with contextlib.suppress(Exception):
            if fut.done():
                fut.result()
