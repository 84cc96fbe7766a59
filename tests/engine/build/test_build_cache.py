"""The build cache: hits on parent + instruction, COPY by content (not mtime or owner),
a miss busts the rest of the stage, ``--no-cache``, and links that survive a restart."""

from __future__ import annotations

import os
from pathlib import Path

from buildctx import docker_build, write_context
from support.engine import PortsideEngine

DOCKERFILE = """\
FROM busybox
ENV STAGE=one
COPY payload /payload
RUN echo ran > /ran
LABEL done=yes
"""


def _built(res: object) -> str:
    out = getattr(res, "stdout", "")
    assert getattr(res, "returncode", 1) == 0, getattr(res, "stderr", "")
    return str(out)


def test_cache_hits_and_busting(shared_engine: PortsideEngine, tmp_path: Path) -> None:
    e = shared_engine
    ctx = write_context(tmp_path, {"Dockerfile": DOCKERFILE, "payload": "v1\n"})
    first = _built(docker_build(e, "-t", "cached:1", str(ctx)))
    assert "Using cache" not in first
    again = _built(docker_build(e, "-t", "cached:1", str(ctx)))
    assert again.count(" ---> Using cache") == 4
    assert "Running in" not in again
    # touching the file and changing its owner is not a change
    os.utime(ctx / "payload", (1, 1))
    os.chown(ctx / "payload", 4321, 4321)
    touched = _built(docker_build(e, "-t", "cached:1", str(ctx)))
    assert touched.count(" ---> Using cache") == 4
    # a content change misses at COPY and busts every later step
    (ctx / "payload").write_text("v2\n")
    changed = _built(docker_build(e, "-t", "cached:2", str(ctx)))
    assert changed.count(" ---> Using cache") == 1
    assert "Running in" in changed
    assert e.docker("run", "--rm", "cached:2", "cat", "/payload").stdout == "v2\n"
    # a mode change is a change
    os.chmod(ctx / "payload", 0o600)
    moded = _built(docker_build(e, "-t", "cached:3", str(ctx)))
    assert moded.count(" ---> Using cache") == 1
    # --no-cache runs everything again
    nocache = _built(docker_build(e, "--no-cache", "-t", "cached:4", str(ctx)))
    assert "Using cache" not in nocache
    assert "Running in" in nocache


def test_run_cache_keys_on_build_args(shared_engine: PortsideEngine, tmp_path: Path) -> None:
    e = shared_engine
    ctx = write_context(tmp_path, {"Dockerfile": "FROM busybox\nARG V\nRUN echo $V > /v\n"})
    _built(docker_build(e, "--build-arg", "V=a", str(ctx)))
    same = _built(docker_build(e, "--build-arg", "V=a", str(ctx)))
    assert same.count("Using cache") == 2
    other = _built(docker_build(e, "--build-arg", "V=b", "-t", "argb:1", str(ctx)))
    assert other.count("Using cache") == 1  # the ARG step itself is the same
    assert e.docker("run", "--rm", "argb:1", "cat", "/v").stdout == "b\n"


def test_cache_survives_restart(engine_with_busybox: PortsideEngine, tmp_path: Path) -> None:
    e = engine_with_busybox
    ctx = write_context(tmp_path, {"Dockerfile": DOCKERFILE, "payload": "kept\n"})
    first = _built(docker_build(e, "-t", "restart:1", str(ctx)))
    ids = [
        line for line in first.splitlines() if line.startswith(" ---> ") and "Running" not in line
    ]
    e.restart()
    again = _built(docker_build(e, "-t", "restart:1", str(ctx)))
    assert again.count(" ---> Using cache") == 4
    assert [x for x in again.splitlines() if x.startswith(" ---> ") and "cache" not in x] == [
        x for x in ids if "Removed" not in x
    ]
    # intermediate images are listed with -a only, before and after the restart
    every = e.docker("images", "-a", "-q").stdout.split()
    plain = e.docker("images", "-q").stdout.split()
    assert len(every) == len(plain) + 3


def test_cache_from_an_image_without_local_links(
    engine_with_busybox: PortsideEngine, tmp_path: Path
) -> None:
    """``--cache-from``: an image whose history continues the current one gives the
    step (what a CI build pulls from its registry), even with no local cache links."""
    e = engine_with_busybox
    ctx = write_context(tmp_path, {"Dockerfile": DOCKERFILE, "payload": "cf\n"})
    _built(docker_build(e, "-t", "source:1", str(ctx)))
    e.api("POST", "/build/prune")
    assert e.api("GET", "/system/df").json()["BuildCache"] == []
    out = _built(docker_build(e, "--cache-from", "source:1", "-t", "again:1", str(ctx)))
    assert out.count(" ---> Using cache") == 4
    assert "Running in" not in out
    assert e.docker("run", "--rm", "again:1", "cat", "/payload", "/ran").stdout == "cf\nran\n"
    src = e.docker("inspect", "-f", "{{json .RootFS.Layers}}", "source:1").stdout
    again = e.docker("inspect", "-f", "{{json .RootFS.Layers}}", "again:1").stdout
    assert src == again


def test_base_without_path_gets_the_default_and_caches(
    shared_engine: PortsideEngine, tmp_path: Path
) -> None:
    e = shared_engine
    dockerfile = "FROM scratch\nCOPY --from=busybox /bin /bin\nRUN echo $PATH > /path\n"
    ctx = write_context(tmp_path, {"Dockerfile": dockerfile})
    _built(docker_build(e, "-t", "nopath:1", str(ctx)))
    out = e.docker("run", "--rm", "nopath:1", "/bin/cat", "/path").stdout
    assert out == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n"
    env = e.docker("inspect", "-f", "{{json .Config.Env}}", "nopath:1").stdout
    assert "PATH=/usr/local/sbin" in env
    again = _built(docker_build(e, "-t", "nopath:1", str(ctx)))
    assert again.count(" ---> Using cache") == 2


def test_rmi_and_prune_take_the_step_images_along(
    engine_with_busybox: PortsideEngine, tmp_path: Path
) -> None:
    e = engine_with_busybox
    ctx = write_context(tmp_path, {"Dockerfile": DOCKERFILE, "payload": "rm\n"})
    _built(docker_build(e, "-t", "gone:1", str(ctx)))
    base = set(e.docker("images", "-aq", "busybox").stdout.split())
    assert len(e.docker("images", "-aq").stdout.split()) == 5
    # image prune leaves intermediate steps of a tagged image alone
    e.docker("image", "prune", "-f")
    assert len(e.docker("images", "-aq").stdout.split()) == 5
    out = e.docker("rmi", "gone:1").stdout
    assert out.count("Deleted: sha256:") >= 4
    assert set(e.docker("images", "-aq").stdout.split()) == base
    # an untagged build result is dangling; pruning it takes its steps too
    _built(docker_build(e, str(ctx)))
    assert len(e.docker("images", "-q").stdout.split()) == 2
    e.docker("image", "prune", "-f")
    assert set(e.docker("images", "-aq").stdout.split()) == base
