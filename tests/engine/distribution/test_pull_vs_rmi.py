"""``docker rmi`` (and ``docker image prune -a``) racing ``docker pull`` over a shared layer.

Image A (layer L) is present. A pull of image B (layers L and M) finds L "Already
exists" and downloads M; meanwhile ``docker rmi A`` frees every layer of A no image
references. L is referenced by no image yet (B is not registered), so without the
pull holding it, rmi deletes it and B ends up unregistrable or broken. A paused proxy
in front of the registry keeps M's download going for exactly as long as the test
needs, so the rmi lands mid-pull every time.
"""

from __future__ import annotations

import asyncio
import json
import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from portside.engine.config import DaemonConfig
from portside.engine.images.service import ImageService
from portside.engine.store.db import Database
from portside.engine.system.events import EventBus
from support.images import busybox_rootfs_tar, docker_archive
from support.registry import (
    PushedImage,
    Registry,
    ThrottleProxy,
    file_layer,
    settled_store_state,
)

BIG = 8 << 20  # random, so the wire carries all of it: two seconds through the proxy


@pytest.fixture
def shared_base(registry: Registry) -> Iterator[tuple[ThrottleProxy, PushedImage, PushedImage]]:
    """A (busybox) and B (busybox + a big layer) in the registry, and a slow proxy to it."""
    base = busybox_rootfs_tar()
    p = registry.pusher()
    a = p.push_image("test/a", "1", [base])
    b = p.push_image("test/b", "1", [base, file_layer({"big.bin": os.urandom(BIG)})])
    p.close()
    assert a.diff_ids[0] == b.diff_ids[0]
    proxy = ThrottleProxy(registry.port, rate=4 << 20).start()
    try:
        yield proxy, a, b
    finally:
        proxy.stop()


def _dangling_layers(engine: Any) -> dict[str, list[str]]:
    """Image id -> diff-ids it lists whose layer directory is missing."""
    ids = engine.docker("images", "-aq", "--no-trunc").stdout.split()
    out: dict[str, list[str]] = {}
    for info in json.loads(engine.docker("image", "inspect", *ids).stdout) if ids else []:
        missing = [
            d
            for d in info["RootFS"]["Layers"]
            if not (engine.data_root / "layers" / d[7:] / "diff").is_dir()
        ]
        if missing:
            out[info["Id"]] = missing
    return out


@pytest.mark.parametrize("remove", [("rmi",), ("image", "prune", "-af")], ids=["rmi", "prune"])
def test_rmi_during_pull_keeps_the_layer_the_pull_found(
    engine, registry, shared_base, tmp_path, remove
):
    proxy, a, b = shared_base
    ref_a, ref_b = f"{registry.host}/test/a:1", f"{proxy.host}/test/b:1"
    engine.docker("pull", ref_a, timeout=120)
    base_id, big_id = (d[7:19] for d in b.layer_digests)

    events: list[dict[str, Any]] = []
    transport = httpx.HTTPTransport(uds=str(engine.socket))
    with httpx.Client(transport=transport, base_url="http://portside", timeout=120) as c:
        params = {"fromImage": f"{proxy.host}/test/b", "tag": "1"}
        with c.stream("POST", "/images/create", params=params) as resp:
            assert resp.status_code == 200
            lines = resp.iter_lines()
            found_base = downloading_big = False
            for line in lines:
                ev = json.loads(line)
                events.append(ev)
                assert "error" not in ev, ev
                if ev.get("id") == base_id and ev.get("status") == "Already exists":
                    found_base = True
                if ev.get("id") == big_id and ev.get("status") == "Downloading":
                    downloading_big = True
                if found_base and downloading_big:
                    break
            assert found_base and downloading_big, events
            # M cannot finish while the proxy holds its bytes back: the rmi runs
            # strictly between the pull's "Already exists" and its registration.
            proxy.pause()
            try:
                rmi = engine.docker(*remove, *([ref_a] if remove == ("rmi",) else []))
            finally:
                proxy.resume()
            events.extend(json.loads(line) for line in lines if line.strip())

    assert f"untagged: {ref_a}" in rmi.stdout.lower()
    assert f"deleted: {a.image_id}" in rmi.stdout.lower()
    # L's chain id is its diff-id: the layer a running pull found must not be deleted.
    assert b.diff_ids[0] not in rmi.stdout, rmi.stdout
    errors = [ev for ev in events if "error" in ev]
    assert errors == [], errors
    assert {"status": f"Digest: {b.manifest_digest}"} in events

    listed = engine.docker("images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").stdout
    assert f"{ref_b} {b.image_id[7:19]}" in listed, listed
    assert ref_a not in listed
    assert _dangling_layers(engine) == {}
    assert engine.docker("run", "--rm", ref_b, "true", timeout=120).returncode == 0
    engine.docker("save", "-o", str(tmp_path / "b.tar"), ref_b, timeout=120)
    assert (tmp_path / "b.tar").stat().st_size > BIG

    # The pull's hold ended with it: removing B frees both layers and every blob.
    engine.docker("rmi", ref_b)
    st = settled_store_state(engine.data_root)
    assert (st.layers, st.blobs, st.temp_files) == (set(), set(), [])


# -- the same protocol in-process, at the exact interleaving -----------------------------
async def _chunks(data: bytes, size: int = 1 << 16) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


@pytest.fixture
async def images(tmp_path: Path) -> AsyncIterator[ImageService]:
    """A real image service (stores, database) in a temp data-root."""
    root = tmp_path / "data"
    svc = ImageService(DaemonConfig(data_root=root), Database(root / "portside.db"), EventBus())
    await svc.start()
    try:
        yield svc
    finally:
        await svc.shutdown()
        svc.db.close()


async def test_hold_taken_while_rmi_frees_other_layers_protects_the_rest(images):
    """A pull holds its diff-ids, then asks ``layers.has``; an rmi already busy
    freeing the image's layers must re-check the holds before each one it removes.

    A is [L, K]; rmi frees the top-most layer K first. The "pull" (of an image with L
    and K) starts while rmi is inside K's removal: K is already gone, so the pull must
    see it missing (and download it), while L is still there, found present, and must
    survive the rest of the rmi.
    """
    svc = images
    base, top = busybox_rootfs_tar(), file_layer({"k.txt": b"k"})
    await svc.load(_chunks(docker_archive([base, top], repo_tags=["a:1"])))
    l_id, k_id = (await svc.resolve("a:1")).diff_ids

    rmi = asyncio.create_task(svc.delete("a:1"))
    while svc.layers.has(k_id):  # rmi runs up to its first wait: inside K's removal
        assert not rmi.done(), rmi
        await asyncio.sleep(0)
    assert not rmi.done()
    with svc.hold_layers([l_id, k_id]):
        # What Puller._layers decides, with no await between the hold and the checks.
        assert not svc.layers.has(k_id), "a layer rmi renamed away must look missing"
        assert svc.layers.has(l_id), "rmi frees the top-most layer first"
        records = await asyncio.wait_for(rmi, 30)
        assert {"Deleted": k_id} not in records  # K's chain id is not its diff-id
        assert {"Deleted": l_id} not in records, records
        assert svc.layers.has(l_id) and svc.layers.dir(l_id).is_dir()
    assert not svc.layers.dir(k_id).exists()
