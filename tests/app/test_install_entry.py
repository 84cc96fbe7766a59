"""What a user installing Portside meets first: the GUI's dependencies missing, the
icons shipped as package data, and ``portside engine status|start|stop``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from portside.app.connection import CONNECTED, CONNECTING, STARTING, UNAVAILABLE
from portside.app.icons import ENGINE_STATES, app_icon, engine_icon, engine_state
from support.engine import PortsideEngine


def _portside(*args: str, hide: str = "", env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """``portside ARGS`` in a fresh interpreter; ``hide`` names modules made unimportable,
    as in an environment where they were never installed."""
    code = (
        "import sys\n"
        "class Hide:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {hide.split()!r}:\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Hide())\n"
        "from portside.app.main import main\n"
        f"sys.exit(main({list(args)!r}))\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


@pytest.mark.parametrize("hidden", ["PySide6", "qasync"])
def test_missing_gui_dependency_is_one_line_naming_what_to_install(hidden: str) -> None:
    done = _portside("--no-tray", hide=hidden)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "Traceback" not in done.stderr
    dist = "PySide6-Essentials" if hidden == "PySide6" else "qasync"
    assert f"pip install {dist}" in lines[0]


def test_version_and_engine_commands_need_no_qt() -> None:
    done = _portside("--version", hide="PySide6 qasync")
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Portside 0.1.0"
    done = _portside("engine", "status", "-H", "unix:///nonexistent/portside.sock", hide="PySide6")
    assert done.returncode == 3, done.stderr
    assert "not running" in done.stdout


def test_icons_come_from_package_data(qapp) -> None:  # type: ignore[no-untyped-def]
    icon = app_icon()
    sizes = {s.width() for s in icon.availableSizes()}
    assert {16, 32, 48, 256, 512} <= sizes
    for badge in ENGINE_STATES:
        pix = engine_icon(badge).pixmap(22, 22)
        assert not pix.isNull() and pix.toImage().pixelColor(11, 11).alpha() > 0, badge
    assert engine_state(CONNECTED, "") == "running"
    assert engine_state(CONNECTING, "") == engine_state(STARTING, "") == "starting"
    assert engine_state(UNAVAILABLE, "No engine answered (nothing there)") == "stopped"
    denied = "No engine answered (permission denied (run as root or join the engine's group))"
    assert engine_state(UNAVAILABLE, denied) == "error"


def test_engine_status_running_and_denied(tmp_path: Path) -> None:
    e = PortsideEngine(extra_config={"group": "users"})
    os.chmod(e.base, 0o711)
    try:
        e.start()
        done = _portside("engine", "status", "-H", e.host)
        assert done.returncode == 0, done.stdout + done.stderr
        assert "running — Portside Engine 0.1.0" in done.stdout
        # A user outside the socket's group: told which group to join.
        outsider = subprocess.run(
            [
                "setpriv",
                "--reuid",
                "nobody",
                "--regid",
                "nogroup",
                "--clear-groups",
                sys.executable,
                "-m",
                "portside.app",
                "engine",
                "status",
                "-H",
                e.host,
            ],
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, "HOME": str(tmp_path)},
        )
        assert outsider.returncode == 1, outsider.stdout + outsider.stderr
        assert "usermod -aG portside" in outsider.stdout
    finally:
        e.cleanup()


def test_engine_start_without_systemd_says_what_to_do() -> None:
    if Path("/run/systemd/system").is_dir():
        pytest.fail("this test expects a host where systemd is not process 1 (CI containers)")
    done = _portside("engine", "start")
    assert done.returncode == 1
    assert "systemd does not run this system" in done.stderr
    assert "portsided -G portside" in done.stderr


def test_desktop_install_puts_a_valid_entry_and_icons_in_the_users_menu(tmp_path: Path) -> None:
    data = tmp_path / "share"
    done = _portside("desktop", "install", hide="PySide6", env={"XDG_DATA_HOME": str(data)})
    assert done.returncode == 0, done.stderr
    entry = data / "applications" / "dev.portside.Portside.desktop"
    valid = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True)
    assert valid.returncode == 0, valid.stdout
    exec_line = next(ln for ln in entry.read_text().splitlines() if ln.startswith("Exec="))
    # This installation's own command, by absolute path, and it runs.
    command = exec_line.removeprefix("Exec=").split()[0].strip('"')
    assert Path(command).is_absolute()
    assert subprocess.run([command, "--version"], capture_output=True, text=True).stdout.startswith(
        "Portside "
    )
    for size in ("16x16", "48x48", "256x256", "scalable"):
        assert list((data / "icons" / "hicolor" / size / "apps").glob("dev.portside.Portside.*"))
    done = _portside("desktop", "uninstall", env={"XDG_DATA_HOME": str(data)})
    assert done.returncode == 0 and not entry.exists()
