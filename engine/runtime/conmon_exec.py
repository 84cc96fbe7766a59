"""Running a process inside a running container under ``conmon --exec``.

conmon runs ``<runtime> exec --process <spec> -d [--tty] <container>`` and monitors
the new process as it monitors a container: stdio through an attach socket
(``<session dir>/attach``, SOCK_SEQPACKET, first byte of each packet = stream), pty
resizes through ``<session dir>/ctl``, the exit code in ``<exit dir>/<container id>``
(one exit dir per session, since conmon names the file after the container).

Pipes (conmon API version 1, as podman uses them):
- ``_OCI_STARTPIPE``: conmon waits for a first write before forking; with
  ``--exec-attach`` it waits for a second write before the runtime runs, so an
  attached client is connected before the process prints its first byte.
- ``_OCI_ATTACHPIPE`` (``--exec-attach`` only): conmon writes ``{"data": 0}`` once
  the attach socket listens.
- ``_OCI_SYNCPIPE``: ``{"data": <pid>}`` when the process runs, or a negative value
  with the runtime's message when exec failed; then ``{"data": <exit code>}`` when the
  process has exited. EOF means conmon is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import SystemError_
from .conmon import conmon_env
from .oci import runc_wording

log = logging.getLogger(__name__)


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


def _argv(conmon: str, x: ExecLaunch) -> list[str]:
    argv = [
        conmon,
        "--api-version",
        "1",
        "-c",
        x.cid,
        "-u",
        x.exec_id,
        "-n",
        x.name,
        "-r",
        x.runtime_path,
        "-b",
        str(x.session_dir),
        "-p",
        str(x.pidfile),
        "-P",
        str(x.conmon_pidfile),
        "--exit-dir",
        str(x.exit_dir),
        # Output goes to the attached client only (as Docker's exec): no log file.
        "-l",
        "none",
        # conmon's own messages must never reach the process's stderr stream.
        "--log-level",
        "warn",
        "--syslog",
        "--runtime-arg",
        f"--root={x.runtime_root}",
        "--full-attach",
        "--socket-dir-path",
        str(x.session_dir),
        "-e",
        "--exec-process-spec",
        str(x.process_spec),
    ]
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
        sync_r, sync_w = os.pipe2(os.O_CLOEXEC)
        start_r, start_w = os.pipe2(os.O_CLOEXEC)
        attach_r, attach_w = os.pipe2(os.O_CLOEXEC) if x.attach else (-1, -1)
        child_fds = [sync_w, start_r] + ([attach_w] if x.attach else [])
        env = {
            **conmon_env(),
            "_OCI_SYNCPIPE": str(sync_w),
            "_OCI_STARTPIPE": str(start_r),
        }
        if x.attach:
            env["_OCI_ATTACHPIPE"] = str(attach_w)
        try:
            self._proc = await asyncio.create_subprocess_exec(
                *_argv(conmon, x),
                env=env,
                cwd=str(x.session_dir),
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
        self._start_w = start_w
        self._sync = await self._reader(sync_r)
        if x.attach:
            self._attach = await self._reader(attach_r)
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
            raise ExecFailed(_runtime_message(str(msg.get("message") or "exec failed")))
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
        """Docker's codes: 127 for a missing command, 126 when it cannot be run."""
        low = self.message.lower()
        if "executable file not found" in low or "no such file or directory" in low:
            return 127
        if "permission denied" in low or "is a directory" in low:
            return 126
        return 126


def _runtime_message(msg: str) -> str:
    """runc prints logrus lines; keep the message text, shaped like Docker's."""
    msg = msg.strip()
    if 'msg="' in msg:
        msg = msg.split('msg="', 1)[1].rsplit('"', 1)[0]
    msg = msg.replace('\\"', '"')
    for prefix in ("runc exec failed: ", "crun: "):
        if msg.startswith(prefix):
            msg = msg[len(prefix) :]
    return f"OCI runtime exec failed: {runc_wording(msg)}: unknown"
