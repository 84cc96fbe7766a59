"""Container lifecycle: start, stop, kill, pause, exit handling and restart policies.

Two locks per container keep transitions consistent without deadlocks:
- ``op`` serialises API operations (start/stop/remove/...), and may be held while
  waiting for the container to exit;
- ``state`` is held only for short transitions (runtime create+start, exit handling),
  so the exit handler can always run while ``stop`` waits for it.
Exits are noticed through a pidfd on conmon (no polling) and read from conmon's exit
file, which is also how live restore learns about exits that happened while the
engine was down.
"""

from __future__ import annotations

import asyncio
import logging
import signal as _signal
import time
from collections.abc import Awaitable, Callable
from typing import Any

from ..conventions import format_rfc3339, parse_rfc3339
from ..errors import Conflict, EngineError, InvalidParameter, NotModified, SystemError_
from ..runtime import conmon, messages
from .hooks import ContainerHook, run_on_start, run_on_stop
from .model import (
    CREATED,
    DEAD,
    EXITED,
    PAUSED,
    REMOVING,
    RESTARTING,
    RUNNING,
    Container,
)
from .registry import ContainerRegistry
from .runner import Runner
from .signals import parse_signal

log = logging.getLogger(__name__)

BACKOFF_START = 0.1
BACKOFF_MAX = 60.0
BACKOFF_RESET_AFTER = 10.0


class Lifecycle:
    """The state-changing operations of containers: start, stop, kill, restart, pause,
    the exit of a container's process and what follows it (restart policies,
    AutoRemove, waits). A part of :class:`ContainerService`, sharing its registry."""

    def __init__(
        self,
        registry: ContainerRegistry,
        runner: Runner,
        hooks: list[ContainerHook],
        sample_stats: Callable[[Container], object],
        remove: Callable[..., Awaitable[None]],
    ) -> None:
        self.registry = registry
        self.runner = runner
        self.hooks = hooks
        self._sample_stats = sample_stats
        # the service's remove (AutoRemove); it calls back into this object
        self._remove = remove
        self.shutting_down = False
        self._watchers: dict[str, conmon.ExitWatcher] = {}
        self._waiters: dict[str, list[tuple[str, asyncio.Future[int]]]] = {}
        self._restart_tasks: dict[str, asyncio.Task[None]] = {}
        self._backoff: dict[str, float] = {}
        self._bg: set[asyncio.Future[Any]] = set()

    def shutdown(self) -> None:
        """Stop watching containers and cancel pending restarts (they keep running)."""
        self.shutting_down = True
        for task in list(self._restart_tasks.values()):
            task.cancel()
        for w in list(self._watchers.values()):
            w.close()
        self._watchers.clear()

    def stop_watching(self, c: Container) -> None:
        """Close the exit watcher of ``c`` (a never-started container being removed)."""
        w = self._watchers.pop(c.id, None)
        if w:
            w.close()

    def forget(self, c: Container) -> None:
        """A removed container: no restart back-off is kept for it."""
        self._backoff.pop(c.id, None)

    def drop_waiters(self, cid: str) -> None:
        """Forget the waits of a removed container (resolved before)."""
        self._waiters.pop(cid, None)

    # -- helpers -------------------------------------------------------------------
    def watch(self, c: Container) -> None:
        old = self._watchers.pop(c.id, None)
        if old:
            old.close()
        cid = c.id
        self._watchers[cid] = conmon.ExitWatcher(
            c.conmon_pid, lambda: self._spawn(self._on_exit(cid))
        )

    def _spawn(self, coro: Any) -> None:
        """Run ``coro`` in the background, keeping a reference until it is done."""
        task = asyncio.ensure_future(coro)
        self._bg.add(task)
        task.add_done_callback(self._bg.discard)

    # -- start ---------------------------------------------------------------------
    async def _init_runtime(self, c: Container) -> None:
        """Create the runtime container (conmon) if it does not exist yet."""
        if c.runtime_created:
            return
        self.registry.renew_exit_event(c.id)
        await self.runner.create(c)
        self.registry.save(c)
        self.watch(c)

    async def _start_locked(self, c: Container) -> None:
        if c.state.status in (RUNNING,):
            raise NotModified("container already started")
        if c.state.status == PAUSED:
            raise Conflict("cannot start a paused container, try unpause instead")
        if c.state.status in (REMOVING, DEAD):
            raise Conflict(f"container {c.id} is marked for removal and cannot be started")
        _, state_lock = self.registry.locks(c.id)
        async with state_lock:
            try:
                await self._init_runtime(c)
                await self.runner.oci_for(c).start(c.id)
            except EngineError as e:
                err = await self._failed_start(c, e)
                if c.host_config.get("AutoRemove"):
                    # as dockerd: a --rm container that cannot start is removed (the
                    # CLI's wait for "removed" ends with it); after our locks are free
                    self._spawn(self._remove_quietly(c.id))
                raise err from None
            c.state.move_to(RUNNING)
            c.state.started_at = format_rfc3339()
            c.state.error = ""
            c.state.oom_killed = False
            c.has_been_started = True
            c.manually_stopped = False
            self.registry.save(c)
        self.registry.emit_event(c, "start")
        await run_on_start(self.hooks, c)
        self.registry.save(c)  # hooks may have filled NetworkSettings (ports)
        self.seed_stats(c)

    async def _failed_start(self, c: Container, err: EngineError) -> EngineError:
        """Undo a failed create/start; return the error to report (Docker's codes:
        127 and 400 for a missing command, 126 and 400 for one that cannot run)."""
        w = self._watchers.pop(c.id, None)
        if w:
            w.close()
        await self.runner.cleanup(c)
        msg = err.message.replace('\\"', '"')
        code = messages.process_exit_code(msg)
        out: EngineError = err if code is None else InvalidParameter(msg)
        code = 128 if code is None else code
        c.state.move_to(CREATED if not c.has_been_started else EXITED)
        c.state.error = msg
        c.state.exit_code = code
        self.registry.save(c)
        self.registry.exit_event(c.id).set()
        await run_on_stop(self.hooks, c)
        self.registry.save(c)
        return out

    async def _remove_quietly(self, cid: str) -> None:
        try:
            await self._remove(cid, force=True)
        except EngineError as e:
            log.warning("auto-remove of %s failed: %s", cid[:12], e.message)

    async def start_container(self, ref: str) -> None:
        """``POST /containers/{id}/start`` (304 when already running)."""
        c = self.registry.get(ref)
        op, _ = self.registry.locks(c.id)
        async with op:
            self.cancel_restart(c)
            await self._start_locked(c)

    async def prepare_attach(self, c: Container) -> None:
        """Make sure conmon exists so an attach made before start sees every byte."""
        if c.state.status in (CREATED, EXITED) and not c.runtime_created:
            op, state_lock = self.registry.locks(c.id)
            async with op, state_lock:
                if not c.runtime_created and c.state.status in (CREATED, EXITED):
                    try:
                        await self._init_runtime(c)
                    except EngineError as e:
                        # Reported by the start that follows (with Docker's codes);
                        # the attach just gets no output.
                        await self._failed_start(c, e)

    # -- exit ----------------------------------------------------------------------
    async def _on_exit(self, cid: str) -> None:
        try:
            await self.handle_exit(cid)
        except Exception:
            log.exception("handling the exit of %s failed", cid[:12])

    async def handle_exit(self, cid: str, exit_info: tuple[int, float] | None = None) -> None:
        c = self.registry.records.get(cid)
        if c is None:
            return
        _, state_lock = self.registry.locks(cid)
        async with state_lock:
            self._watchers.pop(cid, None)
            if not c.runtime_created:
                return
            paths = self.runner.paths(cid)
            info = exit_info or conmon.read_exit_file(paths.exit_dir, cid)
            code, when = info if info else (-1, time.time())
            was_started = c.state.status in (RUNNING, PAUSED, RESTARTING, REMOVING)
            c.state.oom_killed = self.runner.oom_killed(cid)
            await self.runner.cleanup(c)
            started = parse_rfc3339(c.state.started_at)
            if c.state.status != REMOVING:
                c.state.move_to(EXITED if c.has_been_started else CREATED)
            c.state.exit_code = code if code >= 0 else 255
            c.state.finished_at = format_rfc3339(when)
            if not info:
                c.state.error = "conmon exited without writing an exit status"
        await run_on_stop(self.hooks, c)
        self.registry.save(c)
        self.registry.stats_prev.pop(cid, None)
        if c.state.oom_killed:
            self.registry.emit_event(c, "oom")
        if was_started:
            duration = max(0.0, when - started) if started else 0.0
            self.registry.emit_event(
                c, "die", exitCode=str(c.state.exit_code), execDuration=str(int(duration))
            )
        self.registry.exit_event(cid).set()
        self.resolve_waiters(cid, ("not-running", "next-exit"), c.state.exit_code)
        if was_started and c.state.status != REMOVING:
            await self.after_exit(c, duration if started else 0.0)

    def resolve_waiters(self, cid: str, conditions: tuple[str, ...], code: int) -> None:
        keep = []
        for cond, fut in self._waiters.get(cid, []):
            if cond in conditions:
                if not fut.done():
                    fut.set_result(code)
            else:
                keep.append((cond, fut))
        self._waiters[cid] = keep

    def _should_restart(self, c: Container) -> bool:
        policy = c.host_config.get("RestartPolicy") or {}
        name = policy.get("Name") or "no"
        if c.manually_stopped or name == "no":
            return False
        if name in ("always", "unless-stopped"):
            return True
        if name == "on-failure":
            limit = policy.get("MaximumRetryCount") or 0
            return c.state.exit_code != 0 and (limit == 0 or c.restart_count < limit)
        return False

    async def after_exit(self, c: Container, ran_for: float) -> None:
        """Apply the restart policy (with Docker's back-off) or AutoRemove."""
        if self.shutting_down:
            return
        if self._should_restart(c):
            delay = self._backoff.get(c.id, 0.0)
            if ran_for >= BACKOFF_RESET_AFTER:
                delay = 0.0
            delay = BACKOFF_START if delay == 0.0 else min(delay * 2, BACKOFF_MAX)
            self._backoff[c.id] = delay
            # Counted when the restart is decided, as dockerd does: inspect shows it
            # while the container waits out its back-off.
            c.restart_count += 1
            c.state.move_to(RESTARTING)
            self.registry.save(c)
            self._restart_tasks[c.id] = asyncio.ensure_future(self._restart_later(c, delay))
        elif c.host_config.get("AutoRemove"):
            try:
                await self._remove(c.id, force=True, volumes=True)
            except EngineError as e:
                log.warning("auto-remove of %s failed: %s", c.id[:12], e.message)

    async def _restart_later(self, c: Container, delay: float) -> None:
        await asyncio.sleep(delay)
        op, _ = self.registry.locks(c.id)
        async with op:
            self._restart_tasks.pop(c.id, None)
            if c.state.status != RESTARTING or c.id not in self.registry.records:
                return
            try:
                await self._start_locked(c)
            except EngineError as e:
                log.warning("restarting %s failed: %s", c.id[:12], e.message)

    def cancel_restart(self, c: Container) -> None:
        task = self._restart_tasks.pop(c.id, None)
        if task:
            task.cancel()
        if c.state.status == RESTARTING:
            c.state.move_to(EXITED)
            self.registry.save(c)

    # -- stop / kill ---------------------------------------------------------------
    async def wait_exit(self, c: Container, limit: float | None) -> bool:
        ev = self.registry.exit_event(c.id)
        try:
            await asyncio.wait_for(ev.wait(), limit)
        except TimeoutError:
            return False
        return True

    async def signal(self, c: Container, sig: int) -> None:
        oci = self.runner.oci_for(c)
        if c.state.status == PAUSED and sig == _signal.SIGKILL:
            # cgroup v1 cannot kill frozen tasks: thaw first.
            try:
                await oci.resume(c.id)
            except EngineError:
                pass
            c.state.move_to(RUNNING)
        host_pid = c.host_config.get("PidMode") == "host"
        await oci.kill(c.id, sig, all_=host_pid)

    async def _stop_locked(self, c: Container, grace: int | None, sig: int | None) -> None:
        if c.state.status == RESTARTING:
            c.manually_stopped = True
            self.cancel_restart(c)
            self.registry.emit_event(c, "stop")
            return
        if not c.running:
            raise NotModified("container already stopped")
        c.manually_stopped = True
        self.registry.save(c)
        stop_sig = sig or parse_signal(c.config.get("StopSignal"), _signal.SIGTERM)
        if grace is None:
            grace = c.config.get("StopTimeout")
            grace = 10 if grace is None else grace
        if c.state.status == PAUSED:
            await self.runner.oci_for(c).resume(c.id)
            c.state.move_to(RUNNING)
        try:
            await self.signal(c, stop_sig)
            self.registry.emit_event(c, "kill", signal=str(stop_sig))
        except EngineError as e:
            log.debug("stop signal to %s: %s", c.id[:12], e.message)
        if not await self.wait_exit(c, None if grace < 0 else float(grace)):
            try:
                await self.signal(c, _signal.SIGKILL)
                self.registry.emit_event(c, "kill", signal=str(int(_signal.SIGKILL)))
            except EngineError as e:
                log.debug("SIGKILL to %s: %s", c.id[:12], e.message)
            if not await self.wait_exit(c, 30):
                raise SystemError_(f"container {c.id[:12]} did not exit after SIGKILL")
        self.registry.emit_event(c, "stop")

    async def stop(self, ref: str, grace: int | None = None, sig: str | None = None) -> None:
        """``POST /containers/{id}/stop`` (304 when not running)."""
        c = self.registry.get(ref)
        signum = parse_signal(sig) if sig else None
        op, _ = self.registry.locks(c.id)
        async with op:
            await self._stop_locked(c, grace, signum)

    async def restart(self, ref: str, grace: int | None = None, sig: str | None = None) -> None:
        """``POST /containers/{id}/restart``."""
        c = self.registry.get(ref)
        signum = parse_signal(sig) if sig else None
        op, _ = self.registry.locks(c.id)
        async with op:
            try:
                await self._stop_locked(c, grace, signum)
            except NotModified:
                pass
            self.cancel_restart(c)
            await self._start_locked(c)
        self.registry.emit_event(c, "restart")

    async def kill(self, ref: str, sig: str | None = None) -> None:
        """``POST /containers/{id}/kill`` (409 when not running)."""
        c = self.registry.get(ref)
        signum = parse_signal(sig, _signal.SIGKILL)
        if not c.running:
            raise Conflict(f"Container {c.id} is not running")
        if signum in (_signal.SIGKILL, parse_signal(c.config.get("StopSignal"), _signal.SIGTERM)):
            c.manually_stopped = True
            self.registry.save(c)
        try:
            await self.signal(c, signum)
        except EngineError:
            # The process may exit between the check above and the runtime's kill (a
            # container whose command ends at once); that is dockerd's 409, not a failure.
            if await self.wait_exit(c, 2):
                raise Conflict(f"Container {c.id} is not running") from None
            raise
        self.registry.emit_event(c, "kill", signal=str(signum))
        if signum == _signal.SIGKILL:
            await self.wait_exit(c, 10)

    async def pause(self, ref: str) -> None:
        """``POST /containers/{id}/pause`` (cgroup freezer)."""
        c = self.registry.get(ref)
        op, _ = self.registry.locks(c.id)
        async with op:
            if c.state.status == PAUSED:
                raise Conflict(f"Container {c.id} is already paused")
            if c.state.status != RUNNING:
                raise Conflict(f"Container {c.id} is not running")
            await self.runner.oci_for(c).pause(c.id)
            c.state.move_to(PAUSED)
            self.registry.save(c)
        self.registry.emit_event(c, "pause")

    async def unpause(self, ref: str) -> None:
        """``POST /containers/{id}/unpause``."""
        c = self.registry.get(ref)
        op, _ = self.registry.locks(c.id)
        async with op:
            if c.state.status != PAUSED:
                raise Conflict(f"Container {c.id} is not paused")
            await self.runner.oci_for(c).resume(c.id)
            c.state.move_to(RUNNING)
            self.registry.save(c)
        self.registry.emit_event(c, "unpause")

    def wait_for(self, ref: str, condition: str = "not-running") -> asyncio.Future[int]:
        """Register a wait (``POST /containers/{id}/wait``) and return its future, so the
        route can send headers as soon as the wait is in place (the CLI starts the
        container only after that)."""
        c = self.registry.get(ref)
        condition = condition or "not-running"
        if condition not in ("not-running", "next-exit", "removed"):
            raise InvalidParameter(f"invalid condition: {condition!r}")
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        if condition == "not-running" and not c.running and c.state.status != RESTARTING:
            fut.set_result(c.state.exit_code)
            return fut
        waiters = self._waiters.setdefault(c.id, [])
        waiters.append((condition, fut))

        def forget(f: asyncio.Future[int]) -> None:
            lst = self._waiters.get(c.id)
            if lst:
                self._waiters[c.id] = [(k, w) for k, w in lst if w is not f]

        fut.add_done_callback(forget)
        return fut

    def seed_stats(self, c: Container) -> None:
        """Take a first stats sample at start so the first API answer has a precpu."""
        try:
            self._sample_stats(c)
        except Exception:  # stats must never break a start
            log.debug("stats seed for %s failed", c.id[:12], exc_info=True)
