"""ImageService in-process: layer store, references, Docker's delete/prune rules.

The usage checker is the seam the containers service plugs into; here it is a plain
function over a dict of (container id -> image id, running) so the conflict logic can
be exercised before containers exist.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from portside.engine.config import DaemonConfig
from portside.engine.errors import Conflict, InvalidParameter, NotFound
from portside.engine.images.service import ImageService
from portside.engine.store.blobs import DigestMismatch
from portside.engine.store.db import Database
from portside.engine.system.events import EventBus
from tarkit import d, digest, f, sym, tar


async def chunks(data: bytes, size: int = 4096) -> AsyncIterator[bytes]:
    for i in range(0, len(data), size):
        yield data[i : i + size]


def config_for(layers: list[bytes], **config: object) -> bytes:
    return json.dumps(
        {
            "architecture": "amd64",
            "os": "linux",
            "created": "2025-01-01T00:00:00Z",
            "config": config,
            "rootfs": {"type": "layers", "diff_ids": [digest(x) for x in layers]},
        }
    ).encode()


class World:
    """A service plus a fake container table for the usage checker."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.containers: dict[str, tuple[str, bool]] = {}
        self.events = EventBus()
        self.svc = self._new()

    def _new(self) -> ImageService:
        cfg = DaemonConfig(data_root=self.root)
        svc = ImageService(cfg, Database(self.root / "portside.db"), self.events)
        svc.set_usage_checker(self.in_use)
        return svc

    def in_use(self, image_id: str, running_only: bool = False) -> list[str]:
        return [
            c
            for c, (i, running) in self.containers.items()
            if i == image_id and (running or not running_only)
        ]

    async def image(self, layers: list[bytes], tags: list[str], **config: object):
        for layer in layers:
            if not self.svc.layers.has(digest(layer)):
                await self.svc.layers.unpack(digest(layer), chunks(layer))
        return await self.svc.register_image(config_for(layers, **config), tags)

    async def restart(self) -> None:
        await self.svc.shutdown()
        self.svc.db.close()
        self.svc = self._new()
        await self.svc.start()


@pytest.fixture
async def world(tmp_path: Path) -> AsyncIterator[World]:
    w = World(tmp_path / "data")
    await w.svc.start()
    yield w
    await w.svc.shutdown()
    w.svc.db.close()


BASE = tar(d("bin"), f("bin/sh", b"#!sh", mode=0o755))
APP = tar(d("app"), f("app/run", b"run"))


def layer_dirs(world: World) -> set[str]:
    return {p.name for p in world.svc.layers.root.iterdir() if p.name != "tmp"}


async def test_unpack_verifies_and_leaves_nothing_on_mismatch(world):
    layers = world.svc.layers
    with pytest.raises(DigestMismatch):
        await layers.unpack(digest(b"something else"), chunks(BASE))
    assert layer_dirs(world) == set() and list(layers.tmp.iterdir()) == []
    size = await layers.unpack(digest(BASE), chunks(BASE))
    assert size == 4 and layers.has(digest(BASE))
    assert (layers.dir(digest(BASE)) / "bin/sh").read_bytes() == b"#!sh"
    rebuilt = b"".join([c async for c in layers.tar_chunks(digest(BASE))])
    assert rebuilt == BASE


async def test_hostile_unpack_through_the_channel_leaves_nothing(world, tmp_path):
    evil = tar(sym("x", str(tmp_path)), f("x/escaped", b"!"))
    with pytest.raises(InvalidParameter, match="through symlink"):
        await world.svc.layers.unpack(digest(evil), chunks(evil, 100))
    assert not (tmp_path / "escaped").exists()
    assert layer_dirs(world) == set() and list(world.svc.layers.tmp.iterdir()) == []


async def test_register_needs_its_layers(world):
    with pytest.raises(InvalidParameter, match="missing layer"):
        await world.svc.register_image(config_for([BASE]), ["x"])
    with pytest.raises(InvalidParameter, match=r"rootfs\.diff_ids"):
        await world.svc.register_image(b'{"config": {}}', ["x"])


async def test_resolve_by_name_id_prefix_and_digest(world):
    img = await world.image([BASE], ["busybox:latest", "127.0.0.1:5000/foo/bar:v1"])
    svc = world.svc
    for ref in (
        "busybox",
        "busybox:latest",
        "docker.io/library/busybox",
        img.id,
        img.id[7:],
        img.id[7:19],
        img.id[:15],
        "127.0.0.1:5000/foo/bar:v1",
    ):
        assert (await svc.resolve(ref)).id == img.id, ref
    await svc.add_repo_digest(img.id, f"busybox@{digest(b'manifest')}")
    assert (await svc.resolve(f"busybox@{digest(b'manifest')}")).id == img.id
    assert svc.image(img.id).repo_digests == [f"busybox@{digest(b'manifest')}"]
    with pytest.raises(NotFound, match="No such image: nothere:latest"):
        await svc.resolve("nothere")


async def test_layer_dirs_top_first_and_deduplicated(world):
    img = await world.image([BASE, APP, BASE], ["dup"])
    dirs = world.svc.layer_dirs(img)
    assert dirs == [world.svc.layers.dir(digest(BASE)), world.svc.layers.dir(digest(APP))]


async def test_tag_moves_and_leaves_the_old_image_dangling(world):
    old = await world.image([BASE], ["app:1"])
    new = await world.image([BASE, APP], ["app:1"], Cmd=["new"])
    assert world.svc.image(old.id).repo_tags == []
    assert world.svc.image(new.id).repo_tags == ["app:1"]
    await world.svc.tag(new.id, "app", "2")
    assert world.svc.image(new.id).repo_tags == ["app:1", "app:2"]
    with pytest.raises(InvalidParameter, match="digest reference"):
        await world.svc.tag(new.id, f"app@{digest(b'x')}", None)
    tag_events = [e for e in world.events.history(None, None) if e.action == "tag"]
    assert tag_events[-1].attributes["name"] == "app:2"


async def test_layers_are_refcounted(world):
    a = await world.image([BASE], ["a"])
    b = await world.image([BASE, APP], ["b"])
    records = await world.svc.delete("a")
    assert records == [{"Untagged": "a:latest"}, {"Deleted": a.id}]
    assert layer_dirs(world) == {digest(BASE)[7:], digest(APP)[7:]}
    records = await world.svc.delete("b")
    deleted = [r["Deleted"] for r in records if "Deleted" in r]
    # the image, then its layers' chain ids top-most first (the first one's is its diff-id)
    assert deleted[0] == b.id and deleted[-1] == digest(BASE) and len(deleted) == 3
    assert layer_dirs(world) == set()
    assert not world.svc.content.has(b.id)


async def test_delete_by_name_while_a_stopped_container_uses_it(world):
    img = await world.image([BASE], ["busybox"])
    world.containers["c" * 64] = (img.id, False)
    with pytest.raises(Conflict) as exc:
        await world.svc.delete("busybox")
    assert exc.value.message == (
        'conflict: unable to remove repository reference "busybox" (must force) - '
        f"container cccccccccccc is using its referenced image {img.id[7:19]}"
    )
    with pytest.raises(Conflict, match=r"\(must be forced\) - image is being used by stopped"):
        await world.svc.delete(img.id[7:19])
    # Forced: untagged and deleted from view, but the layers stay for the container.
    records = await world.svc.delete("busybox", force=True)
    assert records == [{"Untagged": "busybox:latest"}, {"Deleted": img.id}]
    assert world.svc.count() == 0
    assert (await world.svc.resolve(img.id)).id == img.id  # the container can still find it
    assert world.svc.layer_dirs(img)[0].is_dir()
    assert await world.svc.collect_garbage() == 0
    # The container goes away: its destroy event lets the service free the image.
    del world.containers["c" * 64]
    world.events.publish("container", "destroy", "c" * 64, {})
    for _ in range(50):
        if not layer_dirs(world):
            break
        await asyncio.sleep(0.05)
    assert layer_dirs(world) == set()
    with pytest.raises(NotFound):
        await world.svc.resolve(img.id)


async def test_running_container_cannot_be_forced(world):
    img = await world.image([BASE], ["busybox"])
    world.containers["d" * 64] = (img.id, True)
    with pytest.raises(Conflict) as exc:
        await world.svc.delete(img.id, force=True)
    assert exc.value.message == (
        f"conflict: unable to delete {img.id[7:19]} (cannot be forced) - "
        "image is being used by running container dddddddddddd"
    )
    # By name with force only the tag goes; the image stays for the running container.
    assert await world.svc.delete("busybox", force=True) == [{"Untagged": "busybox:latest"}]
    assert world.svc.image(img.id).repo_tags == []
    assert layer_dirs(world) == {digest(BASE)[7:]}


async def test_delete_by_id_with_tags_in_several_repositories(world):
    img = await world.image([BASE], ["one", "two"])
    with pytest.raises(Conflict, match="image is referenced in multiple repositories"):
        await world.svc.delete(img.id[7:19])
    records = await world.svc.delete(img.id[7:19], force=True)
    assert records[:2] == [{"Untagged": "one:latest"}, {"Untagged": "two:latest"}]
    assert {"Deleted": img.id} in records
    # Two tags, even of one repository, need force too (Docker's rule) ...
    img2 = await world.image([APP], ["three:a", "three:b"])
    with pytest.raises(Conflict, match="must be forced"):
        await world.svc.delete(img2.id)
    # ... but one tag plus digests of its repository go with a plain delete by id.
    await world.svc.delete("three:b")
    await world.svc.add_repo_digest(img2.id, f"three@{digest(b'm')}")
    records = await world.svc.delete(img2.id)
    assert records[:2] == [{"Untagged": "three:a"}, {"Untagged": f"three@{digest(b'm')}"}]
    assert {"Deleted": img2.id} in records


async def test_prune(world):
    dangling = await world.image([BASE], [], Labels={"keep": "no"})
    tagged = await world.image([APP], ["app"], Labels={"keep": "yes"})
    used = await world.image([BASE, APP], [])
    world.containers["e" * 64] = (used.id, False)
    res = await world.svc.prune({})
    assert res["ImagesDeleted"] == [{"Deleted": dangling.id}]
    assert res["SpaceReclaimed"] == 0  # BASE is still used by the container's image
    res = await world.svc.prune({"dangling": ["false"], "label!": ["keep=yes"]})
    assert res["ImagesDeleted"] is None
    res = await world.svc.prune({"dangling": ["false"], "label": ["keep=yes"]})
    assert {"Untagged": "app:latest"} in res["ImagesDeleted"]
    assert {"Deleted": tagged.id} in res["ImagesDeleted"]
    assert world.svc.count() == 1
    with pytest.raises(InvalidParameter, match="invalid filter 'bogus'"):
        await world.svc.prune({"bogus": ["1"]})
    with pytest.raises(InvalidParameter, match="dangling=maybe"):
        await world.svc.prune({"dangling": ["maybe"]})
    prune_events = [e for e in world.events.history(None, None) if e.action == "prune"]
    assert prune_events


async def test_restart_cleans_crash_leftovers(world):
    img = await world.image([BASE], ["keep"])
    svc = world.svc
    (svc.layers.tmp / "half-unpacked").mkdir()
    (svc.layers.root / ("f" * 64)).mkdir()  # a rename that never reached the database
    stray = tar(f("stray"))
    await svc.layers.unpack(digest(stray), chunks(stray))  # a pull that never registered
    (svc.content.tmp / "half-blob").write_bytes(b"x")
    await world.restart()
    assert list(world.svc.layers.tmp.iterdir()) == []
    assert list(world.svc.content.tmp.iterdir()) == []
    assert layer_dirs(world) == {digest(BASE)[7:]}
    assert (await world.svc.resolve("keep")).id == img.id


async def test_cancelled_unpack_is_clean_when_the_cancellation_arrives(world):
    started = asyncio.Event()
    big = tar(f("big", b"z" * (3 << 20)))

    async def slow() -> AsyncIterator[bytes]:
        yield big[: 2 << 20]
        started.set()
        await asyncio.Event().wait()
        yield big[2 << 20 :]

    task = asyncio.create_task(world.svc.layers.unpack(digest(big), slow()))
    await started.wait()
    await asyncio.sleep(0.05)  # the worker is unpacking
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert list(world.svc.layers.tmp.iterdir()) == []  # at once, not eventually
    assert layer_dirs(world) == set()
