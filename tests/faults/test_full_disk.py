"""A full data disk is never a dead end: the engine answers in Docker's words, removals
free space through the API, and the engine starts again while the disk is still full.

The data root is a small ext4 file system of the test's own (loop-mounted, no blocks
reserved for root), filled by a container and then by the test itself.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.engine import PortsideEngine


def _free_bytes(path: Path) -> int:
    out = subprocess.run(
        ["df", "--output=avail", "-B1", str(path)], capture_output=True, text=True, check=True
    )
    return int(out.stdout.split()[-1])


def _fill(path: Path, name: str) -> None:
    """Fill what is left, down to the last block."""
    for block in ("64k", "1k"):
        subprocess.run(
            ["dd", "if=/dev/zero", f"of={path / f'{name}-{block}'}", f"bs={block}"],
            capture_output=True,
        )
    assert _free_bytes(path) < 64 << 10


@pytest.fixture
def small_engine(tmp_path: Path, busybox_tar: Path) -> Iterator[PortsideEngine]:
    image = tmp_path / "disk.img"
    subprocess.run(["truncate", "-s", "128M", str(image)], check=True)
    subprocess.run(["mkfs.ext4", "-q", "-m", "0", "-F", str(image)], check=True)
    engine = PortsideEngine()
    engine.data_root.mkdir(parents=True)
    subprocess.run(["mount", "-o", "loop", str(image), str(engine.data_root)], check=True)
    try:
        engine.start()
        engine.docker("load", "-i", str(busybox_tar))
        yield engine
    finally:
        engine.cleanup()
        subprocess.run(["umount", "-l", str(engine.data_root)], capture_output=True)


def test_removals_free_a_full_disk_and_the_engine_restarts_on_it(
    small_engine: PortsideEngine,
) -> None:
    e = small_engine
    assert (e.data_root / "reserve").stat().st_size == 16 << 20
    # A container fills the disk from inside, then the test takes the last blocks.
    e.docker(
        "run",
        "--name",
        "filler",
        "busybox",
        "sh",
        "-c",
        "dd if=/dev/zero of=/big bs=1M; sync",
        check=False,
    )
    _fill(e.data_root, "host")
    containers = e.data_root / "containers"
    before = set(containers.iterdir())

    out = e.docker("create", "--name", "late", "busybox", "true", check=False)
    assert out.returncode == 1
    assert "no space left on device" in out.stderr
    assert "internal error" not in out.stderr
    assert set(containers.iterdir()) == before, "a failed create left its directory"

    # Metadata changes still go through (the reserve made room), and removal frees space.
    e.docker("tag", "busybox", "busybox:kept")
    e.docker("rm", "filler")
    assert _free_bytes(e.data_root) > 32 << 20
    assert e.docker("ps", "-aq").stdout.strip() == ""

    # Full again, and this time without a reserve: the engine must still start.
    _fill(e.data_root, "again")
    (e.data_root / "reserve").unlink(missing_ok=True)
    e.stop()
    e.start()
    assert "busybox:kept" in e.docker("images", "--format", "{{.Repository}}:{{.Tag}}").stdout
    vol = e.docker("volume", "create", "late-volume", check=False)
    assert vol.returncode == 1 and "no space left on device" in vol.stderr
    # The operator frees space by hand; the engine takes its reserve back and carries on.
    for f in e.data_root.glob("again-*"):
        f.unlink()
    e.docker("volume", "create", "late-volume")
    e.docker("run", "--rm", "busybox", "true")
    assert (e.data_root / "reserve").exists()
