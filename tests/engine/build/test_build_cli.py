"""``docker build`` with DOCKER_BUILDKIT=0 against the engine: output shape, RUN/COPY
and config steps, failing RUN exit codes, the image's config and history."""

from __future__ import annotations

import json
from pathlib import Path

from buildctx import docker_build, write_context
from support.engine import PortsideEngine

DOCKERFILE = """\
FROM busybox
ARG GREETING=hello
ENV APP=/app
LABEL org.example.kind="test image"
WORKDIR $APP
COPY data.txt sub/ ./
RUN echo "$GREETING from run" && echo to-stderr >&2 && cat data.txt > copied
USER 1000:1000
EXPOSE 8080 53/udp
VOLUME /vol
STOPSIGNAL SIGTERM
HEALTHCHECK --interval=5s --retries=2 CMD true
ENTRYPOINT ["sh", "-c"]
CMD ["cat /app/copied"]
"""


def test_build_steps_output_and_image(shared_engine: PortsideEngine, tmp_path: Path) -> None:
    e = shared_engine
    ctx = write_context(
        tmp_path / "ctx",
        {"Dockerfile": DOCKERFILE, "data.txt": "payload\n", "sub/inner.txt": "inner\n"},
    )
    res = docker_build(e, "-t", "built:one", str(ctx))
    assert res.returncode == 0, res.stderr + res.stdout
    out = res.stdout
    assert "Step 1/14 : FROM busybox" in out
    assert "Step 7/14 : RUN echo" in out
    assert " ---> Running in " in out
    assert "hello from run" in out
    assert "\x1b[91mto-stderr\n\x1b[0m" in out
    assert "Successfully built " in out
    assert out.rstrip().endswith("Successfully tagged built:one")
    inspect = json.loads(e.docker("image", "inspect", "built:one").stdout)[0]
    cfg = inspect["Config"]
    assert cfg["WorkingDir"] == "/app"
    assert "APP=/app" in cfg["Env"]
    assert not any(v.startswith("GREETING=") for v in cfg["Env"])  # args are not persisted
    assert cfg["Labels"]["org.example.kind"] == "test image"
    assert cfg["User"] == "1000:1000"
    assert set(cfg["ExposedPorts"]) == {"8080/tcp", "53/udp"}
    assert cfg["Volumes"] == {"/vol": {}}
    assert cfg["StopSignal"] == "SIGTERM"
    assert cfg["Healthcheck"]["Test"] == ["CMD-SHELL", "true"]
    assert cfg["Healthcheck"]["Interval"] == 5_000_000_000
    assert cfg["Entrypoint"] == ["sh", "-c"]
    assert cfg["Cmd"] == ["cat /app/copied"]
    run = e.docker("run", "--rm", "built:one")
    assert run.stdout == "payload\n"
    ls = e.docker("run", "--rm", "--entrypoint", "ls", "built:one", "/app")
    assert ls.stdout.split() == ["copied", "data.txt", "inner.txt"]
    history = json.loads(e.api("GET", "/images/built:one/history").text)
    by = [h["CreatedBy"] for h in history]
    assert by[0] == '/bin/sh -c #(nop)  CMD ["cat /app/copied"]'
    assert any(b.startswith("|1 GREETING=hello /bin/sh -c echo") for b in by)
    assert "/bin/sh -c #(nop) WORKDIR /app" in by
    assert any(b.startswith("/bin/sh -c #(nop) COPY multi:") for b in by)
    # every step's image is listed with -a only, and history names them
    assert all(h["Id"] != "<missing>" for h in history[:14])
    plain = e.docker("images", "-q").stdout.split()
    every = e.docker("images", "-a", "-q").stdout.split()
    assert len(every) >= len(plain) + 12


def test_failing_run_exit_code(shared_engine: PortsideEngine, tmp_path: Path) -> None:
    ctx = write_context(tmp_path, {"Dockerfile": "FROM busybox\nRUN exit 7\n"})
    res = docker_build(shared_engine, str(ctx))
    assert res.returncode == 7
    assert "The command '/bin/sh -c exit 7' returned a non-zero code: 7" in res.stderr
    # as dockerd: the failed step's container stays for inspection, unless --force-rm
    left = shared_engine.docker("ps", "-a", "-q", "--filter", "status=exited").stdout.split()
    assert len(left) == 1
    code = shared_engine.docker("inspect", "-f", "{{.State.ExitCode}}", left[0]).stdout
    assert code.strip() == "7"
    shared_engine.docker("rm", left[0])
    res = docker_build(shared_engine, "--force-rm", str(ctx))
    assert res.returncode == 7
    assert shared_engine.docker("ps", "-a", "-q").stdout.split() == []
    # --rm=false keeps the containers of successful steps too
    ok = write_context(tmp_path / "ok", {"Dockerfile": "FROM busybox\nRUN echo kept > /k\n"})
    res = docker_build(shared_engine, "--rm=false", "--no-cache", str(ok))
    assert res.returncode == 0, res.stderr
    assert "Removed intermediate container" not in res.stdout
    left = shared_engine.docker("ps", "-a", "-q").stdout.split()
    assert len(left) == 1
    shared_engine.docker("rm", left[0])


def test_quiet_prints_only_the_id(shared_engine: PortsideEngine, tmp_path: Path) -> None:
    ctx = write_context(tmp_path, {"Dockerfile": "FROM busybox\nENV QUIET=1\n"})
    res = docker_build(shared_engine, "-q", str(ctx))
    assert res.returncode == 0, res.stderr
    assert res.stdout.strip().startswith("sha256:")
    assert len(res.stdout.strip().splitlines()) == 1


def test_dockerfile_fallback_and_custom_name(shared_engine: PortsideEngine, tmp_path: Path) -> None:
    lower = write_context(tmp_path / "a", {"dockerfile": "FROM busybox\nENV LOWER=1\n"})
    res = docker_build(shared_engine, "-t", "lower:1", str(lower))
    assert res.returncode == 0, res.stderr
    custom = write_context(tmp_path / "b", {"build/My.df": "FROM busybox\nENV CUSTOM=1\n"})
    res = docker_build(
        shared_engine, "-f", str(custom / "build/My.df"), "-t", "custom:1", str(custom)
    )
    assert res.returncode == 0, res.stderr
    env = json.loads(shared_engine.docker("inspect", "custom:1").stdout)[0]["Config"]["Env"]
    assert "CUSTOM=1" in env
    missing = write_context(tmp_path / "c", {"x": "y"})
    res = docker_build(shared_engine, str(missing))
    assert res.returncode != 0


def test_dockerfile_from_stdin_outside_context(
    shared_engine: PortsideEngine, tmp_path: Path
) -> None:
    """``-f -`` / a Dockerfile outside the context arrives as ``.dockerfile.<hex>``; the
    .dockerignore that matches it removes it (and itself) from what COPY sees."""
    ctx = write_context(
        tmp_path / "ctx",
        {".dockerignore": ".dockerfile.*\n.dockerignore\n*.secret\n", "keep": "k", "a.secret": "s"},
    )
    outside = tmp_path / "Dockerfile.outside"
    outside.write_text("FROM busybox\nCOPY . /ctx/\nRUN ls -a /ctx\n")
    res = docker_build(shared_engine, "-f", str(outside), "-t", "outside:1", str(ctx))
    assert res.returncode == 0, res.stderr
    listing = shared_engine.docker("run", "--rm", "outside:1", "ls", "-a", "/ctx").stdout.split()
    assert sorted(listing) == [".", "..", "keep"]


def test_build_args_null_and_unused_warning(shared_engine: PortsideEngine, tmp_path: Path) -> None:
    ctx = write_context(
        tmp_path,
        {"Dockerfile": "FROM busybox\nARG A\nARG B=dflt\nRUN echo A=$A B=$B > /out\n"},
    )
    res = docker_build(
        shared_engine, "--build-arg", "A=given", "--build-arg", "UNUSED=1", "-t", "args:1", str(ctx)
    )
    assert res.returncode == 0, res.stderr
    assert "[Warning] One or more build-args [UNUSED] were not consumed" in res.stdout
    out = shared_engine.docker("run", "--rm", "args:1", "cat", "/out").stdout
    assert out == "A=given B=dflt\n"
    env = json.loads(shared_engine.docker("inspect", "args:1").stdout)[0]["Config"]["Env"]
    assert not any(x.startswith(("A=", "B=")) for x in env)


def test_docker_py_build(shared_engine: PortsideEngine, tmp_path: Path) -> None:
    ctx = write_context(tmp_path, {"Dockerfile": "FROM busybox\nRUN echo pyhi > /py\n"})
    client = shared_engine.client()
    try:
        image, logs = client.images.build(path=str(ctx), tag="py:1", rm=True)
        text = "".join(m.get("stream", "") for m in logs)
        assert "Successfully tagged py:1" in text
        assert image.tags == ["py:1"]
        out = client.containers.run("py:1", ["cat", "/py"], remove=True)
        assert out == b"pyhi\n"
    finally:
        client.close()
