"""Stats tab: live CPU, memory, network and disk graphs of one container."""

from __future__ import annotations

import time

from PySide6.QtWidgets import QGridLayout, QWidget

from ... import format as fmt
from ...client import StatsSample
from ...context import AppContext
from ...widgets.charts import TimeChart
from .tab import DetailsTab


def _rate(v: float) -> str:
    return f"{fmt.size(v)}/s"


class StatsTab(DetailsTab):
    """Subscribes to the stats hub while visible; I/O graphs show rates, not totals."""

    title = "Stats"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(ctx, parent)
        self.cpu = TimeChart("CPU", fmt=lambda v: f"{v:.1f} %", minimum_top=10)
        self.cpu.add_series("cpu", "CPU")
        self._mem_limit = 0
        self.memory = TimeChart("Memory", fmt=self._memory_text, axis_fmt=fmt.binary_size)
        self.memory.add_series("mem", "Used")
        self.network = TimeChart("Network I/O", fmt=_rate)
        self.network.add_series("rx", "In")
        self.network.add_series("tx", "Out")
        self.disk = TimeChart("Disk I/O", fmt=_rate)
        self.disk.add_series("read", "Read")
        self.disk.add_series("write", "Write")
        grid = QGridLayout(self)
        grid.addWidget(self.cpu, 0, 0)
        grid.addWidget(self.memory, 0, 1)
        grid.addWidget(self.network, 1, 0)
        grid.addWidget(self.disk, 1, 1)
        self._prev: StatsSample | None = None
        self._prev_t = 0.0
        self._subscribed = ""
        ctx.stats.sample.connect(self._sample)

    def _memory_text(self, used: float) -> str:
        if self._mem_limit:
            return f"{fmt.binary_size(used)} of {fmt.binary_size(self._mem_limit)}"
        return fmt.binary_size(used)

    @property
    def charts(self) -> list[TimeChart]:
        """The four charts."""
        return [self.cpu, self.memory, self.network, self.disk]

    def reset(self) -> None:
        for chart in self.charts:
            chart.clear()
        self._prev = None

    def start(self) -> None:
        if self.cid and not self._subscribed:
            self._subscribed = self.cid
            self.ctx.stats.subscribe(self.cid)

    def stop(self) -> None:
        super().stop()
        if self._subscribed:
            self.ctx.stats.unsubscribe(self._subscribed)
            self._subscribed = ""

    def _sample(self, cid: str, s: StatsSample) -> None:
        if cid != self._subscribed:
            return
        now = time.monotonic()
        self.cpu.append("cpu", s.cpu_percent, now)
        self._mem_limit = s.memory_limit
        self.memory.append("mem", s.memory_usage, now)
        prev, dt = self._prev, now - self._prev_t
        if prev is not None and dt > 0:
            self.network.append("rx", max(s.net_rx - prev.net_rx, 0) / dt, now)
            self.network.append("tx", max(s.net_tx - prev.net_tx, 0) / dt, now)
            self.disk.append("read", max(s.block_read - prev.block_read, 0) / dt, now)
            self.disk.append("write", max(s.block_write - prev.block_write, 0) / dt, now)
        self._prev, self._prev_t = s, now
