"""Launching conmon, the small C monitor that owns each container's stdio and exit.

conmon runs ``<runtime> create``, keeps the container's stdout/stderr (written to a
k8s-file log and to an attach socket), reaps the container and writes its exit code
to ``<exit-dir>/<id>``. It double-forks and starts its own session, so it and the
container outlive the engine (live restore); the engine only reads its files.

Protocol (conmon API version 1):
- ``_OCI_STARTPIPE``: conmon blocks until the parent writes to it (a chance to move it
  into a cgroup first).
- ``_OCI_SYNCPIPE``: conmon writes one JSON line, ``{"data": <container pid>}`` once the
  container is created, or ``{"data": -1, "message": "..."}`` when create failed.
- ``--conmon-pidfile``: the pid of the long-lived conmon (the grandchild).
- The attach socket (SOCK_SEQPACKET) is ``<bundle>/attach`` (``--full-attach``); every
  message carries a 1-byte stream prefix (2 stdout, 3 stderr); writes are stdin. The
  terminal control fifo ``<bundle>/ctl`` carries resizes.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import SystemError_
from . import messages

log = logging.getLogger(__name__)

ATTACH_STDIN, ATTACH_STDOUT, ATTACH_STDERR = 1, 2, 3


@dataclass
class ConmonLaunch:
    """Everything one ``conmon`` invocation needs."""

    cid: str
    name: str
    bundle: Path
    log_path: Path
    exit_dir: Path
    runtime_path: str
    runtime_root: Path
    pidfile: Path
    conmon_pidfile: Path
    terminal: bool = False
    stdin: bool = False
    leave_stdin_open: bool = False
    log_level: str = "info"
    # "k8s-file" (to log_path) or "none"; log_size_max > 0 bounds the file (conmon
    # replaces it with an empty one when the next write would pass the limit)
    log_driver: str = "k8s-file"
    log_size_max: int = 0
    extra_env: dict[str, str] = field(default_factory=dict)
    command: str = ""  # the process's argv[0], for the runtime's errors in Docker's wording


def conmon_env() -> dict[str, str]:
    """The environment every conmon starts with (the caller adds the ``_OCI_*`` pipes).

    Nothing of the engine's own environment but ``PATH`` (conmon hands its
    environment on to the runtime), plus ``LD_BIND_NOW=1``. Why: the long-lived
    monitor is a fork of the process the dynamic linker set up, and fork does not
    copy the page-table entries of read-only file mappings. conmon itself is linked
    ``-z now`` but libc's internal calls (to ``realloc``, ...) are bound lazily; when
    the first such call happens after the fork (conmon shrinks any ``g_strdup_printf``
    result of 50-99 bytes, e.g. ``/sys/fs/cgroup/memory/portside/<id>``), the monitor
    runs ld.so's symbol lookup and maps ld.so's code and the symbol tables of conmon,
    glib, libsystemd and libc: about 0.4 MiB more RSS in every container's monitor.
    Bound up front, the monitor never runs the linker. The runtime inherits the
    variable too (runc binds its few symbols eagerly, harmless); the container's
    processes get only their spec's environment.
    """
    return {
        "PATH": os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin"),
        "LD_BIND_NOW": "1",
    }


def _argv(conmon: str, c: ConmonLaunch) -> list[str]:
    argv = [
        conmon,
        "--api-version",
        "1",
        "-c",
        c.cid,
        "-u",
        c.cid,
        "-n",
        c.name,
        "-r",
        c.runtime_path,
        "-b",
        str(c.bundle),
        "-p",
        str(c.pidfile),
        "-P",
        str(c.conmon_pidfile),
        "--exit-dir",
        str(c.exit_dir),
        "-l",
        "none" if c.log_driver == "none" else f"k8s-file:{c.log_path}",
        "--log-level",
        "debug" if c.log_level == "debug" else "warn",
        "--runtime-arg",
        f"--root={c.runtime_root}",
        "--full-attach",
        "--socket-dir-path",
        str(c.bundle),
        "--syslog",
    ]
    if c.log_size_max > 0:
        argv += ["--log-size-max", str(c.log_size_max)]
    if c.terminal:
        argv.append("-t")
    if c.stdin:
        argv.append("-i")
    if c.leave_stdin_open:
        argv.append("--leave-stdin-open")
    return argv


async def launch(conmon: str, c: ConmonLaunch, limit: float = 60) -> tuple[int, int]:
    """Start conmon, which creates the container; return ``(container_pid, conmon_pid)``.

    Raises :class:`SystemError_` with the runtime's own message when create fails.
    """
    for p in (c.pidfile, c.conmon_pidfile, c.exit_dir / c.cid):
        p.unlink(missing_ok=True)
    sync_r, sync_w = os.pipe()
    start_r, start_w = os.pipe()
    env = {
        **conmon_env(),
        "_OCI_SYNCPIPE": str(sync_w),
        "_OCI_STARTPIPE": str(start_r),
        **c.extra_env,
    }
    try:
        proc = await asyncio.create_subprocess_exec(
            *_argv(conmon, c),
            env=env,
            cwd=str(c.bundle),  # conmon writes its "oom" marker file into its cwd
            pass_fds=(sync_w, start_r),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    finally:
        os.close(sync_w)
        os.close(start_r)
    try:
        # Nothing to do before conmon proceeds (no cgroup move): release it at once.
        os.write(start_w, b"0")
    finally:
        os.close(start_w)
    try:
        line = await asyncio.wait_for(_read_line(sync_r), limit)
    except TimeoutError:
        raise SystemError_(f"conmon did not report container {c.cid[:12]} created") from None
    finally:
        os.close(sync_r)
    # The first conmon process exits right after forking the monitor.
    _, err = await proc.communicate()
    if not line:
        detail = err.decode(errors="replace").strip()
        raise SystemError_(f"conmon failed to create the container: {detail or 'no reply'}")
    try:
        msg = json.loads(line)
    except json.JSONDecodeError:
        raise SystemError_(f"conmon sent an unreadable reply: {line!r}") from None
    pid = int(msg.get("data", -1))
    if pid <= 0:
        text = messages.error_text(str(msg.get("message") or "")) or "container create failed"
        raise SystemError_(f"OCI runtime create failed: {messages.docker_wording(text, c.command)}")
    conmon_pid = read_pidfile(c.conmon_pidfile)
    if conmon_pid is None:
        raise SystemError_("conmon did not write its pid file")
    return pid, conmon_pid


async def _read_line(fd: int) -> bytes:
    """Read up to the first newline (or EOF) from a pipe without blocking the loop."""
    loop = asyncio.get_running_loop()
    os.set_blocking(fd, False)
    buf = b""
    done: asyncio.Future[None] = loop.create_future()

    def on_readable() -> None:
        nonlocal buf
        try:
            chunk = os.read(fd, 65536)
        except BlockingIOError:
            return
        buf += chunk
        if (not chunk or b"\n" in buf) and not done.done():
            done.set_result(None)

    loop.add_reader(fd, on_readable)
    try:
        await done
    finally:
        loop.remove_reader(fd)
    return buf.split(b"\n", 1)[0]


def read_pidfile(path: Path) -> int | None:
    """The pid in ``path``, or None."""
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def read_exit_file(exit_dir: Path, cid: str) -> tuple[int, float] | None:
    """``(exit code, time of exit)`` from conmon's exit file, or None if absent."""
    p = exit_dir / cid
    try:
        text = p.read_text().strip()
        mtime = p.stat().st_mtime
    except OSError:
        return None
    try:
        return int(text), mtime
    except ValueError:
        return -1, mtime


def is_conmon_for(pid: int, cid: str) -> bool:
    """Whether ``pid`` is the conmon of container ``cid`` (guards against pid reuse)."""
    try:
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return bool(cmd) and cmd[0].endswith(b"conmon") and cid.encode() in cmd


class ExitWatcher:
    """Calls back once when a process (conmon) exits, via a pidfd: no polling."""

    def __init__(self, pid: int, callback: Callable[[], object]) -> None:
        self.pid = pid
        self._cb: Callable[[], object] | None = callback
        self._loop = asyncio.get_running_loop()
        self._fd: int | None = None
        try:
            self._fd = os.pidfd_open(pid)
        except ProcessLookupError:
            self._loop.call_soon(self._fire)
            return
        self._loop.add_reader(self._fd, self._fire)

    def _fire(self) -> None:
        self.close()
        cb, self._cb = self._cb, None
        if cb is not None:
            cb()

    def close(self) -> None:
        """Stop watching (the callback will not run)."""
        if self._fd is not None:
            self._loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = None
