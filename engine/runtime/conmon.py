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

Exec sessions (``conmon --exec``): conmon runs ``<runtime> exec --process <spec> -d
[--tty] <container>`` and monitors the new process as it monitors a container: stdio
through ``<session dir>/attach``, resizes through ``<session dir>/ctl``, the exit code in
``<exit dir>/<container id>`` (one exit dir per session, since conmon names the file
after the container). Its pipes, as podman uses them:
- ``_OCI_STARTPIPE``: conmon waits for a first write before forking; with
  ``--exec-attach`` it waits for a second write before the runtime runs, so an
  attached client is connected before the process prints its first byte.
- ``_OCI_ATTACHPIPE`` (``--exec-attach`` only): conmon writes ``{"data": 0}`` once
  the attach socket listens.
- ``_OCI_SYNCPIPE``: ``{"data": <pid>}`` when the process runs, or a negative value
  with the runtime's message when exec failed; then ``{"data": <exit code>}`` when the
  process has exited. EOF means conmon is gone.

Both kinds start through :func:`_spawn` with the argv of :func:`_argv`; the runtime's
failures reach the client through :mod:`.messages` (one cleaner, one exit-code rule).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


def _argv(
    conmon: str,
    *,
    cid: str,
    session: str,
    name: str,
    runtime_path: str,
    runtime_root: Path,
    bundle: Path,
    pidfile: Path,
    conmon_pidfile: Path,
    exit_dir: Path,
    log: str,
    log_level: str,
) -> list[str]:
    """The arguments every conmon gets; ``session`` is the container id, or the exec id
    of an exec session; ``bundle`` is also where the attach socket and ctl fifo go."""
    return [
        conmon,
        "--api-version",
        "1",
        "-c",
        cid,
        "-u",
        session,
        "-n",
        name,
        "-r",
        runtime_path,
        "-b",
        str(bundle),
        "-p",
        str(pidfile),
        "-P",
        str(conmon_pidfile),
        "--exit-dir",
        str(exit_dir),
        "-l",
        log,
        "--log-level",
        log_level,
        "--runtime-arg",
        f"--root={runtime_root}",
        "--full-attach",
        "--socket-dir-path",
        str(bundle),
        "--syslog",
    ]


def _container_argv(conmon: str, c: ConmonLaunch) -> list[str]:
    argv = _argv(
        conmon,
        cid=c.cid,
        session=c.cid,
        name=c.name,
        runtime_path=c.runtime_path,
        runtime_root=c.runtime_root,
        bundle=c.bundle,
        pidfile=c.pidfile,
        conmon_pidfile=c.conmon_pidfile,
        exit_dir=c.exit_dir,
        log="none" if c.log_driver == "none" else f"k8s-file:{c.log_path}",
        log_level="debug" if c.log_level == "debug" else "warn",
    )
    if c.log_size_max > 0:
        argv += ["--log-size-max", str(c.log_size_max)]
    if c.terminal:
        argv.append("-t")
    if c.stdin:
        argv.append("-i")
    if c.leave_stdin_open:
        argv.append("--leave-stdin-open")
    return argv


@dataclass
class _Spawned:
    """A started conmon and the engine's ends of its pipes."""

    proc: asyncio.subprocess.Process
    sync_r: int
    start_w: int
    attach_r: int  # -1 without an attach pipe


async def _spawn(
    argv: list[str], cwd: Path, *, attach_pipe: bool = False, env: dict[str, str] | None = None
) -> _Spawned:
    """Start conmon with its sync and start pipes (and the attach pipe of
    ``--exec-attach``); conmon waits on the start pipe until the caller writes to it."""
    sync_r, sync_w = os.pipe2(os.O_CLOEXEC)
    start_r, start_w = os.pipe2(os.O_CLOEXEC)
    attach_r, attach_w = os.pipe2(os.O_CLOEXEC) if attach_pipe else (-1, -1)
    child_fds = [sync_w, start_r] + ([attach_w] if attach_pipe else [])
    full_env = {**conmon_env(), "_OCI_SYNCPIPE": str(sync_w), "_OCI_STARTPIPE": str(start_r)}
    if attach_pipe:
        full_env["_OCI_ATTACHPIPE"] = str(attach_w)
    full_env.update(env or {})
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            env=full_env,
            cwd=str(cwd),  # conmon writes its "oom" marker file into its cwd
            pass_fds=child_fds,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
            start_new_session=True,
        )
    except BaseException:
        for fd in (sync_r, start_w, attach_r, *child_fds):
            if fd >= 0:
                os.close(fd)
        raise
    for fd in child_fds:
        os.close(fd)
    return _Spawned(proc, sync_r, start_w, attach_r)


async def launch(conmon: str, c: ConmonLaunch, limit: float = 60) -> tuple[int, int]:
    """Start conmon, which creates the container; return ``(container_pid, conmon_pid)``.

    Raises :class:`SystemError_` with the runtime's own message when create fails.
    """
    for p in (c.pidfile, c.conmon_pidfile, c.exit_dir / c.cid):
        p.unlink(missing_ok=True)
    spawned = await _spawn(_container_argv(conmon, c), c.bundle, env=c.extra_env)
    proc, sync_r = spawned.proc, spawned.sync_r
    try:
        # Nothing to do before conmon proceeds (no cgroup move): release it at once.
        os.write(spawned.start_w, b"0")
    finally:
        os.close(spawned.start_w)
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
        raise SystemError_(messages.create_failure(str(msg.get("message") or ""), c.command))
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


@dataclass
class ExecLaunch:
    """Everything one ``conmon --exec`` invocation needs."""

    cid: str  # the container (runtime name)
    exec_id: str
    name: str
    session_dir: Path  # conmon's bundle/socket dir for this session: attach, ctl
    process_spec: Path
    runtime_path: str
    runtime_root: Path
    terminal: bool = False
    stdin: bool = False
    attach: bool = True
    command: str = ""  # the process's argv[0], for the runtime's errors in Docker's wording

    @property
    def exit_dir(self) -> Path:
        """Where conmon writes ``<cid>`` with the exit code."""
        return self.session_dir / "exit"

    @property
    def pidfile(self) -> Path:
        """The exec'd process's host pid (written by the runtime)."""
        return self.session_dir / "pid"

    @property
    def conmon_pidfile(self) -> Path:
        """The monitoring conmon's pid."""
        return self.session_dir / "conmon.pid"


def _exec_argv(conmon: str, x: ExecLaunch) -> list[str]:
    argv = _argv(
        conmon,
        cid=x.cid,
        session=x.exec_id,
        name=x.name,
        runtime_path=x.runtime_path,
        runtime_root=x.runtime_root,
        bundle=x.session_dir,
        pidfile=x.pidfile,
        conmon_pidfile=x.conmon_pidfile,
        exit_dir=x.exit_dir,
        # Output goes to the attached client only (as Docker's exec): no log file.
        log="none",
        # conmon's own messages must never reach the process's stderr stream.
        log_level="warn",
    )
    argv += ["-e", "--exec-process-spec", str(x.process_spec)]
    if x.attach:
        argv.append("--exec-attach")
    if x.terminal:
        # conmon would close the pty master when the client goes away (a detach):
        # the process must keep its terminal, as with Docker.
        argv += ["-t", "--leave-stdin-open"]
    if x.stdin:
        argv.append("-i")
    return argv


class ExecProcess:
    """One ``conmon --exec`` and its pipes.

    Call :meth:`wait_attachable` then :meth:`release` (attach mode only), then
    :meth:`started` for the pid; :meth:`exited` resolves with the exit code.
    """

    def __init__(self, launch: ExecLaunch) -> None:
        self.launch = launch
        self._proc: asyncio.subprocess.Process | None = None
        self._sync: asyncio.StreamReader | None = None
        self._attach: asyncio.StreamReader | None = None
        self._start_w: int | None = None
        self._transports: list[asyncio.BaseTransport] = []
        self._stderr = b""
        self._reaper: asyncio.Future[str] | None = None
        self.pid: int | None = None

    async def spawn(self, conmon: str) -> None:
        """Start conmon (it waits for :meth:`release` in attach mode)."""
        x = self.launch
        x.exit_dir.mkdir(parents=True, exist_ok=True)
        for p in (x.pidfile, x.conmon_pidfile, x.exit_dir / x.cid):
            p.unlink(missing_ok=True)
        spawned = await _spawn(_exec_argv(conmon, x), x.session_dir, attach_pipe=x.attach)
        self._proc = spawned.proc
        self._start_w = spawned.start_w
        self._sync = await self._reader(spawned.sync_r)
        if x.attach:
            self._attach = await self._reader(spawned.attach_r)
        # Nothing to do before conmon forks (no cgroup move): first start message.
        self._write_start()

    async def _reader(self, fd: int) -> asyncio.StreamReader:
        loop = asyncio.get_running_loop()
        reader = asyncio.StreamReader(limit=1 << 20)
        transport, _ = await loop.connect_read_pipe(
            lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(fd, "rb", buffering=0)
        )
        self._transports.append(transport)
        return reader

    def _write_start(self) -> None:
        if self._start_w is None:
            return
        try:
            os.write(self._start_w, b"0")
        except OSError as e:  # conmon died early; the sync pipe tells why
            log.debug("exec start pipe: %s", e)

    async def _first_conmon_exit(self) -> str:
        """Reap the first conmon process (it exits after forking the monitor)."""
        if self._proc is None:
            return ""
        _, err = await self._proc.communicate()
        self._stderr = err or b""
        return self._stderr.decode(errors="replace").strip()

    async def wait_attachable(self, limit: float = 30) -> None:
        """Wait until conmon's attach socket listens (attach mode)."""
        assert self._attach is not None
        try:
            line = await asyncio.wait_for(self._attach.readline(), limit)
        except TimeoutError:
            raise SystemError_("conmon did not open the exec attach socket") from None
        if not line:
            detail = await self._first_conmon_exit()
            raise SystemError_(f"conmon failed to start the exec session: {detail or 'no reply'}")

    def release(self) -> None:
        """Let the runtime start the process (attach mode: the client is connected)."""
        self._write_start()
        if self._start_w is not None:
            os.close(self._start_w)
            self._start_w = None

    async def started(self, limit: float = 60) -> int:
        """The process's host pid; raises :class:`ExecFailed` when the runtime refused."""
        assert self._sync is not None
        if not self.launch.attach and self._start_w is not None:
            # Without --exec-attach conmon reads the start pipe only once.
            os.close(self._start_w)
            self._start_w = None
        try:
            msg = await asyncio.wait_for(self._read_sync(), limit)
        except TimeoutError:
            raise SystemError_("conmon did not report the exec process started") from None
        if msg is None:
            detail = await self._first_conmon_exit()
            raise SystemError_(f"conmon failed to run the exec process: {detail or 'no reply'}")
        value = int(msg.get("data", -1))
        if value <= 0:
            raise ExecFailed(
                messages.exec_failure(str(msg.get("message") or ""), self.launch.command)
            )
        self.pid = value
        # Reap the intermediate conmon in the background (it has exited by now).
        self._reaper = asyncio.ensure_future(self._first_conmon_exit())
        return value

    async def exited(self) -> int:
        """The exit code from conmon's exit file (its sync message says when it is
        there, as does the pipe closing); -1 if conmon died without one."""
        assert self._sync is not None
        msg = await self._read_sync()
        self.close()
        x = self.launch
        try:
            return int((x.exit_dir / x.cid).read_text().strip())
        except (OSError, ValueError):
            pass
        if msg is not None and "data" in msg:
            return int(msg["data"])
        return -1

    async def _read_sync(self) -> dict[str, Any] | None:
        assert self._sync is not None
        while True:
            line = await self._sync.readline()
            if not line:
                return None
            try:
                msg = json.loads(line)
            except json.JSONDecodeError:
                log.debug("unreadable conmon sync message %r", line)
                continue
            if isinstance(msg, dict):
                return msg

    def close(self) -> None:
        """Release the pipes (idempotent)."""
        for t in self._transports:
            t.close()
        self._transports.clear()
        if self._start_w is not None:
            with contextlib.suppress(OSError):
                os.close(self._start_w)
            self._start_w = None


class ExecFailed(SystemError_):
    """The runtime could not start the process (a missing binary, a bad cwd...)."""

    @property
    def exit_code(self) -> int:
        """Docker's code for the failure (:func:`messages.process_exit_code`); 126 when
        the process could not be run for another reason."""
        return messages.process_exit_code(self.message) or 126
