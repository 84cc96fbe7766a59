"""Starting, connecting, losing and closing: the app's life against real engines."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid

import pytest
from portside.app import launcher as launcher_module
from portside.app.application import PortsideApp
from portside.app.connection import CONNECTED, STARTING, UNAVAILABLE
from portside.app.launcher import EngineLauncher
from portside.app.settings import PORTSIDE, SOCKET, ConnectionChoice, Settings
from support.engine import PortsideEngine

# Lines Qt's offscreen platform prints about itself on some hosts.
QT_NOISE = ("propagateSizeHints", "QStandardPaths", "This plugin does not support")


def _run_portside(engine, tmp_path, *args, timeout=60):
    env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
    env["QT_QPA_PLATFORM"] = "offscreen"
    env["XDG_RUNTIME_DIR"] = str(tmp_path)
    cmd = [sys.executable, "-m", "portside.app", "-H", engine.host, "--settings",
           str(tmp_path / "s.ini"), "--no-tray", *args]  # fmt: skip
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)


def _noise_free(stderr: str) -> list[str]:
    return [ln for ln in stderr.splitlines() if ln.strip() and not any(n in ln for n in QT_NOISE)]


@pytest.mark.parametrize("panel", ["Containers", "Engine", "Images"])
def test_portside_command_closes_cleanly(shared_engine, tmp_path, panel):
    """Streams open (events, stats of a running container, host graphs), then the window
    closes: exit status 0 and not one line on stderr."""
    name = f"busy-{uuid.uuid4().hex[:6]}"
    shared_engine.docker("run", "-d", "--name", name, "busybox", "sleep", "300")
    status_file = tmp_path / "status.json"
    try:
        res = _run_portside(
            shared_engine, tmp_path, "--panel", panel, "--quit-after", "4",
            "--status-file", str(status_file),
        )  # fmt: skip
    finally:
        shared_engine.docker("rm", "-f", name)
    assert res.returncode == 0, res.stderr
    assert _noise_free(res.stderr) == [], res.stderr
    status = json.loads(status_file.read_text())
    assert status["state"] == "connected" and status["events_open"], status
    assert status["panel"] == panel and status["containers"] >= 1
    if panel == "Containers":  # the running container's row was sampled
        assert len(status["stats_streams"]) >= 1, status


def test_bundled_engine_is_started_when_none_answers(aloop, qtbot, qapp, tmp_path, arun):
    e = PortsideEngine()  # paths and config only: the app starts it
    try:
        launcher = EngineLauncher(
            args=["-H", e.host, "--data-root", str(e.data_root), "--exec-root",
                  str(e.exec_root), "--config-file", str(e.config_file)],
            log_path=e.log_path,
        )  # fmt: skip
        app = PortsideApp(
            Settings(str(tmp_path / "s.ini")), ConnectionChoice(kind=PORTSIDE), launcher
        )
        states = []
        app.ctx.connection.state_changed.connect(lambda s, d: states.append(s))
        app.start()
        qtbot.waitUntil(lambda: app.ctx.connection.state == CONNECTED, timeout=30000)
        assert STARTING in states
        assert launcher.running and e.api("GET", "/_ping").status_code == 200
        qtbot.waitUntil(lambda: app.ctx.feeds.containers.loaded, timeout=10000)
        arun(app.shutdown())
        # The engine we started is stopped with the app (its containers would keep running).
        assert not launcher.running and not e.socket.exists()
    finally:
        e.cleanup()


def test_unreachable_socket_is_explained_and_retried(aloop, qtbot, tmp_path, arun):
    missing = tmp_path / "nothing.sock"
    launcher = EngineLauncher(args=["-H", f"unix://{tmp_path}/never.sock"])
    app = PortsideApp(
        Settings(str(tmp_path / "s.ini")),
        ConnectionChoice(kind=SOCKET, socket_path=str(missing)),
        launcher,
    )
    app.start()
    qtbot.waitUntil(lambda: app.ctx.connection.state == UNAVAILABLE, timeout=10000)
    page = app.window.offline
    assert app.window.stack.currentWidget() is page
    assert page.title.text() == "No engine is available"
    assert str(missing) in page.detail.text() and "Traceback" not in page.detail.text()
    assert page.retry.isVisible() and not launcher.running  # never started in its place
    assert app.window.state_label.text() == "Engine unavailable"
    # The Engine panel (connection settings) stays reachable.
    app.window.show_panel("Engine")
    assert app.window.stack.currentWidget() is app.window.panels["Engine"]
    arun(app.shutdown())


def test_not_root_gets_advice_instead_of_an_engine(aloop, qtbot, tmp_path, arun, monkeypatch):
    monkeypatch.setattr(launcher_module.os, "geteuid", lambda: 1000)
    launcher = EngineLauncher(args=["-H", f"unix://{tmp_path}/never.sock"])
    app = PortsideApp(Settings(str(tmp_path / "s.ini")), ConnectionChoice(kind=PORTSIDE), launcher)
    app.start()
    qtbot.waitUntil(lambda: app.ctx.connection.state == UNAVAILABLE, timeout=10000)
    assert "sudo portsided" in app.window.offline.detail.text()
    assert not launcher.running
    arun(app.shutdown())


def test_reconnects_after_the_engine_crashes(fresh_gui):
    gui = fresh_gui
    cid = gui.create_container(["sleep", "300"], name=f"survivor-{uuid.uuid4().hex[:6]}")
    model = gui.ctx.feeds.containers.model
    gui.wait(lambda: model.container(cid) is not None)
    gui.engine.kill9()
    gui.wait(lambda: gui.ctx.connection.state != CONNECTED, what="the loss to be noticed")
    gui.engine.start()
    gui.wait(lambda: gui.ctx.connection.state == CONNECTED, timeout=30, what="reconnection")
    gui.wait(lambda: gui.ctx.events.is_open and model.container(cid) is not None)
    # Events flow again: a new container appears.
    other = gui.create_container(["sleep", "300"], name=f"after-{uuid.uuid4().hex[:6]}")
    gui.wait(lambda: model.container(other) is not None, what="events after reconnecting")


def test_connection_choice_is_remembered(gui, tmp_path):
    panel = gui.window.show_panel("Engine")
    form = panel.form
    form.radios[SOCKET].setChecked(True)
    form.socket_path.setText(str(gui.engine.socket))
    form.apply_button.click()
    gui.wait(lambda: gui.ctx.connection.state == CONNECTED and gui.ctx.events.is_open)
    again = Settings(str(tmp_path / "settings.ini")).connection()
    assert again.kind == SOCKET and again.socket_path == str(gui.engine.socket)


def test_unexpected_exit_is_notified_but_a_stop_is_not(gui):
    tray = gui.app.tray
    name = f"crashy-{uuid.uuid4().hex[:6]}"
    gui.create_container(["sh", "-c", "sleep 0.5; exit 3"], name=name)
    gui.wait(lambda: any(name in t for t, _ in tray.messages), what="a notification")
    title, text = next((t, x) for t, x in tray.messages if name in t)
    assert title == f"{name} stopped unexpectedly" and "code 3" in text
    calm = f"calm-{uuid.uuid4().hex[:6]}"
    cid = gui.create_container(["sleep", "300"], name=calm)
    gui.call(lambda c: c.containers.stop(cid, grace=1))
    gui.wait(
        lambda: "exited" in (gui.ctx.feeds.containers.model.container(cid) or {}).get("State", "")
    )
    assert not any(calm in t for t, _ in tray.messages)


def test_unhealthy_container_is_notified(gui):
    tray = gui.app.tray
    name = f"sick-{uuid.uuid4().hex[:6]}"
    cid = gui.create_container(
        ["sleep", "300"],
        name=name,
        Healthcheck={"Test": ["CMD", "false"], "Interval": 200_000_000, "Retries": 1,
                     "Timeout": 1_000_000_000},
    )  # fmt: skip
    expected = f"{name} is unhealthy"
    gui.wait(lambda: expected in [t for t, _ in tray.messages], timeout=30, what=expected)
    model = gui.ctx.feeds.containers.model
    gui.wait(lambda: "(unhealthy)" in str((model.container(cid) or {}).get("Status")))
