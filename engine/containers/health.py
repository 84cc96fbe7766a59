"""Healthchecks: probes run as exec sessions on the container's schedule.

Docker's rules (moby daemon/health.go): the first probe runs one interval after the
start (sooner while the start period lasts, every ``StartInterval`` while
``starting``); a probe that exits 0 makes the container healthy and resets the
failing streak; other results (a timeout is -1) add to the streak — except while
still ``starting`` inside the start period — and ``Retries`` failures in a row make
it unhealthy. The last five results are kept. Every status change publishes a
``health_status: <status>`` event. Probes pause with the container, stop with it,
and resume after a live restore (the state is persisted with the container).

:class:`HealthMonitor` is a container hook; it also merges and validates the
healthcheck at create time, since Docker fills unset fields from the image's.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import TYPE_CHECKING, Any

from ..conventions import format_rfc3339, parse_rfc3339
from ..errors import EngineError, InvalidParameter
from .health_state import (
    HEALTHY,
    KEY,
    STARTING,
    UNHEALTHY,
    healthcheck_of,
)
from .hooks import ContainerHook
from .model import PAUSED, Container

if TYPE_CHECKING:
    from .exec import ExecService
    from .service import ContainerService

log = logging.getLogger(__name__)

NS = 1_000_000_000
DEFAULT_INTERVAL = 30.0
DEFAULT_TIMEOUT = 30.0
DEFAULT_START_PERIOD = 0.0
DEFAULT_START_INTERVAL = 5.0
DEFAULT_RETRIES = 3
MAX_LOG = 5
MIN_DURATION_NS = 1_000_000  # 1ms, Docker's MinimumDuration
_FIELDS = ("Test", "Interval", "Timeout", "StartPeriod", "StartInterval", "Retries")


def merge_healthcheck(
    user: dict[str, Any] | None, image: dict[str, Any] | None
) -> dict[str, Any] | None:
    """moby's merge: the container's healthcheck, unset fields from the image's."""
    if not user:
        return dict(image) if image else None
    out = dict(user)
    if image:
        for key in _FIELDS:
            if not out.get(key):
                out[key] = image.get(key)
    return out


def validate_healthcheck(hc: dict[str, Any] | None) -> None:
    """Docker's create-time checks (400 with its messages)."""
    if not hc:
        return
    for key in ("Interval", "Timeout", "StartPeriod", "StartInterval"):
        v = hc.get(key) or 0
        if not isinstance(v, int):
            raise InvalidParameter(f"{key} in Healthcheck must be an integer (nanoseconds)")
        if v != 0 and v < MIN_DURATION_NS:
            raise InvalidParameter(f"{key} in Healthcheck cannot be less than 1ms")
    retries = hc.get("Retries") or 0
    if not isinstance(retries, int):
        raise InvalidParameter("Retries in Healthcheck must be an integer")
    if retries < 0:
        raise InvalidParameter("Retries in Healthcheck cannot be negative")
    test = hc.get("Test")
    if test is not None and not (isinstance(test, list) and all(isinstance(t, str) for t in test)):
        raise InvalidParameter("Test in Healthcheck must be a list of strings")


def _seconds(hc: dict[str, Any], key: str, default: float) -> float:
    v = hc.get(key) or 0
    return v / NS if v else default


def probe_argv(c: Container, hc: dict[str, Any]) -> list[str]:
    """The command a probe runs: CMD as is, CMD-SHELL through the container's shell."""
    test = list(hc["Test"])
    if test[0] == "CMD-SHELL":
        shell = list(c.config.get("Shell") or ["/bin/sh", "-c"])
        return [*shell, *test[1:]]
    return test[1:]


class HealthMonitor(ContainerHook):
    """Runs every healthchecked container's probes (a container hook)."""

    def __init__(self, containers: ContainerService, execs: ExecService) -> None:
        self.containers = containers
        self.execs = execs
        self._tasks: dict[str, asyncio.Task[None]] = {}

    # -- hook --------------------------------------------------------------------
    async def on_create(self, c: Container) -> None:
        """Fill the healthcheck from the image's and validate it."""
        user = c.config.get("Healthcheck")
        try:
            image = await self.containers.images.resolve(c.image_id)
            image_hc = (image.config.get("config") or {}).get("Healthcheck")
        except EngineError:
            image_hc = None
        merged = merge_healthcheck(user if isinstance(user, dict) else None, image_hc)
        validate_healthcheck(merged)
        if merged:
            c.config["Healthcheck"] = merged

    async def on_start(self, c: Container) -> None:
        """A (re)started container starts over as ``starting``; its log is kept."""
        if healthcheck_of(c.config) is None:
            return
        h = dict(c.extra.get(KEY) or {})
        h.update({"Status": STARTING, "FailingStreak": 0})
        h.setdefault("Log", [])
        c.extra[KEY] = h
        self._save(c)
        self._spawn(c)

    async def on_restore(self, c: Container) -> None:
        """A live-restored running container resumes its probes where they were."""
        if healthcheck_of(c.config) is None:
            return
        c.extra.setdefault(KEY, {"Status": STARTING, "FailingStreak": 0, "Log": []})
        self._spawn(c)

    async def on_stop(self, c: Container) -> None:
        """No probes for a stopped container; it counts as unhealthy."""
        await self._cancel(c.id)
        h = c.extra.get(KEY)
        if isinstance(h, dict) and h.get("Status") != UNHEALTHY:
            h["Status"] = UNHEALTHY
            self._save(c)

    async def on_remove(self, c: Container) -> None:
        """Stop probing a removed container."""
        await self._cancel(c.id)

    async def shutdown(self) -> None:
        """Stop every monitor (they resume after the engine restarts)."""
        for cid in list(self._tasks):
            await self._cancel(cid)

    # -- monitor -----------------------------------------------------------------
    def _spawn(self, c: Container) -> None:
        old = self._tasks.pop(c.id, None)
        if old is not None:
            old.cancel()
        task = asyncio.ensure_future(self._monitor(c))
        self._tasks[c.id] = task
        cid = c.id
        task.add_done_callback(lambda t: self._forget(cid, t))

    def _forget(self, cid: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(cid) is task:
            del self._tasks[cid]
        if not task.cancelled() and task.exception() is not None:
            log.error("health monitor of %s failed: %r", cid[:12], task.exception())

    async def _cancel(self, cid: str) -> None:
        task = self._tasks.pop(cid, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _save(self, c: Container) -> None:
        if self.containers.exists(c.id):
            self.containers.store.save(c)

    async def _monitor(self, c: Container) -> None:
        hc = healthcheck_of(c.config)
        if hc is None:
            return
        interval = _seconds(hc, "Interval", DEFAULT_INTERVAL)
        timeout = _seconds(hc, "Timeout", DEFAULT_TIMEOUT)
        start_period = _seconds(hc, "StartPeriod", DEFAULT_START_PERIOD)
        start_interval = _seconds(hc, "StartInterval", DEFAULT_START_INTERVAL)
        retries = hc.get("Retries") or DEFAULT_RETRIES
        if retries <= 0:
            retries = DEFAULT_RETRIES
        started = parse_rfc3339(c.state.started_at) or time.time()
        argv = probe_argv(c, hc)

        def next_interval() -> float:
            elapsed = time.time() - started
            if elapsed >= start_period:
                return interval
            remaining = start_period - elapsed
            if remaining < interval:
                return remaining
            status = (c.extra.get(KEY) or {}).get("Status")
            return start_interval if status == STARTING else interval

        while True:
            await asyncio.sleep(next_interval())
            if not c.running or not self.containers.exists(c.id):
                return
            if c.state.status == PAUSED:
                continue  # a frozen container cannot answer; Docker stops probing too
            begin = time.time()
            try:
                code, output = await self.execs.probe(c, argv, timeout)
            except EngineError as e:
                if not c.running:
                    return
                code, output = -1, e.message
            self._record(c, begin, code, output, retries, start_period, started)

    def _record(
        self,
        c: Container,
        begin: float,
        code: int,
        output: str,
        retries: int,
        start_period: float,
        started: float,
    ) -> None:
        h = c.extra.setdefault(KEY, {"Status": STARTING, "FailingStreak": 0, "Log": []})
        old = h.get("Status") or STARTING
        entry = {
            "Start": format_rfc3339(begin),
            "End": format_rfc3339(),
            "ExitCode": code,
            "Output": output,
        }
        h["Log"] = [*(h.get("Log") or []), entry][-MAX_LOG:]
        if code == 0:
            h["FailingStreak"] = 0
            h["Status"] = HEALTHY
        elif not (old == STARTING and begin - started < start_period):
            h["FailingStreak"] = int(h.get("FailingStreak") or 0) + 1
            if h["FailingStreak"] >= retries:
                h["Status"] = UNHEALTHY
        self._save(c)
        if h["Status"] != old:
            self.containers.emit_event(c, f"health_status: {h['Status']}")
