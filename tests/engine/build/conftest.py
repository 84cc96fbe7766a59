"""A private dockerd whose classic builder (driven by the real docker CLI) is the
reference for the parser, the lexer and ``.dockerignore``."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest


class Dockerd:
    """Debian's dockerd on a private socket and data-root (no bridge, no iptables)."""

    def __init__(self) -> None:
        self.base = Path(tempfile.mkdtemp(prefix="pst-ignore-dockerd-"))
        self.sock = self.base / "docker.sock"
        with open(self.base / "log", "wb") as log:
            self.proc = subprocess.Popen(
                ["dockerd", "-H", f"unix://{self.sock}", "--data-root", str(self.base / "data"),
                 "--exec-root", str(self.base / "exec"), "--pidfile", str(self.base / "pid"),
                 "--bridge=none", "--iptables=false", "--ip6tables=false"],
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        deadline = time.monotonic() + 60
        while self.docker("version", check=False).returncode != 0:
            if self.proc.poll() is not None or time.monotonic() > deadline:
                log_text = (self.base / "log").read_text(errors="replace")[-2000:]
                self.stop()
                raise RuntimeError(f"dockerd did not start:\n{log_text}")
            time.sleep(0.2)

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("DOCKER_")}
        env["DOCKER_HOST"] = f"unix://{self.sock}"
        env["DOCKER_CONFIG"] = str(self.base / "cfg")
        env["DOCKER_BUILDKIT"] = "0"  # the classic builder: the CLI filters the context
        res = subprocess.run(
            ["docker", *args], env=env, capture_output=True, text=True, timeout=180
        )
        if check and res.returncode:
            raise AssertionError(f"docker {' '.join(args)}: {res.stderr}")
        return res

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        mounts = [
            line.split()[1]
            for line in Path("/proc/self/mounts").read_text().splitlines()
            if line.split()[1].startswith(str(self.base))
        ]
        for m in sorted(mounts, reverse=True):
            subprocess.run(["umount", "-l", m], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)


@pytest.fixture(scope="module")
def dockerd(busybox_tar: Path) -> Iterator[Dockerd]:
    if os.geteuid() != 0:
        pytest.fail("dockerd needs root")
    d = Dockerd()
    try:
        d.docker("load", "-i", str(busybox_tar))
        yield d
    finally:
        d.stop()
