"""The engine as a system service: the socket's group (``-G``) and socket activation
(``-H fd://`` with systemd's LISTEN_FDS protocol, driven by the real
``systemd-socket-activate``)."""

from __future__ import annotations

import grp
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from portside.engine.api.web.activation import (
    ActivationError,
    activated_sockets,
    listen_fds,
)
from support.engine import PortsideEngine, pings, start_daemon

# Present on every Debian system, so the test needs no group of its own.
GROUP = "users"


@pytest.fixture
def service_engine() -> Iterator[PortsideEngine]:
    e = PortsideEngine(extra_config={"group": GROUP})
    # The user we pose as must reach the socket inside the engine's private directory.
    os.chmod(e.base, 0o711)
    try:
        yield e
    finally:
        e.cleanup()


def _ping_as(user: str, path: Path, *groups: str) -> subprocess.CompletedProcess[str]:
    """``/_ping`` from a process of ``user`` with exactly the supplementary ``groups``."""
    script = (
        "import socket,sys\n"
        "s=socket.socket(socket.AF_UNIX)\n"
        "try:\n"
        f"    s.connect({str(path)!r})\n"
        "except PermissionError:\n"
        "    sys.exit(13)\n"
        "s.sendall(b'GET /_ping HTTP/1.0\\r\\n\\r\\n')\n"
        "print(s.recv(12).decode())\n"
    )
    groups_arg = ["--groups", ",".join(groups)] if groups else ["--clear-groups"]
    return subprocess.run(
        [
            "setpriv",
            "--reuid",
            user,
            "--regid",
            "nogroup",
            *groups_arg,
            sys.executable,
            "-c",
            script,
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )


def test_group_owns_the_socket_and_its_members_connect(service_engine: PortsideEngine) -> None:
    service_engine.start()
    st = service_engine.socket.stat()
    assert stat.S_IMODE(st.st_mode) == 0o660
    assert (st.st_uid, st.st_gid) == (0, grp.getgrnam(GROUP).gr_gid)
    member = _ping_as("nobody", service_engine.socket, GROUP)
    assert member.returncode == 0, member.stderr
    assert member.stdout.startswith("HTTP/1.1 200")
    stranger = _ping_as("nobody", service_engine.socket)
    assert stranger.returncode == 13, stranger.stdout + stranger.stderr


def test_unknown_group_is_refused_before_anything_changes(tmp_path: Path) -> None:
    sock = tmp_path / "engine.sock"
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "portside.engine",
            "-G",
            "no-such-group-here",
            "-H",
            f"unix://{sock}",
            "--data-root",
            str(tmp_path / "data"),
            "--exec-root",
            str(tmp_path / "exec"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "group 'no-such-group-here' not found" in done.stderr
    assert "Traceback" not in done.stderr
    assert not sock.exists() and not (tmp_path / "data").exists()


def test_fd_host_without_a_service_manager_says_so(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "portside.engine",
            "-H",
            "fd://",
            "--data-root",
            str(tmp_path / "data"),
            "--exec-root",
            str(tmp_path / "exec"),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert "no sockets found via socket activation" in done.stderr


def test_socket_activation_serves_the_inherited_socket() -> None:
    activate = shutil.which("systemd-socket-activate")
    assert activate, "systemd-socket-activate (package systemd) is needed"
    e = PortsideEngine()
    try:
        cmd = [
            activate,
            "-l",
            str(e.socket),
            sys.executable,
            "-m",
            "portside.engine",
            "-H",
            "fd://",
            "-G",
            "",
            "--data-root",
            str(e.data_root),
            "--exec-root",
            str(e.exec_root),
            "--config-file",
            str(e.config_file),
        ]
        # The first connection starts the engine (systemd-socket-activate execs it with
        # the socket as descriptor 3); start_daemon's ping is that connection.
        e.proc = start_daemon(cmd, e.log_path, e.socket, "socket-activated portsided", 60)
        assert pings(e.socket)
        assert "API listening on fd://" in e.log()
        e.stop()
        # The socket is the service manager's: the engine leaves it in place.
        assert e.socket.exists()
    finally:
        e.cleanup()


def test_listen_fds_follows_sd_listen_fds() -> None:
    env = {"LISTEN_PID": str(os.getpid() + 1), "LISTEN_FDS": "1"}
    assert listen_fds(env) == [] and env == {}, "another process's sockets are not ours"
    env = {"LISTEN_PID": str(os.getpid()), "LISTEN_FDS": "2", "LISTEN_FDNAMES": "a:b"}
    assert listen_fds(env, unset=False) == [3, 4]
    assert listen_fds(env) == [3, 4] and env == {}, "unset: children never see them"
    with pytest.raises(ActivationError, match="no sockets found"):
        activated_sockets({})
    with pytest.raises(ActivationError, match="invalid"):
        listen_fds({"LISTEN_PID": "x", "LISTEN_FDS": "1"})


def test_default_group_is_used_only_when_it_exists(monkeypatch: pytest.MonkeyPatch) -> None:
    from portside.engine.api.web import socketgroup

    users = grp.getgrnam(GROUP).gr_gid
    monkeypatch.setattr(socketgroup, "DEFAULT_GROUP", GROUP)
    assert socketgroup.socket_gid(None) == users, "the default group, present: used"
    monkeypatch.setattr(socketgroup, "DEFAULT_GROUP", "no-such-group-here")
    assert socketgroup.socket_gid(None) is None, "the default group, absent: root's socket"
    with pytest.raises(socketgroup.UnknownGroup):
        socketgroup.socket_gid("no-such-group-here")
    assert socketgroup.socket_gid(str(users)) == users
    assert socketgroup.socket_gid("") is None
