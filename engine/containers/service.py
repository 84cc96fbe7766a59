"""ContainerService: the containers API's one entry point.

Lifecycle operations live in :mod:`.lifecycle` (mixed in), I/O streams (logs, attach,
stats, top) in :mod:`.streams`, rename/update in :mod:`.edits`, live restore in
:mod:`.restore`. This module holds the registry of containers, lookup, create,
list/inspect, remove and prune.

Hooks (networks, volumes) plug in through ``self.hooks``: a list of objects with any
of these async methods, called in list order:
``on_create(container)``, ``prepare(container, spec)`` (edit the OCI spec before the
runtime creates the container), ``on_start(container)``, ``on_stop(container)``
(after exit, rootfs unmounted), ``on_remove(container)`` (``container.extra
["remove_volumes"]`` says whether ``docker rm -v`` was used), ``on_restore(container)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
from collections.abc import Callable
from typing import Any

from ..config import DaemonConfig
from ..errors import Conflict, EngineError, InvalidParameter, NotFound
from ..images.reference import parse_reference
from ..images.service import ImageService
from ..runtime import conmon
from ..runtime.detect import RuntimeInfo
from ..store.db import Database
from ..system.events import EventBus
from . import create as create_mod
from . import filters as filt
from . import rootfs, spec_resources, views
from .edits import Edits
from .lifecycle import Lifecycle
from .logdrivers import log_policy, validate_log_config
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
)
from .restore import restore_all
from .runner import Runner, call_hooks
from .store import ContainerStore, name_conflict
from .streams import Streams

log = logging.getLogger(__name__)


class ContainerService(Lifecycle, Streams, Edits):
    """Containers: lifecycle, logs, stats, live restore."""

    def __init__(
        self,
        config: DaemonConfig,
        db: Database,
        events: EventBus,
        images: ImageService,
        runtime: RuntimeInfo,
    ) -> None:
        self.config = config
        self.db = db
        self.events = events
        self.images = images
        self.runtime = runtime
        self.hooks: list[Any] = []
        self.store = ContainerStore(db)
        self.runner = Runner(config, runtime, images, self.hooks)
        self.runner.lookup = self.find
        self.shutting_down = False
        self._containers: dict[str, Container] = {}
        self._lock_table: dict[str, tuple[asyncio.Lock, asyncio.Lock]] = {}
        self._watchers: dict[str, conmon.ExitWatcher] = {}
        self._exit_events: dict[str, asyncio.Event] = {}
        self._waiters: dict[str, list[tuple[str, asyncio.Future[int]]]] = {}
        self._restart_tasks: dict[str, asyncio.Task[None]] = {}
        self._backoff: dict[str, float] = {}
        self._stats_prev: dict[str, Any] = {}
        # set by the engine: the ExecIDs of a container (exec sessions live elsewhere)
        self.exec_ids: Callable[[str], list[str]] = lambda cid: []
        self._bg: set[asyncio.Future[Any]] = set()

    # -- service lifecycle ---------------------------------------------------------
    async def start(self) -> None:
        """Load containers and re-adopt the running ones (live restore)."""
        self.runner.root.mkdir(parents=True, exist_ok=True)
        self.runner.runtime_root.mkdir(parents=True, exist_ok=True)
        if hasattr(self.images, "set_usage_checker"):
            self.images.set_usage_checker(self.in_use)
        # dockerd refuses to start with a default log driver it cannot use
        log_policy(validate_log_config(None, self.config.log_driver, self.config.log_opts))
        for c in self.store.load_all():
            self._containers[c.id] = c
        await restore_all(self)

    async def shutdown(self) -> None:
        """Stop watching containers; they keep running under conmon."""
        self.shutting_down = True
        for task in list(self._restart_tasks.values()):
            task.cancel()
        for w in list(self._watchers.values()):
            w.close()
        self._watchers.clear()

    # -- lookup --------------------------------------------------------------------
    def find(self, ref: str) -> Container | None:
        """By full id, exact name, or unique id prefix (Docker's order)."""
        if ref in self._containers:
            return self._containers[ref]
        name = ref.lstrip("/")
        for c in self._containers.values():
            if c.name == name:
                return c
        if not ref or len(ref) > 64:
            return None
        matches = [c for c in self._containers.values() if c.id.startswith(ref)]
        if len(matches) > 1:
            raise InvalidParameter(f"multiple IDs found with provided prefix: {ref}")
        return matches[0] if matches else None

    def get(self, ref: str) -> Container:
        """Like :meth:`find`, but 404 ``No such container: <ref>``."""
        c = self.find(ref)
        if c is None:
            raise NotFound(f"No such container: {ref}")
        return c

    def all(self) -> list[Container]:
        """Every container, newest first."""
        return sorted(self._containers.values(), key=lambda c: c.created, reverse=True)

    # -- create --------------------------------------------------------------------
    async def create(self, body: dict[str, Any], name: str | None = None) -> dict[str, Any]:
        """``POST /containers/create``: returns ``{"Id", "Warnings"}``."""
        if name:
            name = create_mod.validate_name(name)
            other = next((c for c in self._containers.values() if c.name == name), None)
            if other is not None:
                raise name_conflict(name, other.id)
        ref = body.get("Image")
        if not ref or not isinstance(ref, str):
            raise InvalidParameter("Config.Image must name the image to create the container from")
        if not _looks_like_id(ref):
            parse_reference(ref)  # 400 "invalid reference format..." before any lookup
        hc, warnings = create_mod.validate_host_config(
            body.get("HostConfig") or {}, self.config.log_driver, self.config.log_opts
        )
        hc["Runtime"] = self._runtime_for_create(hc.get("Runtime"))
        mode = hc["NetworkMode"]
        if mode not in create_mod.BUILTIN_NETWORKS and not self.hooks:
            raise NotFound(f"network {mode} not found")
        image = await self.images.resolve(ref)
        config = create_mod.merge_config(body, image.config)
        path, args = create_mod.command_of(config)
        cid = create_mod.new_id()
        if not name:
            name = create_mod.random_name({c.name for c in self._containers.values()})
        c = Container(
            id=cid,
            name=name,
            created=now_rfc3339(),
            image=ref,
            image_id=image.id,
            path=path,
            args=args,
            config=config,
            host_config=hc,
        )
        c.extra["networking_config"] = body.get("NetworkingConfig") or {}
        try:
            self.runner.make_dirs(cid)
            self.store.insert(c)
        except BaseException:
            # A full disk or a database error: a create that fails leaves no directory.
            shutil.rmtree(self.runner.paths(cid).root, ignore_errors=True)
            raise
        self._containers[cid] = c
        try:
            await call_hooks(self.hooks, "on_create", c)
        except BaseException:
            # A create that fails leaves nothing behind, anonymous volumes included (Docker).
            c.extra["remove_volumes"] = True
            await self._forget(c)
            raise
        self.store.save(c)
        self._event(c, "create")
        return {"Id": cid, "Warnings": warnings + spec_resources.resource_warnings(hc)}

    def _runtime_for_create(self, wanted: Any) -> str:
        """HostConfig.Runtime of a new container: the requested runtime when this host
        can run it, the engine's default when none is requested (recorded, as dockerd
        does, so the container keeps its runtime when the default changes)."""
        if not wanted:
            return self.runtime.name
        if not isinstance(wanted, str) or wanted not in self.runtime.usable:
            raise InvalidParameter(f"Unknown runtime specified {wanted}")
        return wanted

    # -- list / inspect ------------------------------------------------------------
    async def _size(self, c: Container) -> tuple[int, int]:
        loop = asyncio.get_running_loop()
        rw = await loop.run_in_executor(None, rootfs.dir_size, self.runner.paths(c.id).upper)
        try:
            image_size = (await self.images.resolve(c.image_id)).size
        except EngineError:
            image_size = 0
        return rw, rw + image_size

    async def list_containers(
        self,
        all_: bool = False,
        limit: int | None = None,
        size: bool = False,
        filters: dict[str, list[str]] | None = None,
    ) -> list[dict[str, Any]]:
        """``GET /containers/json``."""
        filters = filters or {}
        filt.check(filters, filt.LIST_FILTERS)
        ancestors: set[str] | None = None
        if filters.get("ancestor"):
            ancestors = set()
            for a in filters["ancestor"]:
                try:
                    ancestors.add((await self.images.resolve(a)).id)
                except EngineError:
                    pass
        accept = filt.matcher(filters, self.find, ancestors)
        out = []
        for c in self.all():
            if (
                not all_
                and not limit
                and c.state.status not in (RUNNING, PAUSED, RESTARTING)
                and not (filters.get("status") or filters.get("exited"))
            ):
                continue
            if not accept(c):
                continue
            out.append(views.summary(c, await self._size(c) if size else None))
            if limit and limit > 0 and len(out) >= limit:
                break
        return out

    async def inspect(self, ref: str, size: bool = False) -> dict[str, Any]:
        """``GET /containers/{id}/json``."""
        c = self.get(ref)
        try:
            image = await self.images.resolve(c.image_id)
            lower = [str(p) for p in self.runner.layer_dirs_of(image)]
        except EngineError:
            lower = []
        out = views.inspect(
            c,
            self.runner.paths(c.id),
            lower,
            self.runner.runtime_of(c),
            await self._size(c) if size else None,
        )
        out["ExecIDs"] = self.exec_ids(c.id) or None
        return out

    # -- remove / prune ------------------------------------------------------------
    async def remove(self, ref: str, force: bool = False, volumes: bool = False) -> None:
        """``DELETE /containers/{id}``."""
        c = self.get(ref)
        op, _ = self._locks(c.id)
        async with op:
            if c.id not in self._containers:
                return
            if c.state.status == REMOVING:
                raise Conflict(f"removal of container {c.id[:12]} is already in progress")
            if (c.running or c.state.status == RESTARTING) and not force:
                # dockerd counts a container in its restart back-off as running too
                if c.state.status == PAUSED:
                    raise Conflict(
                        f'cannot remove container "/{c.name}": container is paused and must '
                        "be unpaused first"
                    )
                raise Conflict(
                    f'cannot remove container "/{c.name}": container is {c.state.status}: '
                    "stop the container before removing or force remove"
                )
            self._cancel_restart(c)
            if c.running:
                c.manually_stopped = True
                try:
                    await self._signal(c, 9)
                    self._event(c, "kill", signal="9")
                except EngineError as e:
                    # Its process may have exited on its own a moment ago (a restart loop):
                    # as dockerd, a kill that finds nothing to kill is no failure.
                    log.debug("kill of %s before removal: %s", c.id[:12], e.message)
                if not await self._wait_exit(c, 30):
                    raise EngineError(f"container {c.id[:12]} did not exit after SIGKILL")
            elif c.runtime_created:
                # created (e.g. attached) but never started: conmon still waits
                w = self._watchers.pop(c.id, None)
                if w:
                    w.close()
                await self.runner.cleanup(c)
            c.extra["remove_volumes"] = volumes
            # Recorded before any file goes, so that an engine killed mid-removal finishes
            # it at its next start instead of bringing back a half-deleted container.
            c.state.status = REMOVING
            self.store.save(c)
            try:
                await self._forget(c)
            except BaseException:
                # What is left can be removed again, never started (dockerd's "Dead").
                c.state.status = DEAD
                with contextlib.suppress(EngineError):
                    self.store.save(c)
                raise
        self._event(c, "destroy")
        self._resolve_waiters(c.id, ("removed", "not-running", "next-exit"), c.state.exit_code)
        self._waiters.pop(c.id, None)

    async def finish_removal(self, c: Container) -> None:
        """Complete a removal that an engine crash interrupted (found as REMOVING at start);
        if that fails too, the container is left Dead for ``docker rm`` to retry."""
        log.info("finishing the interrupted removal of container %s", c.id[:12])
        try:
            if c.runtime_created:
                await self.runner.cleanup(c)
            await self._forget(c)
        except Exception:
            log.exception("removing container %s failed; it is left Dead", c.id[:12])
            c.state.status = DEAD
            with contextlib.suppress(EngineError):
                self.store.save(c)
            return
        self._event(c, "destroy")

    async def _forget(self, c: Container) -> None:
        # Files before rows: on a full disk, deleting the container's own layer is what
        # makes room for the metadata writes that follow.
        paths = self.runner.paths(c.id)
        rootfs.unmount(paths.rootfs)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: shutil.rmtree(paths.root, ignore_errors=True))
        await call_hooks(self.hooks, "on_remove", c)
        self.store.delete(c.id)
        self._containers.pop(c.id, None)
        self._exit_events.pop(c.id, None)
        self._backoff.pop(c.id, None)
        self._stats_prev.pop(c.id, None)
        self._lock_table.pop(c.id, None)

    async def prune(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        """``POST /containers/prune``: remove stopped containers."""
        accept = filt.prune_matcher(filters)
        deleted: list[str] = []
        reclaimed = 0
        for c in list(self._containers.values()):
            if c.state.status not in (CREATED, EXITED, "dead") or not accept(c):
                continue
            rw, _ = await self._size(c)
            try:
                await self.remove(c.id)
            except EngineError:
                continue
            deleted.append(c.id)
            reclaimed += rw
        self.events.publish("container", "prune", "", {"reclaimed": str(reclaimed)})
        return {"ContainersDeleted": deleted or None, "SpaceReclaimed": reclaimed}

    # -- for other services --------------------------------------------------------
    def counts(self) -> dict[str, int]:
        """Container counts by state."""
        cs = list(self._containers.values())
        running = sum(1 for c in cs if c.state.status == RUNNING)
        paused = sum(1 for c in cs if c.state.status == PAUSED)
        return {
            "total": len(cs),
            "running": running,
            "paused": paused,
            "stopped": len(cs) - running - paused,
        }

    async def df(self) -> list[dict[str, Any]]:
        """Containers as ``/system/df`` lists them (with sizes)."""
        return [views.summary(c, await self._size(c)) for c in self.all()]

    def in_use(self, image_id: str, running_only: bool = False) -> list[str]:
        """Ids of containers created from ``image_id`` (running ones only if asked)."""
        return [
            c.id
            for c in self._containers.values()
            if c.image_id == image_id and (not running_only or c.running)
        ]


def _looks_like_id(ref: str) -> bool:
    hexpart = ref[7:] if ref.startswith("sha256:") else ref
    return ref.startswith("sha256:") or (
        len(hexpart) >= 12 and all(ch in "0123456789abcdef" for ch in hexpart)
    )


__all__ = ["ContainerService"]
