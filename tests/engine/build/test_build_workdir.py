"""WORKDIR creates its directory, as dockerd's classic builder does (dispatchWorkdir:
a container is created, its working directory made, and the container committed):
new directories are root's, 0755, whatever USER says; the step has a layer only when
something was created; symlinks resolve inside the image; a file in the way fails the
build. Each build runs on the engine and on dockerd and the images are compared."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from buildctx import docker_build, write_context
from support.dockerd import Dockerd
from support.engine import PortsideEngine

Docker = Callable[..., subprocess.CompletedProcess[str]]

DOCKERFILE = """\
FROM busybox
RUN ln -s /tmp /linked
WORKDIR /app/sub
USER 1000
WORKDIR rel
WORKDIR ../other
WORKDIR /tmp
RUN touch /tmp/x
WORKDIR /tmp
WORKDIR /linked/deep/er
"""

CREATED = ["/app", "/app/sub", "/app/sub/rel", "/app/sub/other", "/tmp/deep", "/tmp/deep/er"]


class _Side:
    """The docker CLI against one daemon."""

    def __init__(self, docker: Docker, build: Docker, base: Path) -> None:
        self.docker, self.build, self.base = docker, build, base

    def saved(self, ref: str) -> tuple[dict[str, Any], list[list[tuple[Any, ...]]]]:
        """The image's config and, per layer, its entries (name, type, mode, uid, gid)."""
        out = self.base / f"{ref.replace(':', '_')}.tar"
        res = self.docker("save", "-o", str(out), ref)
        assert res.returncode == 0, res.stderr
        with tarfile.open(out) as outer:
            manifest = json.load(outer.extractfile("manifest.json"))[0]  # type: ignore[arg-type]
            config = json.load(outer.extractfile(manifest["Config"]))  # type: ignore[arg-type]
            layers = []
            for name in manifest["Layers"]:
                data = outer.extractfile(name).read()  # type: ignore[union-attr]
                with tarfile.open(fileobj=io.BytesIO(data)) as inner:
                    members = inner.getmembers()
                    # modes without the type bits, which Go's tar writer adds
                    layers.append(
                        [(m.name, m.type, oct(m.mode & 0o7777), m.uid, m.gid) for m in members]
                    )
        return config, layers


def _ours(e: PortsideEngine, base: Path) -> _Side:
    return _Side(
        lambda *a: e.docker(*a, check=False), lambda *a: docker_build(e, *a), base / "ours"
    )


def _theirs(d: Dockerd, base: Path) -> _Side:
    def build(*a: str) -> subprocess.CompletedProcess[str]:
        return d.docker("build", *a, check=False)

    return _Side(lambda *a: d.docker(*a, check=False), build, base / "theirs")


def _observe(side: _Side, ctx: Path) -> dict[str, Any]:
    side.base.mkdir(parents=True)
    first = side.build("-t", "wd:1", str(ctx))
    assert first.returncode == 0, first.stderr + first.stdout
    again = side.build("-t", "wd:1", str(ctx))
    assert again.returncode == 0, again.stderr
    config, layers = side.saved("wd:1")
    stat = side.docker(
        "run", "--rm", "--network", "none", "-u", "0", "wd:1",
        "stat", "-c", "%n %F %a %u:%g", *CREATED,
    )  # fmt: skip
    assert stat.returncode == 0, stat.stderr
    history = [(h["created_by"], bool(h.get("empty_layer"))) for h in config["history"]]
    with_layer = [by for by, empty in history if not empty]
    return {
        "history": history,
        "workdir": config["config"]["WorkingDir"],
        "layers": [  # WORKDIR's (a RUN's diff differs in what the runtime adds)
            (by, layer) for by, layer in zip(with_layer, layers, strict=True) if "WORKDIR" in by
        ],
        "cached": again.stdout.count("Using cache"),
        "stat": stat.stdout.splitlines(),
    }


def test_workdir_creates_its_directory_as_dockerd(
    shared_engine: PortsideEngine, dockerd: Dockerd, tmp_path: Path
) -> None:
    ctx = write_context(tmp_path / "ctx", {"Dockerfile": DOCKERFILE})
    ours = _observe(_ours(shared_engine, tmp_path), ctx)
    theirs = _observe(_theirs(dockerd, tmp_path), ctx)
    assert ours["stat"] == [f"{p} directory 755 0:0" for p in CREATED]
    assert ours["workdir"] == "/linked/deep/er"
    assert ("/bin/sh -c #(nop) WORKDIR /app/sub", False) in ours["history"]
    assert ours["history"][-2] == ("/bin/sh -c #(nop) WORKDIR /tmp", True)  # nothing new
    assert ours["cached"] == 9
    assert ours == theirs


def test_workdir_on_a_file_fails_as_dockerd(
    shared_engine: PortsideEngine, dockerd: Dockerd, tmp_path: Path
) -> None:
    ctx = write_context(tmp_path / "ctx", {"Dockerfile": "FROM busybox\nWORKDIR /bin/sh\n"})
    for side in (_ours(shared_engine, tmp_path), _theirs(dockerd, tmp_path)):
        res = side.build(str(ctx))
        assert res.returncode == 1
        assert "Cannot mkdir: /bin/sh is not a directory" in res.stderr, res.stderr


def test_workdir_in_a_scratch_stage(shared_engine: PortsideEngine, tmp_path: Path) -> None:
    """FROM scratch: the directory is the stage's first layer; COPY --from sees it."""
    ctx = write_context(
        tmp_path / "ctx",
        {
            "Dockerfile": (
                "FROM scratch AS empty\nWORKDIR /made/here\n"
                "FROM busybox\nCOPY --from=empty / /from-scratch/\n"
            )
        },
    )
    res = docker_build(shared_engine, "-t", "wd:scratch", str(ctx))
    assert res.returncode == 0, res.stderr + res.stdout
    ls = shared_engine.docker("run", "--rm", "wd:scratch", "ls", "-d", "/from-scratch/made/here")
    assert ls.stdout.strip() == "/from-scratch/made/here"
