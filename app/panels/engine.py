"""Engine panel: what engine this is, Portside Machine (where it runs the engine), its disk
usage, the host's CPU/RAM, the connection."""

from __future__ import annotations

import psutil
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QPushButton,
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from .. import format as fmt
from ..client import EngineClient
from ..context import AppContext
from ..settings import ConnectionChoice
from ..widgets.charts import TimeChart
from ..widgets.connection_form import ConnectionForm
from ..widgets.keyvalue import KeyValueGrid
from .base import Panel, heading
from .machine_section import MachineSection


def engine_rows(client: EngineClient, info: dict) -> list[tuple[str, str]]:
    """The facts shown about the engine, from ``/version`` and ``/info``."""
    v = client.server_version
    return [
        ("Engine", client.engine_name),
        ("Version", str(v.get("Version", ""))),
        ("API", f"{client.api_version} (engine {v.get('ApiVersion', '?')})"),
        ("Address", client.address.describe()),
        ("Operating system", str(info.get("OperatingSystem", ""))),
        ("Kernel", str(info.get("KernelVersion", ""))),
        ("Runtime", str(info.get("DefaultRuntime", ""))),
        ("Storage driver", str(info.get("Driver", ""))),
        ("Cgroups", f"v{info.get('CgroupVersion', '?')} ({info.get('CgroupDriver', '')})"),
        ("Root directory", str(info.get("DockerRootDir", ""))),
        ("CPUs", str(info.get("NCPU", ""))),
        ("Memory", fmt.binary_size(info.get("MemTotal"))),
        (
            "Containers",
            f"{info.get('Containers', 0)} ({info.get('ContainersRunning', 0)} running, "
            f"{info.get('ContainersPaused', 0)} paused, "
            f"{info.get('ContainersStopped', 0)} stopped)",
        ),
        ("Images", str(info.get("Images", 0))),
    ]


def disk_rows(df: dict) -> list[tuple[str, str]]:
    """Disk usage lines like ``docker system df``."""
    images = df.get("Images") or []
    containers = df.get("Containers") or []
    volumes = df.get("Volumes") or []
    cache = df.get("BuildCache") or []
    image_size = int(df.get("LayersSize") or sum(int(i.get("Size") or 0) for i in images))
    unused = sum(int(i.get("Size") or 0) for i in images if not i.get("Containers"))
    rw = sum(int(c.get("SizeRw") or 0) for c in containers)
    vol = sum(max(int((v.get("UsageData") or {}).get("Size", 0)), 0) for v in volumes)
    cache_size = sum(int(b.get("Size") or 0) for b in cache)
    return [
        ("Images", f"{len(images)} · {fmt.size(image_size)} ({fmt.size(unused)} reclaimable)"),
        ("Containers", f"{len(containers)} · {fmt.size(rw)} written"),
        ("Volumes", f"{len(volumes)} · {fmt.size(vol)}"),
        ("Build cache", f"{len(cache)} · {fmt.size(cache_size)}"),
    ]


class EnginePanel(Panel):
    """Engine facts, disk usage, host graphs and the connection settings."""

    title = "Engine"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(ctx, parent)
        self.engine_grid = KeyValueGrid(columns=2)
        self.disk_grid = KeyValueGrid(columns=2)
        self.cpu_chart = TimeChart("Host CPU", fmt=lambda v: f"{v:.0f} %", minimum_top=100)
        self._mem_total = psutil.virtual_memory().total
        self.ram_chart = TimeChart(
            "Host memory",
            fmt=lambda v: f"{fmt.binary_size(v)} of {fmt.binary_size(self._mem_total)}",
            axis_fmt=fmt.binary_size,
        )
        self.cpu_chart.add_series("cpu", "CPU")
        self.ram_chart.add_series("used", "Used")
        self.form = ConnectionForm(ctx.connection.choice)
        self.form.apply_requested.connect(self._apply)
        refresh = QPushButton("Refresh")
        refresh.clicked.connect(self.refresh)

        body = QWidget()
        layout = QVBoxLayout(body)
        layout.addWidget(heading("Engine"))
        layout.addWidget(_box("Engine", self.engine_grid, refresh))
        self.machine_section = MachineSection(ctx)
        self.machine_box = _box("Portside Machine", self.machine_section)
        # The machine and the connection settings belong to the app's main connection; other
        # engines come from their own sources (contexts, sockets, the Engines list).
        self.main_connection = ctx.engines is None or ctx.engine_key == ctx.engines.primary.key
        self.machine_box.setVisible(self.main_connection and self.machine_section.relevant())
        layout.addWidget(self.machine_box)
        layout.addWidget(_box("Disk usage", self.disk_grid))
        charts = QWidget()
        cl = QHBoxLayout(charts)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.addWidget(self.cpu_chart)
        cl.addWidget(self.ram_chart)
        layout.addWidget(_box("Host", charts))
        self.connection_box = _box("Connection", self.form)
        self.connection_box.setVisible(self.main_connection)
        layout.addWidget(self.connection_box)
        layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(body)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self.sample_host)
        psutil.cpu_percent(None)  # prime: the next call measures since now
        ctx.connection.connected.connect(lambda _c: self.refresh())

    def activated(self) -> None:
        self.machine_box.setVisible(self.main_connection and self.machine_section.relevant())
        self.refresh()
        self.sample_host()
        self._timer.start()

    def hideEvent(self, event) -> None:
        self._timer.stop()
        super().hideEvent(event)

    def sample_host(self) -> None:
        """One point on each host graph."""
        self.cpu_chart.append("cpu", psutil.cpu_percent(None))
        mem = psutil.virtual_memory()
        self._mem_total = mem.total
        self.ram_chart.append("used", mem.total - mem.available)

    def refresh(self) -> None:
        """Reload facts and disk usage from the engine."""
        client = self.ctx.client
        if client is None or not self.isVisible():
            return
        self.ctx.runner.spawn(self._load(client), "read the engine's information")

    async def _load(self, client: EngineClient) -> None:
        info = await client.system.info()
        self.engine_grid.set_rows(engine_rows(client, info))
        df = await client.system.df()
        self.disk_grid.set_rows(disk_rows(df))

    def _apply(self, choice: ConnectionChoice) -> None:
        self.ctx.settings.set_connection(choice)
        self.ctx.connection.start(choice)


def _box(title: str, content: QWidget, extra: QWidget | None = None) -> QGroupBox:
    box = QGroupBox(title)
    layout = QVBoxLayout(box)
    layout.addWidget(content)
    if extra is not None:
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(extra)
        layout.addLayout(row)
    return box
