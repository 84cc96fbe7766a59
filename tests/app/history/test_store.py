"""The history database: downsampling, retention, the size bound, export, speed."""

from __future__ import annotations

import csv
import io
import time

from portside.app.history.store import COARSE_KEEP, FINE_KEEP, HistoryStore, Row


def _row(t: float, cpu: float = 1.0, mem: float = 1e6, rate: float = 0.0) -> Row:
    return Row(t, cpu, mem, rate, rate, rate, rate)


def test_seconds_are_averaged_into_minutes_and_age_out(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite")
    now = 1_800_000_000.0  # a minute boundary
    start = now - 2 * 3600
    # Two hours of 1 s samples: CPU alternates 0/10 (average 5), memory climbs.
    store.add(("c1", _row(start + i, cpu=10.0 * (i % 2), mem=1000 + i)) for i in range(7200))
    store.compact(now)
    # 1 s samples only for the last hour; minutes for all of it.
    fine = store.query("c1", now - FINE_KEEP - 10, now)
    assert fine[0].t >= now - FINE_KEEP - 60
    minutes = store.query("c1", start, now, max_points=10**6)
    old = [r for r in minutes if r.t < now - FINE_KEEP - 60]
    assert len(old) == 59 and all(r.t % 60 == 0 for r in old)
    assert all(abs(r.cpu - 5.0) < 0.01 for r in old)
    first_minute = old[0]
    assert first_minute.mem == 1000 + 29.5 or abs(first_minute.mem - 1029.5) <= 0.5
    # A week later everything has aged out.
    store.compact(now + COARSE_KEEP + 7200)
    assert store.query("c1", 0, now + COARSE_KEEP + 7200) == []
    store.close()


def test_long_ranges_are_bucketed_and_short_ones_are_seconds(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite")
    now = time.time()
    store.add(("c1", _row(now - 300 + i, cpu=float(i))) for i in range(300))
    five = store.query("c1", now - 300, now)
    assert len(five) == 300
    assert [r.cpu for r in five[:3]] == [0.0, 1.0, 2.0]
    coarse = store.query("c1", now - 300, now, max_points=30)
    assert 25 <= len(coarse) <= 31
    store.close()


def _fill_week(store: HistoryStore, containers: int, now: float) -> None:
    """``containers`` × 7 days of minute averages plus their last hour of seconds."""
    minute0 = int(now - COARSE_KEEP) // 60 * 60 + 60
    for c in range(containers):
        key = f"c{c:02d}" + "0" * 61
        store.series_id(key, f"web-{c}", "container")
        store.add_minutes(
            (key, _row(t, cpu=(t // 60 % 100) / 3, mem=50e6 + t % 7919, rate=t % 5000))
            for t in range(minute0, int(now), 60)
        )
        store.add(
            (key, _row(t, cpu=(t % 100) / 3, mem=50e6 + t % 7919, rate=t % 5000))
            for t in range(int(now) - FINE_KEEP, int(now))
        )


def test_fifty_containers_for_a_week_stay_under_fifty_megabytes(tmp_path, qtbot):
    from portside.app.widgets.charts import TimeChart

    store = HistoryStore(tmp_path / "h.sqlite")
    now = time.time()
    _fill_week(store, 50, now)
    store.compact(now)
    size = store.disk_bytes()
    assert size <= 50 * 1000 * 1000, size
    # Opening a 7-day graph: the query and drawing the four charts of the details page.
    charts = []
    for series in (["cpu"], ["mem"], ["rx", "tx"], ["read", "write"]):
        chart = TimeChart("t", max_points=4000, time_labels=True)
        qtbot.addWidget(chart)
        chart.resize(560, 260)
        for s in series:
            chart.add_series(s)
        charts.append(chart)
    key = "c07" + "0" * 61

    def open_week() -> tuple[float, list[Row]]:
        t0 = time.perf_counter()
        week = store.query(key, now - COARSE_KEEP, now)
        for chart in charts:
            chart.span = COARSE_KEEP
            for s in chart.data:
                chart.set_points(s, ((r.t, r.value(s)) for r in week), now)
            chart.plot.grab()
        return time.perf_counter() - t0, week

    # The best of three: the machine running the tests is shared.
    runs = [open_week() for _ in range(3)]
    elapsed, week = min(runs, key=lambda r: r[0])
    assert elapsed < 0.2, [r[0] for r in runs]
    assert 1000 <= len(week) <= 1600
    assert week[0].t <= now - COARSE_KEEP + 600 and week[-1].t >= now - 600
    store.close()


def test_the_bound_drops_the_oldest_points_whatever_the_container_count(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite", max_bytes=3 * 1000 * 1000)
    now = time.time()
    _fill_week(store, 12, now)
    store.compact(now)
    assert store.disk_bytes() <= 3 * 1000 * 1000
    key = "c03" + "0" * 61
    left = store.query(key, now - COARSE_KEEP - 86400, now, max_points=10**7)
    # The newest data survives, the oldest went first.
    assert left[-1].t >= now - 5
    assert left[0].t > now - COARSE_KEEP + 3600
    store.close()


def test_removed_containers_keep_history_until_pruned(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite")
    now = time.time()
    store.series_id("gone", "old-web", "container")
    store.series_id("kept", "db", "container")
    store.add([("gone", _row(now - 5)), ("kept", _row(now - 5))])
    store.mark_removed(["gone"])
    store.compact(now)
    infos = {s.key: s for s in store.series()}
    assert infos["gone"].removed is not None and infos["kept"].removed is None
    assert store.query("gone", now - 60, now)
    assert store.prune_removed() == 1
    assert store.query("gone", now - 60, now) == []
    assert [s.key for s in store.series()] == ["kept"]
    store.close()


def test_csv_export_has_a_header_and_every_point(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite")
    now = 1_800_000_000.0
    store.add(("c1", Row(now - 3 + i, 12.5, 2048.0, 10.0, 20.0, 30.0, 40.0)) for i in range(3))
    out = io.StringIO()
    assert store.export_csv("c1", out, now - 60, now) == 3
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert rows[0][:3] == ["time", "cpu_percent", "memory_bytes"]
    assert rows[1] == ["2027-01-15T07:59:57Z", "12.50", "2048", "10", "20", "30", "40"]
    store.close()


def test_reopening_keeps_history(tmp_path):
    store = HistoryStore(tmp_path / "h.sqlite")
    now = time.time()
    store.add([("c1", _row(now - 2, cpu=42.0))])
    store.close()
    again = HistoryStore(tmp_path / "h.sqlite")
    assert [r.cpu for r in again.query("c1", now - 60, now)] == [42.0]
    again.close()
