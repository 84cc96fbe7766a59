"""A real ``portsided`` for tests: its own data-root, exec-root, socket and bridge name.

Every engine is torn down completely even when the test fails: containers removed
through the API, the daemon stopped, and then — as a safety net for a crashed engine —
leftover conmon processes killed, runtime state deleted, mounts under its roots
unmounted and its cgroups removed.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

REPO = Path(__file__).resolve().parents[2]


def pings(path: Path) -> bool:
    """Whether an engine answers ``/_ping`` with 200 on the unix socket ``path``.

    A plain socket, closed on every path: httpx's sync unix transport leaks the socket
    of each refused connection, which the app tests' ``strict_warnings`` would report.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(2)
        try:
            s.connect(str(path))
            s.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
            return s.recv(64).startswith((b"HTTP/1.0 200", b"HTTP/1.1 200"))
        except OSError:
            return False


def start_daemon(
    cmd: list[str], log_path: Path, sock: Path, what: str, timeout: float
) -> subprocess.Popen[bytes]:
    """Start a Docker-API daemon (ours or dockerd) logging to ``log_path``, in its own
    session, and wait until it answers on ``sock``; RuntimeError with its log if not."""
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited {proc.returncode}:\n{_tail(log_path)}")
        if pings(sock):
            return proc
        time.sleep(0.05)
    proc.kill()  # the caller's cleanup still removes what it made
    proc.wait()
    raise RuntimeError(f"{what} did not answer within {timeout}s:\n{_tail(log_path)}")


def _tail(path: Path, size: int = 4000) -> str:
    try:
        return path.read_text(errors="replace")[-size:]
    except OSError:
        return ""


class PortsideEngine:
    """One isolated engine process and the helpers tests use to drive it."""

    def __init__(
        self,
        base: Path | None = None,
        extra_config: dict[str, Any] | None = None,
        log_level: str = "debug",
        runtime: str | None = None,
    ):
        self.log_level = log_level
        # None: the engine picks its runtime itself (crun where it works, else runc)
        self.runtime = runtime
        self.base = Path(tempfile.mkdtemp(prefix="pse-", dir=base or "/tmp"))
        self.tag = uuid.uuid4().hex[:6]
        self.data_root = self.base / "data"
        self.exec_root = self.base / "exec"
        self.socket = self.base / "engine.sock"
        self.log_path = self.base / "engine.log"
        self.docker_config = self.base / "docker-config"
        self.docker_config.mkdir()
        self.config_file = self.base / "daemon.json"
        config: dict[str, Any] = {
            # Unique names so engines on one machine never share a bridge or table.
            "bridge": f"ps{self.tag}",
            "ip-masq": False,
            # Containers in tests get no resolver off the machine.
            "dns": ["127.0.0.1"],
        }
        config.update(extra_config or {})
        self.config_file.write_text(json.dumps(config))
        self.proc: subprocess.Popen[bytes] | None = None

    # -- lifecycle ---------------------------------------------------------------------
    @property
    def host(self) -> str:
        """The DOCKER_HOST value for this engine."""
        return f"unix://{self.socket}"

    def start(self, timeout: float = 20.0) -> None:
        """Start the daemon and wait until ``/_ping`` answers."""
        cmd = [
            sys.executable,
            "-m",
            "portside.engine",
            "-H",
            self.host,
            "--data-root",
            str(self.data_root),
            "--exec-root",
            str(self.exec_root),
            "--config-file",
            str(self.config_file),
            "--log-level",
            self.log_level,
            *(["--runtime", self.runtime] if self.runtime else []),
        ]
        self.proc = start_daemon(cmd, self.log_path, self.socket, "portsided", timeout)

    def ping(self) -> bool:
        """Whether ``/_ping`` answers 200."""
        return pings(self.socket)

    def stop(self) -> None:
        """SIGTERM the daemon (containers keep running)."""
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def kill9(self) -> None:
        """SIGKILL the daemon, as a crash would."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait()
        self.proc = None

    def restart(self) -> None:
        """Start the daemon again on the same roots."""
        self.stop()
        self.start()

    def log(self) -> str:
        """The daemon's log so far."""
        try:
            return self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    # -- clients -----------------------------------------------------------------------
    def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """One raw API request."""
        transport = httpx.HTTPTransport(uds=str(self.socket))
        with httpx.Client(
            transport=transport, base_url="http://portside", timeout=kw.pop("timeout", 30)
        ) as c:
            return c.request(method, path, **kw)

    def env(self) -> dict[str, str]:
        """Environment for the docker CLI pointed at this engine only."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env["DOCKER_HOST"] = self.host
        env["DOCKER_CONFIG"] = str(self.docker_config)
        return env

    def docker(
        self, *args: str, check: bool = True, timeout: float = 60, input: bytes | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run the real docker CLI against this engine."""
        res = subprocess.run(
            ["docker", *args],
            env=self.env(),
            capture_output=True,
            timeout=timeout,
            input=input.decode() if input else None,
            text=True,
        )
        if check and res.returncode != 0:
            raise AssertionError(
                f"docker {' '.join(args)} exited {res.returncode}\nstdout: {res.stdout}\n"
                f"stderr: {res.stderr}\nengine log tail:\n{self.log()[-4000:]}"
            )
        return res

    def client(self):  # type: ignore[no-untyped-def]
        """A docker-py client."""
        import docker

        return docker.DockerClient(base_url=self.host, timeout=60)

    # -- teardown ----------------------------------------------------------------------
    def cleanup(self) -> None:
        """Remove everything this engine made, whatever state it is in."""
        try:
            if self.proc and self.proc.poll() is None:
                for c in self.api("GET", "/containers/json?all=1", timeout=10).json():
                    self.api("DELETE", f"/containers/{c['Id']}?force=1&v=1", timeout=30)
        except Exception:
            pass
        self.stop()
        _kill_leftovers(self.base)
        _unmount_under(self.base)
        _remove_cgroups(self.data_root)
        _remove_network_leftovers(self.tag)
        shutil.rmtree(self.base, ignore_errors=True)


def _kill_leftovers(base: Path) -> None:
    """Kill processes (conmon and their containers) whose command line names our roots."""
    mark = str(base)
    for pid_dir in Path("/proc").iterdir():
        if not pid_dir.name.isdigit():
            continue
        try:
            cmd = (pid_dir / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if mark in cmd and int(pid_dir.name) != os.getpid():
            try:
                os.killpg(int(pid_dir.name), signal.SIGKILL)
            except OSError:
                pass
            try:
                os.kill(int(pid_dir.name), signal.SIGKILL)
            except OSError:
                pass
    runtime_root = base / "exec" / "runtime"
    if runtime_root.is_dir():
        for rt in ("runc", "crun"):
            for state in runtime_root.glob("*"):
                subprocess.run(
                    [rt, "--root", str(runtime_root), "delete", "-f", state.name],
                    capture_output=True,
                    timeout=10,
                )


def _unmount_under(base: Path) -> None:
    prefix = str(base) + "/"
    for _ in range(3):
        mounts = []
        for line in Path("/proc/self/mountinfo").read_text().splitlines():
            mnt = line.split()[4].encode().decode("unicode_escape")
            if mnt.startswith(prefix):
                mounts.append(mnt)
        if not mounts:
            return
        for mnt in sorted(mounts, key=len, reverse=True):
            subprocess.run(["umount", "-l", mnt], capture_output=True)


def _remove_cgroups(data_root: Path) -> None:
    """Remove the cgroups named after this engine's containers. Other engines create and
    remove cgroups meanwhile, so the walk ignores directories that vanish under it."""
    containers = data_root / "containers"
    ids = {p.name for p in containers.iterdir()} if containers.is_dir() else set()
    if not ids:
        return
    found = []
    for top, dirs, _files in os.walk("/sys/fs/cgroup", onerror=lambda _e: None):
        for name in dirs:
            if name in ids:
                found.append(Path(top, name))
    for cg in found:
        # Children before parents: a cgroup directory goes only once it is empty.
        for top, _dirs, _files in sorted(
            os.walk(cg, onerror=lambda _e: None), key=lambda w: len(w[0]), reverse=True
        ):
            try:
                os.rmdir(top)
            except OSError:
                pass


def _remove_network_leftovers(tag: str) -> None:
    """Delete bridges/veths and the nft table that carry this engine's tag.

    Every link the engine creates (user bridges ``br-<id>``, veths) carries the interface
    alias ``portside/<default bridge>``, whatever its name.
    """
    subprocess.run(["ip", "link", "del", f"ps{tag}"], capture_output=True)
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.rstrip().endswith(f"alias portside/ps{tag}"):
            name = line.split(":")[1].strip().split("@")[0]
            subprocess.run(["ip", "link", "del", name], capture_output=True)
    subprocess.run(["nft", "delete", "table", "inet", f"portside_ps{tag}"], capture_output=True)
