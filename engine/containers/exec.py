"""``docker exec``: processes started inside running containers, each under its own
``conmon --exec`` (see :mod:`..runtime.conmon`).

Sessions live in memory (:mod:`.exec_store`), as Docker's exec configs do; their
conmon files live in ``<exec-root>/exec/<exec id>/``. A container that stops takes its
sessions with it (its processes die with the pid namespace). The service also runs
health probes (:meth:`ExecService.probe`), which are exec sessions too.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import time
from typing import TYPE_CHECKING, Any

from ..errors import Conflict, InvalidParameter, SystemError_
from ..runtime import conmon
from ..runtime.conmon import ExecFailed, ExecLaunch, ExecProcess
from .exec_store import ExecSession, ExecStore, new_exec_id
from .hooks import ContainerHook
from .model import PAUSED, RESTARTING, Container
from .oci.spec import build_exec_process
from .stdio.attach import AttachConn
from .stdio.interactive import ExecStart, prepare_exec_start
from .stdio.tty import console_size, parse_detach_keys, resize_tty, set_console_size

if TYPE_CHECKING:
    from .service import ContainerService

log = logging.getLogger(__name__)

PROBE_OUTPUT_MAX = 4096  # Docker keeps this much of a health probe's output


def _strs(v: Any, what: str) -> list[str]:
    if v is None:
        return []
    if isinstance(v, str):
        return [v]
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise InvalidParameter(f"invalid {what}: expected a list of strings")
    return list(v)


def _console_size(v: Any) -> tuple[int, int] | None:
    if v is None:
        return None
    if not isinstance(v, list) or len(v) != 2 or not all(isinstance(x, int) and x >= 0 for x in v):
        raise InvalidParameter("invalid ConsoleSize: expected [height, width]")
    return console_size(v)


class ExecService:
    """Exec sessions of one engine's containers."""

    def __init__(self, containers: ContainerService) -> None:
        self.containers = containers
        self.store = ExecStore()
        self.root = containers.config.exec_root / "exec"
        self._watchers: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Remove session dirs whose conmon is gone (sessions do not survive restarts)."""
        self.root.mkdir(mode=0o700, parents=True, exist_ok=True)
        for d in self.root.iterdir():
            pid = conmon.read_pidfile(d / "conmon.pid")
            if pid and _alive(pid):
                continue  # a detached exec still running: leave its files
            shutil.rmtree(d, ignore_errors=True)

    # -- create / inspect ------------------------------------------------------------
    def active_container(self, ref: str) -> Container:
        """Docker's getActiveContainer: running, not paused, not restarting (409s)."""
        c = self.containers.get(ref)
        if c.state.status == RESTARTING:
            raise Conflict(f"Container {c.id} is restarting, wait until the container is running")
        if not c.running:
            raise Conflict(f"container {c.id} is not running")
        if c.state.status == PAUSED:
            raise Conflict(f"Container {c.id} is paused, unpause the container before exec")
        return c

    def create(self, ref: str, body: dict[str, Any], internal: bool = False) -> ExecSession:
        """``POST /containers/{id}/exec``."""
        c = self.active_container(ref)
        cmd = _strs(body.get("Cmd"), "Cmd")
        if not cmd:
            raise InvalidParameter("No exec command specified")
        keys = body.get("DetachKeys") or ""
        if keys:
            parse_detach_keys(keys, "escape keys")
        exec_id = new_exec_id()
        s = ExecSession(
            id=exec_id,
            container_id=c.id,
            entrypoint=cmd[0],
            args=cmd[1:],
            env=_strs(body.get("Env"), "Env"),
            user=str(body.get("User") or c.config.get("User") or ""),
            working_dir=str(body.get("WorkingDir") or ""),
            privileged=bool(body.get("Privileged")),
            tty=bool(body.get("Tty")),
            open_stdin=bool(body.get("AttachStdin")),
            open_stdout=bool(body.get("AttachStdout")),
            open_stderr=bool(body.get("AttachStderr")),
            detach_keys=keys,
            console_size=_console_size(body.get("ConsoleSize")),
            session_dir=self.root / exec_id,
            internal=internal,
            explicit_user=bool(body.get("User")),
        )
        self.store.add(s)
        self.containers.emit_event(c, "exec_create: " + " ".join(s.argv), execID=s.id)
        return s

    def inspect(self, exec_id: str) -> dict[str, Any]:
        """``GET /exec/{id}/json``."""
        return self.store.get(exec_id).to_docker()

    def ids_of(self, cid: str) -> list[str]:
        """The container's ExecIDs for inspect."""
        return self.store.ids_of(cid)

    # -- start -----------------------------------------------------------------------
    def startable(self, exec_id: str) -> ExecSession:
        """The session, if it may start now (404/409 with Docker's messages)."""
        s = self.store.get(exec_id)
        if s.exit_code is not None:
            raise Conflict(f"Error: Exec command {s.id} has already run")
        if s.running or s.started:
            raise Conflict(f"Error: Exec command {s.id} is already running")
        self.active_container(s.container_id)
        return s

    def prepare_start(self, exec_id: str, body: dict[str, Any]) -> ExecStart:
        """``POST /exec/{id}/start``, checked (404/409/400) before the client's
        connection is taken over (:mod:`.interactive`)."""
        return prepare_exec_start(self, exec_id, body)

    def _process_spec(self, c: Container, s: ExecSession) -> dict[str, Any]:
        paths = self.containers.runner.paths(c.id)
        try:
            spec = json.loads((paths.bundle / "config.json").read_text())
        except (OSError, ValueError) as e:
            raise SystemError_(f"cannot read the spec of container {c.id[:12]}: {e}") from e
        return build_exec_process(
            spec,
            paths.rootfs,
            s.argv,
            env=s.env,
            user=s.user if s.explicit_user else "",
            working_dir=s.working_dir,
            tty=s.tty,
            privileged=s.privileged,
            group_add=list(c.host_config.get("GroupAdd") or []),
        )

    async def launch(self, s: ExecSession, attach: bool) -> AttachConn | None:
        """Start the process; with ``attach`` return a connection to its stdio that is
        open before the process runs. Raises :class:`ExecFailed` (exit code set)."""
        c = self.active_container(s.container_id)
        if s.started:
            raise Conflict(f"Error: Exec command {s.id} is already running")
        s.started = True
        self.containers.emit_event(c, "exec_start: " + " ".join(s.argv), execID=s.id)
        info = self.containers.runner.info
        s.session_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        proc: ExecProcess | None = None
        conn: AttachConn | None = None
        try:
            spec_file = s.session_dir / "process.json"
            process = self._process_spec(c, s)
            set_console_size(process, s.console_size)
            spec_file.write_text(json.dumps(process))
            proc = ExecProcess(
                ExecLaunch(
                    cid=c.id,
                    exec_id=s.id,
                    name=c.name,
                    session_dir=s.session_dir,
                    process_spec=spec_file,
                    runtime_path=self.containers.runner.oci_for(c).path,
                    runtime_root=self.containers.runner.runtime_root,
                    terminal=s.tty,
                    stdin=attach and s.open_stdin,
                    attach=attach,
                    command=str((process.get("args") or [""])[0]),
                )
            )
            await proc.spawn(info.conmon_path or "conmon")
            if attach:
                await proc.wait_attachable()
                conn = await AttachConn.open(s.session_dir)
                proc.release()
            s.pid = await proc.started()
        except BaseException as e:
            if conn is not None:
                conn.close()
            if proc is not None:
                proc.close()
            s.exit_code = e.exit_code if isinstance(e, ExecFailed) else 126
            s.finished_at = time.monotonic()
            s.started_event.set()
            s.exited_event.set()
            shutil.rmtree(s.session_dir, ignore_errors=True)
            if isinstance(e, OSError):
                raise SystemError_(f"starting exec {s.id[:12]} failed: {e}") from e
            raise
        s.running = True
        s.process = proc
        s.started_event.set()
        task = asyncio.ensure_future(self._watch(c, s, proc))
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)
        return conn

    async def _watch(self, c: Container, s: ExecSession, proc: ExecProcess) -> None:
        code = await proc.exited()
        s.exit_code = code if code >= 0 else 126
        s.running = False
        s.process = None
        s.finished_at = time.monotonic()
        s.exited_event.set()
        shutil.rmtree(s.session_dir, ignore_errors=True)
        self.containers.emit_event(c, "exec_die", execID=s.id, exitCode=str(s.exit_code))
        if s.forget_on_exit:
            self.store.remove(s.id)

    async def resize(self, exec_id: str, height: int, width: int) -> None:
        """``POST /exec/{id}/resize``: waits (10 s) for a just-started exec, as Docker."""
        s = self.store.get(exec_id)
        if not s.started_event.is_set():
            try:
                await asyncio.wait_for(s.started_event.wait(), 10)
            except TimeoutError:
                raise SystemError_("timeout waiting for exec session ready") from None
        if s.running and s.tty:
            resize_tty(s.pid, s.session_dir, height, width)

    # -- health probes ---------------------------------------------------------------
    async def probe(self, c: Container, argv: list[str], limit: float) -> tuple[int, str]:
        """Run a health probe to completion: ``(exit code, output)`` (-1 on timeout)."""
        s = self.create(
            c.id,
            {
                "Cmd": argv,
                "AttachStdout": True,
                "AttachStderr": True,
                "User": c.config.get("User") or "",
                "WorkingDir": c.config.get("WorkingDir") or "",
            },
            internal=True,
        )
        out = bytearray()
        truncated = False
        try:
            try:
                conn = await self.launch(s, attach=True)
            except ExecFailed as e:
                return (s.exit_code if s.exit_code is not None else 126), e.message
            assert conn is not None
            try:

                async def collect() -> None:
                    nonlocal truncated
                    async for _kind, data in conn.output():
                        room = PROBE_OUTPUT_MAX - len(out)
                        out.extend(data[: max(room, 0)])
                        truncated = truncated or len(data) > room
                    await s.exited_event.wait()

                try:
                    await asyncio.wait_for(collect(), limit)
                except TimeoutError:
                    if s.pid and s.running:
                        with contextlib.suppress(OSError):
                            os.kill(s.pid, 9)
                    text = out.decode(errors="replace")
                    secs = _go_duration(limit)
                    msg = f"Health check exceeded timeout ({secs})"
                    return -1, f"{msg}: {text}" if text else msg
            finally:
                conn.close()
            text = out.decode(errors="replace") + ("..." if truncated else "")
            return (s.exit_code if s.exit_code is not None else -1), text
        finally:
            if s.running:
                s.forget_on_exit = True
            else:
                self.store.remove(s.id)

    # -- container stop --------------------------------------------------------------
    def forget_container(self, cid: str) -> None:
        """A stopped container keeps no exec sessions (running ones go when they exit)."""
        for s in self.store.of_container(cid):
            if s.running:
                s.forget_on_exit = True
            else:
                self.store.remove(s.id)

    async def shutdown(self) -> None:
        """Stop waiting for exec processes (they keep running under conmon)."""
        for t in list(self._watchers):
            t.cancel()


class ExecHook(ContainerHook):
    """Container hook: exec sessions end with their container."""

    def __init__(self, execs: ExecService) -> None:
        self.execs = execs

    async def on_stop(self, c: Container) -> None:
        """Forget the container's exec sessions."""
        self.execs.forget_container(c.id)

    async def on_remove(self, c: Container) -> None:
        """Same, for a container removed without a stop (created, never started)."""
        self.execs.forget_container(c.id)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _go_duration(seconds: float) -> str:
    """Go's Duration.String() for whole and fractional seconds (``30s``, ``1.5s``)."""
    if seconds >= 1 and float(seconds).is_integer():
        s = int(seconds)
        h, rem = divmod(s, 3600)
        m, sec = divmod(rem, 60)
        out = ""
        if h:
            out += f"{h}h"
        if h or m:
            out += f"{m}m"
        return out + f"{sec}s"
    if seconds >= 1:
        return f"{seconds:g}s"
    return f"{seconds * 1000:g}ms"


__all__ = ["ExecFailed", "ExecHook", "ExecService"]
