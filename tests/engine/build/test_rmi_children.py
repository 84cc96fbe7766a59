"""``docker rmi`` of an image other images were built on, by the real docker CLI against
the engine and against dockerd (moby's checkImageDeleteConflict): deleting it by id is
a hard conflict ("image has dependent child images", even with ``-f``); deleting it by
name only untags it; deleting the child takes the untagged chain below it along."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Callable
from pathlib import Path

from buildctx import docker_build, write_context
from support.dockerd import Dockerd
from support.engine import PortsideEngine

Docker = Callable[..., subprocess.CompletedProcess[str]]

DOCKERFILE = 'FROM busybox\nRUN echo hi > /built\nCMD ["cat", "/built"]\n'


def _ours(e: PortsideEngine) -> tuple[Docker, Docker]:
    def docker(*args: str) -> subprocess.CompletedProcess[str]:
        return e.docker(*args, check=False)

    def build(*args: str) -> subprocess.CompletedProcess[str]:
        return docker_build(e, *args)

    return docker, build


def _theirs(d: Dockerd) -> tuple[Docker, Docker]:
    def docker(*args: str) -> subprocess.CompletedProcess[str]:
        return d.docker(*args, check=False)

    def build(*args: str) -> subprocess.CompletedProcess[str]:
        return d.docker("build", *args, check=False)

    return docker, build


def _image_id(docker: Docker, ref: str) -> str:
    res = docker("image", "inspect", "-f", "{{.Id}}", ref)
    assert res.returncode == 0, res.stderr
    return res.stdout.strip()


def _scenario(docker: Docker, build: Docker, ctx: Path, tag: str) -> list[str]:
    """Run the deletions; returns what each one answered, ids masked."""
    base = _image_id(docker, "busybox")
    built = build("-t", tag, str(ctx))
    assert built.returncode == 0, built.stderr + built.stdout
    child = _image_id(docker, tag)
    history = docker("history", "-q", tag).stdout.split()
    step = next(h for h in history if h not in (child[7:19], base[7:19]) and h != "<missing>")
    seen: list[str] = []

    def answer(*args: str) -> None:
        res = docker(*args)
        text = (res.stdout + res.stderr).strip()
        text = text.replace(base[7:19], "<base>").replace(step, "<step>")
        text = re.sub(r"sha256:[0-9a-f]{64}", "sha256:<id>", text)
        seen.append(f"{res.returncode} {text}")

    answer("rmi", base[7:19])  # by id, tagged once: the child makes it a hard conflict
    answer("rmi", "-f", base)
    answer("rmi", step)  # an untagged step image below the tagged child
    answer("rmi", "-f", step)
    answer("rmi", "busybox")  # by name: only the tag goes, the image stays
    assert docker("image", "inspect", base).returncode == 0
    answer("rmi", base[7:19])  # untagged now, still the parent of the step image
    res = docker("rmi", tag)  # the child takes its untagged chain along
    assert res.returncode == 0, res.stderr
    assert f"Deleted: {child}" in res.stdout
    for gone in (child, base):
        assert docker("image", "inspect", gone).returncode != 0, gone
    return seen


def test_rmi_parent_with_dependent_children(
    engine_with_busybox: PortsideEngine, dockerd: Dockerd, tmp_path: Path
) -> None:
    ctx = write_context(tmp_path / "ctx", {"Dockerfile": DOCKERFILE})
    ours = _scenario(*_ours(engine_with_busybox), ctx, "kid:ours")
    theirs = _scenario(*_theirs(dockerd), ctx, "kid:theirs")
    hard = "(cannot be forced) - image has dependent child images"
    assert ours[0] == f"1 Error response from daemon: conflict: unable to delete <base> {hard}"
    assert ours[1] == ours[0]
    assert ours[2] == f"1 Error response from daemon: conflict: unable to delete <step> {hard}"
    assert ours[3] == ours[2]
    assert ours[4] == "0 Untagged: busybox:latest"
    assert ours[5] == ours[0]
    assert ours == theirs


def test_rmi_by_id_with_a_stopped_container_needs_force(
    engine_with_busybox: PortsideEngine, tmp_path: Path
) -> None:
    """The soft conflict of a stopped container still applies to an image without
    children; ``-f`` overrides it (a running container's cannot be)."""
    e = engine_with_busybox
    ctx = write_context(tmp_path / "ctx", {"Dockerfile": DOCKERFILE})
    assert docker_build(e, "-t", "leaf:1", str(ctx)).returncode == 0
    leaf = _image_id(e.docker, "leaf:1")
    e.docker("create", "--name", "stopped", "leaf:1")
    res = e.docker("rmi", leaf[7:19], check=False)
    assert res.returncode == 1
    assert "(must be forced) - image is being used by stopped container" in res.stderr
    e.docker("run", "-d", "--name", "running", "leaf:1", "sleep", "60")
    res = e.docker("rmi", "-f", leaf[7:19], check=False)
    assert "(cannot be forced) - image is being used by running container" in res.stderr
    e.docker("rm", "-f", "running")
    res = e.docker("rmi", "-f", leaf[7:19], check=False)
    assert res.returncode == 0, res.stderr
    assert "Untagged: leaf:1" in res.stdout
