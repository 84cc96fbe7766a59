"""Runtime choice: crun where it works, runc on cgroup hybrid hosts crun 1.8 refuses,
and a clear failure when crun is forced there."""

from __future__ import annotations

import shutil
import subprocess
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


def test_cgroup_modes(tmp_path):
    assert detect.cgroup_mode(_fake_cgroup(tmp_path / "a", "unified")) == "unified"
    assert detect.cgroup_mode(_fake_cgroup(tmp_path / "b", "hybrid")) == "hybrid"
    assert detect.cgroup_mode(_fake_cgroup(tmp_path / "c", "legacy")) == "legacy"


def test_hybrid_problem_only_with_v2_controllers(tmp_path):
    assert detect.crun_hybrid_problem(_fake_cgroup(tmp_path / "a", "hybrid", "")) is None
    problem = detect.crun_hybrid_problem(_fake_cgroup(tmp_path / "b", "hybrid", "hugetlb\n"))
    assert problem and "hugetlb" in problem and "hybrid" in problem
    assert detect.crun_hybrid_problem(_fake_cgroup(tmp_path / "c", "unified")) is None


def _host_is_crun_hostile() -> bool:
    return detect.crun_hybrid_problem() is not None


def test_default_choice_on_this_host():
    info = detect.select_runtime(DaemonConfig())
    assert info.conmon_version and info.version
    if _host_is_crun_hostile():
        assert info.name == "runc"
        assert any("crun" in w and "hybrid" in w for w in info.warnings)
    else:
        assert info.name == ("crun" if shutil.which("crun") else "runc")


def test_detection_agrees_with_crun_itself(tmp_path):
    """The /sys check predicts what crun really does (no guessing from versions)."""
    crun = shutil.which("crun")
    if not crun:
        pytest.skip("crun not installed")
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
    if _host_is_crun_hostile():
        assert res.returncode != 0 and "hybrid" in res.stderr
    else:
        assert res.returncode == 0, res.stderr


def test_forcing_crun_on_hostile_host_fails_clearly():
    if not _host_is_crun_hostile():
        pytest.skip("crun works on this host")
    with pytest.raises(EngineError) as ei:
        detect.select_runtime(DaemonConfig(runtime="crun"))
    assert "hybrid" in ei.value.message


def test_forced_crun_daemon_refuses_to_start(tmp_path):
    if not _host_is_crun_hostile():
        pytest.skip("crun works on this host")
    import sys

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
    )
    assert res.returncode != 0
    assert "cannot use the crun runtime" in res.stderr


def test_info_shows_runtime_and_warning(engine):
    info = engine.api("GET", "/info").json()
    assert info["DefaultRuntime"] in ("runc", "crun")
    if _host_is_crun_hostile():
        assert info["DefaultRuntime"] == "runc"
        assert any("crun" in w for w in info["Warnings"])
    comps = {c["Name"]: c for c in engine.api("GET", "/version").json()["Components"]}
    assert comps["conmon"]["Version"]
