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
from typing import Any

from ..errors import Conflict, EngineError, InvalidParameter, NotModified, SystemError_
from ..runtime import conmon
from .model import (
    CREATED,
    DEAD,
    EXITED,
    PAUSED,
    REMOVING,
    RESTARTING,
    RUNNING,
    Container,
    now_rfc3339,
    parse_rfc3339,
)
from .runner import call_hooks
from .signals import parse_signal

log = logging.getLogger(__name__)

BACKOFF_START = 0.1
BACKOFF_MAX = 60.0
BACKOFF_RESET_AFTER = 10.0


class Lifecycle:
    """Mixin of ContainerService holding the state-changing operations."""

    # provided by ContainerService
    _containers: dict[str, Container]
    _watchers: dict[str, conmon.ExitWatcher]
    _exit_events: dict[str, asyncio.Event]
    _waiters: dict[str, list[tuple[str, asyncio.Future[int]]]]
    _restart_tasks: dict[str, asyncio.Task[None]]
    _backoff: dict[str, float]
    _stats_prev: dict[str, Any]
    _bg: set[asyncio.Future[Any]]

    # -- helpers -------------------------------------------------------------------
    def _locks(self, cid: str) -> tuple[asyncio.Lock, asyncio.Lock]:
        locks = self._lock_table.setdefault(cid, (asyncio.Lock(), asyncio.Lock()))  # type: ignore[attr-defined]
        return locks

    def _event(self, c: Container, action: str, **extra: str) -> None:
        attrs = {"name": c.name, "image": c.image or c.image_id}
        attrs.update(c.labels)
        attrs.update(extra)
        self.events.publish("container", action, c.id, attrs)  # type: ignore[attr-defined]

    def _save(self, c: Container) -> None:
        self.store.save(c)  # type: ignore[attr-defined]

    def exit_event(self, cid: str) -> asyncio.Event:
        """Set when the container stops running (replaced at each start)."""
        ev = self._exit_events.get(cid)
        if ev is None:
            ev = asyncio.Event()
            c = self._containers.get(cid)
            if c is None or not c.running:
                ev.set()
            self._exit_events[cid] = ev
        return ev

    def _watch(self, c: Container) -> None:
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
        self._exit_events[c.id] = asyncio.Event()
        await self.runner.create(c)  # type: ignore[attr-defined]
        self._save(c)
        self._watch(c)

    async def _start_locked(self, c: Container) -> None:
        if c.state.status in (RUNNING,):
            raise NotModified("container already started")
        if c.state.status == PAUSED:
            raise Conflict("cannot start a paused container, try unpause instead")
        if c.state.status in (REMOVING, DEAD):
            raise Conflict(f"container {c.id} is marked for removal and cannot be started")
        _, state_lock = self._locks(c.id)
        async with state_lock:
            try:
                await self._init_runtime(c)
                await self.runner.oci_for(c).start(c.id)  # type: ignore[attr-defined]
            except EngineError as e:
                err = await self._failed_start(c, e)
                if c.host_config.get("AutoRemove"):
                    # as dockerd: a --rm container that cannot start is removed (the
                    # CLI's wait for "removed" ends with it); after our locks are free
                    self._spawn(self._remove_quietly(c.id))
                raise err from None
            c.state.status = RUNNING
            c.state.started_at = now_rfc3339()
            c.state.error = ""
            c.state.oom_killed = False
            c.has_been_started = True
            c.manually_stopped = False
            self._save(c)
        self._event(c, "start")
        await call_hooks(self.hooks, "on_start", c)  # type: ignore[attr-defined]
        self._save(c)  # hooks may have filled NetworkSettings (ports)
        self._seed_stats(c)

    async def _failed_start(self, c: Container, err: EngineError) -> EngineError:
        """Undo a failed create/start; return the error to report (Docker's codes:
        127 and 400 for a missing command, 126 and 400 for one that cannot run)."""
        w = self._watchers.pop(c.id, None)
        if w:
            w.close()
        await self.runner.cleanup(c)  # type: ignore[attr-defined]
        msg = err.message.replace('\\"', '"')
        low = msg.lower()
        code, out = 128, err
        if "executable file not found" in low or "no such file or directory" in low:
            code, out = 127, InvalidParameter(msg)
        elif "permission denied" in low:
            code, out = 126, InvalidParameter(msg)
        c.state.status = CREATED if not c.has_been_started else EXITED
        c.state.error = msg
        c.state.exit_code = code
        self._save(c)
        self.exit_event(c.id).set()
        await call_hooks(self.hooks, "on_stop", c)  # type: ignore[attr-defined]
        self._save(c)
        return out

    async def _remove_quietly(self, cid: str) -> None:
        try:
            await self.remove(cid, force=True)  # type: ignore[attr-defined]
        except EngineError as e:
            log.warning("auto-remove of %s failed: %s", cid[:12], e.message)

    async def start_container(self, ref: str) -> None:
        """``POST /containers/{id}/start`` (304 when already running)."""
        c = self.get(ref)  # type: ignore[attr-defined]
        op, _ = self._locks(c.id)
        async with op:
            self._cancel_restart(c)
            await self._start_locked(c)

    async def prepare_attach(self, c: Container) -> None:
        """Make sure conmon exists so an attach made before start sees every byte."""
        if c.state.status in (CREATED, EXITED) and not c.runtime_created:
            op, state_lock = self._locks(c.id)
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
            await self._handle_exit(cid)
        except Exception:
            log.exception("handling the exit of %s failed", cid[:12])

    async def _handle_exit(self, cid: str, exit_info: tuple[int, float] | None = None) -> None:
        c = self._containers.get(cid)
        if c is None:
            return
        _, state_lock = self._locks(cid)
        async with state_lock:
            self._watchers.pop(cid, None)
            if not c.runtime_created:
                return
            paths = self.runner.paths(cid)  # type: ignore[attr-defined]
            info = exit_info or conmon.read_exit_file(paths.exit_dir, cid)
            code, when = info if info else (-1, time.time())
            was_started = c.state.status in (RUNNING, PAUSED, RESTARTING, REMOVING)
            c.state.oom_killed = self.runner.oom_killed(cid)  # type: ignore[attr-defined]
            await self.runner.cleanup(c)  # type: ignore[attr-defined]
            started = parse_rfc3339(c.state.started_at)
            if c.state.status != REMOVING:
                c.state.status = EXITED if c.has_been_started else CREATED
            c.state.exit_code = code if code >= 0 else 255
            c.state.finished_at = now_rfc3339(when)
            if not info:
                c.state.error = "conmon exited without writing an exit status"
        await call_hooks(self.hooks, "on_stop", c)  # type: ignore[attr-defined]
        self._save(c)
        self._stats_prev.pop(cid, None)
        if c.state.oom_killed:
            self._event(c, "oom")
        if was_started:
            duration = max(0.0, when - started) if started else 0.0
            self._event(c, "die", exitCode=str(c.state.exit_code), execDuration=str(int(duration)))
        self.exit_event(cid).set()
        self._resolve_waiters(cid, ("not-running", "next-exit"), c.state.exit_code)
        if was_started and c.state.status != REMOVING:
            await self._after_exit(c, duration if started else 0.0)

    def _resolve_waiters(self, cid: str, conditions: tuple[str, ...], code: int) -> None:
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

    async def _after_exit(self, c: Container, ran_for: float) -> None:
        """Apply the restart policy (with Docker's back-off) or AutoRemove."""
        if self.shutting_down:  # type: ignore[attr-defined]
            return
        if self._should_restart(c):
            delay = self._backoff.get(c.id, 0.0)
            if ran_for >= BACKOFF_RESET_AFTER:
                delay = 0.0
            delay = BACKOFF_START if delay == 0.0 else min(delay * 2, BACKOFF_MAX)
            self._backoff[c.id] = delay
            c.state.status = RESTARTING
            self._save(c)
            self._restart_tasks[c.id] = asyncio.ensure_future(self._restart_later(c, delay))
        elif c.host_config.get("AutoRemove"):
            try:
                await self.remove(c.id, force=True, volumes=True)  # type: ignore[attr-defined]
            except EngineError as e:
                log.warning("auto-remove of %s failed: %s", c.id[:12], e.message)

    async def _restart_later(self, c: Container, delay: float) -> None:
        await asyncio.sleep(delay)
        op, _ = self._locks(c.id)
        async with op:
            self._restart_tasks.pop(c.id, None)
            if c.state.status != RESTARTING or c.id not in self._containers:
                return
            c.restart_count += 1
            try:
                await self._start_locked(c)
            except EngineError as e:
                log.warning("restarting %s failed: %s", c.id[:12], e.message)

    def _cancel_restart(self, c: Container) -> None:
        task = self._restart_tasks.pop(c.id, None)
        if task:
            task.cancel()
        if c.state.status == RESTARTING:
            c.state.status = EXITED
            self._save(c)

    # -- stop / kill ---------------------------------------------------------------
    async def _wait_exit(self, c: Container, limit: float | None) -> bool:
        ev = self.exit_event(c.id)
        try:
            await asyncio.wait_for(ev.wait(), limit)
        except TimeoutError:
            return False
        return True

    async def _signal(self, c: Container, sig: int) -> None:
        oci = self.runner.oci_for(c)  # type: ignore[attr-defined]
        if c.state.status == PAUSED and sig == _signal.SIGKILL:
            # cgroup v1 cannot kill frozen tasks: thaw first.
            try:
                await oci.resume(c.id)
            except EngineError:
                pass
            c.state.status = RUNNING
        host_pid = c.host_config.get("PidMode") == "host"
        await oci.kill(c.id, sig, all_=host_pid)

    async def _stop_locked(self, c: Container, grace: int | None, sig: int | None) -> None:
        if c.state.status == RESTARTING:
            c.manually_stopped = True
            self._cancel_restart(c)
            self._event(c, "stop")
            return
        if not c.running:
            raise NotModified("container already stopped")
        c.manually_stopped = True
        self._save(c)
        stop_sig = sig or parse_signal(c.config.get("StopSignal"), _signal.SIGTERM)
        if grace is None:
            grace = c.config.get("StopTimeout")
            grace = 10 if grace is None else grace
        if c.state.status == PAUSED:
            await self.runner.oci_for(c).resume(c.id)  # type: ignore[attr-defined]
            c.state.status = RUNNING
        try:
            await self._signal(c, stop_sig)
            self._event(c, "kill", signal=str(stop_sig))
        except EngineError as e:
            log.debug("stop signal to %s: %s", c.id[:12], e.message)
        if not await self._wait_exit(c, None if grace < 0 else float(grace)):
            try:
                await self._signal(c, _signal.SIGKILL)
                self._event(c, "kill", signal=str(int(_signal.SIGKILL)))
            except EngineError as e:
                log.debug("SIGKILL to %s: %s", c.id[:12], e.message)
            if not await self._wait_exit(c, 30):
                raise SystemError_(f"container {c.id[:12]} did not exit after SIGKILL")
        self._event(c, "stop")

    async def stop(self, ref: str, grace: int | None = None, sig: str | None = None) -> None:
        """``POST /containers/{id}/stop`` (304 when not running)."""
        c = self.get(ref)  # type: ignore[attr-defined]
        signum = parse_signal(sig) if sig else None
        op, _ = self._locks(c.id)
        async with op:
            await self._stop_locked(c, grace, signum)

    async def restart(self, ref: str, grace: int | None = None, sig: str | None = None) -> None:
        """``POST /containers/{id}/restart``."""
        c = self.get(ref)  # type: ignore[attr-defined]
        signum = parse_signal(sig) if sig else None
        op, _ = self._locks(c.id)
        async with op:
            try:
                await self._stop_locked(c, grace, signum)
            except NotModified:
                pass
            self._cancel_restart(c)
            await self._start_locked(c)
        self._event(c, "restart")

    async def kill(self, ref: str, sig: str | None = None) -> None:
        """``POST /containers/{id}/kill`` (409 when not running)."""
        c = self.get(ref)  # type: ignore[attr-defined]
        signum = parse_signal(sig, _signal.SIGKILL)
        if not c.running:
            raise Conflict(f"Container {c.id} is not running")
        if signum in (_signal.SIGKILL, parse_signal(c.config.get("StopSignal"), _signal.SIGTERM)):
            c.manually_stopped = True
            self._save(c)
        try:
            await self._signal(c, signum)
        except EngineError:
            # The process may exit between the check above and the runtime's kill (a
            # container whose command ends at once); that is dockerd's 409, not a failure.
            if await self._wait_exit(c, 2):
                raise Conflict(f"Container {c.id} is not running") from None
            raise
        self._event(c, "kill", signal=str(signum))
        if signum == _signal.SIGKILL:
            await self._wait_exit(c, 10)

    async def pause(self, ref: str) -> None:
        """``POST /containers/{id}/pause`` (cgroup freezer)."""
        c = self.get(ref)  # type: ignore[attr-defined]
        op, _ = self._locks(c.id)
        async with op:
            if c.state.status == PAUSED:
                raise Conflict(f"Container {c.id} is already paused")
            if c.state.status != RUNNING:
                raise Conflict(f"Container {c.id} is not running")
            await self.runner.oci_for(c).pause(c.id)  # type: ignore[attr-defined]
            c.state.status = PAUSED
            self._save(c)
        self._event(c, "pause")

    async def unpause(self, ref: str) -> None:
        """``POST /containers/{id}/unpause``."""
        c = self.get(ref)  # type: ignore[attr-defined]
        op, _ = self._locks(c.id)
        async with op:
            if c.state.status != PAUSED:
                raise Conflict(f"Container {c.id} is not paused")
            await self.runner.oci_for(c).resume(c.id)  # type: ignore[attr-defined]
            c.state.status = RUNNING
            self._save(c)
        self._event(c, "unpause")

    def wait_for(self, ref: str, condition: str = "not-running") -> asyncio.Future[int]:
        """Register a wait (``POST /containers/{id}/wait``) and return its future, so the
        route can send headers as soon as the wait is in place (the CLI starts the
        container only after that)."""
        c = self.get(ref)  # type: ignore[attr-defined]
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

    def _seed_stats(self, c: Container) -> None:
        """Take a first stats sample at start so the first API answer has a precpu."""
        try:
            self.sample_stats(c)  # type: ignore[attr-defined]
        except Exception:  # stats must never break a start
            log.debug("stats seed for %s failed", c.id[:12], exc_info=True)
