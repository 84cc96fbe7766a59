"""An engine killed with SIGKILL at a named point of pull, rmi, commit, load or volume
seeding starts again with a consistent store: no orphan layer, blob, container
directory, mount or cgroup; the operation either completed or left no trace; retrying
it works.

``PORTSIDE_TEST_CRASH_AT=<point>`` (engine/system/crashpoint.py) makes the engine kill
itself exactly there, so each test hits the window it names every time.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.engine import PortsideEngine
from support.images import busybox_rootfs_tar
from support.registry import PushedImage, Registry, file_layer, store_state

CRASH_ENV = "PORTSIDE_TEST_CRASH_AT"


@pytest.fixture(scope="module")
def registry() -> Iterator[Registry]:
    reg = Registry()
    try:
        reg.start()
        yield reg
    finally:
        reg.stop()


@pytest.fixture(scope="module")
def seeded_image(registry: Registry) -> PushedImage:
    """busybox plus a ``/data`` directory of 40 files (what a new volume copies up)."""
    p = registry.pusher()
    files = {f"data/f{i:02d}": f"content {i}\n".encode() for i in range(40)}
    img = p.push_image("test/seeded", "1", [busybox_rootfs_tar(), file_layer(files)])
    p.close()
    return img


def _ref(registry: Registry, img: PushedImage) -> str:
    return f"{registry.host}/{img.repo}:{img.tag}"


def _crash_during(
    e: PortsideEngine, monkeypatch: pytest.MonkeyPatch, point: str, *cmd: str
) -> None:
    """Restart the engine armed for ``point``, run ``docker cmd`` and see it die there."""
    e.stop()
    monkeypatch.setenv(CRASH_ENV, point)
    e.start()
    monkeypatch.delenv(CRASH_ENV)
    e.docker(*cmd, check=False, timeout=120)
    assert e.proc is not None
    assert e.proc.wait(30) == -9, "the engine did not die at the crash point"
    assert f"{CRASH_ENV}={point}: killing the engine here" in e.log()
    e.proc = None
    e.start()


def _mounts_under(base: Path) -> list[str]:
    prefix = str(base) + "/"
    out = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        mnt = line.split()[4].encode().decode("unicode_escape")
        if mnt.startswith(prefix):
            out.append(mnt)
    return out


def _cgroups_named(ids: set[str]) -> list[str]:
    found = []
    # os.walk skips what vanishes mid-walk (a cgroup removed meanwhile).
    for root, dirs, _files in os.walk("/sys/fs/cgroup"):
        found.extend(f"{root}/{d}" for d in dirs if any(i in d for i in ids))
    return found


def _assert_consistent(e: PortsideEngine, seen_containers: frozenset[str] = frozenset()) -> None:
    """The files under the data root match what the engine reports, and nothing of a
    container that is not running stays mounted or keeps a cgroup."""
    images = e.docker("images", "-aq", "--no-trunc").stdout.split()
    layers: set[str] = set()
    for image_id in set(images):
        info = json.loads(e.docker("image", "inspect", image_id).stdout)[0]
        layers.update(info["RootFS"].get("Layers") or [])
    db = sqlite3.connect(e.data_root / "portside.db")
    try:
        layer_blobs = {
            r[0] for r in db.execute("SELECT blob_digest FROM image_layers") if r[0] is not None
        }
    finally:
        db.close()
    st = store_state(e.data_root)
    assert st.temp_files == []
    assert st.layers == layers, "orphan or missing layers"
    assert st.blobs == set(images) | layer_blobs, "orphan or missing blobs"

    containers = set(e.docker("ps", "-aq", "--no-trunc").stdout.split())
    running = set(e.docker("ps", "-q", "--no-trunc").stdout.split())
    on_disk = {p.name for p in (e.data_root / "containers").iterdir()}
    assert on_disk == containers, "orphan or missing container directories"
    stopped = (containers | set(seen_containers)) - running
    mounted = [m for m in _mounts_under(e.base) if any(c in m for c in stopped)]
    assert mounted == [], "a container that is not running is still mounted"
    assert _cgroups_named(stopped) == []
    assert [m for m in _mounts_under(e.data_root / "volumes")] == []


# -- pull ----------------------------------------------------------------------------------
@pytest.mark.parametrize("point", ["pull-layer", "image-register"])
def test_kill_9_during_pull(
    engine: PortsideEngine,
    registry: Registry,
    seeded_image: PushedImage,
    monkeypatch: pytest.MonkeyPatch,
    point: str,
) -> None:
    ref = _ref(registry, seeded_image)
    _crash_during(engine, monkeypatch, point, "pull", ref)
    assert engine.docker("images", "-q").stdout.strip() == ""
    _assert_consistent(engine)
    engine.docker("pull", ref)
    info = json.loads(engine.docker("image", "inspect", ref).stdout)[0]
    assert info["Id"] == seeded_image.image_id
    _assert_consistent(engine)


# -- rmi -----------------------------------------------------------------------------------
def test_kill_9_during_rmi_frees_the_config_blob_at_start(
    engine_with_busybox: PortsideEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    e = engine_with_busybox
    image_id = e.docker("image", "inspect", "-f", "{{.Id}}", "busybox").stdout.strip()
    _crash_during(e, monkeypatch, "rmi", "rmi", "busybox")
    # The catalog entry went before the crash: the removal completes at start.
    assert e.docker("images", "-aq").stdout.strip() == ""
    assert not (e.data_root / "blobs" / "sha256" / image_id[7:]).exists()
    _assert_consistent(e)


# -- commit --------------------------------------------------------------------------------
@pytest.mark.parametrize("point", ["commit-paused", "commit-layer", "image-register"])
def test_kill_9_during_commit(
    engine_with_busybox: PortsideEngine, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    e = engine_with_busybox
    cid = e.docker(
        "run", "-d", "busybox", "sh", "-c", "echo kept > /made; sleep 600"
    ).stdout.strip()
    _crash_during(e, monkeypatch, point, "commit", cid, "snap:1")
    assert "snap" not in e.docker("images", "--format", "{{.Repository}}").stdout
    # Paused for the commit or just unpaused when the engine died: it runs after the restart.
    assert e.docker("inspect", "-f", "{{.State.Status}}", cid).stdout.strip() == "running"
    _assert_consistent(e, frozenset({cid}))
    e.docker("commit", cid, "snap:1")
    assert e.docker("run", "--rm", "snap:1", "cat", "/made").stdout.strip() == "kept"
    e.docker("rm", "-f", cid)
    _assert_consistent(e, frozenset({cid}))


# -- load ----------------------------------------------------------------------------------
@pytest.mark.parametrize("point", ["load-layer", "image-register"])
def test_kill_9_during_load(
    engine: PortsideEngine, busybox_tar: Path, monkeypatch: pytest.MonkeyPatch, point: str
) -> None:
    _crash_during(engine, monkeypatch, point, "load", "-i", str(busybox_tar))
    assert engine.docker("images", "-q").stdout.strip() == ""
    _assert_consistent(engine)
    engine.docker("load", "-i", str(busybox_tar))
    assert engine.docker("run", "--rm", "busybox", "true").returncode == 0
    _assert_consistent(engine)


# -- volume seeding ------------------------------------------------------------------------
def test_kill_9_while_seeding_a_new_volume_leaves_it_empty_and_seeds_it_next_start(
    engine: PortsideEngine,
    registry: Registry,
    seeded_image: PushedImage,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    e = engine
    ref = _ref(registry, seeded_image)
    e.docker("pull", ref)
    cid = e.docker("create", "-v", "seedvol:/data", ref, "ls", "/data").stdout.strip()
    _crash_during(e, monkeypatch, "volume-seed", "start", cid)
    data = Path(e.docker("volume", "inspect", "-f", "{{.Mountpoint}}", "seedvol").stdout.strip())
    # Half a copy is never what a container sees: the volume is empty again.
    assert list(data.iterdir()) == []
    _assert_consistent(e, frozenset({cid}))
    out = e.docker("start", "-a", cid).stdout.split()
    assert out == [f"f{i:02d}" for i in range(40)]
    assert (data / "f39").read_text() == "content 39\n"
    _assert_consistent(e, frozenset({cid}))
