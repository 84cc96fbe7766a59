"""docker-compose (Debian's 1.29, built on docker-py) drives the engine unchanged: a project
network where services find each other by name, a named volume, exec, logs, and a `down -v`
that leaves nothing behind."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from support.engine import PortsideEngine
from support.waiting import wait_for

pytestmark = pytest.mark.skipif(
    shutil.which("docker-compose") is None,
    reason="docker-compose is not installed (packaging/dev.sh test installs it)",
)

PROJECT = """\
version: "3.8"
services:
  web:
    image: busybox
    command:
      - sh
      - -c
      - mkdir -p /www && echo hello-from-web > /www/index.html && httpd -f -p 8080 -h /www
  client:
    image: busybox
    depends_on: [web]
    command: ["sh", "-c", "until wget -qO- http://web:8080/; do sleep 0.2; done; echo done"]
  data:
    image: busybox
    command: ["sh", "-c", "echo kept > /data/f; sleep 3600"]
    volumes: ["store:/data"]
volumes:
  store: {}
"""


def compose(engine: PortsideEngine, project: Path, *args: str) -> str:
    res = subprocess.run(
        ["docker-compose", "-p", "demo", *args],
        cwd=project,
        env=engine.env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 0, f"docker-compose {' '.join(args)}:\n{res.stdout}\n{res.stderr}"
    return res.stdout


def test_compose_project_lifecycle(engine_with_busybox: PortsideEngine, tmp_path: Path) -> None:
    e = engine_with_busybox
    (tmp_path / "docker-compose.yml").write_text(PROJECT)
    compose(e, tmp_path, "up", "-d")

    def client_done() -> bool:
        return "done" in compose(e, tmp_path, "logs", "--no-color", "client")

    wait_for(client_done, timeout=30)
    logs = compose(e, tmp_path, "logs", "--no-color", "client")
    assert "hello-from-web" in logs  # the service name resolved on the project network

    ps = compose(e, tmp_path, "ps")
    assert "demo_web_1" in ps and "demo_data_1" in ps
    labelled = e.docker("ps", "-q", "--filter", "label=com.docker.compose.project=demo").stdout
    assert len(labelled.split()) == 2  # web and data still run; client exited 0
    assert compose(e, tmp_path, "exec", "-T", "data", "cat", "/data/f").strip() == "kept"
    net = json.loads(e.docker("network", "inspect", "demo_default").stdout)[0]
    assert net["Labels"]["com.docker.compose.network"] == "default"

    compose(e, tmp_path, "down", "-v", "-t", "1")
    assert e.docker("ps", "-aq").stdout.strip() == ""
    assert "demo_default" not in e.docker("network", "ls").stdout
    assert "demo_store" not in e.docker("volume", "ls", "-q").stdout
