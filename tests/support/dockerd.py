"""Debian's dockerd as the reference engine: a private socket, data-root and exec-root,
no bridge and no iptables, removed with everything it made (containers, mounts,
processes) even when the test fails.

Tests compare Portside's answers with dockerd's (the app against both, the classic
builder, image interop): one launcher for all of them.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support.engine import _kill_leftovers, _unmount_under, start_daemon

DOCKERD = shutil.which("dockerd") or "/usr/sbin/dockerd"


class Dockerd:
    """One private dockerd; :meth:`start` it, :meth:`cleanup` it."""

    name = "dockerd"

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="psdockerd-", dir="/tmp"))
        self.socket = self.base / "docker.sock"
        self.log_path = self.base / "dockerd.log"
        self.config = self.base / "daemon.json"
        self.config.write_text(json.dumps({}))
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def start(self, timeout: float = 60.0) -> None:
        cmd = [
            DOCKERD,
            "--host", self.host,
            "--data-root", str(self.base / "data"),
            "--exec-root", str(self.base / "exec"),
            "--pidfile", str(self.base / "dockerd.pid"),
            "--config-file", str(self.config),
            "--bridge=none",
            "--iptables=false",
            "--ip6tables=false",
            "--ip-masq=false",
            "--userland-proxy=false",
            "--cgroup-parent", f"/portside-test-{self.base.name}",
        ]  # fmt: skip
        self.proc = start_daemon(cmd, self.log_path, self.socket, "dockerd", timeout)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except FileNotFoundError:
            return ""

    def env(self) -> dict[str, str]:
        """The docker CLI's environment for this daemon (classic builder, own config)."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env["DOCKER_HOST"] = self.host
        env["DOCKER_CONFIG"] = str(self.base / "docker-config")
        env["DOCKER_BUILDKIT"] = "0"
        return env

    def docker(
        self, *args: str, check: bool = True, timeout: float = 180
    ) -> subprocess.CompletedProcess[str]:
        """Run the real docker CLI against this dockerd."""
        res = subprocess.run(
            ["docker", *args], env=self.env(), capture_output=True, text=True, timeout=timeout
        )
        if check and res.returncode != 0:
            raise AssertionError(f"dockerd: docker {' '.join(args)}: {res.stderr}\n{self.log()}")
        return res

    def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """One raw API request."""
        with httpx.Client(
            transport=httpx.HTTPTransport(uds=str(self.socket)),
            base_url="http://docker",
            timeout=30,
        ) as c:
            return c.request(method, path, **kw)

    def cleanup(self) -> None:
        try:
            with httpx.Client(transport=httpx.HTTPTransport(uds=str(self.socket))) as c:
                for ctr in c.get("http://docker/containers/json?all=1", timeout=10).json():
                    c.delete(f"http://docker/containers/{ctr['Id']}?force=1&v=1", timeout=30)
        except Exception:
            pass  # a daemon that did not start or is already gone has nothing to remove
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        _kill_leftovers(self.base)
        _unmount_under(self.base)
        shutil.rmtree(self.base, ignore_errors=True)


def running_dockerd(busybox_tar: Path | None = None) -> Iterator[Dockerd]:
    """A started dockerd (with busybox loaded when given), cleaned up afterwards: the body
    of the ``dockerd`` fixtures. dockerd is installed by ``packaging/dev.sh test``, so a
    missing one is a failure, not a skip."""
    if os.geteuid() != 0:
        pytest.fail("dockerd needs root")
    if not os.path.exists(DOCKERD):
        pytest.fail("dockerd is not installed (packaging/dev.sh test installs docker.io)")
    d = Dockerd()
    try:
        d.start()
        if busybox_tar is not None:
            d.docker("load", "-i", str(busybox_tar))
        yield d
    finally:
        d.cleanup()
