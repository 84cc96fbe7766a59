"""Container I/O for the API: logs, attach output, stats samples and top.

Each method yields decoded pieces (entries, chunks, stats dicts); encoding for HTTP
(multiplexed frames, NDJSON) is the route's job.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from ..errors import Conflict, InvalidParameter
from ..images.service import ImageService
from . import stats as stats_mod
from . import top as top_mod
from .files import upperdiff
from .model import Container
from .registry import ContainerRegistry
from .runner import Runner, cgroups_path
from .stdio.attach import AttachConn
from .stdio.logdrivers import not_readable, readable
from .stdio.logs import Entry, LogOptions, read_logs
from .stdio.tty import resize_tty

log = logging.getLogger(__name__)


class Streams:
    """Container I/O (logs, attach output, resize, stats, changes, top): a part of
    :class:`ContainerService`, sharing its registry."""

    def __init__(
        self,
        registry: ContainerRegistry,
        runner: Runner,
        images: ImageService,
        prepare_attach: Callable[[Container], Awaitable[None]],
    ) -> None:
        self.registry = registry
        self.runner = runner
        self.images = images
        # the lifecycle's: creates the runtime container of one never started
        self._prepare_attach = prepare_attach

    def logs(self, ref: str, opts: LogOptions) -> tuple[Container, AsyncIterator[Entry]]:
        """The container and an iterator over its log entries."""
        c = self.registry.get(ref)
        if not (opts.stdout or opts.stderr):
            raise InvalidParameter("Bad parameters: you must choose at least one stream")
        if not readable(c.host_config.get("LogConfig")):
            raise not_readable()
        path = self.runner.paths(c.id).log
        return c, read_logs(path, opts, lambda: c.running, self.registry.exit_event(c.id))

    async def attach_output(self, c: Container) -> AttachConn | None:
        """Connect to conmon's attach socket (creating the runtime container first
        when it was never started, so nothing printed after start is missed).
        None when the container has already exited."""
        await self._prepare_attach(c)
        if not c.runtime_created:
            return None
        try:
            return await AttachConn.open(self.runner.paths(c.id).bundle)
        except OSError as e:
            log.debug("attach to %s failed: %s", c.id[:12], e)
            return None

    def resize(self, ref: str, height: int, width: int) -> None:
        """Resize the container's TTY through conmon's control fifo (``1 h w``)."""
        c = self.registry.get(ref)
        if not c.running:
            raise Conflict(f"Container {c.id} is not running")
        if not c.config.get("Tty"):
            return
        resize_tty(c.state.pid, self.runner.paths(c.id).bundle, height, width)
        self.registry.emit_event(c, "resize", height=str(height), width=str(width))

    # -- stats -----------------------------------------------------------------------
    def sample_stats(self, c: Container) -> dict[str, Any]:
        """One stats sample with ``precpu_stats`` from the previous one we kept."""
        if not c.running:
            return stats_mod.zero_stats("/" + c.name, c.id)
        prev = self.registry.stats_prev.get(c.id)
        own_netns = c.host_config.get("NetworkMode") != "host"
        s = stats_mod.read_stats(
            cgroups_path(c.id),
            c.state.pid or None,
            prev,
            name="/" + c.name,
            container_id=c.id,
            own_netns=own_netns,
        )
        # The next sample needs only the CPU figures and the time of this one; keeping
        # the whole sample would cost every running container ~4 KiB of engine memory.
        self.registry.stats_prev[c.id] = {"cpu_stats": s["cpu_stats"], "read": s["read"]}
        return s

    async def changes(self, ref: str) -> list[dict[str, Any]]:
        """``GET /containers/{id}/changes``: the container's filesystem changes."""
        c = self.registry.get(ref)
        runner = self.runner
        image = await self.images.resolve(c.image_id)
        lowers = runner.layer_dirs_of(image)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            None, upperdiff.compute_changes, runner.paths(c.id).upper, lowers
        )

    async def top(self, ref: str, ps_args: str = "-ef") -> dict[str, Any]:
        """``GET /containers/{id}/top``."""
        c = self.registry.get(ref)
        if not c.running:
            raise Conflict(f"Container {c.id} is not running")
        pids = container_pids(c.id)
        if not pids and c.state.pid:
            pids = [c.state.pid]
        return await top_mod.top(pids, ps_args or "-ef")


def container_pids(cid: str) -> list[int]:
    """Every pid in the container's cgroup (v2 unified, else the v1 pids/memory tree)."""
    rel = cgroups_path(cid).lstrip("/")
    for base in (
        "/sys/fs/cgroup",
        "/sys/fs/cgroup/pids",
        "/sys/fs/cgroup/memory",
        "/sys/fs/cgroup/unified",
    ):
        d = os.path.join(base, rel)
        if os.path.isdir(d):
            pids: list[int] = []
            for root, _dirs, _files in os.walk(d):
                try:
                    with open(os.path.join(root, "cgroup.procs")) as f:
                        pids += [int(x) for x in f.read().split()]
                except OSError:
                    continue
            if pids:
                return sorted(set(pids))
    return []
