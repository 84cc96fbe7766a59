"""Module pruning and the initramfs, on a made-up module tree (no kernel needed)."""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import pytest
from portside.vm.image.initramfs import build_initramfs
from portside.vm.image.kmods import closure, module_name, prune

KVER = "6.1.0-test"


def module_tree(root: Path) -> Path:
    moddir = root / "lib" / "modules" / KVER
    deps = {
        "kernel/fs/ext4/ext4.ko": ["kernel/fs/jbd2/jbd2.ko", "kernel/fs/mbcache.ko"],
        "kernel/fs/jbd2/jbd2.ko": [],
        "kernel/fs/mbcache.ko": [],
        "kernel/drivers/block/virtio_blk.ko": ["kernel/drivers/virtio/virtio.ko"],
        "kernel/drivers/virtio/virtio.ko": [],
        "kernel/net/9p/9pnet-virtio.ko": ["kernel/drivers/virtio/virtio.ko"],
        "kernel/sound/snd.ko": [],
    }
    lines = []
    for path, needs in deps.items():
        (moddir / path).parent.mkdir(parents=True, exist_ok=True)
        (moddir / path).write_bytes(b"\x7fELF " + path.encode())
        lines.append(f"{path}: {' '.join(needs)}".rstrip())
    (moddir / "modules.dep").write_text("\n".join(lines) + "\n")
    (moddir / "modules.builtin").write_text("kernel/drivers/virtio/virtio_pci.ko\n")
    bin_dir = root / "bin"
    bin_dir.mkdir(parents=True)
    (bin_dir / "busybox").write_bytes(Path("/bin/busybox").read_bytes())
    return moddir


def test_module_names_are_normalised() -> None:
    assert module_name("kernel/net/9p/9pnet-virtio.ko") == "9pnet_virtio"
    assert module_name("kernel/fs/ext4/ext4.ko.xz") == "ext4"


def test_closure_puts_dependencies_first_and_skips_builtins(tmp_path: Path) -> None:
    moddir = module_tree(tmp_path)
    order = closure(moddir, ["ext4", "virtio_pci", "9pnet-virtio"])
    names = [module_name(p) for p in order]
    assert names.index("jbd2") < names.index("ext4")
    assert names.index("mbcache") < names.index("ext4")
    assert names.index("virtio") < names.index("9pnet_virtio")
    assert "virtio_pci" not in names  # built in: nothing to load
    assert len(names) == len(set(names))


def test_an_unknown_module_is_an_error_not_a_silent_gap(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="'nf_tablez'"):
        closure(module_tree(tmp_path), ["nf_tablez"])


def test_prune_keeps_exactly_the_closure(tmp_path: Path) -> None:
    moddir = module_tree(tmp_path)
    kept = prune(moddir, ["virtio_blk"])
    assert kept == ["kernel/drivers/block/virtio_blk.ko", "kernel/drivers/virtio/virtio.ko"]
    left = sorted(str(p.relative_to(moddir)) for p in moddir.rglob("*.ko"))
    assert left == kept
    assert not (moddir / "kernel" / "sound").exists()  # emptied directories go too


def test_initramfs_holds_init_busybox_console_and_ordered_modules(tmp_path: Path) -> None:
    module_tree(tmp_path)
    image = build_initramfs(tmp_path, KVER, ["virtio_blk", "ext4"], b"#!/bin/busybox sh\n")
    cpio = gzip.decompress(image)
    listing = subprocess.run(
        ["busybox", "cpio", "-t", "-v"], input=cpio, capture_output=True, check=True
    ).stdout.decode()
    names = {line.split()[-1]: line.split()[0] for line in listing.splitlines()}
    assert names["init"].startswith("-rwx")
    assert names["bin/busybox"].startswith("-rwx")
    assert names["dev/console"].startswith("c")
    extract = tmp_path / "x"
    extract.mkdir()
    subprocess.run(
        ["busybox", "cpio", "-i", "-d", "modules.order", "init"],
        input=cpio,
        cwd=extract,
        check=True,
        capture_output=True,
    )
    order = (extract / "modules.order").read_text().split()
    assert order == ["virtio.ko", "virtio_blk.ko", "jbd2.ko", "mbcache.ko", "ext4.ko"]
    assert (extract / "init").read_bytes() == b"#!/bin/busybox sh\n"
    for name in order:
        assert f"modules/{name}" in names
