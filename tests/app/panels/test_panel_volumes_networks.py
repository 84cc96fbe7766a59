"""Volumes and Networks panels: create, list, use, delete through the panels."""

from __future__ import annotations

import uuid

from portside.app.widgets import dialogs


def _volume_names(panel):
    return {r["Name"] for r in panel.feed.model.records()}


def test_create_and_delete_a_volume_through_the_panel(gui, monkeypatch):
    panel = gui.window.show_panel("Volumes")
    name = f"data-{uuid.uuid4().hex[:6]}"
    monkeypatch.setattr(dialogs, "ask_text", lambda *a, **k: name)
    task = panel.ask_create()
    gui.wait(lambda: task.done() and name in _volume_names(panel), what="the new volume row")
    assert gui.engine.api("GET", f"/volumes/{name}").status_code == 200
    row = panel.feed.model.record(name)
    assert row["Driver"] == "local" and row["_users"] == []

    # A container that mounts it shows up in "Used by", and deleting it then fails in words.
    cname = f"user-{uuid.uuid4().hex[:6]}"
    cid = gui.create_container(
        ["sleep", "300"], name=cname, HostConfig={"NetworkMode": "none", "Binds": [f"{name}:/data"]}
    )
    gui.wait(lambda: panel.feed.model.record(name)["_users"] == [cname], what="Used by")
    monkeypatch.setattr(dialogs, "confirm", lambda *a, **k: True)
    panel.table.select_key(name)
    task = panel.delete_selected()
    # The failure is reported by the task's done-callback, a loop turn after done().
    gui.wait(lambda: "Could not delete" in gui.window.statusBar().currentMessage())
    assert task.done()
    assert name in _volume_names(panel)

    gui.call(lambda c: c.containers.remove(cid, force=True))
    gui.wait(lambda: panel.feed.model.record(name)["_users"] == [])
    panel.table.select_key(name)
    task = panel.delete_selected()
    gui.wait(lambda: name not in _volume_names(panel), what="the row to go")
    assert gui.engine.api("GET", f"/volumes/{name}").status_code == 404


def test_volume_sizes_and_prune(fresh_gui, monkeypatch):
    gui = fresh_gui
    panel = gui.window.show_panel("Volumes")
    name = f"filled-{uuid.uuid4().hex[:6]}"
    gui.call(lambda c: c.volumes.create(name))
    cid = gui.create_container(
        ["sh", "-c", "head -c 200000 /dev/zero > /data/blob"],
        HostConfig={"NetworkMode": "none", "Binds": [f"{name}:/data"]},
    )
    gui.call(lambda c: c.containers.wait(cid))
    gui.call(lambda c: c.containers.remove(cid))
    panel.feed.reload_now()
    gui.wait(lambda: (panel.feed.model.record(name) or {}).get("_size", -1) >= 200000, what="size")
    monkeypatch.setattr(dialogs, "confirm", lambda *a, **k: True)
    task = panel.prune()
    gui.wait(lambda: task.done() and name not in _volume_names(panel), what="prune")
    assert "Deleted 1 volumes" in gui.window.statusBar().currentMessage()


def test_browse_a_volume(any_gui):
    gui = any_gui
    name = f"browse-{uuid.uuid4().hex[:6]}"
    gui.call(lambda c: c.volumes.create(name))
    cid = gui.create_container(
        ["sh", "-c", "mkdir /v/sub && echo hello > /v/greeting.txt"],
        HostConfig={"NetworkMode": "none", "Binds": [f"{name}:/v"]},
    )
    gui.call(lambda c: c.containers.wait(cid))
    panel = gui.window.show_panel("Volumes")
    gui.wait(lambda: name in _volume_names(panel))
    browser = panel.browse(name)
    files = browser.files
    gui.wait(
        lambda: {e.basename for e in files.entries} == {"greeting.txt", "sub"},
        what=lambda: files.status.text(),
    )
    helper = browser.helper
    # The helper container is the app's own: in the model, hidden from the table.
    containers = gui.window.panel("Containers")
    gui.wait(lambda: containers.model.index_of(helper).isValid())
    assert not containers.proxy.mapFromSource(containers.model.index_of(helper)).isValid()
    files.navigate("/")  # cannot leave the volume
    gui.wait(lambda: files.path == "/volume")
    panel.close_browser()
    gui.wait(lambda: gui.engine.api("GET", f"/containers/{helper}/json").status_code == 404)
    gui.call(lambda c: c.containers.remove(cid))
    gui.call(lambda c: c.volumes.remove(name))


def _net(panel, name):
    return next((r for r in panel.feed.model.records() if r.get("Name") == name), None)


def test_create_connect_disconnect_and_delete_a_network(gui, monkeypatch):
    panel = gui.window.show_panel("Networks")
    name = f"net-{uuid.uuid4().hex[:6]}"
    dialog = panel.ask_create()
    dialog.name.setText(name)
    dialog.subnet.setText("10.77.3.0/24")
    dialog.internal.setChecked(True)
    dialog.accept()
    gui.wait(lambda: _net(panel, name) is not None, what="the new network row")
    row = _net(panel, name)
    assert row["_subnet"] == "10.77.3.0/24" and row["Internal"] is True
    assert gui.engine.api("GET", f"/networks/{name}").json()["Internal"] is True

    cname = f"member-{uuid.uuid4().hex[:6]}"
    cid = gui.create_container(["sleep", "300"], name=cname, HostConfig={})
    gui.wait(lambda: gui.ctx.feeds.containers.model.container(cid) is not None)
    panel.table.select_key(row["Id"])
    dialog = panel.ask_connect()
    assert cname in [dialog.combo.itemText(i) for i in range(dialog.combo.count())]
    dialog.combo.setCurrentIndex(dialog.combo.findText(cname))
    dialog.accept()
    gui.wait(lambda: _net(panel, name)["_members"] == [cname], what="the member")
    assert cid in (gui.engine.api("GET", f"/networks/{name}").json().get("Containers") or {})

    panel.table.select_key(row["Id"])
    dialog = panel.ask_disconnect()
    dialog.combo.setCurrentIndex(dialog.combo.findText(cname))
    dialog.accept()
    gui.wait(lambda: _net(panel, name)["_members"] == [], what="the member to leave")

    monkeypatch.setattr(dialogs, "confirm", lambda *a, **k: True)
    panel.table.select_key(row["Id"])
    assert panel.buttons["delete"].isEnabled()
    panel.delete_selected()
    gui.wait(lambda: _net(panel, name) is None, what="the row to go")
    assert gui.engine.api("GET", f"/networks/{name}").status_code == 404


def test_predefined_networks_cannot_be_deleted(gui):
    panel = gui.window.show_panel("Networks")
    gui.wait(lambda: _net(panel, "host") is not None)
    panel.table.select_key(_net(panel, "host")["Id"])
    assert not panel.buttons["delete"].isEnabled()
    assert not panel.buttons["connect"].isEnabled()
