"""Images panel: one-click pull through a loopback registry mirror, run, history, delete."""

from __future__ import annotations

import io
import tarfile
import uuid

import pytest
from portside.app.models import roles
from portside.app.widgets import dialogs
from PySide6.QtCore import Qt
from support.engine import PortsideEngine
from support.images import busybox_rootfs_tar
from support.registry import Registry


def _layer(name: str, data: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        info = tarfile.TarInfo(name)
        info.size = len(data)
        tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


@pytest.fixture
def mirror_gui(gui_factory):
    """The app on an empty engine whose Docker Hub mirror is a loopback registry holding
    ``library/busybox:latest`` (two layers), so the "busybox" suggestion really pulls."""
    reg = Registry()
    engine = None
    try:
        reg.start()
        pusher = reg.pusher()
        try:
            pusher.push_image(
                "library/busybox",
                "latest",
                [busybox_rootfs_tar(), _layer("hello.txt", b"hi\n" * 5000)],
            )
        finally:
            pusher.close()
        engine = PortsideEngine(extra_config={"registry-mirrors": [reg.url]})
        engine.start()
        gui = gui_factory(engine)
        gui.registry = reg
        yield gui
    finally:
        if engine is not None:
            engine.cleanup()
        reg.stop()


def _rows(panel):
    return [(r["_repo"], r["_tag"]) for r in panel.feed.model.records()]


def test_one_click_pull_shows_progress_and_lands_in_the_table(mirror_gui, qtbot):
    gui = mirror_gui
    panel = gui.window.show_panel("Images")
    assert _rows(panel) == []
    fractions = []
    qtbot.mouseClick(panel.pull_box.suggestions["busybox"], Qt.MouseButton.LeftButton)
    view, task = panel.pull_box.active["busybox:latest"]
    view.total.valueChanged.connect(lambda v: fractions.append(v))
    # The view is finished by the task's done-callback, which runs a loop turn after done().
    gui.wait(
        lambda: "busybox:latest" not in panel.pull_box.active,
        timeout=60,
        what=lambda: view.status.text(),
    )
    assert task.done() and view.title.text() == "Pulled busybox:latest", view.status.text()
    assert len(view.layer_bars) == 2  # one bar per layer
    assert all(bar.value() == 1000 for _l, bar, _t in view.layer_bars.values())
    assert fractions and fractions[-1] == 1000 and fractions == sorted(fractions)
    gui.wait(lambda: ("busybox", "latest") in _rows(panel), what="the Images row")
    row = panel.feed.model.record(next(r["_key"] for r in panel.feed.model.records()))
    assert row["Size"] > 0


def test_failed_pull_says_why(mirror_gui):
    gui = mirror_gui
    panel = gui.window.show_panel("Images")
    task = panel.pull_box.pull(f"{gui.registry.host}/nobody/nothing:1")
    view = panel.pull_box.active[f"{gui.registry.host}/nobody/nothing:1"][0]
    gui.wait(lambda: f"{gui.registry.host}/nobody/nothing:1" not in panel.pull_box.active, 60)
    assert task.done() and view.title.text().startswith("Did not pull")
    assert view.status.text() and "Traceback" not in view.status.text()
    assert "not found" in view.status.text().lower() or "unknown" in view.status.text().lower()


def test_cancel_a_pull(mirror_gui):
    gui = mirror_gui
    panel = gui.window.show_panel("Images")
    task = panel.pull_box.pull("busybox")
    view = panel.pull_box.active["busybox:latest"][0]
    view.cancel.click()
    gui.wait(lambda: "busybox:latest" not in panel.pull_box.active)
    assert task.cancelled() and view.status.text() == "Cancelled."


def test_run_dialog_starts_a_container(gui):
    panel = gui.window.show_panel("Images")
    gui.wait(
        lambda: panel.table.select_key(
            next(
                (r["_key"] for r in panel.feed.model.records() if r["_ref"] == "busybox:latest"), ""
            )
        )
    )
    dialog = panel.run_selected()
    name = f"run-{uuid.uuid4().hex[:6]}"
    dialog.name.setText(name)
    dialog.env.setPlainText("GREETING=hello\n# comment\n")
    dialog.ports.setText("not-a-port")
    dialog._validate()
    assert dialog.isVisible() and "not-a-port" in dialog.error.text()
    dialog.ports.setText("")
    dialog.command.setText("sh -c 'echo $GREETING; sleep 300'")
    dialog._validate()
    assert dialog.result() == dialog.DialogCode.Accepted
    containers = gui.window.show_panel("Containers")
    gui.wait(
        lambda: any(
            c.get("Names") == [f"/{name}"] and c.get("State") == "running"
            for c in containers.model.containers()
        ),
        what="the new container running",
    )
    cid = next(c["Id"] for c in containers.model.containers() if c.get("Names") == [f"/{name}"])
    gui.created.append(cid)
    info = gui.inspect(cid)
    assert "GREETING=hello" in info["Config"]["Env"]
    assert info["Config"]["Cmd"] == ["sh", "-c", "echo $GREETING; sleep 300"]
    # "In use" follows the containers.
    gui.wait(lambda: any(r["_in_use"] for r in gui.ctx.feeds.images.model.records()))


def test_history_tag_and_delete(gui, monkeypatch):
    panel = gui.window.show_panel("Images")
    tag = f"copy{uuid.uuid4().hex[:6]}"
    gui.call(lambda c: c.images.tag("busybox:latest", "localcopy", tag))
    key = lambda: next(  # noqa: E731
        (r["_key"] for r in panel.feed.model.records() if r["_ref"] == f"localcopy:{tag}"), ""
    )
    gui.wait(lambda: key() != "", what="the new tag (image event)")
    panel.table.select_key(key())
    panel.history_selected()
    gui.wait(lambda: panel.dialog is not None and panel.dialog.tree.topLevelItemCount() >= 1)
    panel.dialog.close()
    monkeypatch.setattr(dialogs, "confirm", lambda *a, **k: True)
    panel.table.select_key(key())
    task = panel.delete_selected()
    gui.wait(lambda: task.done() and key() == "", what="the tag to go")
    assert ("busybox", "latest") in _rows(panel)


def test_prune_unused_says_what_it_freed(fresh_gui, monkeypatch):
    gui = fresh_gui
    panel = gui.window.show_panel("Images")
    gui.wait(lambda: ("busybox", "latest") in _rows(panel))
    monkeypatch.setattr(dialogs, "confirm", lambda *a, **k: False)
    assert panel.prune() is None
    monkeypatch.setattr(dialogs, "confirm", lambda *a, **k: True)
    task = panel.prune()
    gui.wait(lambda: task.done())
    assert panel.last_prune.startswith("Removed ") and "freed" in panel.last_prune
    assert "freed 0 B" not in panel.last_prune  # busybox was unused: its bytes came back
    gui.wait(lambda: _rows(panel) == [], what="the pruned image to leave the table")


def test_table_model_roles(gui):
    panel = gui.window.show_panel("Images")
    model = panel.feed.model
    gui.wait(lambda: model.rowCount() >= 1)
    row = next(i for i, r in enumerate(model.records()) if r["_ref"] == "busybox:latest")
    assert model.data(model.index(row, 0), Qt.ItemDataRole.DisplayRole) == "busybox"
    assert model.data(model.index(row, 4), roles.SORT) > 0
