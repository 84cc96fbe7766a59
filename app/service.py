"""``portside engine status|start|stop``: the engine as a system service.

Installed from the package, the engine is systemd's ``portside.service``, started on the
first connection to ``portside.socket`` (``0660 root:portside``). ``start``/``stop`` go
through ``systemctl`` (which asks for authorisation itself) when systemd runs the system;
elsewhere they say how to run ``portsided`` by hand. ``status`` also asks the socket, so it
tells "not running", "running" and "running, but you may not use it" apart everywhere.
Qt-free: it works in an engine-only or headless install.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import socket
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .client.address import PORTSIDE_SOCKET

UNITS = ("portside.socket", "portside.service")
GROUP = "portside"
# LSB's "program is not running" status, which systemctl status uses as well.
NOT_RUNNING = 3


@dataclass
class Probe:
    """What the engine's socket answered."""

    state: str  # "running", "stopped" or "denied"
    detail: str


def probe(path: str = PORTSIDE_SOCKET, timeout: float = 5.0) -> Probe:
    """Ask ``/version`` on the socket at ``path``."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        try:
            s.connect(path)
        except PermissionError:
            return Probe("denied", f"this user may not connect to {path}")
        except (FileNotFoundError, ConnectionRefusedError):
            return Probe("stopped", f"nothing listens on {path}")
        except OSError as e:
            return Probe("stopped", f"{path}: {e.strerror or e}")
        try:
            s.sendall(b"GET /version HTTP/1.0\r\nHost: portside\r\n\r\n")
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
        except OSError as e:
            return Probe("stopped", f"{path} did not answer: {e.strerror or e}")
    head, _, body = answer.partition(b"\r\n\r\n")
    if not head.startswith((b"HTTP/1.0 200", b"HTTP/1.1 200")):
        status_line = head.split(b"\r\n")[0].decode(errors="replace")
        return Probe("stopped", f"{path} answered {status_line}")
    try:
        version = json.loads(body)
        name = (version.get("Platform") or {}).get("Name") or "engine"
        label = f"{name} {version.get('Version', '')}, API {version.get('ApiVersion', '')}"
    except (ValueError, AttributeError):
        label = "an engine"
    return Probe("running", f"{label} on unix://{path}")


def systemd_running() -> bool:
    """sd_booted(3): whether systemd manages this system (it made this directory)."""
    return Path("/run/systemd/system").is_dir()


def _pid1() -> str:
    try:
        return Path("/proc/1/comm").read_text().strip()
    except OSError:
        return "unknown"


def _not_systemd(action: str) -> int:
    how = {
        "start": f"as root, run:  portsided -G {GROUP}",
        "stop": "stop the portsided process you started (Ctrl-C, or kill its process id)",
    }[action]
    print(
        f"portside: systemd does not run this system (process 1 is {_pid1()}), so the "
        f"engine is not a service here; to {action} it, {how}",
        file=sys.stderr,
    )
    return 1


def _systemctl(*args: str) -> int:
    systemctl = shutil.which("systemctl")
    if systemctl is None:
        print("portside: systemctl is not installed", file=sys.stderr)
        return 1
    return subprocess.run([systemctl, *args]).returncode


def status(path: str) -> int:
    found = probe(path)
    if found.state == "running":
        print(f"Portside engine: running — {found.detail}")
    elif found.state == "denied":
        user = os.environ.get("USER") or "$USER"
        print(
            f"Portside engine: running, but {found.detail}: join the {GROUP} group "
            f"(sudo usermod -aG {GROUP} {user}) and log in again"
        )
    else:
        print(f"Portside engine: not running — {found.detail}")
    if systemd_running() and shutil.which("systemctl"):
        for unit in UNITS:
            state = subprocess.run(
                ["systemctl", "is-active", unit], capture_output=True, text=True
            ).stdout.strip()
            print(f"  {unit}: {state or 'unknown'}")
    return {"running": 0, "denied": 1}.get(found.state, NOT_RUNNING)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="portside engine", description=__doc__.split("\n")[0])
    p.add_argument(
        "-H", "--host", default=f"unix://{PORTSIDE_SOCKET}", help="engine socket (unix://…)"
    )
    p.add_argument("action", choices=("status", "start", "stop"))
    args = p.parse_args(argv)
    path = args.host.removeprefix("unix://")
    if args.action == "status":
        return status(path)
    if not systemd_running():
        return _not_systemd(args.action)
    if args.action == "start":
        # The socket first: the service starts on its first connection, or now.
        code = _systemctl("start", *UNITS)
    else:
        code = _systemctl("stop", "portside.service", "portside.socket")
    if code == 0 and args.action == "start":
        return status(path)
    return code
