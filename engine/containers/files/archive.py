"""``docker cp``: ``HEAD/GET/PUT /containers/{id}/archive`` on running and stopped
containers.

Paths are resolved inside the container's view (rootfs + volumes + binds + the
spec's other binds such as /etc/hosts, see :mod:`.pathresolve`); tars are written
from directory fds (:mod:`.tarwrite`), mounts inside an archived tree read from
their host sources, and uploaded tars are extracted by :mod:`.archive_extract`
(the images area's hostile-tar extractor, made mount- and symlink-aware) rooted at
the destination directory's fd.
A stopped container's rootfs is mounted for the operation (under the container's
operation lock, so it cannot start meanwhile) and unmounted afterwards.
"""

from __future__ import annotations

import asyncio
import base64
import errno
import json
import logging
import os
import stat
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ...conventions import format_rfc3339
from ...errors import EngineError, Forbidden, InvalidParameter, NotFound, SystemError_
from ...fs.archive_extract import CopyExtractor
from ...fs.pathresolve import MountSource, Resolved, RootView, split_path
from ...fs.stream import ChunkChannel, DigestReader
from ...fs.tarformat import TarStream
from ...fs.tarwrite import TreeTar, stream_from_thread
from ..model import Container
from ..oci.usermap import resolve_user
from . import rootfs as rootfs_mod

if TYPE_CHECKING:
    from ..service import ContainerService

log = logging.getLogger(__name__)

# Go's os.FileMode type and special bits (the stat header carries them).
GO_DIR, GO_SYMLINK, GO_DEVICE, GO_PIPE, GO_SOCKET = 1 << 31, 1 << 27, 1 << 26, 1 << 25, 1 << 24
GO_SETUID, GO_SETGID, GO_CHARDEV, GO_STICKY = 1 << 23, 1 << 22, 1 << 21, 1 << 20
_OPEN_DIR = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def go_file_mode(mode: int) -> int:
    """A ``st_mode`` as Go's ``os.FileMode`` bits."""
    out = mode & 0o777
    if mode & stat.S_ISUID:
        out |= GO_SETUID
    if mode & stat.S_ISGID:
        out |= GO_SETGID
    if mode & stat.S_ISVTX:
        out |= GO_STICKY
    if stat.S_ISDIR(mode):
        out |= GO_DIR
    elif stat.S_ISLNK(mode):
        out |= GO_SYMLINK
    elif stat.S_ISCHR(mode):
        out |= GO_DEVICE | GO_CHARDEV
    elif stat.S_ISBLK(mode):
        out |= GO_DEVICE
    elif stat.S_ISFIFO(mode):
        out |= GO_PIPE
    elif stat.S_ISSOCK(mode):
        out |= GO_SOCKET
    return out


def go_base(path: str) -> str:
    """Go's ``filepath.Base``: ``/etc/`` → ``etc``, ``/etc/.`` → ``.``, ``/`` → ``/``."""
    stripped = path.rstrip("/")
    if not stripped:
        return "/"
    return stripped.rsplit("/", 1)[-1]


def normalize(path: str) -> str:
    """An absolute container path, keeping a trailing ``/`` or ``/.`` (they matter)."""
    if not path:
        raise InvalidParameter("Path cannot be empty")
    parts: list[str] = []
    for p in path.split("/"):
        if p in ("", "."):
            continue
        if p == "..":
            if parts:
                parts.pop()
            continue
        parts.append(p)
    clean = "/" + "/".join(parts)
    if path.endswith("/.") or path == ".":
        return clean.rstrip("/") + "/."
    if path.endswith("/") and clean != "/":
        return clean + "/"
    return clean


def stat_header(info: dict[str, Any]) -> str:
    """``X-Docker-Container-Path-Stat``: URL-safe base64 of the JSON stat."""
    raw = json.dumps(info, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode()


class Archives:
    """Copying files into and out of containers."""

    def __init__(
        self,
        containers: ContainerService,
        host_paths: Callable[[str], list[dict[str, Any]]] = lambda cid: [],
    ) -> None:
        self.containers = containers
        # a container's volumes and binds with their host sources (the volumes hook's)
        self._host_paths = host_paths

    # -- the view ------------------------------------------------------------------
    def mounts_of(self, c: Container) -> list[MountSource]:
        """Volumes, binds and generated /etc files of ``c`` with their host sources.

        The volumes hook knows volumes and binds (subpaths resolved); the OCI spec
        of the last start adds every other bind the container sees (/etc/hosts,
        /etc/hostname, /etc/resolv.conf, ...); the generated /etc files are the
        fallback for a container whose spec was never written.
        """
        out: list[MountSource] = []
        for m in self._host_paths(c.id):
            dest = tuple(split_path(str(m.get("Destination") or "")))
            if dest and m.get("Source"):
                out.append(_source(dest, str(m["Source"]), bool(m.get("RW", True))))
        paths = self.containers.runner.paths(c.id)
        taken = {m.destination for m in out}
        for dest, src, rw in _spec_binds(paths.bundle / "config.json"):
            if dest not in taken:
                out.append(_source(dest, src, rw))
                taken.add(dest)
        for dest, path in (
            (("etc", "hosts"), paths.hosts),
            (("etc", "hostname"), paths.hostname),
            (("etc", "resolv.conf"), paths.resolv),
        ):
            if dest not in taken and path.is_file():
                out.append(MountSource(dest, path, True))
        return out

    @asynccontextmanager
    async def view(self, ref: str) -> AsyncIterator[tuple[Container, RootView]]:
        """The container's files, mounted for the duration when it is not running."""
        svc = self.containers
        c = svc.get(ref)
        root = svc.runner.paths(c.id).rootfs
        if rootfs_mod.is_mounted(root):
            yield c, RootView(root, self.mounts_of(c))
            return
        op, _ = svc.locks(c.id)
        async with op:
            mounted_here = False
            if not rootfs_mod.is_mounted(root):
                try:
                    await svc.runner.mount(c)
                except EngineError as e:
                    msg = f"cannot mount the filesystem of {c.name}: {e.message}"
                    raise SystemError_(msg) from e
                mounted_here = True
            try:
                yield c, RootView(root, self.mounts_of(c))
            finally:
                if mounted_here and not c.runtime_created:
                    rootfs_mod.unmount(root)

    # -- stat / get ----------------------------------------------------------------
    async def stat(self, ref: str, path: str) -> dict[str, Any]:
        """``HEAD /containers/{id}/archive``: the stat of ``path``."""
        abs_path = normalize(path)
        async with self.view(ref) as (_c, view):
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(None, self._stat, view, abs_path, ref)

    def _stat(self, view: RootView, abs_path: str, ref: str) -> dict[str, Any]:
        r = self._resolve(view, abs_path, ref)
        try:
            return self._stat_of(view, r, abs_path, ref)
        finally:
            r.close()

    def _resolve(self, view: RootView, abs_path: str, ref: str) -> Resolved:
        follow = abs_path.endswith("/") or abs_path.endswith("/.") or abs_path == "/"
        try:
            return view.resolve(abs_path, follow_last=follow)
        except NotFound:
            raise NotFound(f"Could not find the file {abs_path} in container {ref}") from None

    def _stat_of(self, view: RootView, r: Resolved, abs_path: str, ref: str) -> dict[str, Any]:
        try:
            st = r.lstat()
        except FileNotFoundError:
            raise NotFound(f"Could not find the file {abs_path} in container {ref}") from None
        link_target = ""
        if stat.S_ISLNK(st.st_mode):
            try:
                target = view.resolve(abs_path, follow_last=True)
            except (NotFound, InvalidParameter):
                link_target = ""
            else:
                link_target = target.path
                target.close()
        return {
            "name": go_base(abs_path),
            "size": st.st_size,
            "mode": go_file_mode(st.st_mode),
            "mtime": format_rfc3339(st.st_mtime, fraction="trim"),
            "linkTarget": link_target,
        }

    async def get(self, ref: str, path: str) -> tuple[dict[str, Any], AsyncIterator[bytes]]:
        """``GET /containers/{id}/archive``: the stat and a tar stream of ``path``.

        The stream keeps the container's view (and a stopped container's mount)
        until it is exhausted or closed.
        """
        abs_path = normalize(path)
        cm = self.view(ref)
        _c, view = await cm.__aenter__()
        try:
            loop = asyncio.get_running_loop()
            r = self._resolve(view, abs_path, ref)
            try:
                info = await loop.run_in_executor(None, self._stat_of, view, r, abs_path, ref)
            except BaseException:
                r.close()
                raise
        except BaseException as e:
            await cm.__aexit__(type(e), e, e.__traceback__)
            raise
        # Entries start with the requested base name, as the CLI expects
        # ("etc/passwd" for /etc, "./passwd" for /etc/., "/etc/passwd" for /).
        prefix = info["name"]

        def work(emit: Any) -> None:
            tar = TreeTar(emit)
            try:
                tar.add_tree(r.parent_fd, r.name, prefix, overlay=view, parts=r.parts)
                tar.close()
            finally:
                r.close()

        async def chunks() -> AsyncIterator[bytes]:
            try:
                async for chunk in stream_from_thread(work):
                    yield chunk
            finally:
                await cm.__aexit__(None, None, None)

        return info, chunks()

    # -- put -----------------------------------------------------------------------
    async def put(
        self,
        ref: str,
        path: str,
        body: AsyncIterator[bytes],
        no_overwrite_dir_non_dir: bool = False,
        copy_uid_gid: bool = False,
    ) -> None:
        """``PUT /containers/{id}/archive``: extract a (possibly compressed) tar into
        the existing directory ``path``."""
        abs_path = normalize(path)
        async with self.view(ref) as (c, view):
            loop = asyncio.get_running_loop()
            try:
                r = view.resolve(abs_path, follow_last=True)
            except NotFound:
                raise NotFound(f"Could not find the file {abs_path} in container {ref}") from None
            try:
                try:
                    st = r.lstat()
                except FileNotFoundError:
                    msg = f"Could not find the file {abs_path} in container {ref}"
                    raise NotFound(msg) from None
                if not stat.S_ISDIR(st.st_mode):
                    raise InvalidParameter("extraction point is not a directory")
                if r.mount is not None:
                    if not r.mount.rw:
                        raise Forbidden("mounted volume is marked read-only")
                elif c.host_config.get("ReadonlyRootfs"):
                    raise Forbidden("container rootfs is marked read-only")
                owner = None
                if copy_uid_gid and c.config.get("User"):
                    u = resolve_user(view.root, str(c.config["User"]))
                    owner = (u.uid, u.gid)
                dest_fd = (
                    os.open(r.name, _OPEN_DIR, dir_fd=r.parent_fd)
                    if r.name
                    else os.open(".", _OPEN_DIR, dir_fd=r.parent_fd)
                )
            finally:
                r.close()
            channel = ChunkChannel()

            def work() -> None:
                try:
                    ex = CopyExtractor(
                        dest_fd,
                        r.path,
                        owner,
                        no_overwrite_dir_non_dir,
                        view=view,
                        base=r.parts,
                        where=r.mount,
                        rootfs_ro=bool(c.host_config.get("ReadonlyRootfs")),
                    )
                    ex.run(TarStream(DigestReader(channel, "auto")))
                finally:
                    os.close(dest_fd)
                    channel.reader_done()

            fut = loop.run_in_executor(None, work)
            try:
                await channel.feed(body)
            except BaseException:
                fut.add_done_callback(lambda f: f.cancelled() or f.exception())
                raise
            try:
                await fut
            except OSError as e:
                raise _os_error(e) from e


# Kernel and engine-managed trees: the spec's binds there (a shared /dev/shm, ...)
# are not part of what ``docker cp`` shows, as in Docker.
_NOT_SHOWN = ("proc", "sys", "dev")


def _spec_binds(config: Path) -> list[tuple[tuple[str, ...], str, bool]]:
    """(destination parts, host source, rw) of the bind mounts in an OCI spec."""
    try:
        spec = json.loads(config.read_text())
    except (OSError, ValueError):
        return []
    out: list[tuple[tuple[str, ...], str, bool]] = []
    mounts = spec.get("mounts") if isinstance(spec, dict) else None
    for m in mounts if isinstance(mounts, list) else []:
        if not isinstance(m, dict):
            continue
        opts = m.get("options") or []
        if m.get("type") != "bind" and "bind" not in opts and "rbind" not in opts:
            continue
        dest = tuple(split_path(str(m.get("destination") or "")))
        src = str(m.get("source") or "")
        # /proc/... sources are fds of the engine at start time (subpath mounts).
        if not dest or dest[0] in _NOT_SHOWN or not src.startswith("/") or src.startswith("/proc/"):
            continue
        out.append((dest, src, "ro" not in opts))
    return out


def _source(dest: tuple[str, ...], src: str, rw: bool) -> MountSource:
    """A mount with its host source's symlinks resolved (the source is trusted: the
    engine's own files or the user's bind; the walk then never meets a host link)."""
    return MountSource(dest, Path(os.path.realpath(src)), rw)


def _os_error(e: OSError) -> EngineError:
    if e.errno == errno.EROFS:
        return Forbidden("container rootfs is marked read-only")
    if e.errno in (errno.EACCES, errno.EPERM):
        return Forbidden(f"permission denied: {e.strerror}")
    if e.errno in (errno.ENOSPC, errno.EDQUOT):
        return SystemError_(f"no space left on device: {e}")
    return SystemError_(f"extracting the archive failed: {e}")


__all__ = ["Archives", "CopyExtractor", "go_file_mode", "normalize", "stat_header"]
