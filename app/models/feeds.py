"""Feeds: keep the item models equal to the engine's state, driven by ``/events``.

Each feed loads its list when the event subscription opens and then reacts to the
events of its type (debounced, so a burst of events costs one request). Derived
columns (an image's "in use", a volume's "used by", a network's members) come from the
containers already in memory, so container changes refresh them without engine calls.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, QTimer, Signal

from ..client import EngineClient, EngineError
from ..tasks import TaskRunner
from . import resources
from .containers import ContainersModel
from .events import EventHub, action, actor_id
from .stats import StatsHub
from .table import RecordTableModel

# Container actions that change nothing the table shows.
QUIET_ACTIONS = {
    "exec_create",
    "exec_start",
    "exec_detach",
    "exec_die",
    "attach",
    "detach",
    "resize",
    "top",
    "archive-path",
    "extract-to-dir",
    "export",
    "copy",
    "commit",
}


class Feed(QObject):
    """Debounced reloading on behalf of one model."""

    changed = Signal()

    def __init__(self, runner: TaskRunner, what: str, delay_ms: int = 150):
        super().__init__()
        self.runner = runner
        self.what = what
        self.client: EngineClient | None = None
        self.loaded = False
        self._running = False
        self._again = False
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(delay_ms)
        self._timer.timeout.connect(self._fire)

    def attach(self, client: EngineClient | None) -> None:
        """Use ``client`` (None while disconnected)."""
        self.client = client
        if client is None:
            self._timer.stop()

    def schedule(self) -> None:
        """Reload soon (coalescing calls that arrive close together)."""
        if self.client is not None and not self._timer.isActive():
            self._timer.start()

    def reload_now(self) -> None:
        """Reload at once (after a user action)."""
        self._timer.stop()
        self._fire()

    def _fire(self) -> None:
        # One reload at a time, so an older answer never lands after a newer one;
        # a request during a reload makes one more run afterwards.
        if self._running:
            self._again = True
        elif self.client is not None:
            self._running = True
            self.runner.spawn(self._reload(self.client), f"load the {self.what}")

    async def _reload(self, client: EngineClient) -> None:
        try:
            try:
                await self.reload(client)
            except EngineError:
                if client is not self.client:
                    # the connection was dropped meanwhile: the next one reloads anyway,
                    # and a sentence about the old one would only confuse
                    return
                raise
            self.loaded = True
            self.changed.emit()
        finally:
            self._running = False
            if self._again:
                self._again = False
                self.schedule()

    async def reload(self, client: EngineClient) -> None:
        """Fetch and apply the current state."""
        raise NotImplementedError


class ContainersFeed(Feed):
    """Containers: a full list on (re)connect, then single containers per event."""

    def __init__(self, runner: TaskRunner, stats: StatsHub):
        super().__init__(runner, "containers", delay_ms=40)
        self.model = ContainersModel(self)
        self._pending: set[str] = set()
        self._full = True
        stats.sample.connect(self._on_sample)

    def on_opened(self) -> None:
        """The event subscription is open: load everything."""
        self._full = True
        self.reload_now()

    def on_event(self, ev: dict[str, Any]) -> None:
        """A container event: refresh that container shortly."""
        if action(ev) in QUIET_ACTIONS:
            return
        cid = actor_id(ev)
        if cid:
            self._pending.add(cid)
            self.schedule()

    async def reload(self, client: EngineClient) -> None:
        if self._full:
            # Events from now on land in _pending and are applied after this list.
            self._pending.clear()
            self.model.sync(await client.containers.list(all=True))
            self._full = False  # only once the full list is in (a failure retries it)
            return
        ids, self._pending = sorted(self._pending), set()
        if not ids:
            return
        found = {c["Id"]: c for c in await client.containers.list(all=True, filters={"id": ids})}
        for cid in ids:
            if cid in found:
                self.model.upsert(found[cid])
            else:
                self.model.remove(cid)

    def _on_sample(self, cid: str, cpu: float, memory: int) -> None:
        self.model.set_stats(cid, cpu, memory)


class ImagesFeed(Feed):
    """Images, one row per tag, with how many containers use each."""

    def __init__(self, runner: TaskRunner, containers: ContainersModel):
        super().__init__(runner, "images")
        self.containers = containers
        self.model = RecordTableModel(resources.IMAGE_COLUMNS, key=lambda r: r["_key"], parent=self)
        self._images: list[dict[str, Any]] = []

    async def reload(self, client: EngineClient) -> None:
        self._images = await client.images.list()
        self.refresh_derived()

    def refresh_derived(self) -> None:
        """Recompute "in use" from the containers in memory."""
        self.model.set_records(resources.image_rows(self._images, self.containers.containers()))


class VolumesFeed(Feed):
    """Volumes with their size (``/system/df``) and the containers that mount them."""

    def __init__(self, runner: TaskRunner, containers: ContainersModel):
        super().__init__(runner, "volumes")
        self.containers = containers
        self.model = RecordTableModel(
            resources.VOLUME_COLUMNS, key=lambda r: r["Name"], parent=self
        )
        self._volumes: list[dict[str, Any]] = []
        self._sizes: dict[str, int] = {}

    async def reload(self, client: EngineClient) -> None:
        self._volumes = await client.volumes.list()
        self.refresh_derived()
        # Sizes cost the engine a walk of every volume: fetch them after showing the list.
        df = await client.system.df()
        self._sizes = {
            str(v.get("Name")): int((v.get("UsageData") or {}).get("Size", -1))
            for v in (df.get("Volumes") or [])
        }
        self.refresh_derived()

    def refresh_derived(self) -> None:
        """Recompute "used by" from the containers in memory."""
        self.model.set_records(
            resources.volume_rows(self._volumes, self._sizes, self.containers.containers())
        )


class NetworksFeed(Feed):
    """Networks with subnet, gateway and attached containers."""

    def __init__(self, runner: TaskRunner, containers: ContainersModel):
        super().__init__(runner, "networks")
        self.containers = containers
        self.model = RecordTableModel(resources.NETWORK_COLUMNS, key=lambda r: r["Id"], parent=self)
        self._networks: list[dict[str, Any]] = []

    async def reload(self, client: EngineClient) -> None:
        self._networks = await client.networks.list()
        self.refresh_derived()

    def refresh_derived(self) -> None:
        """Recompute members from the containers in memory."""
        self.model.set_records(resources.network_rows(self._networks, self.containers.containers()))


class Feeds(QObject):
    """All feeds, wired to the event hub."""

    def __init__(self, runner: TaskRunner, events: EventHub, stats: StatsHub):
        super().__init__()
        self.containers = ContainersFeed(runner, stats)
        model = self.containers.model
        self.images = ImagesFeed(runner, model)
        self.volumes = VolumesFeed(runner, model)
        self.networks = NetworksFeed(runner, model)
        self._all: list[Feed] = [self.containers, self.images, self.volumes, self.networks]
        events.opened.connect(self._opened)
        events.container.connect(self.containers.on_event)
        events.image.connect(lambda ev: self.images.schedule())
        events.volume.connect(self._volume_event)
        events.network.connect(self._network_event)
        self.containers.changed.connect(self._containers_changed)

    def attach(self, client: EngineClient | None) -> None:
        """Point every feed at ``client`` (they load when the event stream opens)."""
        for feed in self._all:
            feed.attach(client)

    def clear(self) -> None:
        """Forget every row (an engine removed from the app)."""
        self.containers.model.sync([])
        self.images._images = []
        self.volumes._volumes = []
        self.networks._networks = []
        self._containers_changed()

    def _volume_event(self, ev: dict[str, Any]) -> None:
        # mount/unmount come with every container start: "used by" follows the containers.
        if action(ev) not in ("mount", "unmount"):
            self.volumes.schedule()

    def _network_event(self, ev: dict[str, Any]) -> None:
        if action(ev) in ("connect", "disconnect"):
            # Membership shows in the container's summary: refresh that container.
            cid = str(((ev.get("Actor") or {}).get("Attributes") or {}).get("container") or "")
            if cid:
                self.containers.on_event({"Action": "update", "Actor": {"ID": cid}})
            return
        self.networks.schedule()

    def _opened(self) -> None:
        self.containers.on_opened()
        for feed in (self.images, self.volumes, self.networks):
            feed.reload_now()

    def _containers_changed(self) -> None:
        for feed in (self.images, self.volumes, self.networks):
            feed.refresh_derived()
