"""Runtime choice: crun where it works, runc on cgroup hybrid hosts crun 1.8 refuses, and a
clear failure when crun is forced there. The choice is checked on fake /sys/fs/cgroup trees
of both kinds, so every test asserts the same on any host; one test checks the /sys
reading against what crun itself does on this host."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from portside.engine.config import DaemonConfig
from portside.engine.errors import EngineError
from portside.engine.runtime import detect


def _fake_cgroup(tmp_path: Path, mode: str, v2_controllers: str = "") -> Path:
    root = tmp_path / "cgroup"
    root.mkdir(parents=True)
    if mode == "unified":
        (root / "cgroup.controllers").write_text("cpu memory pids\n")
    elif mode == "hybrid":
        (root / "memory").mkdir()
        (root / "unified").mkdir()
        (root / "unified" / "cgroup.procs").write_text("")
        (root / "unified" / "cgroup.controllers").write_text(v2_controllers)
    else:
        (root / "memory").mkdir()
    return root


@pytest.fixture
def hostile(tmp_path: Path) -> Path:
    """A hybrid host whose cgroup v2 hierarchy still holds hugetlb (crun 1.8 refuses)."""
    return _fake_cgroup(tmp_path / "hostile", "hybrid", "hugetlb\n")


def _runtimes_installed() -> None:
    missing = [n for n in ("crun", "runc", "conmon") if shutil.which(n) is None]
    assert not missing, f"not installed: {missing} (packaging/dev.sh installs them)"


def test_cgroup_modes(tmp_path):
    assert detect.cgroup_mode(_fake_cgroup(tmp_path / "a", "unified")) == "unified"
    assert detect.cgroup_mode(_fake_cgroup(tmp_path / "b", "hybrid")) == "hybrid"
    assert detect.cgroup_mode(_fake_cgroup(tmp_path / "c", "legacy")) == "legacy"


def test_hybrid_problem_only_with_v2_controllers(tmp_path):
    assert detect.crun_hybrid_problem(_fake_cgroup(tmp_path / "a", "hybrid", "")) is None
    problem = detect.crun_hybrid_problem(_fake_cgroup(tmp_path / "b", "hybrid", "hugetlb\n"))
    assert problem and "hugetlb" in problem and "hybrid" in problem
    assert detect.crun_hybrid_problem(_fake_cgroup(tmp_path / "c", "unified")) is None


@pytest.mark.parametrize(("mode", "controllers"), [("hybrid", ""), ("unified", ""), ("legacy", "")])
def test_crun_is_chosen_where_it_works(tmp_path, mode, controllers):
    _runtimes_installed()
    info = detect.select_runtime(DaemonConfig(), _fake_cgroup(tmp_path, mode, controllers))
    assert info.name == "crun" and info.path == os.path.realpath(shutil.which("crun") or "")
    assert info.version and info.conmon_version and info.warnings == []
    assert sorted(info.usable) == ["crun", "runc"]


def test_runc_with_a_warning_where_crun_refuses(hostile):
    _runtimes_installed()
    info = detect.select_runtime(DaemonConfig(), hostile)
    assert info.name == "runc" and info.version
    assert len(info.warnings) == 1
    assert "using runc instead of crun" in info.warnings[0] and "hugetlb" in info.warnings[0]
    assert list(info.usable) == ["runc"]


def test_forcing_crun_on_a_hostile_host_fails_clearly(hostile):
    _runtimes_installed()
    with pytest.raises(EngineError) as ei:
        detect.select_runtime(DaemonConfig(runtime="crun"), hostile)
    assert "cannot use the crun runtime" in ei.value.message and "hybrid" in ei.value.message


def test_forcing_runc_where_crun_works(tmp_path):
    _runtimes_installed()
    info = detect.select_runtime(DaemonConfig(runtime="runc"), _fake_cgroup(tmp_path, "unified"))
    assert info.name == "runc" and info.warnings == []
    assert sorted(info.usable) == ["crun", "runc"]


def test_detection_agrees_with_crun_itself(tmp_path):
    """The /sys check predicts what crun really does on this host (no guessing from
    versions): it runs a container exactly when the check finds no problem."""
    crun = shutil.which("crun")
    assert crun, "crun is not installed (packaging/dev.sh installs it)"
    bundle = tmp_path / "b"
    (bundle / "rootfs" / "bin").mkdir(parents=True)
    shutil.copy("/bin/busybox", bundle / "rootfs" / "bin" / "busybox")
    subprocess.run([crun, "spec"], cwd=bundle, check=True)
    cfg = bundle / "config.json"
    cfg.write_text(
        cfg.read_text()
        .replace('"sh"', '"/bin/busybox", "true"')
        .replace('"terminal": true', '"terminal": false')
    )
    root = tmp_path / "root"
    res = subprocess.run(
        [crun, "--root", str(root), "run", "--bundle", str(bundle), f"t{tmp_path.name[-6:]}"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    if detect.crun_hybrid_problem() is not None:
        assert res.returncode != 0 and "hybrid" in res.stderr
    else:
        assert res.returncode == 0, res.stderr


def test_a_forced_runtime_that_is_missing_stops_the_daemon(tmp_path):
    """The daemon refuses to start, with the reason, rather than run without it."""
    _runtimes_installed()
    path = tmp_path / "bin"
    path.mkdir()
    for tool in ("runc", "conmon"):  # everything but crun
        (path / tool).symlink_to(shutil.which(tool) or "")
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "portside.engine",
            "--runtime",
            "crun",
            "-H",
            f"unix://{tmp_path}/s.sock",
            "--data-root",
            str(tmp_path / "d"),
            "--exec-root",
            str(tmp_path / "x"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
        env={**os.environ, "PATH": str(path)},
    )
    assert res.returncode != 0
    assert "runtime crun was requested but is not installed" in res.stderr


@pytest.mark.runtime_matrix
def test_info_shows_the_runtime_in_use_and_every_usable_one(engine):
    usable = detect.select_runtime(DaemonConfig()).usable
    info = engine.api("GET", "/info").json()
    assert info["DefaultRuntime"] == engine.runtime
    assert info["Runtimes"] == {name: {"path": path} for name, path in usable.items()}
    if detect.crun_hybrid_problem() is None:
        assert sorted(info["Runtimes"]) == ["crun", "runc"]
    out = engine.docker("info").stdout
    # the CLI prints the names in Go's map order, which varies from run to run
    listed = next(ln for ln in out.splitlines() if ln.strip().startswith("Runtimes:"))
    assert sorted(listed.split(":", 1)[1].split()) == sorted(usable)
    assert f"Default Runtime: {engine.runtime}" in out
    comps = {c["Name"]: c for c in engine.api("GET", "/version").json()["Components"]}
    assert comps[engine.runtime]["Version"] and comps["conmon"]["Version"]
