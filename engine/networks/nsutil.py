"""Network namespaces without helper processes: ``unshare``/``setns``/``mount`` via libc.

A namespace is created by a worker thread that unshares its own network namespace,
bind-mounts ``/proc/thread-self/ns/net`` onto a file under ``<exec-root>/netns/`` (so the
runtime can join it by path and a restarted engine finds it again) and switches back.
Sockets that must live *inside* a container's namespace (netlink for configuring it, the
embedded DNS server's sockets) are created the same way: switch, ``socket()``, switch
back — a socket stays in the namespace it was created in.

Every function here blocks briefly and changes the calling thread's namespace, so they
run on :data:`NS_EXECUTOR`, one dedicated thread that does nothing else. pyroute2's own
netns helpers fork a child process per call, which costs milliseconds on a big process.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import fcntl
import os
import socket
import struct
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

CLONE_NEWNET = 0x40000000
MS_BIND = 4096
MNT_DETACH = 2
SIOCGIFFLAGS, SIOCSIFFLAGS = 0x8913, 0x8914
IFF_UP = 0x1
_IFREQ_FLAGS = struct.Struct("16sh22x")  # struct ifreq: name, ifr_flags, rest of the union

_libc = ctypes.CDLL(None, use_errno=True)
_libc.unshare.argtypes = [ctypes.c_int]
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_libc.mount.argtypes = [
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_char_p,
    ctypes.c_ulong,
    ctypes.c_void_p,
]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]

# One thread for every namespace switch: a thread that failed to switch back can never
# be handed unrelated work (see _back_home).
NS_EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="portside-netns")

T = TypeVar("T")


class NamespaceError(OSError):
    """A namespace syscall failed."""


def _fail(what: str, path: str | Path = "") -> NamespaceError:
    e = ctypes.get_errno()
    return NamespaceError(e, f"{what} {path}: {os.strerror(e)}".strip())


def _back_home(home_fd: int) -> None:
    if _libc.setns(home_fd, CLONE_NEWNET) != 0:
        # The worker thread is stuck in a foreign namespace; nothing it does afterwards
        # would be right. This has never been seen (setns to our own ns cannot fail short
        # of fd exhaustion), so stopping loudly beats silently misconfiguring the host.
        os.write(2, b"portsided: cannot return to the host network namespace\n")
        os._exit(70)


def _open_all(sockets: tuple[tuple[int, int, int], ...]) -> list[socket.socket]:
    """Sockets in the calling thread's namespace; none stays open if one fails."""
    out: list[socket.socket] = []
    try:
        for family, type_, proto in sockets:
            out.append(socket.socket(family, type_ | socket.SOCK_CLOEXEC, proto))
    except BaseException:
        for s in out:
            s.close()
        raise
    return out


def _home() -> int:
    return os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)


def _loopback_up() -> None:
    """Bring ``lo`` of the calling thread's namespace up (the kernel then gives it
    127.0.0.1/8, where the embedded DNS server listens too). One ioctl, as ``ifconfig lo
    up`` does: a container without a bridge network needs no netlink library at all."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC) as s:
        got = fcntl.ioctl(s, SIOCGIFFLAGS, _IFREQ_FLAGS.pack(b"lo", 0))
        flags = _IFREQ_FLAGS.unpack(got)[1]
        if not flags & IFF_UP:
            fcntl.ioctl(s, SIOCSIFFLAGS, _IFREQ_FLAGS.pack(b"lo", flags | IFF_UP))


def create_netns(path: Path, sockets: tuple[tuple[int, int, int], ...] = ()) -> list[socket.socket]:
    """Create a network namespace bind-mounted at ``path`` (which must not exist), with
    ``lo`` up.

    ``sockets`` lists (family, type, proto) of sockets to create inside it while the
    thread is there anyway (netlink for configuring it, the DNS server's), saving a
    second switch. Blocking; run on NS_EXECUTOR.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o444)
    os.close(fd)
    home = _home()
    try:
        if _libc.unshare(CLONE_NEWNET) != 0:
            err = _fail("unshare(CLONE_NEWNET)")
            path.unlink(missing_ok=True)
            raise err
        try:
            if _libc.mount(b"/proc/thread-self/ns/net", bytes(path), b"none", MS_BIND, None):
                err = _fail("bind-mount netns on", path)
                path.unlink(missing_ok=True)
                raise err
            try:
                _loopback_up()
                return _open_all(sockets)
            except BaseException:
                remove_netns(path)  # nothing refers to it yet
                raise
        finally:
            _back_home(home)
    finally:
        os.close(home)


def sockets_in(path: Path, sockets: tuple[tuple[int, int, int], ...]) -> list[socket.socket]:
    """Sockets created inside the namespace at ``path``. Blocking; run on NS_EXECUTOR."""
    target = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    home = _home()
    try:
        if _libc.setns(target, CLONE_NEWNET) != 0:
            raise _fail("setns", path)
        try:
            return _open_all(sockets)
        finally:
            _back_home(home)
    finally:
        os.close(home)
        os.close(target)


def remove_netns(path: Path) -> None:
    """Unmount and delete a namespace handle; missing handles are fine."""
    if _libc.umount2(bytes(path), MNT_DETACH) != 0:
        e = ctypes.get_errno()
        if e not in (errno.EINVAL, errno.ENOENT):
            raise _fail("umount", path)
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def is_netns(path: Path) -> bool:
    """Whether ``path`` is a mounted network namespace handle (not a leftover file)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:
        return False
    try:
        st = os.fstat(fd)
        # An nsfs inode lives on the nsfs superblock; a plain file is on the exec-root fs.
        return os.stat(path.parent).st_dev != st.st_dev
    finally:
        os.close(fd)


def netns_inode(path: Path) -> int | None:
    """The namespace's inode number (what ``/proc/<pid>/ns/net`` links name)."""
    try:
        return os.stat(path).st_ino if is_netns(path) else None
    except OSError:
        return None


def socket_in(path: Path, family: int, type_: int, proto: int = 0) -> socket.socket:
    """One socket created inside the namespace at ``path``. Blocking; run on NS_EXECUTOR."""
    return sockets_in(path, ((family, type_, proto),))[0]


async def in_ns_thread(fn: Callable[..., T], *args: Any) -> T:
    """Run a blocking namespace function on the dedicated thread."""
    return await asyncio.get_running_loop().run_in_executor(NS_EXECUTOR, fn, *args)


def pids_in_netns(inode: int) -> list[int]:
    """Processes whose network namespace has inode ``inode`` (scans /proc; used once at
    start-up to tell a live sandbox from one whose container died while we were down)."""
    want = f"net:[{inode}]"
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            if os.readlink(f"/proc/{d}/ns/net") == want:
                out.append(int(d))
        except OSError:
            continue
    return out


def live_netns_inodes() -> set[int]:
    """Inodes of every network namespace some process is in (one /proc scan)."""
    out = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            link = os.readlink(f"/proc/{d}/ns/net")
        except OSError:
            continue
        if link.startswith("net:["):
            out.add(int(link[5:-1]))
    return out
