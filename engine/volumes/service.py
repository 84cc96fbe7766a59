"""The volume service: create, inspect, list, remove, prune, references and mounts.

Only the ``local`` driver exists. Every volume a container uses is *referenced* by that
container (persisted in ``volume_refs``) from its creation until its removal, which is
what makes ``docker volume rm`` answer 409 and ``dangling`` filters work. Separately,
volumes are *mounted* while a container runs; that only matters for volumes with mount
options (tmpfs, ``o=bind``...), whose filesystem is mounted on ``_data`` for as long as
one container has it mounted, as in Docker.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import DaemonConfig
from ..conventions import bool_filter, check_filters, format_rfc3339, label_match
from ..errors import Conflict, EngineError, NotFound, os_error_text
from ..store.db import Database
from ..system.events import EventBus
from . import copyup
from .filters import (
    LIST_FILTERS,
    PRUNE_FILTERS,
    match_pattern,
    prune_all,
)
from .local import LocalDriver, tree_size
from .names import (
    ANONYMOUS_LABEL,
    needs_mount,
    random_name,
    validate_name,
    validate_options,
)
from .store import VolumeRecord, VolumeStore

# In the volume's directory (beside ``_data``) while its copy-up may be incomplete.
SEEDING = "seeding"

log = logging.getLogger(__name__)

DEFAULT_DRIVER = "local"


def driver_not_found(name: str, driver: str) -> NotFound:
    """Docker's answer for a volume driver that is not installed."""
    return NotFound(
        f'create {name}: error looking up volume plugin {driver}: plugin "{driver}" not found'
    )


class VolumeService:
    """Volumes of the local driver, their references and their mounts."""

    def __init__(self, config: DaemonConfig, db: Database, events: EventBus) -> None:
        self.config = config
        self.db = db
        self.events = events
        self.store = VolumeStore(db)
        self.driver = LocalDriver(config.data_root / "volumes")
        # Serialises create/remove/reference so a volume cannot vanish between a
        # container's check and its reference.
        self._lock = asyncio.Lock()
        self._vol_locks: dict[str, asyncio.Lock] = defaultdict(asyncio.Lock)
        # volume name -> ids of containers that have it mounted right now
        self._active: dict[str, set[str]] = defaultdict(set)
        self._pruning = False
        # Set once the containers service exists: references held by containers it does
        # not know (a crash between its delete and ours) are dropped instead of pinning
        # a volume "in use" forever.
        self._container_exists: Callable[[str], bool] | None = None

    # -- lifecycle -------------------------------------------------------------------
    async def start(self) -> None:
        """Create the volumes directory and reconcile rows with directories."""
        self.driver.ensure_root()
        loop = asyncio.get_running_loop()
        await loop.run_in_executor(None, self.driver.clean_trash)
        known = {r.name: r for r in self.store.all()}
        for name in self.driver.list_names():
            if name not in known:
                # A directory without a row: a crash between mkdir and insert, or a
                # volume copied in by hand. Docker lists such directories; adopt them.
                try:
                    ctime = os.stat(self.driver.volume_dir(name)).st_ctime
                except OSError:
                    continue
                created = format_rfc3339(ctime, fraction="none")
                self.driver.create(name)
                self.store.insert(VolumeRecord(name, DEFAULT_DRIVER, created))
        for name, rec in known.items():
            marker = self.driver.volume_dir(name) / SEEDING
            if marker.exists() and self.driver.exists(name) and not needs_mount(rec.options):
                # A crash cut its copy-up short; the next start of a container seeds it.
                # (A device-backed volume is emptied once mounted, by ``populate``.)
                log.warning("volume %s was left half-seeded; emptying it", name)
                await loop.run_in_executor(
                    None, copyup.discard_partial_seed, self.data_path(name), marker
                )
        for name in known:
            if not self.driver.exists(name):
                if self.store.refs(name):
                    log.warning("volume %s lost its directory; recreating it empty", name)
                    self.driver.create(name)
                else:
                    self.store.delete(name)

    async def shutdown(self) -> None:
        """Nothing to release: mounts outlive the engine for live-restored containers."""

    # -- create / get / list ------------------------------------------------------------
    async def create(
        self,
        name: str | None = None,
        driver: str | None = None,
        driver_opts: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
        reference: str | None = None,
    ) -> dict[str, Any]:
        """Create a volume (or return the existing one of that name), in Docker's shape.

        ``reference`` (a container id) is recorded atomically with the creation so a
        concurrent remove or prune cannot take the volume away in between.
        """
        rec, _ = await self.ensure(name, driver, driver_opts, labels, reference)
        return self.to_docker(rec)

    async def ensure(
        self,
        name: str | None,
        driver: str | None = None,
        driver_opts: dict[str, str] | None = None,
        labels: dict[str, str] | None = None,
        reference: str | None = None,
    ) -> tuple[VolumeRecord, bool]:
        """The volume called ``name`` (created when missing) and whether it was created."""
        labels = {str(k): str(v) for k, v in (labels or {}).items()}
        opts = {str(k): str(v) for k, v in (driver_opts or {}).items()}
        if not name:
            name = random_name()
            labels[ANONYMOUS_LABEL] = ""
        driver = driver or DEFAULT_DRIVER
        async with self._lock:
            existing = self.store.get(name)
            if driver != DEFAULT_DRIVER:
                raise driver_not_found(name, driver)
            if existing is not None:
                if reference:
                    self.store.add_ref(name, reference)
                return existing, False
            validate_name(name)
            validate_options(name, opts)
            rec = VolumeRecord(name, driver, format_rfc3339(fraction="none"), labels, opts)
            try:
                self.driver.create(name)
            except OSError as e:
                raise EngineError(f"create {name}: {os_error_text('mkdir', e)}") from e
            with self.db.transaction():
                self.store.insert(rec)
                if reference:
                    self.store.add_ref(name, reference)
        self.events.publish("volume", "create", name, {"driver": driver})
        return rec, True

    def record(self, name: str) -> VolumeRecord:
        """The volume's row or 404 with Docker's message."""
        rec = self.store.get(name)
        if rec is None:
            raise NotFound(f"get {name}: no such volume")
        return rec

    def get(self, name: str) -> dict[str, Any]:
        """``GET /volumes/{name}``."""
        return self.to_docker(self.record(name))

    def exists(self, name: str) -> bool:
        """Whether a volume of that name exists."""
        return self.store.get(name) is not None

    def list_volumes(self, filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        """``GET /volumes``: volumes matching Docker's list filters."""
        filters = filters or {}
        check_filters(filters, LIST_FILTERS)
        dangling = bool_filter(filters, "dangling")
        if dangling is not None:
            self.drop_stale_refs()
        counts = self.store.ref_counts()
        out = []
        for rec in self.store.all():
            if "driver" in filters and rec.driver not in filters["driver"]:
                continue
            if "name" in filters and not match_pattern(filters["name"], rec.name):
                continue
            if not label_match(rec.labels, filters.get("label", [])):
                continue
            if dangling is not None and (counts.get(rec.name, 0) == 0) != dangling:
                continue
            out.append(self.to_docker(rec))
        return out

    def count(self) -> int:
        """Number of volumes."""
        row = self.db.one("SELECT COUNT(*) AS n FROM volume_volumes")
        return int(row["n"]) if row else 0

    def data_path(self, name: str) -> Path:
        """The host directory holding the volume's data (Docker's Mountpoint)."""
        return self.driver.data_path(name)

    def to_docker(self, rec: VolumeRecord) -> dict[str, Any]:
        """Docker's ``Volume`` object (without UsageData, which only df reports)."""
        return {
            "CreatedAt": rec.created_at,
            "Driver": rec.driver,
            "Labels": dict(rec.labels),
            "Mountpoint": str(self.driver.data_path(rec.name)),
            "Name": rec.name,
            "Options": dict(rec.options),
            "Scope": "local",
        }

    # -- remove / prune -------------------------------------------------------------------
    async def remove(self, name: str, force: bool = False) -> None:
        """Delete a volume and its data; 409 while a container references it.

        ``force`` only forgives a missing volume or a failing driver (Docker's
        purge-on-error); a volume in use is never removed.
        """
        async with self._lock:
            rec = self.store.get(name)
            if rec is None:
                if force:
                    return
                raise NotFound(f"get {name}: no such volume")
            self.drop_stale_refs()
            refs = self.store.refs(name)
            if refs:
                raise Conflict(f"remove {name}: volume is in use - [{', '.join(refs)}]")
            try:
                await self.driver.remove(name)
            except (OSError, EngineError) as e:
                if not force:
                    msg = e.message if isinstance(e, EngineError) else str(e)
                    raise EngineError(f"remove {name}: {msg}") from e
                log.warning("force-removing volume %s despite: %s", name, e)
            self.store.delete(name)
            self._active.pop(name, None)
            self._vol_locks.pop(name, None)
        self.events.publish("volume", "destroy", name, {"driver": rec.driver})

    async def prune(self, filters: dict[str, list[str]], all_volumes: bool | None = None) -> dict:
        """Remove unused local volumes without mount options.

        ``all_volumes`` None means: decide from the ``all`` filter (API >= 1.42, where
        only anonymous volumes are pruned by default); older clients pass True.
        """
        check_filters(filters, PRUNE_FILTERS)
        everything = prune_all(filters) if all_volumes is None else all_volumes
        if self._pruning:
            raise Conflict("a prune operation is already running")
        self._pruning = True
        try:
            self.drop_stale_refs()
            counts = self.store.ref_counts()
            victims = []
            for rec in self.store.all():
                if rec.driver != DEFAULT_DRIVER or rec.options or counts.get(rec.name):
                    continue
                if not everything and ANONYMOUS_LABEL not in rec.labels:
                    continue
                if not label_match(rec.labels, filters.get("label", [])):
                    continue
                # moby's volume prune: excluded only when every ``label!`` holds
                if filters.get("label!") and label_match(rec.labels, filters["label!"]):
                    continue
                victims.append(rec.name)
            deleted: list[str] = []
            reclaimed = 0
            loop = asyncio.get_running_loop()
            for name in victims:
                size = await loop.run_in_executor(None, tree_size, self.data_path(name))
                try:
                    await self.remove(name)
                except EngineError as e:  # became used meanwhile, or the disk refused
                    log.warning("prune: keeping volume %s: %s", name, e.message)
                    continue
                deleted.append(name)
                reclaimed += size
        finally:
            self._pruning = False
        self.events.publish("volume", "prune", "", {"reclaimed": str(reclaimed)})
        return {"VolumesDeleted": deleted, "SpaceReclaimed": reclaimed}

    async def df(self) -> list[dict[str, Any]]:
        """Local volumes without mount options, with ``UsageData`` (for ``/system/df``)."""
        recs = [r for r in self.store.all() if r.driver == DEFAULT_DRIVER and not r.options]
        counts = self.store.ref_counts()
        paths = [self.data_path(r.name) for r in recs]

        def sizes() -> list[int]:
            return [tree_size(p) if p.is_dir() else -1 for p in paths]

        loop = asyncio.get_running_loop()
        measured = await loop.run_in_executor(None, sizes)
        out = []
        for rec, size in zip(recs, measured, strict=True):
            d = self.to_docker(rec)
            d["UsageData"] = {"Size": size, "RefCount": counts.get(rec.name, 0)}
            out.append(d)
        return out

    # -- references -----------------------------------------------------------------------
    def set_container_checker(self, exists: Callable[[str], bool]) -> None:
        """Tell the service how to check that a referencing container still exists."""
        self._container_exists = exists

    def drop_stale_refs(self) -> None:
        """Forget references of containers that no longer exist."""
        if self._container_exists is None:
            return
        rows = self.db.query("SELECT DISTINCT container_id FROM volume_refs")
        for row in rows:
            cid = row["container_id"]
            if not self._container_exists(cid):
                log.warning("dropping volume references of unknown container %s", cid)
                self.db.execute("DELETE FROM volume_refs WHERE container_id=?", (cid,))

    async def reference(self, name: str, container_id: str) -> None:
        """Record that a container uses an existing volume (404 when it is gone)."""
        async with self._lock:
            self.record(name)
            self.store.add_ref(name, container_id)

    def release(self, name: str, container_id: str) -> None:
        """Drop a container's reference (idempotent)."""
        self.store.remove_ref(name, container_id)

    def refs(self, name: str) -> list[str]:
        """Ids of the containers referencing a volume."""
        return self.store.refs(name)

    def volumes_of(self, container_id: str) -> list[str]:
        """Names of the volumes a container references."""
        return self.store.volumes_of(container_id)

    # -- mounts ---------------------------------------------------------------------------
    def lock_for(self, name: str) -> asyncio.Lock:
        """The per-volume lock held while mounting or seeding it."""
        return self._vol_locks[name]

    async def mount(self, name: str, container_id: str) -> Path:
        """Make the volume's data available for a starting container; its host path."""
        rec = self.record(name)
        async with self.lock_for(name):
            if needs_mount(rec.options) and not self._active[name]:
                await self.driver.mount(name, rec.options)
            self._active[name].add(container_id)
        return self.data_path(name)

    async def unmount(self, name: str, container_id: str) -> None:
        """A container stopped using the volume; unmount its device after the last one."""
        rec = self.store.get(name)
        async with self.lock_for(name):
            active = self._active.get(name)
            if active is not None:
                active.discard(container_id)
            if rec is not None and needs_mount(rec.options) and not active:
                try:
                    await self.driver.unmount(name)
                except EngineError as e:
                    log.warning("volume %s: %s", name, e.message)

    def restore_mount(self, name: str, container_id: str) -> None:
        """Count a live-restored container's mount (the host mount is still there)."""
        if self.store.get(name) is not None:
            self._active[name].add(container_id)

    def mounted_by(self, name: str) -> set[str]:
        """Containers that have the volume mounted now."""
        return set(self._active.get(name, ()))

    async def populate(self, name: str, source: Path) -> bool:
        """Docker's copy-up: seed an empty volume with the image's content at ``source``.

        ``source`` is a directory already resolved inside a container's rootfs. Returns
        True when content was copied. Runs the copy in an executor.
        """
        data = self.data_path(name)
        marker = self.driver.volume_dir(name) / SEEDING
        async with self.lock_for(name):
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(None, copyup.seed, source, data, marker)
