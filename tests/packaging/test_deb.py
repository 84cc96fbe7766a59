"""Portside's .deb on a clean Debian 12: it installs offline into a debootstrap root, its
files and units are right, the group exists, and a user in that group opens the app from
its desktop entry and finds the engine (started as root with ``-G portside``) connected.

The root is cached (support/deb_root.py); each run mounts an overlay on it inside its
own mount, network and PID namespaces (deb_flow.sh), so nothing it starts or mounts
outlives the test. With the root cached this takes about two minutes.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.deb_root import deb_root

# The first run builds the root with debootstrap (about four minutes); later runs take
# about a minute and a half.
pytestmark = pytest.mark.timeout(1500)

REPO = Path(__file__).resolve().parents[2]
APP_ID = "dev.portside.Portside"


@pytest.fixture(scope="module")
def deb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("deb")
    done = subprocess.run(
        [
            sys.executable,
            str(REPO / "packaging" / "build_deb.py"),
            "--out",
            str(out),
            "--compression",
            "gzip",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    (built,) = out.glob("portside_*_amd64.deb")
    return built


def _field(deb: Path, name: str) -> str:
    return subprocess.run(
        ["dpkg-deb", "-f", str(deb), name], capture_output=True, text=True, check=True
    ).stdout.strip()


@pytest.fixture(scope="module")
def flow(deb: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Run deb_flow.sh once; its work directory (out/ holds the results)."""
    cached = deb_root(_field(deb, "Depends"))
    work = tmp_path_factory.mktemp("deb-flow")
    done = subprocess.run(
        [
            "unshare",
            "--mount",
            "--net",
            "--pid",
            "--fork",
            "--propagation",
            "private",
            "bash",
            str(Path(__file__).with_name("deb_flow.sh")),
            str(cached),
            str(work),
            str(deb),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"set-up step {done.returncode}: {done.stdout}{done.stderr}"
    yield work
    shutil.rmtree(work, ignore_errors=True)


def _out(work: Path, name: str) -> str:
    return (work / "out" / name).read_text(errors="replace")


def _ok(work: Path, step: str) -> str:
    log = _out(work, f"{step}.log")
    assert _out(work, f"{step}.rc").strip() == "0", f"{step} failed:\n{log[-4000:]}"
    return log


def test_control_fields(deb: Path) -> None:
    depends = _field(deb, "Depends")
    for needed in ("crun | runc", "conmon", "nftables", "iproute2", "python3 (>= 3.11)"):
        assert needed in depends
    assert "qemu-system-x86" in _field(deb, "Recommends")


def test_installs_with_its_files(flow: Path) -> None:
    _ok(flow, "dpkg")
    upper = flow / "upper"
    for rel in (
        "opt/portside/bin/python",
        "opt/portside/pyvenv.cfg",
        f"usr/share/applications/{APP_ID}.desktop",
        f"usr/share/metainfo/{APP_ID}.metainfo.xml",
        f"usr/share/icons/hicolor/scalable/apps/{APP_ID}.svg",
        f"usr/share/icons/hicolor/48x48/apps/{APP_ID}.png",
        f"usr/share/icons/hicolor/512x512/apps/{APP_ID}.png",
        "usr/lib/systemd/system/portside.service",
        "usr/lib/systemd/system/portside.socket",
        "usr/lib/sysusers.d/portside.conf",
    ):
        assert (upper / rel).exists() or (upper / rel.removeprefix("usr/")).exists(), rel
    assert (upper / "usr/bin/portside").readlink() == Path("/opt/portside/bin/portside")
    assert (upper / "usr/bin/portsided").readlink() == Path("/opt/portside/bin/portsided")
    script = (upper / "opt/portside/bin/portside").read_text()
    assert script.startswith("#!/opt/portside/bin/python"), script.splitlines()[0]
    # The socket unit was enabled (deb-systemd-helper), so it starts at the next boot.
    wants = upper / "etc/systemd/system/sockets.target.wants/portside.socket"
    assert wants.is_symlink(), "portside.socket is not enabled"
    # postinst compiled the byte code, as root, for users who cannot.
    assert list((upper / "opt/portside/lib").rglob("portside/app/__pycache__/main.*.pyc"))


def test_commands_and_units(flow: Path) -> None:
    assert _ok(flow, "app-version").strip() == "Portside 0.1.0"
    assert _ok(flow, "engine-version").strip() == "Portside engine 0.1.0"
    verify = _ok(flow, "verify")
    assert "portside" not in verify, verify
    assert _ok(flow, "group").startswith("portside:")
    xcb = _ok(flow, "ldd-xcb")
    assert "libxcb" in xcb and "not found" not in xcb, xcb


def test_group_member_opens_the_app_from_the_menu_connected(flow: Path) -> None:
    assert _out(flow, "socket.txt").split() == ["660", "root", "portside"], _out(
        flow, "engine.log"
    )[-3000:]
    assert "running" in _ok(flow, "alice-status")
    # Someone outside the group is told what to do, not shown an error.
    assert _out(flow, "bob-status.rc").strip() == "1"
    assert "usermod -aG portside bob" in _out(flow, "bob-status.log")
    assert _out(flow, "exec.txt").split()[0] == "portside"
    _ok(flow, "app")
    status = json.loads(_out(flow, "status.json"))
    assert status["state"] == "connected", status
    assert status["engine"].startswith("Portside Engine 0.1.0"), status
    assert status["events_open"], status
    assert _out(flow, "engine.rc").strip() == "0", _out(flow, "engine.log")[-3000:]
