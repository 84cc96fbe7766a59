"""docker-compose v1 (Debian's 1.29, docker-py underneath) builds a service with
``build:`` — context, dockerfile, args, target — and runs it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from buildctx import write_context
from support.engine import PortsideEngine

PROJECT = """\
version: "3.8"
services:
  app:
    build:
      context: ./app
      dockerfile: Build.df
      target: final
      args:
        MESSAGE: from-compose
    image: composed/app:1
    command: ["cat", "/message"]
"""

DOCKERFILE = """\
FROM busybox AS base
ARG MESSAGE=unset
RUN echo "$MESSAGE" > /message
FROM base AS final
COPY extra /extra
"""


def test_compose_build(shared_engine: PortsideEngine, tmp_path: Path) -> None:
    write_context(
        tmp_path,
        {"docker-compose.yml": PROJECT, "app/Build.df": DOCKERFILE, "app/extra": "e\n"},
    )
    env = shared_engine.env()
    env["DOCKER_BUILDKIT"] = "0"
    env["COMPOSE_DOCKER_CLI_BUILD"] = "0"

    def compose(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["docker-compose", "-p", "bld", *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )

    built = compose("build")
    assert built.returncode == 0, built.stdout + built.stderr
    assert "Successfully tagged composed/app:1" in built.stdout + built.stderr
    ran = compose("run", "--rm", "app")
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.strip().endswith("from-compose")
    down = compose("down")
    assert down.returncode == 0, down.stderr
