"""The composition root: one Engine owns the config, the stores and every service."""

from __future__ import annotations

import fcntl
import logging
import os
from typing import IO

from .build.service import BuildService
from .config import DaemonConfig
from .containers.exec import ExecHook, ExecService
from .containers.files.archive import Archives
from .containers.health import HealthMonitor
from .containers.service import ContainerService
from .containers.stdio.logfiles import LogRotation
from .containers.stdio.tty import ConsoleSizeHook
from .distribution.service import DistributionService
from .errors import EngineError
from .images.service import ImageService
from .networks.hook import network_hook
from .networks.service import NetworkService
from .runtime.detect import select_runtime
from .store.db import Database
from .store.space import SpaceReserve
from .system.events import EventBus
from .volumes.hook import volumes_hook
from .volumes.service import VolumeService

log = logging.getLogger(__name__)


class Engine:
    """Wires services together and owns their start-up and shutdown order.

    Routes reach services through this object; services reach each other only through
    the references passed to them here, so the dependency graph is visible in one place.
    """

    def __init__(self, config: DaemonConfig) -> None:
        self.config = config
        self._lock: IO[str] | None = None
        self.db: Database
        self.events = EventBus()
        self.images: ImageService
        self.distribution: DistributionService
        self.containers: ContainerService
        self.execs: ExecService
        self.archives: Archives
        self.health: HealthMonitor
        self.volumes: VolumeService
        self.networks: NetworkService
        self.builder: BuildService

    async def start(self) -> None:
        """Create directories, take the data-root lock, open stores, restore containers."""
        cfg = self.config
        for d in (cfg.data_root, cfg.exec_root):
            d.mkdir(parents=True, exist_ok=True)
            os.chmod(d, 0o711)
        self._lock = open(cfg.data_root / "engine.lock", "w")  # noqa: ASYNC230 - once, at start
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise EngineError(f"data-root {cfg.data_root} is in use by another engine") from None
        reserve = SpaceReserve(cfg.data_root / "reserve")
        reserve.ensure()
        self.db = Database(cfg.data_root / "portside.db", reserve)
        self.runtime = select_runtime(cfg)
        self.images = ImageService(cfg, self.db, self.events)
        await self.images.start()
        self.distribution = DistributionService(cfg, self.db, self.events, self.images)
        await self.distribution.start()
        self.volumes = VolumeService(cfg, self.db, self.events)
        await self.volumes.start()
        self.containers = ContainerService(cfg, self.db, self.events, self.images, self.runtime)
        self.networks = NetworkService(cfg, self.db, self.events)
        await self.networks.start()
        self.execs = ExecService(self.containers)
        self.containers.exec_ids = self.execs.ids_of
        self.health = HealthMonitor(self.containers, self.execs)
        self.log_rotation = LogRotation(lambda cid: self.containers.runner.paths(cid).log)
        # The container hooks, called in this order (engine/containers/hooks.py): volumes
        # put their mounts into the spec before networks edit its namespaces.
        volumes = volumes_hook(self.containers, self.volumes)
        self.containers.hooks.extend(
            [
                volumes,
                network_hook(self.containers, self.networks),
                ExecHook(self.execs),
                ConsoleSizeHook(),
                self.health,
                self.log_rotation,
            ]
        )
        self.archives = Archives(self.containers, volumes.host_paths)
        await self.execs.start()
        await self.containers.start()
        self.builder = BuildService(cfg, self.db, self.images, self.containers, self.distribution)
        await self.builder.start()

    async def shutdown(self) -> None:
        """Stop serving; containers keep running (live restore adopts them next start)."""
        if hasattr(self, "health"):
            await self.health.shutdown()
        if hasattr(self, "log_rotation"):
            await self.log_rotation.shutdown()
        if hasattr(self, "execs"):
            await self.execs.shutdown()
        if hasattr(self, "containers"):
            await self.containers.shutdown()
        if hasattr(self, "networks"):
            await self.networks.shutdown()
        if hasattr(self, "distribution"):
            await self.distribution.shutdown()
        if hasattr(self, "images"):
            await self.images.shutdown()
        if hasattr(self, "db"):
            self.db.close()
        if self._lock:
            self._lock.close()
