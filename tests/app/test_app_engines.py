"""Many engines at once: the Engines list from real store files, two real engines side by
side with the "All engines" view, an SSH engine through a throwaway sshd (host key
prompt, changed key, agent and key-file logins), and an engine that dies and comes back."""

from __future__ import annotations

import gc
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from portside.app import engine_catalog as catalog
from portside.app.connection import CONNECTED, UNAVAILABLE
from portside.app.engine_catalog import EngineEntry
from portside.vm.paths import MachineDirs
from support.engine import PortsideEngine
from support.sshd import TestSshd, keygen


# -- the docker CLI's context store, as `docker context create` leaves it ---------------
def write_context(config_dir: Path, name: str, host: str, *, tls: bool = False) -> None:
    digest = hashlib.sha256(name.encode()).hexdigest()
    meta = config_dir / "contexts" / "meta" / digest
    meta.mkdir(parents=True, exist_ok=True)
    (meta / "meta.json").write_text(
        json.dumps(
            {
                "Name": name,
                "Metadata": {"Description": f"{name} engine"},
                "Endpoints": {"docker": {"Host": host, "SkipTLSVerify": False}},
            }
        )
    )
    if tls:
        certs = config_dir / "contexts" / "tls" / digest / "docker"
        certs.mkdir(parents=True)
        for f in ("ca.pem", "cert.pem", "key.pem"):
            (certs / f).write_text("-")


def bound_socket(path: Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX)
    s.bind(str(path))
    return s


def test_engines_list_from_a_home_with_real_store_files(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home"
    config = home / ".docker"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("DOCKER_CONFIG", raising=False)
    write_context(config, "build-box", "ssh://ci@build.example:2222")
    write_context(config, "prod", "tcp://prod.example:2376", tls=True)
    write_context(config, "colima", f"unix://{tmp_path}/colima.sock")
    # written by a machine's `init`: the same socket as the machine's entry
    machines = tmp_path / "machines"
    dirs = MachineDirs.of("default", machines)
    dirs.root.mkdir(parents=True)
    dirs.config.write_text("{}")
    write_context(config, "portside-default", f"unix://{dirs.docker_socket}")
    # not the CLI's layout: a directory not named after its context, a broken file,
    # an endpoint nobody can reach
    (config / "contexts" / "meta" / "not-a-digest").mkdir()
    (config / "contexts" / "meta" / "not-a-digest" / "meta.json").write_text(
        json.dumps({"Name": "ghost", "Endpoints": {"docker": {"Host": "unix:///x"}}})
    )
    broken = config / "contexts" / "meta" / hashlib.sha256(b"broken").hexdigest()
    broken.mkdir()
    (broken / "meta.json").write_text("{not json")
    write_context(config, "npipe", "npipe:////./pipe/docker_engine")
    (config / "config.json").write_text(json.dumps({"currentContext": "build-box"}))
    # the usual sockets: one exists here (as a real socket), the other does not
    docker_sock = tmp_path / "docker.sock"
    listener = bound_socket(docker_sock)
    podman_sock = tmp_path / "run" / "podman" / "podman.sock"
    added = catalog.encode_added(
        [EngineEntry("added:lab", "lab", catalog.ADDED, "ssh://me@lab.example", ssh_key="~/k")]
    )
    primary = EngineEntry("portside", "Portside", catalog.PORTSIDE, "unix:///run/portside/p.sock")
    try:
        from portside.vm.control import list_machines

        found = catalog.discover(
            primary,
            machines=list_machines(machines),
            sockets=[str(docker_sock), str(podman_sock)],
            added=added,
        )
    finally:
        listener.close()
    by_key = {e.key: e for e in found}
    assert [e.key for e in found] == [
        "portside",
        "machine:default",
        "context:build-box",
        "context:colima",
        "context:prod",
        f"socket:{docker_sock}",
        "added:lab",
    ]
    assert by_key["context:build-box"].current
    assert by_key["context:build-box"].address().ssh.port == 2222  # type: ignore[union-attr]
    prod = by_key["context:prod"].address()
    assert prod.tls is not None and prod.tls.ca_cert and prod.tls.ca_cert.endswith("ca.pem")
    assert by_key["machine:default"].url == f"unix://{dirs.docker_socket}"
    assert by_key["added:lab"].address().ssh_key == "~/k"
    assert by_key["added:lab"].removable and not by_key["context:prod"].removable
    # the default places: $XDG_RUNTIME_DIR's podman socket comes before the system one
    monkeypatch.setenv("XDG_RUNTIME_DIR", "/run/user/1000")
    assert catalog.default_socket_paths() == [
        "/var/run/docker.sock",
        "/run/user/1000/podman/podman.sock",
        "/run/podman/podman.sock",
    ]


# -- the app with several engines -----------------------------------------------------
def make_app(tmp_path: Path, primary: PortsideEngine, config: Path, sockets=()):  # type: ignore[no-untyped-def]
    from portside.app import style
    from portside.app.application import PortsideApp
    from portside.app.settings import SOCKET, ConnectionChoice, Settings
    from PySide6.QtWidgets import QApplication

    app_qt = QApplication.instance()
    assert isinstance(app_qt, QApplication)
    style.apply(app_qt)
    return PortsideApp(
        Settings(str(tmp_path / "settings.ini")),
        ConnectionChoice(kind=SOCKET, socket_path=str(primary.socket)),
        tray=False,
        docker_config=config,
        engine_sockets=list(sockets),
        machines_home=tmp_path / "machines",
    )


@pytest.fixture
def engines_app(aloop, qtbot, tmp_path, shared_engine, arun):  # type: ignore[no-untyped-def]
    """``engines_app(config_dir)``: the app over the shared portsided plus whatever the
    test put in ``config_dir``'s context store; shut down at the end."""
    made = []

    def make(config: Path, sockets=()):  # type: ignore[no-untyped-def]
        app = make_app(tmp_path, shared_engine, config, sockets)
        made.append(app)
        app.start()
        return app

    yield make
    for app in made:
        arun(app.shutdown(), 30)
    made.clear()
    gc.collect()  # the app's Qt objects go here, on the GUI thread, not in a later test


def wait_state(qtbot, app, key: str, state: str, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    def ok() -> bool:
        s = app.engines.session(key)
        return s is not None and s.connection.state == state

    qtbot.waitUntil(ok, timeout=int(timeout * 1000))


def test_two_real_engines_at_once_and_the_all_engines_view(  # type: ignore[no-untyped-def]
    engines_app, qtbot, tmp_path, shared_engine, dockerd
):
    config = tmp_path / "docker-config"
    write_context(config, "dockerd", dockerd.host)
    ours = shared_engine.docker("create", "--name", "on-portside", "busybox", "true")
    dockerd.docker("create", "--name", "on-dockerd", "busybox", "true")
    try:
        app = engines_app(config)
        window = app.window
        wait_state(qtbot, app, "portside", CONNECTED)
        wait_state(qtbot, app, "context:dockerd", CONNECTED)
        rows = window.engines_list.list
        assert [rows.item(i).text() for i in range(rows.count())] == ["Portside", "dockerd"]
        assert window.engines_list.state_of("context:dockerd") == CONNECTED

        # work in the primary engine, select its container, then switch engines
        panel = window.show_panel("Containers")
        qtbot.waitUntil(lambda: "on-portside" in names(panel.model.containers()))
        cid = ours.stdout.strip()
        panel.select(cid)
        window.engines_list.list.setCurrentRow(1)
        window.show_engine("context:dockerd")
        docker_panel = window.panel("Containers")
        assert docker_panel is not panel and window.stack.currentWidget() is docker_panel
        qtbot.waitUntil(lambda: "on-dockerd" in names(docker_panel.model.containers()))
        assert "on-portside" not in names(docker_panel.model.containers())
        assert "Docker Engine" in window.engine_label.text()
        # back: the same panel, its selection kept
        window.show_engine("portside")
        assert window.panel("Containers") is panel
        assert panel.selected_ids() == [cid]

        # "All engines": both engines' containers with an Engine column
        panel.all_engines.setChecked(True)
        table = panel.all_table
        assert table is not None and table.isVisible() and not panel.view.isVisible()
        model = table.source
        assert model.headerData(0, _horizontal(), _display()) == "Engine"

        def all_rows() -> set[tuple[str, str]]:
            return {(model.data(model.index(r, 0)), model.data(model.index(r, 1)))
                    for r in range(model.rowCount())}  # fmt: skip

        qtbot.waitUntil(
            lambda: {("Portside", "on-portside"), ("dockerd", "on-dockerd")} <= all_rows()
        )
        # a new container on dockerd shows up there by itself (events, no polling)
        dockerd.docker("create", "--name", "on-dockerd-2", "busybox", "true")
        qtbot.waitUntil(lambda: ("dockerd", "on-dockerd-2") in all_rows(), timeout=10000)

        images = window.show_panel("Images")
        images.all_engines.setChecked(True)
        assert images.all_table is not None
        imodel = images.all_table.source
        qtbot.waitUntil(
            lambda: (
                {imodel.data(imodel.index(r, 0)) for r in range(imodel.rowCount())}
                == {"Portside", "dockerd"}
            )
        )
    finally:
        shared_engine.docker("rm", "-f", "on-portside")
        dockerd.docker("rm", "-f", "on-dockerd", "on-dockerd-2")


def _horizontal():  # type: ignore[no-untyped-def]
    from PySide6.QtCore import Qt

    return Qt.Orientation.Horizontal


def _display():  # type: ignore[no-untyped-def]
    from PySide6.QtCore import Qt

    return Qt.ItemDataRole.DisplayRole


def names(containers: list[dict]) -> set[str]:
    return {c["Names"][0].lstrip("/") for c in containers}


def test_an_engine_killed_goes_offline_and_comes_back_by_itself(  # type: ignore[no-untyped-def]
    engines_app, qtbot, tmp_path, engine, strict_warnings
):
    config = tmp_path / "docker-config"
    write_context(config, "second", engine.host)
    app = engines_app(config)
    wait_state(qtbot, app, "portside", CONNECTED)
    wait_state(qtbot, app, "context:second", CONNECTED)
    second = app.engines.session("context:second")
    engine.kill9()
    wait_state(qtbot, app, "context:second", UNAVAILABLE, timeout=15)
    assert "cannot reach the engine" in second.connection.last_error
    assert app.window.engines_list.state_of("context:second") == UNAVAILABLE
    assert "cannot reach the engine" in app.window.engines_list._item("context:second").toolTip()
    # the rest of the app carries on: the primary engine still answers through the app
    assert app.engines.primary.connection.state == CONNECTED
    app.window.show_panel("Images")
    # back without anybody pressing anything
    engine.start()
    wait_state(qtbot, app, "context:second", CONNECTED, timeout=20)
    qtbot.waitUntil(lambda: second.events.is_open and second.feeds.containers.loaded)
    assert app.window.engines_list.state_of("context:second") == CONNECTED


# -- an engine over SSH --------------------------------------------------------------
@pytest.fixture
def sshd() -> Iterator[TestSshd]:
    server = TestSshd()
    try:
        server.start()
        yield server
    finally:
        server.cleanup()


@pytest.fixture
def ssh_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty ~/.ssh (no known hosts, no keys) and no agent."""
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True, mode=0o700)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    return home


def host_key_dialog():  # type: ignore[no-untyped-def]
    from portside.app.widgets.hostkey_dialog import OBJECT_NAME
    from PySide6.QtWidgets import QApplication

    for w in QApplication.topLevelWidgets():
        if w.objectName() == OBJECT_NAME and w.isVisible():
            return w
    for w in QApplication.allWidgets():
        if w.objectName() == OBJECT_NAME and w.isVisible():
            return w
    return None


# paramiko logs, at ERROR, the connections these tests cut on purpose
PARAMIKO_NOISE = (r"Socket exception: Connection reset by peer", r"Secsh channel \d+ open FAILED")


def test_ssh_engine_asks_about_the_host_key_then_works(  # type: ignore[no-untyped-def]
    engines_app, qtbot, tmp_path, sshd, ssh_home, shared_engine, strict_warnings
):
    for pattern in PARAMIKO_NOISE:
        strict_warnings.allow(pattern)
    app = engines_app(tmp_path / "docker-config")
    wait_state(qtbot, app, "portside", CONNECTED)
    url = f"ssh://root@{sshd.host}:{sshd.port}{shared_engine.socket}"
    entry = app.engines.add("remote", url, ssh_key=str(sshd.client_key))
    assert entry.key == "added:remote"
    # the user is shown the fingerprint ...
    qtbot.waitUntil(lambda: host_key_dialog() is not None, timeout=15000)
    dialog = host_key_dialog()
    offered = subprocess.run(
        ["ssh-keygen", "-l", "-f", str(sshd.host_key.with_suffix(".pub"))],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()[1]
    assert offered in dialog.informativeText()
    assert f"127.0.0.1:{sshd.port}" in dialog.text()
    # ... and says no: offline with the reason, not asked again on its own
    dialog.cancel_button.click()
    wait_state(qtbot, app, "added:remote", UNAVAILABLE)
    session = app.engines.session("added:remote")
    assert "is not known" in session.connection.last_error
    qtbot.wait(1500)
    assert host_key_dialog() is None and session.connection.state == UNAVAILABLE
    assert not (ssh_home / ".ssh" / "known_hosts").exists()
    # Reconnect (the list's menu) asks again; this time yes
    session.connection.retry_now()
    qtbot.waitUntil(lambda: host_key_dialog() is not None, timeout=15000)
    host_key_dialog().trust_button.click()
    wait_state(qtbot, app, "added:remote", CONNECTED)
    assert f"[127.0.0.1]:{sshd.port} ssh-ed25519" in (ssh_home / ".ssh" / "known_hosts").read_text()
    app.window.show_engine("added:remote")
    assert "root@127.0.0.1" in app.window.engine_label.text()
    panel = app.window.show_panel("Images")
    qtbot.waitUntil(lambda: session.feeds.images.loaded and panel.feed.model.rowCount() > 0)
    # the engine was remembered in the settings
    assert "remote" in app.ctx.settings.added_engines()

    # the SSH connection dies (sshd's sessions killed): back on its own, nobody asked
    before = session.connection.client
    assert sshd.kill_sessions() > 0
    qtbot.waitUntil(
        lambda: session.connection.state == CONNECTED and session.connection.client is not before,
        timeout=30000,
    )
    qtbot.waitUntil(lambda: session.events.is_open, timeout=15000)
    assert host_key_dialog() is None

    # the host's key changes: refused, with a clear message, nobody asked
    sshd.stop()
    new_key = sshd.host_key.with_name("host_new")
    sshd.host_public = keygen(new_key, "new-host")
    sshd.host_key = new_key
    sshd._write_config()
    sshd.start()
    wait_state(qtbot, app, "added:remote", UNAVAILABLE, timeout=60)
    qtbot.waitUntil(lambda: "has changed" in session.connection.last_error, timeout=60000)
    assert host_key_dialog() is None
    assert session.connection.refused


def test_ssh_engine_logs_in_with_the_agent_or_a_key_in_home(  # type: ignore[no-untyped-def]
    engines_app, qtbot, tmp_path, sshd, ssh_home, shared_engine, monkeypatch, strict_warnings
):
    for pattern in PARAMIKO_NOISE:
        strict_warnings.allow(pattern)
    # known host already (as after `ssh` once): no question
    (ssh_home / ".ssh" / "known_hosts").write_text(
        f"[127.0.0.1]:{sshd.port} {sshd.host_public.rsplit(' ', 1)[0]}\n"
    )
    agent = subprocess.Popen(
        ["ssh-agent", "-D", "-a", str(tmp_path / "agent.sock")],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            if (tmp_path / "agent.sock").exists():
                break
            qtbot.wait(50)
        env = {**os.environ, "SSH_AUTH_SOCK": str(tmp_path / "agent.sock")}
        subprocess.run(["ssh-add", str(sshd.client_key)], env=env, check=True, capture_output=True)
        monkeypatch.setenv("SSH_AUTH_SOCK", env["SSH_AUTH_SOCK"])
        app = engines_app(tmp_path / "docker-config")
        url = f"ssh://root@{sshd.host}:{sshd.port}{shared_engine.socket}"
        app.engines.add("by-agent", url)
        wait_state(qtbot, app, "added:by-agent", CONNECTED)
        assert "Accepted publickey" in sshd.log()
        # without the agent: ~/.ssh/id_ed25519 (one address is listed once: replace it)
        monkeypatch.delenv("SSH_AUTH_SOCK")
        app.engines.remove("added:by-agent")
        assert app.engines.session("added:by-agent") is None
        shutil.copy(sshd.client_key, ssh_home / ".ssh" / "id_ed25519")
        os.chmod(ssh_home / ".ssh" / "id_ed25519", 0o600)
        app.engines.add("by-file", url)
        wait_state(qtbot, app, "added:by-file", CONNECTED)
        # a wrong key file: the login is refused and not retried
        app.engines.remove("added:by-file")
        wrong = tmp_path / "wrong"
        keygen(wrong, "wrong")
        app.engines.add("wrong-key", url, ssh_key=str(wrong))
        wait_state(qtbot, app, "added:wrong-key", UNAVAILABLE)
        refused = app.engines.session("added:wrong-key").connection
        assert "refused the key" in refused.last_error and refused.refused
    finally:
        agent.send_signal(signal.SIGTERM)
        agent.wait(10)


def test_contexts_come_and_go_without_a_restart(engines_app, qtbot, tmp_path):  # type: ignore[no-untyped-def]
    config = tmp_path / "docker-config"
    app = engines_app(config)
    wait_state(qtbot, app, "portside", CONNECTED)
    assert [s.key for s in app.engines.ordered()] == ["portside"]
    write_context(config, "later", f"unix://{tmp_path}/later.sock")
    app.engines.rediscover()  # what the 15 s timer does
    wait_state(qtbot, app, "context:later", UNAVAILABLE)
    session = app.engines.session("context:later")
    assert "no such socket" in session.connection.last_error
    assert app.window.engines_list.list.count() == 2
    # a new description is the same engine: the session and its models stay
    digest = hashlib.sha256(b"later").hexdigest()
    meta = config / "contexts" / "meta" / digest / "meta.json"
    meta.write_text(meta.read_text().replace("later engine", "renamed"))
    app.engines.rediscover()
    assert app.engines.session("context:later") is session
    assert session.entry.description == "renamed"
    # working in it, then it is removed: back to Portside's engine
    app.window.show_engine("context:later")
    assert app.window.ctx is session.ctx
    shutil.rmtree(meta.parent)
    app.engines.rediscover()
    assert app.engines.session("context:later") is None
    assert app.window.ctx is app.engines.primary.ctx
    assert app.window.engines_list.list.count() == 1


def test_adding_an_engine_from_the_sidebar(engines_app, qtbot, tmp_path):  # type: ignore[no-untyped-def]
    app = engines_app(tmp_path / "docker-config")
    wait_state(qtbot, app, "portside", CONNECTED)
    dialog = app.window.engines_list.open_add_dialog()
    dialog.name.setText("lab")
    dialog.url.setText("ftp://lab.example")
    dialog.add()
    assert dialog.isVisible() and "unsupported engine address" in dialog.error.text()
    dialog.url.setText(f"unix://{tmp_path}/lab.sock")
    dialog.add()
    assert not dialog.isVisible()
    # the new engine is listed, remembered and worked in
    assert app.engines.current_key == "added:lab"
    assert app.window.ctx is app.engines.session("added:lab").ctx
    assert '"name": "lab"' in app.ctx.settings.added_engines()
    wait_state(qtbot, app, "added:lab", UNAVAILABLE)
    assert app.window.stack.currentWidget() is app.window.offline
    app.engines.remove("added:lab")
    assert app.engines.session("added:lab") is None and app.engines.current_key == "portside"
