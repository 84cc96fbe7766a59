"""Containers panel against a real portsided: follows the engine, acts on it."""

from __future__ import annotations

import uuid

from portside.app.models import containers as cols
from portside.app.models import roles
from portside.app.widgets import dialogs
from PySide6.QtCore import QPoint, Qt


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


def _panel(gui):
    return gui.window.show_panel("Containers")


def _row_text(panel, cid: str, col: int) -> str:
    index = panel.model.index_of(cid, col)
    return panel.model.data(index, Qt.ItemDataRole.DisplayRole) if index.isValid() else ""


def test_table_fills_and_follows_start_stop_made_through_the_api(gui):
    panel = _panel(gui)
    name = _name("web")
    cid = gui.create_container(["sleep", "300"], name=name, project="shop")
    gui.wait(lambda: _row_text(panel, cid, cols.STATE) == "Running", what="the row")
    # Grouped under its compose project, and visible through the proxy.
    index = panel.model.index_of(cid)
    group = index.parent()
    assert panel.model.data(group, roles.KIND) == "group"
    assert panel.model.data(group, Qt.ItemDataRole.DisplayRole) == "shop"
    assert _row_text(panel, cid, cols.NAME) == name
    assert _row_text(panel, cid, cols.IMAGE) == "busybox:latest"
    assert panel.proxy.mapFromSource(index).isValid()
    assert panel.model.data(index.siblingAtColumn(cols.STATE), Qt.ItemDataRole.ForegroundRole)

    gui.call(lambda c: c.containers.stop(cid, grace=1))
    gui.wait(lambda: _row_text(panel, cid, cols.STATE).startswith("Exited"), what="exited")
    gui.call(lambda c: c.containers.start(cid))
    gui.wait(lambda: _row_text(panel, cid, cols.STATE) == "Running", what="running again")
    gui.call(lambda c: c.containers.remove(cid, force=True))
    gui.wait(lambda: not panel.model.index_of(cid).isValid(), what="the row to go")
    assert "shop" not in [
        panel.model.data(panel.model.index(r, 0), Qt.ItemDataRole.DisplayRole)
        for r in range(panel.model.rowCount())
    ]


def test_clicking_stop_stops_the_container(gui, qtbot):
    panel = _panel(gui)
    cid = gui.create_container(["sleep", "300"], name=_name("stopme"))
    gui.wait(lambda: _row_text(panel, cid, cols.STATE) == "Running")
    panel.select(cid)
    assert panel.selected_ids() == [cid]
    assert panel.buttons["stop"].isEnabled() and not panel.buttons["start"].isEnabled()
    qtbot.mouseClick(panel.buttons["stop"], Qt.MouseButton.LeftButton)
    gui.wait(lambda: not gui.inspect(cid)["State"]["Running"], timeout=30, what="the engine")
    gui.wait(lambda: _row_text(panel, cid, cols.STATE).startswith("Exited"))
    gui.wait(lambda: panel.buttons["start"].isEnabled() and not panel.buttons["stop"].isEnabled())


def test_pause_resume_and_delete_with_confirmation(gui, qtbot, monkeypatch):
    panel = _panel(gui)
    a = gui.create_container(["sleep", "300"], name=_name("a"), project="pair")
    b = gui.create_container(["sleep", "300"], name=_name("b"), project="pair")
    gui.wait(
        lambda: _row_text(panel, a, cols.STATE) == _row_text(panel, b, cols.STATE) == "Running"
    )
    # Selecting the group selects both containers.
    group = panel.proxy.mapFromSource(panel.model.index_of(a).parent())
    panel.view.selectionModel().clearSelection()
    panel.view.setCurrentIndex(group)
    assert sorted(panel.selected_ids()) == sorted([a, b])
    qtbot.mouseClick(panel.buttons["pause"], Qt.MouseButton.LeftButton)
    gui.wait(
        lambda: {_row_text(panel, a, cols.STATE), _row_text(panel, b, cols.STATE)} == {"Paused"}
    )
    qtbot.mouseClick(panel.buttons["unpause"], Qt.MouseButton.LeftButton)
    gui.wait(
        lambda: {_row_text(panel, a, cols.STATE), _row_text(panel, b, cols.STATE)} == {"Running"}
    )

    asked = []
    monkeypatch.setattr(dialogs, "confirm", lambda *a, **k: asked.append(a[2]) or False)
    panel.select(a)
    qtbot.mouseClick(panel.buttons["delete"], Qt.MouseButton.LeftButton)
    assert asked and "Running containers are stopped first" in asked[0]
    assert gui.engine.api("GET", f"/containers/{a}/json").status_code == 200
    monkeypatch.setattr(dialogs, "confirm", lambda *a, **k: True)
    qtbot.mouseClick(panel.buttons["delete"], Qt.MouseButton.LeftButton)
    gui.wait(lambda: not panel.model.index_of(a).isValid(), what="deleted row")
    assert gui.engine.api("GET", f"/containers/{a}/json").status_code == 404
    assert panel.model.index_of(b).isValid()


def test_search_and_only_running_filter(gui):
    panel = _panel(gui)
    tag = uuid.uuid4().hex[:6]
    run_id = gui.create_container(["sleep", "300"], name=f"alpha-{tag}")
    stop_id = gui.create_container(["true"], name=f"beta-{tag}", start=False)
    gui.wait(
        lambda: panel.model.index_of(run_id).isValid() and panel.model.index_of(stop_id).isValid()
    )

    def shown(cid):
        return panel.proxy.mapFromSource(panel.model.index_of(cid)).isValid()

    panel.search.setText(f"alpha-{tag}")
    assert shown(run_id) and not shown(stop_id)
    panel.search.setText(tag)
    assert shown(run_id) and shown(stop_id)
    panel.only_running.setChecked(True)
    assert shown(run_id) and not shown(stop_id)
    panel.only_running.setChecked(False)
    panel.search.clear()


def test_failed_action_is_shown_in_words(gui, qtbot):
    panel = _panel(gui)
    name = _name("broken")
    cid = gui.create_container(["/no/such/program"], name=name, start=False)
    gui.wait(lambda: panel.model.index_of(cid).isValid())
    panel.select(cid)
    qtbot.mouseClick(panel.buttons["start"], Qt.MouseButton.LeftButton)
    gui.wait(lambda: "Could not start" in gui.window.statusBar().currentMessage())
    message = gui.window.statusBar().currentMessage()
    assert message.startswith(f"Could not start {name}: ")
    assert "/no/such/program" in message and "Traceback" not in message


def test_cpu_and_memory_only_for_visible_running_rows(gui):
    panel = _panel(gui)
    busy = gui.create_container(["sh", "-c", "while :; do :; done"], name=_name("busy"))
    idle = gui.create_container(["true"], name=_name("idle"), start=False)
    gui.wait(lambda: _row_text(panel, busy, cols.STATE) == "Running")
    gui.wait(lambda: busy in gui.ctx.stats.streaming, what="a stats stream for the visible row")
    assert idle not in gui.ctx.stats.streaming
    gui.wait(lambda: _row_text(panel, busy, cols.CPU).endswith("%"), timeout=20, what="CPU")
    assert _row_text(panel, busy, cols.MEMORY).endswith("iB")
    assert _row_text(panel, idle, cols.CPU) == ""
    # Out of sight, out of the stats hub: another panel closes every stream.
    gui.window.show_panel("Images")
    gui.wait(lambda: not gui.ctx.stats.streaming, what="streams to close")
    gui.window.show_panel("Containers")
    gui.wait(lambda: busy in gui.ctx.stats.streaming)
    # Filtered away is out of sight too.
    panel.search.setText("no-container-has-this-name")
    gui.wait(lambda: busy not in gui.ctx.stats.streaming, what="filtered rows to stop")
    panel.search.clear()


def test_published_port_is_a_link_that_opens_the_browser(gui, qtbot):
    panel = _panel(gui)
    cid = gui.create_container(
        ["sleep", "300"],
        name=_name("site"),
        ExposedPorts={"80/tcp": {}},
        HostConfig={"PortBindings": {"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}},
    )
    gui.wait(lambda: ":80" in _row_text(panel, cid, cols.PORTS), what="the published port")
    links = panel.model.data(panel.model.index_of(cid, cols.PORTS), roles.LINKS)
    [(text, url)] = links
    host_port = text.split(":")[0]
    assert url == f"http://127.0.0.1:{host_port}"
    opened = []
    panel.links.opener = opened.append
    index = panel.proxy.mapFromSource(panel.model.index_of(cid, cols.PORTS))
    panel.view.scrollTo(index)
    rect = panel.view.visualRect(index)
    qtbot.mouseClick(
        panel.view.viewport(),
        Qt.MouseButton.LeftButton,
        pos=rect.topLeft() + QPoint(8, rect.height() // 2),
    )
    assert opened == [url]
    # A click beside the link opens nothing.
    qtbot.mouseClick(
        panel.view.viewport(),
        Qt.MouseButton.LeftButton,
        pos=rect.topRight() - QPoint(4, -rect.height() // 2),
    )
    assert opened == [url]
