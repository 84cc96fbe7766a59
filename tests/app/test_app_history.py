"""Resource history in the app: recorded while running, drawn after a restart, ranges,
hover read-outs, removed containers until pruned, CSV and PNG export, axis labels."""

from __future__ import annotations

import csv
import time
import uuid

import pytest
from portside.app import format as fmt
from portside.app.history import HOST_KEY, Row
from portside.app.widgets.charts import TimeChart, axis_labels, distinct_top


def _rate(v: float) -> str:
    return f"{fmt.size(v)}/s"


@pytest.mark.parametrize(
    "f", [_rate, fmt.binary_size, lambda v: f"{v:.1f} %", lambda v: f"{v:.0f} %"]
)
@pytest.mark.parametrize("top", [0.01, 0.5, 1, 1.25, 2, 3, 10, 1000, 1500, 2500, 1e6])
def test_axis_labels_are_always_distinct(f, top):
    labels = axis_labels(distinct_top(top, f), f)
    assert len(set(labels)) == 3, labels


def test_a_one_byte_scale_no_longer_labels_its_middle_zero(qtbot):
    chart = TimeChart("Network I/O", fmt=_rate)
    qtbot.addWidget(chart)
    chart.append("rx", 1.0, t=100.0)
    labels = axis_labels(chart.top, chart.fmt_axis)
    assert labels[1] != "0 B/s" and len(set(labels)) == 3, labels
    assert labels == ["0 B/s", "1 B/s", "2 B/s"]


def _open_stats(gui, cid):
    from portside.app.models import container_info

    panel = gui.window.show_panel("Containers")
    gui.wait(lambda: container_info.state(panel.model.container(cid) or {}) == "running")
    details = panel.open_details(cid)
    return details.show_tab("Stats")


def _recorded(gui, key: str, seconds: float = 300) -> list[Row]:
    history = gui.ctx.history
    return gui.run(history.query(key, seconds))[1]


def test_recording_goes_on_and_a_new_app_draws_the_past(any_gui, gui_factory, qapp):
    gui = any_gui
    cid = gui.create_container(
        ["sh", "-c", "while :; do :; done"], name=f"hot-{uuid.uuid4().hex[:6]}"
    )
    # Recorded without any graph open (as in the tray), for the container, engine and host.
    gui.wait(lambda: len(_recorded(gui, cid)) >= 3, timeout=30, what="recorded seconds")
    assert max(r.cpu for r in _recorded(gui, cid)) > 10
    engine = gui.ctx.history.recorder.engine_key
    assert engine == f"engine:{gui.ctx.client.address.describe()}"
    gui.wait(lambda: len(_recorded(gui, engine)) >= 2 and _recorded(gui, HOST_KEY))
    assert max(r.mem for r in _recorded(gui, engine)) > 0
    # An older past, as a week of running would have left it: two hours ago, CPU 77 %.
    now = time.time()
    past = [(cid, Row(now - 7200 + 60 * i, 77.0, 5e6, 0, 0, 0, 0)) for i in range(10)]
    gui.run(gui.ctx.history.recorder.call(lambda st: st.add_minutes(past)))
    stopped_at = time.time()
    gui.run(gui.app.shutdown(), 30)

    # A new app instance, same state directory: the graphs open with the past drawn.
    again = gui_factory(gui.engine)
    assert again.ctx.history.path == gui.ctx.history.path
    stats = _open_stats(again, cid)
    again.wait(lambda: stats.view.is_loaded, what="the recorded past")
    old = [t for t, _v in stats.cpu.points("cpu") if t < stopped_at]
    assert len(old) >= 3, "the graph opened without the recorded seconds"
    # 24 h shows the minute averages of two hours ago too.
    stats.view.set_range("24 h")
    again.wait(lambda: stats.view.is_loaded and stats.cpu.span == 86400)
    assert any(abs(v - 77.0) < 0.01 and t < now - 3600 for t, v in stats.cpu.points("cpu"))
    # Live points keep arriving after the past.
    n = len(stats.cpu.points("cpu"))
    again.wait(lambda: len(stats.cpu.points("cpu")) > n, what="live points")
    # The hover read-out names the time and the value under the pointer.
    area = stats.cpu.plot.area()
    text = stats.cpu.hover_at(area.right() - 1)
    assert "%" in text and ":" in text, text
    for label, seconds in (("5 min", 300), ("1 h", 3600), ("7 d", 7 * 86400)):
        stats.view.set_range(label)
        again.wait(lambda s=seconds: stats.view.is_loaded and stats.cpu.span == s)


def test_removed_container_keeps_history_until_pruned(gui):
    name = f"brief-{uuid.uuid4().hex[:6]}"
    cid = gui.create_container(["sleep", "300"], name=name)
    gui.wait(lambda: len(_recorded(gui, cid)) >= 2, timeout=30, what="recorded seconds")
    gui.engine.api("DELETE", f"/containers/{cid}?force=1")
    panel = gui.window.show_panel("History")

    def listed() -> dict[str, str]:
        panel.refresh()
        return {
            panel.list.item(i).data(panel_key_role()): panel.list.item(i).text()
            for i in range(panel.list.count())
        }

    gui.wait(lambda: listed().get(cid) == f"{name} (removed)", what=lambda: listed())
    assert listed()[HOST_KEY] == "This computer"
    assert _recorded(gui, cid), "the removed container's history is still there"
    panel.select(cid)
    gui.wait(lambda: panel.view.key == cid and panel.view.is_loaded)
    assert panel.view.cpu.points("cpu")
    panel.prune_button.click()
    gui.wait(lambda: cid not in listed(), what="the pruned series to go")
    assert _recorded(gui, cid) == []


def panel_key_role() -> int:
    from portside.app.panels.history import KEY_ROLE

    return KEY_ROLE


def test_export_csv_and_png(gui, tmp_path, monkeypatch):
    from portside.app.panels import history_view
    from PySide6.QtGui import QImage

    cid = gui.create_container(["sleep", "300"], name=f"exp-{uuid.uuid4().hex[:6]}")
    gui.wait(lambda: len(_recorded(gui, cid)) >= 3, timeout=30, what="recorded seconds")
    panel = gui.window.show_panel("History")
    gui.wait(lambda: panel.list.count() >= 2)
    panel.select(cid)
    gui.wait(lambda: panel.view.key == cid and panel.view.is_loaded)
    dest = tmp_path / "out.csv"
    monkeypatch.setattr(history_view, "choose_export_path", lambda *a: str(dest))
    panel.view.csv_button.click()
    gui.wait(lambda: panel.view.status.text().startswith("Exported"))
    rows = list(csv.reader(dest.read_text().splitlines()))
    assert rows[0][:2] == ["time", "cpu_percent"]
    assert len(rows) >= 4 and rows[1][0].endswith("Z")
    assert all(int(r[2]) > 0 for r in rows[1:])  # memory in bytes
    png = tmp_path / "graphs.png"
    monkeypatch.setattr(history_view, "choose_export_path", lambda *a: str(png))
    panel.view.png_button.click()
    image = QImage(str(png))
    assert not image.isNull() and image.width() > 200 and image.height() > 100
    # The host's history exports too.
    panel.select(HOST_KEY)
    gui.wait(lambda: panel.view.key == HOST_KEY and panel.view.is_loaded)
    host_csv = tmp_path / "host.csv"
    panel.view.export_csv(str(host_csv))
    gui.wait(lambda: host_csv.exists() and len(host_csv.read_text().splitlines()) >= 3)
