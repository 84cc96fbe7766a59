"""The overlay rootfs: layer order, the mount-option page limit (relative lowerdirs),
a clear error past it, and /etc files."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest
from portside.engine.containers.files import etcfiles, rootfs
from portside.engine.errors import SystemError_

pytestmark = pytest.mark.runtime_matrix


def _layers(base: Path, n: int, name_len: int = 64) -> list[Path]:
    out = []
    for i in range(n):
        d = base / "layers" / (f"{i:04d}" + "a" * (name_len - 4)) / "diff"
        d.mkdir(parents=True)
        (d / f"f{i}").write_text(str(i))
        (d / "top").write_text(str(i))
        out.append(d)
    return out


@pytest.fixture
def root(tmp_path: Path):  # type: ignore[no-untyped-def]
    if os.geteuid() != 0:
        pytest.skip("mounting needs root")
    yield tmp_path
    rootfs.unmount(tmp_path / "c" / "rootfs")


def _mount(root: Path, layers: list[Path]) -> Path:
    c = root / "c"
    target = c / "rootfs"
    asyncio.run(rootfs.mount_overlay(layers, c / "upper", c / "work", target))
    return target


def test_top_layer_wins_and_upper_is_private(root):
    layers = _layers(root, 3)
    target = _mount(root, list(reversed(layers)))  # top-most first
    assert rootfs.is_mounted(target)
    assert (target / "top").read_text() == "2"
    (target / "new").write_text("x")
    assert (root / "c" / "upper" / "new").exists()
    assert not any((layer / "new").exists() for layer in layers)
    rootfs.unmount(target)
    assert not rootfs.is_mounted(target)


def test_many_layers_use_short_lowerdirs(root):
    layers = _layers(root, 125)  # Docker's own maximum; far over one page of paths
    assert len(":".join(map(str, layers))) > 4096
    target = _mount(root, list(reversed(layers)))
    assert (target / "f0").read_text() == "0" and (target / "f124").read_text() == "124"
    assert (target / "top").read_text() == "124"


def test_too_many_layers_is_a_clear_error(root):
    layers = _layers(root, 1200, name_len=8)
    with pytest.raises(SystemError_) as ei:
        _mount(root, layers)
    assert "too many layers" in ei.value.message


def test_resolv_conf_drops_loopback_unless_given(tmp_path):
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 127.0.0.53\nnameserver 10.1.2.3\nsearch example.org\n")
    out = etcfiles.resolv_content(None, host_file=host)
    assert "127.0.0.53" not in out and "nameserver 10.1.2.3" in out
    assert "search example.org" in out
    assert etcfiles.resolv_content(["127.0.0.1"], host_file=host).startswith(
        "nameserver 127.0.0.1\n"
    )


def test_hosts_content():
    out = etcfiles.hosts_content("box", ["db:10.0.0.5"], "172.17.0.2")
    assert "127.0.0.1\tlocalhost" in out
    assert "10.0.0.5\tdb" in out and "172.17.0.2\tbox" in out
