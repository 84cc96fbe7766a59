"""Real engines for the client's contract tests: Portside's own and, if installed, dockerd.

The same tests run against both (``real_engine`` is parametrized), which is how we
know the client speaks Docker's API and not merely Portside's reading of it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support.engine import PortsideEngine, _kill_leftovers, _unmount_under

DOCKERD = shutil.which("dockerd") or "/usr/sbin/dockerd"


class Dockerd:
    """A private dockerd: own socket, data-root, exec-root; no bridge, no iptables."""

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
            "--host",
            self.host,
            "--data-root",
            str(self.base / "data"),
            "--exec-root",
            str(self.base / "exec"),
            "--pidfile",
            str(self.base / "dockerd.pid"),
            "--config-file",
            str(self.config),
            "--bridge=none",
            "--iptables=false",
            "--ip6tables=false",
            "--ip-masq=false",
            "--userland-proxy=false",
            "--cgroup-parent",
            f"/portside-test-{self.base.name}",
        ]
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            cmd, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dockerd exited {self.proc.returncode}:\n{self.log()}")
            try:
                with httpx.Client(transport=httpx.HTTPTransport(uds=str(self.socket))) as c:
                    if c.get("http://docker/_ping", timeout=2).status_code == 200:
                        return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"dockerd did not answer:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-4000:]
        except FileNotFoundError:
            return ""

    def docker(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env["DOCKER_HOST"] = self.host
        env["DOCKER_CONFIG"] = str(self.base / "docker-config")
        res = subprocess.run(
            ["docker", *args], env=env, capture_output=True, text=True, timeout=120
        )
        if res.returncode != 0:
            raise AssertionError(f"docker {args} failed: {res.stderr}\n{self.log()}")
        return res

    def cleanup(self) -> None:
        try:
            with httpx.Client(transport=httpx.HTTPTransport(uds=str(self.socket))) as c:
                for ctr in c.get("http://docker/containers/json?all=1", timeout=10).json():
                    c.delete(f"http://docker/containers/{ctr['Id']}?force=1&v=1", timeout=30)
        except Exception:
            pass
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


@pytest.fixture(scope="module")
def dockerd(busybox_tar: Path) -> Iterator[Dockerd]:
    """A dockerd with busybox loaded; skipped when Debian's docker.io is not installed."""
    if not os.path.exists(DOCKERD):
        pytest.skip("dockerd is not installed (apt-get install docker.io)")
    if os.geteuid() != 0:
        pytest.skip("dockerd needs root")
    d = Dockerd()
    try:
        d.start()
        d.docker("load", "-i", str(busybox_tar))
        yield d
    finally:
        d.cleanup()


@pytest.fixture(scope="module", params=["portsided", "dockerd"])
def real_engine(request: pytest.FixtureRequest) -> PortsideEngine | Dockerd:
    """Each contract test runs once against portsided and once against dockerd."""
    if request.param == "portsided":
        engine = request.getfixturevalue("shared_engine")
        engine.name = "portsided"
        return engine
    return request.getfixturevalue("dockerd")
