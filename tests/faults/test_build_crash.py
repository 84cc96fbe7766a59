"""An engine killed with SIGKILL in the middle of ``docker build`` (context unpacked,
RUN container running, layer stored, image about to be registered) starts again with
no build directory, no build container, no orphan layer or blob, and no image whose
parent is missing; the same build then succeeds."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.engine import PortsideEngine
from test_crash_points import CRASH_ENV, _assert_consistent

DOCKERFILE = "FROM busybox\nCOPY f /f\nRUN echo ran > /ran\nENV DONE=1\n"


def _build(e: PortsideEngine, ctx: Path, *extra: str) -> tuple[int, str]:
    env = e.env()
    env["DOCKER_BUILDKIT"] = "0"
    import subprocess

    res = subprocess.run(
        ["docker", "build", *extra, "-t", "crashed:1", str(ctx)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    return res.returncode, res.stdout + res.stderr


@pytest.mark.parametrize("point", ["build-context", "build-run", "build-layer", "build-image"])
def test_kill_9_during_build(
    engine_with_busybox: PortsideEngine,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    point: str,
) -> None:
    e = engine_with_busybox
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    (tmp_path / "f").write_text("payload\n")
    e.stop()
    monkeypatch.setenv(CRASH_ENV, point)
    e.start()
    monkeypatch.delenv(CRASH_ENV)
    code, _ = _build(e, tmp_path)
    assert code != 0
    assert e.proc is not None
    assert e.proc.wait(30) == -9, "the engine did not die at the crash point"
    assert f"{CRASH_ENV}={point}: killing the engine here" in e.log()
    e.proc = None
    e.start()
    assert list((e.data_root / "build" / "tmp").iterdir()) == []
    assert e.docker("ps", "-aq").stdout.split() == []
    _assert_consistent(e)
    # every image the cache names exists, and every built image's parent exists
    images = set(e.docker("images", "-aq", "--no-trunc").stdout.split())
    for row in e.api("GET", "/system/df").json()["BuildCache"]:
        assert any(i[7:19] == row["ID"] for i in images)
    assert "crashed" not in e.docker("images").stdout
    code, out = _build(e, tmp_path)
    assert code == 0, out
    assert e.docker("run", "--rm", "crashed:1", "cat", "/f", "/ran").stdout == "payload\nran\n"
    _assert_consistent(e)
