"""The docker context ``machine init`` writes, read by the real docker CLI."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from portside.vm.context import context_exists, remove_context, write_context
from support.engine import PortsideEngine


def _docker(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["docker", "--config", str(config), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_docker_cli_lists_and_uses_the_context(tmp_path: Path, engine: PortsideEngine) -> None:
    config = tmp_path / "docker-config"
    write_context("portside-ctx", engine.socket, "Portside machine ctx", config)

    listed = _docker(config, "context", "ls", "--format", "{{json .}}")
    assert listed.returncode == 0, listed.stderr
    rows = [json.loads(line) for line in listed.stdout.splitlines()]
    mine = [r for r in rows if r["Name"] == "portside-ctx"]
    assert mine and mine[0]["DockerEndpoint"] == f"unix://{engine.socket}"
    assert mine[0]["Description"] == "Portside machine ctx"

    version = _docker(
        config, "--context", "portside-ctx", "version", "--format", "{{json .Server}}"
    )
    assert version.returncode == 0, version.stderr
    assert "Portside" in version.stdout


def test_remove_forgets_the_context_and_resets_the_current_one(tmp_path: Path) -> None:
    config = tmp_path / "docker-config"
    write_context("portside-gone", tmp_path / "docker.sock", "x", config)
    used = _docker(config, "context", "use", "portside-gone")
    assert used.returncode == 0, used.stderr
    assert json.loads((config / "config.json").read_text())["currentContext"] == "portside-gone"

    remove_context("portside-gone", config)

    assert not context_exists("portside-gone", config)
    listed = _docker(config, "context", "ls", "--format", "{{.Name}}")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.split() == ["default"]
    assert "currentContext" not in json.loads((config / "config.json").read_text())


def test_docker_config_env_decides_the_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "env-config"))
    write_context("portside-env", tmp_path / "d.sock", "x")
    assert context_exists("portside-env", tmp_path / "env-config")
    inspected = subprocess.run(
        ["docker", "context", "inspect", "portside-env"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert inspected.returncode == 0, inspected.stderr
    assert (
        json.loads(inspected.stdout)[0]["Endpoints"]["docker"]["Host"]
        == f"unix://{tmp_path}/d.sock"
    )
