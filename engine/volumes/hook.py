"""The volumes side of the container hook contract (:mod:`..containers.hooks`).

- ``on_create(c)``: resolve and validate every mount (400 with Docker's messages),
  create named volumes on first use and anonymous ones, reference them for ``c``,
  persist the plan and fill ``c.mounts`` (inspect's ``Mounts``).
- ``prepare(c, spec)``: at each start, mount the volumes, seed new empty volumes from
  the image (copy-up, first start only), create missing ``-v`` host directories, and
  add the OCI mounts to ``spec``.
- ``on_stop(c)``: unmount (matters for volumes with mount options, and sub-paths).
- ``on_remove(c)``: drop ``c``'s references; with ``v=1`` also
  remove its anonymous volumes (named ones stay, volumes still in use stay).
- ``on_restore(c)``: a live-restored running container counts as mounting its volumes.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..containers.hooks import ContainerHook
from ..containers.model import Container
from ..errors import Conflict, EngineError, InvalidParameter, NotFound
from . import subpath as subpaths
from .copyup import resolve_in_root
from .mounts import PlannedMount, parse_volumes_from, plan_mounts
from .service import VolumeService
from .spec_mounts import apply_mounts, check_propagation

if TYPE_CHECKING:
    from ..containers.service import ContainerService

log = logging.getLogger(__name__)


class VolumesHook(ContainerHook):
    """Container hook of the volumes area.

    ``resolve_container`` (optional) maps a ``--volumes-from`` reference (name, id or
    id prefix) to a container id; without it, ids, id prefixes and names at creation
    time of containers this hook has seen are resolved.
    """

    def __init__(
        self,
        volumes: VolumeService,
        resolve_container: Callable[[str], str | None] | None = None,
    ) -> None:
        self.volumes = volumes
        self.store = volumes.store
        self.events = volumes.events
        self.exec_root = volumes.config.exec_root
        self.resolve_container = resolve_container

    # -- helpers --------------------------------------------------------------------------
    def plan_of(self, container_id: str) -> list[PlannedMount] | None:
        """A container's persisted plan."""
        raw = self.store.plan(container_id)
        return None if raw is None else [PlannedMount.from_json(d) for d in raw]

    def host_paths(self, container_id: str) -> list[dict[str, Any]]:
        """Where a container's volumes and binds live on the host, deepest first, for
        ``docker cp``/archive work on a stopped container: ``{"Destination", "Source",
        "RW", "Type"}`` (tmpfs mounts have no host side and are left out)."""
        out: list[dict[str, Any]] = []
        for pm in self.plan_of(container_id) or []:
            if pm.type == "tmpfs" or not pm.source:
                continue
            source = pm.source
            if pm.type == "volume" and pm.subpath:
                source = str(resolve_in_root(Path(pm.source), pm.subpath))
            out.append(
                {"Destination": pm.destination, "Source": source, "RW": pm.rw, "Type": pm.type}
            )
        out.sort(key=lambda m: str(m["Destination"]).count("/"), reverse=True)
        return out

    def _save(self, c: Container, plan: list[PlannedMount]) -> None:
        self.store.save_plan(c.id, c.name, [p.to_json() for p in plan])

    def _resolve(self, ref: str) -> str:
        cid = None
        if self.resolve_container is not None:
            try:
                cid = self.resolve_container(ref)
            except EngineError:
                cid = None
        if cid is None:
            cid = self.store.find_plan_owner(ref)
        if cid is None:
            raise NotFound(f"No such container: {ref}")
        return cid

    # -- create -------------------------------------------------------------------------
    async def on_create(self, c: Container) -> None:
        """Validate mounts, create/reference volumes, persist the plan, fill ``c.mounts``."""
        host_config = c.host_config or {}
        volumes_from = []
        for spec in host_config.get("VolumesFrom") or []:
            ref, mode = parse_volumes_from(spec)
            other = self.plan_of(self._resolve(ref)) or []
            volumes_from.append((other, mode))
        plan = plan_mounts(c.config or {}, host_config, (), volumes_from)
        referenced: list[str] = []
        created_anonymous: list[str] = []
        try:
            for pm in plan:
                if pm.type != "volume":
                    continue
                rec, created = await self.volumes.ensure(
                    pm.name or None,
                    pm.driver or None,
                    pm.driver_opts,
                    pm.labels,
                    reference=c.id,
                )
                referenced.append(rec.name)
                if created and not pm.spec_source:
                    created_anonymous.append(rec.name)
                pm.name, pm.driver = rec.name, rec.driver
                pm.source = str(self.volumes.data_path(rec.name))
        except BaseException:
            await self._undo_create(c.id, referenced, created_anonymous)
            raise
        self._save(c, plan)
        c.mounts = [pm.inspect() for pm in plan if pm.in_inspect]

    async def _undo_create(self, cid: str, referenced: list[str], anonymous: list[str]) -> None:
        for name in referenced:
            self.volumes.release(name, cid)
        for name in anonymous:
            try:
                await self.volumes.remove(name)
            except EngineError as e:
                log.warning("could not remove anonymous volume %s: %s", name, e.message)

    # -- start --------------------------------------------------------------------------
    async def prepare(self, c: Container, spec: dict[str, Any]) -> None:
        """Mount volumes, copy-up into new empty ones, add every mount to ``spec``."""
        plan = self.plan_of(c.id)
        if plan is None:  # created before this hook existed: plan it now
            await self.on_create(c)
            plan = self.plan_of(c.id) or []
        rootfs = Path(spec["root"]["path"])  # the mounted overlay the runtime will use
        rendered: list[tuple[PlannedMount, str]] = []
        mounted: list[str] = []
        changed = False
        try:
            for i, pm in enumerate(plan):
                if pm.type == "volume":
                    data = await self.volumes.mount(pm.name, c.id)
                    mounted.append(pm.name)
                    if pm.copy_data and not pm.populated and not pm.subpath:
                        source = resolve_in_root(rootfs, pm.destination)
                        await self.volumes.populate(pm.name, source)
                    if not pm.populated:
                        pm.populated, changed = True, True
                    source_path = str(data)
                    if pm.subpath:
                        staging = subpaths.staging_root(self.exec_root, c.id) / str(i)
                        source_path = str(subpaths.stage(data, pm.subpath, staging))
                    rendered.append((pm, source_path))
                elif pm.type == "bind":
                    self._ensure_bind_source(pm)
                    check_propagation(pm.source, pm.propagation)
                    rendered.append((pm, pm.source))
                else:
                    rendered.append((pm, ""))
            apply_mounts(spec, rendered)
        except BaseException:
            for name in mounted:
                await self.volumes.unmount(name, c.id)
            subpaths.unstage_all(self.exec_root, c.id)
            raise
        if changed:
            self._save(c, plan)
        for pm, _ in rendered:
            if pm.type == "volume":
                self.events.publish(
                    "volume",
                    "mount",
                    pm.name,
                    {
                        "container": c.id,
                        "destination": pm.destination,
                        "driver": pm.driver,
                        "propagation": pm.propagation,
                        "read/write": "true" if pm.rw else "false",
                    },
                )

    @staticmethod
    def _ensure_bind_source(pm: PlannedMount) -> None:
        if os.path.lexists(pm.source):
            return
        if not pm.create_source:
            raise InvalidParameter(
                f'invalid mount config for type "bind": bind source path does not exist: '
                f"{pm.source}"
            )
        try:
            os.makedirs(pm.source, 0o755, exist_ok=True)
        except OSError as e:
            raise EngineError(
                f"error while creating mount source path '{pm.source}': {e.strerror}"
            ) from e

    # -- stop / remove / restore ----------------------------------------------------------
    async def on_stop(self, c: Container) -> None:
        """Release this container's mounts (idempotent)."""
        for pm in self.plan_of(c.id) or []:
            if pm.type != "volume" or c.id not in self.volumes.mounted_by(pm.name):
                continue
            await self.volumes.unmount(pm.name, c.id)
            self.events.publish(
                "volume", "unmount", pm.name, {"container": c.id, "driver": pm.driver}
            )
        await asyncio.get_running_loop().run_in_executor(
            None, subpaths.unstage_all, self.exec_root, c.id
        )

    async def on_remove(self, c: Container) -> None:
        """Drop the container's references; with ``c.extra["remove_volumes"]``
        (``docker rm -v``) also remove the anonymous volumes it created."""
        remove_volumes = bool(c.extra.get("remove_volumes"))
        await self.on_stop(c)
        plan = self.plan_of(c.id) or []
        for name in self.volumes.volumes_of(c.id):
            self.volumes.release(name, c.id)
        if remove_volumes:
            for pm in plan:
                if pm.type != "volume" or pm.spec_source or not pm.name:
                    continue
                try:
                    await self.volumes.remove(pm.name)
                except (Conflict, NotFound):
                    pass  # still used by another container, or already gone: not an error
                except EngineError as e:
                    log.warning("removing volume %s of %s: %s", pm.name, c.id, e.message)
        self.store.delete_plan(c.id)

    async def on_restore(self, c: Container) -> None:
        """A running container was re-adopted at engine start: count its mounts."""
        for pm in self.plan_of(c.id) or []:
            if pm.type == "volume":
                self.volumes.restore_mount(pm.name, c.id)


def volumes_hook(containers: ContainerService, volumes: VolumeService) -> VolumesHook:
    """The hook, resolving ``--volumes-from`` references through ``containers``, and
    the volume service told how to check that a referencing container still exists."""

    def resolve(ref: str) -> str | None:
        c = containers.find(ref)
        return c.id if c is not None else None

    volumes.set_container_checker(containers.exists)
    return VolumesHook(volumes, resolve_container=resolve)
