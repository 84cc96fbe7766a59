"""The main window against a real engine: status bar, sidebar, Engine panel."""

from __future__ import annotations

from portside.app.window import PANELS


def test_connects_and_shows_engine_in_status_bar(gui):
    w = gui.window
    assert w.state_label.text() == "Connected"
    assert "Portside Engine" in w.engine_label.text()
    assert "API 1.47" in w.engine_label.text()
    assert w.current_name == "Containers"
    assert w.stack.currentWidget() is w.panels["Containers"]


def test_sidebar_switches_panels_and_engine_panel_shows_facts(gui):
    w = gui.window
    names = [p[0] for p in PANELS]
    for name in ("Images", "Volumes", "Networks", "Engine"):
        w.sidebar.setCurrentRow(names.index(name))
        assert w.stack.currentWidget() is w.panels[name]
    engine_panel = w.panels["Engine"]
    gui.wait(lambda: engine_panel.engine_grid.values.get("Engine") == "Portside Engine")
    assert engine_panel.engine_grid.values["API"].startswith("1.47")
    gui.wait(lambda: "Images" in engine_panel.disk_grid.values)
    assert engine_panel.disk_grid.values["Images"].startswith("1 ·")
    gui.wait(lambda: len(engine_panel.cpu_chart.points("cpu")) >= 2, timeout=5)
    assert engine_panel.ram_chart.points("used")[-1][1] > 0
