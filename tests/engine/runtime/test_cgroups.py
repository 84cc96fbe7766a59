"""Leftover container cgroups are removed in every hierarchy (a fake /sys/fs/cgroup)."""

from __future__ import annotations

from pathlib import Path

from portside.engine.runtime.cgroups import remove_leftovers


def test_v1_every_hierarchy_and_busy_ones_are_kept(tmp_path: Path) -> None:
    for h in ("memory", "pids", "cpu", "unified", "systemd"):
        (tmp_path / h / "portside" / "abc").mkdir(parents=True)
    (tmp_path / "pids" / "portside" / "other").mkdir()
    # a cgroup the kernel refuses to remove (here: a directory that is not empty)
    (tmp_path / "memory" / "portside" / "abc" / "child").mkdir()
    (tmp_path / "cpu,cpuacct").symlink_to(tmp_path / "cpu")
    kept = remove_leftovers("/portside/abc", tmp_path)
    assert kept == [tmp_path / "memory" / "portside" / "abc"]
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.glob("*/portside/*")) == [
        Path("memory/portside/abc"),
        Path("pids/portside/other"),
    ]
    assert remove_leftovers("/portside/none", tmp_path) == []


def test_pure_v2_has_one_hierarchy(tmp_path: Path) -> None:
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    (tmp_path / "portside" / "abc").mkdir(parents=True)
    assert remove_leftovers("/portside/abc", tmp_path) == []
    assert not (tmp_path / "portside" / "abc").exists()
