"""Resource history benchmark: a week of 50 containers on disk, and opening a 7-day graph.

Usage: QT_QPA_PLATFORM=offscreen .venv/bin/python bench/bench_history.py [--containers 50]

Fills a fresh history database the way a week of recording leaves it (per-minute
averages for 7 days and per-second samples for the last hour, per container), runs the
store's hourly maintenance (averaging, ageing, the size bound), then measures:

* the database's size on disk (target ≤ 50 MB whatever the number of containers);
* opening a 7-day graph: the query plus drawing the four charts of the details page
  (target ≤ 200 ms), median of several runs.

Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "app" / "history"))

from portside.app.history.store import COARSE_KEEP, HistoryStore  # noqa: E402
from portside.app.widgets.charts import TimeChart  # noqa: E402
from test_store import _fill_week  # noqa: E402

MB = 1000 * 1000


def open_week(store: HistoryStore, key: str, charts: list[TimeChart], now: float) -> float:
    """Seconds to read 7 days of ``key`` and draw them."""
    t0 = time.perf_counter()
    rows = store.query(key, now - COARSE_KEEP, now)
    for chart in charts:
        chart.span = COARSE_KEEP
        for series in chart.data:
            chart.set_points(series, ((r.t, r.value(series)) for r in rows), now)
        chart.plot.grab()  # paints
    return time.perf_counter() - t0


def main() -> int:
    """Run the benchmark."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--containers", type=int, default=50)
    p.add_argument("--runs", type=int, default=7)
    args = p.parse_args()
    from PySide6.QtWidgets import QApplication

    qapp = QApplication.instance() or QApplication(["bench"])
    with tempfile.TemporaryDirectory(prefix="portside-history-bench-") as tmp:
        store = HistoryStore(Path(tmp) / "history.sqlite")
        now = time.time()
        t0 = time.perf_counter()
        _fill_week(store, args.containers, now)
        fill = time.perf_counter() - t0
        t0 = time.perf_counter()
        store.compact(now)
        maintenance = time.perf_counter() - t0
        size = store.disk_bytes()
        charts = []
        for title, series in (
            ("CPU", ["cpu"]),
            ("Memory", ["mem"]),
            ("Network", ["rx", "tx"]),
            ("Disk", ["read", "write"]),
        ):
            chart = TimeChart(title, max_points=4000, time_labels=True)
            chart.resize(560, 260)
            for s in series:
                chart.add_series(s)
            charts.append(chart)
        key = "c07" + "0" * 61
        times = [open_week(store, key, charts, now) for _ in range(args.runs)]
        store.close()
        qapp.processEvents()
    print(f"\nResource history, {args.containers} containers × 7 days\n")
    print("| measure | value | target |")
    print("| --- | --- | --- |")
    print(f"| database on disk | {size / MB:.1f} MB | ≤ 50 MB |")
    opened = statistics.median(times) * 1000
    print(f"| open a 7-day graph (query + 4 charts drawn), median | {opened:.0f} ms | ≤ 200 ms |")
    print(f"| maintenance (average, age, bound) | {maintenance * 1000:.0f} ms | worker thread |")
    print(f"| filling the week (synthetic) | {fill:.1f} s | |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
