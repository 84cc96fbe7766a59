"""Dockerfile semantics: multi-stage with target and COPY --from, FROM scratch, ADD
(local archives, URLs, network none), ONBUILD, RUN's limits and network, FROM pulling
from a registry, squash."""

from __future__ import annotations

import http.server
import io
import json
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from buildctx import build_api, docker_build, stream_text, tar_of, write_context
from support.engine import PortsideEngine
from support.images import busybox_rootfs_tar
from support.registry import Registry


def _ok(res: object) -> str:
    assert getattr(res, "returncode", 1) == 0, getattr(res, "stderr", "") + getattr(
        res, "stdout", ""
    )
    return str(getattr(res, "stdout", ""))


def test_multi_stage_target_and_copy_from(shared_engine: PortsideEngine, tmp_path: Path) -> None:
    e = shared_engine
    dockerfile = """\
FROM busybox AS builder
RUN mkdir -p /out && echo compiled > /out/app && chmod 755 /out/app
FROM busybox AS unused
RUN echo unused > /unused
FROM scratch
COPY --from=builder /out/app /app
COPY --from=busybox /bin/busybox /bin/busybox
COPY --chown=1234:5678 --chmod=640 note.txt /notes/
"""
    ctx = write_context(tmp_path, {"Dockerfile": dockerfile, "note.txt": "n\n"})
    out = _ok(docker_build(e, "-t", "multi:final", str(ctx)))
    assert "Step 1/8 : FROM busybox AS builder" in out
    run = e.docker("run", "--rm", "--entrypoint", "/bin/busybox", "multi:final", "cat", "/app")
    assert run.stdout == "compiled\n"
    ls = e.docker(
        "run",
        "--rm",
        "--entrypoint",
        "/bin/busybox",
        "multi:final",
        "stat",
        "-c",
        "%u:%g %a",
        "/notes/note.txt",
    )
    assert ls.stdout.strip() == "1234:5678 640"
    layers = json.loads(e.docker("inspect", "multi:final").stdout)[0]["RootFS"]["Layers"]
    assert len(layers) == 3
    target = _ok(docker_build(e, "--target", "builder", "-t", "multi:builder", str(ctx)))
    assert "Step 2/2 :" in target and "unused" not in target
    assert e.docker("run", "--rm", "multi:builder", "cat", "/out/app").stdout == "compiled\n"


def test_copy_semantics(shared_engine: PortsideEngine, tmp_path: Path) -> None:
    e = shared_engine
    dockerfile = """\
FROM busybox
COPY dir /into/
COPY *.txt /txt/
COPY link /
COPY f /tmp/f
WORKDIR /w
COPY f rel
"""
    ctx = write_context(
        tmp_path,
        {"Dockerfile": dockerfile, "dir/a/b": "deep\n", "1.txt": "1", "2.txt": "2", "f": "f\n"},
    )
    (ctx / "link").symlink_to("f")
    _ok(docker_build(e, "-t", "copies:1", str(ctx)))

    def sh(cmd: str) -> str:
        return e.docker("run", "--rm", "copies:1", "sh", "-c", cmd).stdout

    assert sh("cat /into/a/b") == "deep\n"
    assert sh("ls /txt") == "1.txt\n2.txt\n"
    assert sh("cat /link") == "f\n"  # a top-level symlink source is followed
    assert sh("stat -c %a /tmp") == "1777\n"  # parents keep their metadata
    assert sh("cat /w/rel") == "f\n"
    missing = write_context(tmp_path / "m", {"Dockerfile": "FROM busybox\nCOPY nope /x\n"})
    res = docker_build(e, str(missing))
    assert res.returncode != 0
    assert "nope" in res.stderr
    escape = write_context(
        tmp_path / "esc", {"Dockerfile": "FROM busybox\nCOPY ../../etc/passwd /x\n"}
    )
    res = docker_build(e, "-t", "escape:1", str(escape))
    # ../ is resolved inside the context (as dockerd): nothing from the host is copied
    assert res.returncode != 0


def test_add_archive_and_url(shared_engine: PortsideEngine, tmp_path: Path) -> None:
    e = shared_engine
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = b"inside\n"
        ti = tarfile.TarInfo("pkg/file")
        ti.size = len(data)
        tar.addfile(ti, io.BytesIO(data))
    served = tmp_path / "www"
    served.mkdir()
    (served / "remote.txt").write_text("remote\n")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *a: object, **k: object) -> None:
            super().__init__(*a, directory=str(served), **k)  # type: ignore[arg-type]

        def log_message(self, *a: object) -> None:
            pass

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{srv.server_address[1]}/remote.txt"
        dockerfile = f"FROM busybox\nADD pkg.tar.gz /opt/\nADD {url} /dl/\n"
        ctx = write_context(
            tmp_path / "ctx", {"Dockerfile": dockerfile, "pkg.tar.gz": buf.getvalue()}
        )
        _ok(docker_build(e, "--network", "host", "-t", "adds:1", str(ctx)))
        out = e.docker("run", "--rm", "adds:1", "cat", "/opt/pkg/file", "/dl/remote.txt").stdout
        assert out == "inside\nremote\n"
        mode = e.docker("run", "--rm", "adds:1", "stat", "-c", "%a", "/dl/remote.txt").stdout
        assert mode == "600\n"
        res = docker_build(e, "--network", "none", "--no-cache", str(ctx))
        assert res.returncode != 0
        assert "network mode is none" in res.stderr
    finally:
        srv.shutdown()


def test_onbuild_triggers_run_in_child(shared_engine: PortsideEngine, tmp_path: Path) -> None:
    e = shared_engine
    parent = write_context(
        tmp_path / "p",
        {"Dockerfile": "FROM busybox\nONBUILD COPY hook /hook\nONBUILD RUN echo fired > /fired\n"},
    )
    _ok(docker_build(e, "-t", "onbuild:parent", str(parent)))
    trig = json.loads(e.docker("inspect", "onbuild:parent").stdout)[0]["Config"]["OnBuild"]
    assert trig == ["COPY hook /hook", "RUN echo fired > /fired"]
    child = write_context(tmp_path / "c", {"Dockerfile": "FROM onbuild:parent\n", "hook": "h\n"})
    out = _ok(docker_build(e, "-t", "onbuild:child", str(child)))
    assert "# Executing 2 build triggers" in out
    assert e.docker("run", "--rm", "onbuild:child", "cat", "/hook", "/fired").stdout == "h\nfired\n"
    cfg = json.loads(e.docker("inspect", "onbuild:child").stdout)[0]["Config"]
    assert not cfg.get("OnBuild")


def test_run_options(shared_engine: PortsideEngine, tmp_path: Path) -> None:
    e = shared_engine
    dockerfile = """\
FROM busybox
SHELL ["/bin/sh", "-ec"]
USER 4242
RUN id -u > /tmp/uid; ip -o link | grep -c . > /tmp/links; cat /etc/hosts > /tmp/hosts; \
    df -k /dev/shm | tail -1 > /tmp/shm; ulimit -n > /tmp/nofile; \
    cat /sys/fs/cgroup/memory.max /sys/fs/cgroup/memory/memory.limit_in_bytes \
    2>/dev/null > /tmp/mem || true
"""
    ctx = write_context(tmp_path, {"Dockerfile": dockerfile})
    _ok(
        docker_build(
            e,
            "--network",
            "none",
            "--add-host",
            "buildhost:10.1.2.3",
            "--shm-size",
            "32m",
            "--ulimit",
            "nofile=512:512",
            "--memory",
            "64m",
            "-t",
            "opts:1",
            str(ctx),
        )
    )

    def cat(path: str) -> str:
        return e.docker("run", "--rm", "opts:1", "cat", path).stdout

    assert cat("/tmp/uid") == "4242\n"
    assert cat("/tmp/links") == "1\n"  # only lo with --network none
    assert "10.1.2.3\tbuildhost" in cat("/tmp/hosts") or "10.1.2.3 buildhost" in cat("/tmp/hosts")
    assert cat("/tmp/shm").split()[1] == "32768"
    assert cat("/tmp/nofile") == "512\n"
    assert "67108864" in cat("/tmp/mem")
    history = json.loads(e.api("GET", "/images/opts:1/history").text)
    assert history[0]["CreatedBy"].startswith("/bin/sh -ec id -u")
    assert history[1]["CreatedBy"] == "/bin/sh -ec #(nop)  USER 4242"


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    reg = Registry()
    try:
        reg.start()
        p = reg.pusher()
        p.push_image("lib/base", "1", [busybox_rootfs_tar()], cmd=["sh"])
        p.close()
        yield reg
    finally:
        reg.stop()


def test_from_pulls_missing_image(shared_engine: PortsideEngine, registry: Registry) -> None:
    ref = f"{registry.host}/lib/base:1"
    files = {"Dockerfile": f"FROM {ref}\nRUN echo pulled-base\n"}
    status, lines = build_api(shared_engine, tar_of(files), "t=pulled:1")
    assert status == 200, lines
    statuses = [m.get("status", "") for m in lines]
    assert any(s.startswith("Status: Downloaded newer image") for s in statuses)
    assert "pulled-base" in stream_text(lines)
    status, lines = build_api(shared_engine, tar_of(files), "pull=1")
    assert status == 200
    assert any("Image is up to date" in m.get("status", "") for m in lines)


def test_platform_host_only(shared_engine: PortsideEngine) -> None:
    files = {"Dockerfile": "FROM --platform=linux/s390x busybox\n"}
    status, doc = build_api(shared_engine, tar_of(files))
    assert status in (200, 400)
    if status == 200:
        assert "errorDetail" in doc[-1]
    status, doc = build_api(
        shared_engine, tar_of({"Dockerfile": "FROM busybox\n"}), "platform=junk/x/y/z"
    )
    assert status == 400
    assert "unknown operating system or architecture" in doc[0]["message"]


def test_labels_option_and_from_scratch_only_config(shared_engine: PortsideEngine) -> None:
    files = {"Dockerfile": "FROM scratch\nENV ONLY=config\n"}
    labels = json.dumps({"team": "ports", "x": 'a "b" $c'})
    status, lines = build_api(shared_engine, tar_of(files), f"labels={labels}&t=scratchy:1")
    assert status == 200, lines
    doc = json.loads(shared_engine.docker("inspect", "scratchy:1").stdout)[0]
    assert doc["Config"]["Labels"] == {"team": "ports", "x": 'a "b" $c'}
    assert doc["RootFS"].get("Layers") in (None, [])


def test_squash_merges_the_build_layers(shared_engine: PortsideEngine) -> None:
    e = shared_engine
    files = {
        "Dockerfile": (
            "FROM busybox\nRUN echo a > /a && mkdir /d && echo x > /d/f\n"
            "RUN rm /a && echo b > /b && rm -rf /d && mkdir /d && echo y > /d/g\n"
            "COPY c /c\nENV SQUASHED=1\n"
        ),
        "c": "c\n",
    }
    status, lines = build_api(e, tar_of(files), "squash=1&t=squashed:1")
    assert status == 200, lines
    base = json.loads(e.docker("inspect", "busybox").stdout)[0]["RootFS"]["Layers"]
    doc = json.loads(e.docker("inspect", "squashed:1").stdout)[0]
    assert doc["RootFS"]["Layers"][: len(base)] == base
    assert len(doc["RootFS"]["Layers"]) == len(base) + 1
    assert doc["Config"]["Env"][-1] == "SQUASHED=1"
    out = e.docker("run", "--rm", "squashed:1", "sh", "-c", "ls /a; cat /b /c; ls /d").stdout
    assert out == "b\nc\ng\n"
    history = json.loads(e.api("GET", "/images/squashed:1/history").text)
    assert history[0]["Comment"].startswith("merge sha256:")
    assert history[0]["Size"] > 0
    info = e.api("GET", "/info").json()
    assert info["ExperimentalBuild"] is True


def test_squash_keeps_hard_links(shared_engine: PortsideEngine) -> None:
    files = {
        "Dockerfile": "FROM busybox\nRUN echo h > /h1 && ln /h1 /h2 && mkdir /d && ln /h1 /d/h3\n"
    }
    status, lines = build_api(shared_engine, tar_of(files), "squash=1&t=squashed-links:1")
    assert status == 200, lines
    out = shared_engine.docker(
        "run", "--rm", "squashed-links:1", "sh", "-c", "stat -c '%i %h' /h1 /h2 /d/h3"
    ).stdout.splitlines()
    assert len(set(out)) == 1 and out[0].endswith(" 3"), out


def test_the_cli_offers_squash(shared_engine: PortsideEngine, tmp_path: Path) -> None:
    """The docker CLI accepts ``--squash`` only from a daemon whose ``/_ping`` says
    ``Docker-Experimental: true``, as dockerd's does with experimental features on."""
    e = shared_engine
    ctx = write_context(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo s > /s\n"})
    _ok(docker_build(e, "--squash", "-t", "cli-squashed:1", str(ctx)))
    history = json.loads(e.api("GET", "/images/cli-squashed:1/history").text)
    assert history[0]["Comment"].startswith("merge sha256:")


def test_run_on_a_user_network(shared_engine: PortsideEngine, tmp_path: Path) -> None:
    e = shared_engine
    e.docker("network", "create", "--subnet", "10.213.7.0/24", "buildnet")
    try:
        ctx = write_context(
            tmp_path, {"Dockerfile": "FROM busybox\nRUN ip -o -4 addr show eth0 > /net\n"}
        )
        _ok(docker_build(e, "--network", "buildnet", "-t", "usernet:1", str(ctx)))
        assert "10.213.7." in e.docker("run", "--rm", "usernet:1", "cat", "/net").stdout
    finally:
        e.docker("network", "rm", "buildnet", check=False)
