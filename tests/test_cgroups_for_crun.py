"""packaging/cgroups-for-crun.sh (run by `dev.sh test`) on fake cgroup trees, inside a
private mount namespace so the host is never touched: it acts only on hybrid hosts whose
cgroup v2 hierarchy holds controllers, explains what it could not do and never fails."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from support.engine import REPO

SCRIPT = REPO / "packaging" / "cgroups-for-crun.sh"


def _run(root: Path) -> subprocess.CompletedProcess[str]:
    if os.geteuid() != 0:
        pytest.fail("mount namespaces need root here (the suite runs as root)")
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "bash", str(SCRIPT), str(root)],
        capture_output=True,
        text=True,
        timeout=30,
    )


def _hybrid(tmp_path: Path, controllers: str) -> Path:
    (tmp_path / "unified").mkdir()
    (tmp_path / "unified" / "cgroup.procs").write_text("")
    (tmp_path / "unified" / "cgroup.controllers").write_text(controllers)
    return tmp_path


def test_nothing_to_do_on_pure_v2_v1_or_an_empty_v2(tmp_path: Path) -> None:
    v2 = tmp_path / "v2"
    v2.mkdir()
    (v2 / "cgroup.controllers").write_text("cpu memory hugetlb\n")
    v1 = tmp_path / "v1"
    (v1 / "memory").mkdir(parents=True)
    empty = tmp_path / "empty"
    empty.mkdir()
    _hybrid(empty, "")
    for root, entries in ((v2, ["cgroup.controllers"]), (v1, ["memory"]), (empty, ["unified"])):
        res = _run(root)
        assert (res.returncode, res.stdout, res.stderr) == (0, "", "")
        assert sorted(p.name for p in root.iterdir()) == entries


def test_a_controller_the_kernel_refuses_is_explained_and_the_run_goes_on(
    tmp_path: Path,
) -> None:
    root = _hybrid(tmp_path, "no_such_controller\n")
    res = _run(root)
    assert res.returncode == 0
    assert "could not mount no_such_controller as cgroup v1" in res.stderr
    assert "crun cannot run containers on this host" in res.stderr
    assert "runtime matrix with runc only" in res.stderr
