"""ContainerService: the containers API's one entry point.

A facade over parts that share one :class:`.registry.ContainerRegistry`: lifecycle
operations in :mod:`.lifecycle`, I/O streams (logs, attach, stats, top) in
:mod:`.streams` and :mod:`.interactive`, rename/update in :mod:`.edits`, live restore
in :mod:`.restore`. This module holds create, list/inspect, remove and prune.

Volumes, networks, exec sessions, healthchecks and log rotation take part through
``self.hooks``, the ordered list of :class:`.hooks.ContainerHook` the engine builds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import shutil
from collections.abc import AsyncIterator, Callable
from typing import Any

from ..config import DaemonConfig
from ..conventions import check_filters, format_rfc3339
from ..errors import Conflict, EngineError, InvalidParameter, NotFound
from ..images.reference import parse_reference
from ..images.service import ImageService
from ..runtime.detect import RuntimeInfo
from ..store.db import Database
from ..system.events import EventBus
from . import create as create_mod
from . import filters as filt
from . import views
from .edits import Edits
from .files import rootfs
from .hooks import ContainerHook, run_on_create, run_on_remove
from .lifecycle import Lifecycle
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
from .oci import spec_resources
from .registry import ContainerRegistry
from .restore import restore_all
from .runner import Runner
from .stdio.attach import AttachConn
from .stdio.interactive import AttachOptions, AttachSession, open_attach
from .stdio.logdrivers import log_policy, validate_log_config
from .stdio.logs import Entry, LogOptions
from .store import ContainerStore, name_conflict
from .streams import Streams

log = logging.getLogger(__name__)


class ContainerService:
    """Containers: the facade the API and other services call.

    Composed of parts that share one :class:`ContainerRegistry` (records, locks, exit
    events): :class:`Lifecycle` (start/stop/kill/pause, exits, restart policies),
    :class:`Streams` (logs, attach output, stats, top, changes) and :class:`Edits`
    (rename, update); live restore (:mod:`.restore`) works on the same parts. This
    class holds create, list/inspect, remove and prune, and forwards the rest.
    """

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
        self.hooks: list[ContainerHook] = []
        self.store = ContainerStore(db)
        self.registry = ContainerRegistry(self.store, events)
        self.runner = Runner(config, runtime, images, self.hooks)
        self.runner.lookup = self.find
        self.streams = Streams(self.registry, self.runner, images, self._prepare_attach)
        self.lifecycle = Lifecycle(
            self.registry, self.runner, self.hooks, self.streams.sample_stats, self.remove
        )
        self.edits = Edits(self.registry, self.runner)
        # set by the engine: the ExecIDs of a container (exec sessions live elsewhere)
        self.exec_ids: Callable[[str], list[str]] = lambda cid: []

    async def _prepare_attach(self, c: Container) -> None:
        await self.lifecycle.prepare_attach(c)

    # -- service lifecycle ---------------------------------------------------------
    async def start(self) -> None:
        """Load containers and re-adopt the running ones (live restore)."""
        self.runner.root.mkdir(parents=True, exist_ok=True)
        self.runner.runtime_root.mkdir(parents=True, exist_ok=True)
        self.images.set_usage_checker(self.in_use)
        # dockerd refuses to start with a default log driver it cannot use
        log_policy(validate_log_config(None, self.config.log_driver, self.config.log_opts))
        for c in self.store.load_all():
            self.registry.add(c)
        await restore_all(self)

    async def shutdown(self) -> None:
        """Stop watching containers; they keep running under conmon."""
        self.lifecycle.shutdown()

    # -- lookup --------------------------------------------------------------------
    def find(self, ref: str) -> Container | None:
        """By full id, exact name, or unique id prefix (Docker's order)."""
        return self.registry.find(ref)

    def exists(self, cid: str) -> bool:
        """Whether the container with this full id is still there (not removed)."""
        return self.registry.exists(cid)

    def get(self, ref: str) -> Container:
        """Like :meth:`find`, but 404 ``No such container: <ref>``."""
        return self.registry.get(ref)

    def all(self) -> list[Container]:
        """Every container, newest first."""
        return sorted(self.registry.all(), key=lambda c: c.created, reverse=True)

    def locks(self, cid: str) -> tuple[asyncio.Lock, asyncio.Lock]:
        """The container's ``(operation, state)`` locks (:meth:`ContainerRegistry.locks`)."""
        return self.registry.locks(cid)

    def exit_event(self, cid: str) -> asyncio.Event:
        """Set when the container stops running (replaced at each start)."""
        return self.registry.exit_event(cid)

    def emit_event(self, c: Container, action: str, **extra: str) -> None:
        """Publish a ``container`` event with Docker's attributes."""
        self.registry.emit_event(c, action, **extra)

    # -- lifecycle (:mod:`.lifecycle`) ---------------------------------------------
    async def start_container(self, ref: str) -> None:
        """``POST /containers/{id}/start`` (304 when already running)."""
        await self.lifecycle.start_container(ref)

    async def prepare_attach(self, c: Container) -> None:
        """Make sure conmon exists so an attach made before start sees every byte."""
        await self.lifecycle.prepare_attach(c)

    async def stop(self, ref: str, grace: int | None = None, sig: str | None = None) -> None:
        """``POST /containers/{id}/stop``."""
        await self.lifecycle.stop(ref, grace, sig)

    async def restart(self, ref: str, grace: int | None = None, sig: str | None = None) -> None:
        """``POST /containers/{id}/restart``."""
        await self.lifecycle.restart(ref, grace, sig)

    async def kill(self, ref: str, sig: str | None = None) -> None:
        """``POST /containers/{id}/kill``."""
        await self.lifecycle.kill(ref, sig)

    async def pause(self, ref: str) -> None:
        """``POST /containers/{id}/pause``."""
        await self.lifecycle.pause(ref)

    async def unpause(self, ref: str) -> None:
        """``POST /containers/{id}/unpause``."""
        await self.lifecycle.unpause(ref)

    def wait_for(self, ref: str, condition: str = "not-running") -> asyncio.Future[int]:
        """``POST /containers/{id}/wait``: a future for the exit code."""
        return self.lifecycle.wait_for(ref, condition)

    # -- streams (:mod:`.streams`, :mod:`.interactive`) ----------------------------
    def logs(self, ref: str, opts: LogOptions) -> tuple[Container, AsyncIterator[Entry]]:
        """The container and an iterator over its log entries."""
        return self.streams.logs(ref, opts)

    async def attach_output(self, c: Container) -> AttachConn | None:
        """Connect to conmon's attach socket (None once the container has exited)."""
        return await self.streams.attach_output(c)

    async def open_attach(self, ref: str, opts: AttachOptions) -> AttachSession:
        """A ``docker attach`` session, connected before the client's connection is
        taken over (:mod:`.interactive`)."""
        return await open_attach(self, ref, opts)

    def resize(self, ref: str, height: int, width: int) -> None:
        """``POST /containers/{id}/resize``."""
        self.streams.resize(ref, height, width)

    def sample_stats(self, c: Container) -> dict[str, Any]:
        """One stats sample with ``precpu_stats`` from the previous one."""
        return self.streams.sample_stats(c)

    async def changes(self, ref: str) -> list[dict[str, Any]]:
        """``GET /containers/{id}/changes``."""
        return await self.streams.changes(ref)

    async def top(self, ref: str, ps_args: str = "-ef") -> dict[str, Any]:
        """``GET /containers/{id}/top``."""
        return await self.streams.top(ref, ps_args)

    # -- edits (:mod:`.edits`) -----------------------------------------------------
    async def rename(self, ref: str, new_name: str) -> None:
        """``POST /containers/{id}/rename``."""
        await self.edits.rename(ref, new_name)

    async def update(self, ref: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /containers/{id}/update``."""
        return await self.edits.update(ref, body)

    # -- create --------------------------------------------------------------------
    async def create(self, body: dict[str, Any], name: str | None = None) -> dict[str, Any]:
        """``POST /containers/create``: returns ``{"Id", "Warnings"}``."""
        if name:
            name = create_mod.validate_name(name)
            other = self.registry.named(name)
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
            name = create_mod.random_name({c.name for c in self.registry.all()})
        c = Container(
            id=cid,
            name=name,
            created=format_rfc3339(),
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
        self.registry.add(c)
        try:
            await run_on_create(self.hooks, c)
        except BaseException:
            # A create that fails leaves nothing behind, anonymous volumes included (Docker).
            c.extra["remove_volumes"] = True
            await self._forget(c)
            raise
        self.store.save(c)
        self.registry.emit_event(c, "create")
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
        check_filters(filters, filt.LIST_FILTERS)
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

    def statuses_valid_until(self, now: float) -> float:
        """The wall-clock time before which every container's ``Status`` in the list
        (``Up 3 seconds``) reads as it does at ``now``, if no record changes."""
        records = self.registry.all()
        return min((views.status_valid_until(c, now) for c in records), default=math.inf)

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
        op, _ = self.registry.locks(c.id)
        async with op:
            if not self.registry.exists(c.id):
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
            self.lifecycle.cancel_restart(c)
            if c.running:
                c.manually_stopped = True
                try:
                    await self.lifecycle.signal(c, 9)
                    self.emit_event(c, "kill", signal="9")
                except EngineError as e:
                    # Its process may have exited on its own a moment ago (a restart loop):
                    # as dockerd, a kill that finds nothing to kill is no failure.
                    log.debug("kill of %s before removal: %s", c.id[:12], e.message)
                if not await self.lifecycle.wait_exit(c, 30):
                    raise EngineError(f"container {c.id[:12]} did not exit after SIGKILL")
            elif c.runtime_created:
                # created (e.g. attached) but never started: conmon still waits
                self.lifecycle.stop_watching(c)
                await self.runner.cleanup(c)
            c.extra["remove_volumes"] = volumes
            # Recorded before any file goes, so that an engine killed mid-removal finishes
            # it at its next start instead of bringing back a half-deleted container.
            c.state.move_to(REMOVING)
            self.store.save(c)
            try:
                await self._forget(c)
            except BaseException:
                # What is left can be removed again, never started (dockerd's "Dead").
                c.state.move_to(DEAD)
                with contextlib.suppress(EngineError):
                    self.store.save(c)
                raise
        self.emit_event(c, "destroy")
        self.lifecycle.resolve_waiters(
            c.id, ("removed", "not-running", "next-exit"), c.state.exit_code
        )
        self.lifecycle.drop_waiters(c.id)

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
            c.state.move_to(DEAD)
            with contextlib.suppress(EngineError):
                self.store.save(c)
            return
        self.emit_event(c, "destroy")

    async def _forget(self, c: Container) -> None:
        # Files before rows: on a full disk, deleting the container's own layer is what
        # makes room for the metadata writes that follow.
        paths = self.runner.paths(c.id)
        rootfs.unmount(paths.rootfs)
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, lambda: shutil.rmtree(paths.root, ignore_errors=True))
        await run_on_remove(self.hooks, c)
        self.store.delete(c.id)
        self.registry.discard(c.id)
        self.lifecycle.forget(c)

    async def prune(self, filters: dict[str, list[str]]) -> dict[str, Any]:
        """``POST /containers/prune``: remove stopped containers."""
        accept = filt.prune_matcher(filters)
        deleted: list[str] = []
        reclaimed = 0
        for c in self.registry.all():
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
        cs = self.registry.all()
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
            for c in self.registry.all()
            if c.image_id == image_id and (not running_only or c.running)
        ]


def _looks_like_id(ref: str) -> bool:
    hexpart = ref[7:] if ref.startswith("sha256:") else ref
    return ref.startswith("sha256:") or (
        len(hexpart) >= 12 and all(ch in "0123456789abcdef" for ch in hexpart)
    )


__all__ = ["ContainerService"]
