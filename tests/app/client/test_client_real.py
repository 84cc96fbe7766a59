"""The client against real engines: portsided from the fixtures, and dockerd when installed.

Every test here runs twice (see ``real_engine`` in conftest.py). Containers use the
``none`` network because the private dockerd runs without a bridge.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid

import pytest
from portside.app.client import Conflict, EngineClient, NotFound, StatsSample
from portside.app.client.archive import iter_tar, list_directory

pytestmark = pytest.mark.timeout(120)


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def _config(cmd: list[str], **extra) -> dict:
    config = {
        "Image": "busybox:latest",
        "Cmd": cmd,
        "HostConfig": {"NetworkMode": "none"},
        "Labels": {"com.docker.compose.project": "shop"},
    }
    config.update(extra)
    return config


@contextlib.asynccontextmanager
async def container(c: EngineClient, cmd: list[str], start: bool = True, **extra):
    created = await c.containers.create(_config(cmd, **extra), name=_name("ct"))
    cid = created["Id"]
    try:
        if start:
            await c.containers.start(cid)
        yield cid
    finally:
        with contextlib.suppress(NotFound):
            await c.containers.remove(cid, force=True)


async def test_connect_negotiates_version(real_engine):
    async with EngineClient(real_engine.host) as c:
        version = c.server_version
        assert c.api_version == min(version["ApiVersion"], "1.47", key=lambda v: float(v))
        info = await c.system.info()
        assert info["ServerVersion"] == version["Version"]
        df = await c.system.df()
        assert "Images" in df and "Containers" in df
        assert await c.system.ping() in ("", version["ApiVersion"])


async def test_container_lifecycle_and_errors(real_engine):
    async with EngineClient(real_engine.host) as c:
        with pytest.raises(NotFound):
            await c.containers.start("no-such-container")
        async with container(c, ["sleep", "300"]) as cid:
            summary = await c.containers.get(cid)
            assert summary["State"] == "running"
            assert summary["Labels"]["com.docker.compose.project"] == "shop"
            with pytest.raises(Conflict):
                await c.containers.remove(cid)
            await c.containers.pause(cid)
            assert (await c.containers.inspect(cid))["State"]["Status"] == "paused"
            await c.containers.unpause(cid)
            await c.containers.stop(cid, grace=1)
            assert (await c.containers.inspect(cid))["State"]["Running"] is False
            await c.containers.restart(cid, grace=1)
            assert (await c.containers.inspect(cid))["State"]["Running"] is True
            await c.containers.remove(cid, force=True)
            with pytest.raises(NotFound):
                await c.containers.inspect(cid)
            assert await c.containers.get(cid) is None


async def test_events_follow_container_changes(real_engine):
    async with EngineClient(real_engine.host) as c:
        seen: list[tuple[str, str]] = []
        started = asyncio.Event()

        async def watch():
            async for ev in c.system.events(filters={"type": ["container"]}):
                seen.append((ev["Action"], ev["Actor"]["ID"]))
                started.set()

        task = asyncio.create_task(watch())
        # The event stream only opens once the request is answered; give it a moment.
        await asyncio.sleep(0.5)
        async with container(c, ["sleep", "300"]) as cid:
            for _ in range(100):
                if ("start", cid) in seen:
                    break
                await asyncio.sleep(0.05)
        for _ in range(100):
            if ("destroy", cid) in seen:
                break
            await asyncio.sleep(0.05)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        actions = [a for a, i in seen if i == cid]
        assert actions[:2] == ["create", "start"] and actions[-1] == "destroy", seen


async def test_logs_follow_both_streams(real_engine):
    script = "echo hello; echo oops >&2; sleep 0.5; echo later; sleep 300"
    async with EngineClient(real_engine.host) as c:
        async with container(c, ["sh", "-c", script]) as cid:
            lines = []

            async def follow():
                async for line in c.containers.logs(cid, follow=True, timestamps=True):
                    lines.append(line)
                    if line.text == "later":
                        return

            await asyncio.wait_for(follow(), 30)
    assert [(ln.stream, ln.text) for ln in lines] == [
        ("stdout", "hello"),
        ("stderr", "oops"),
        ("stdout", "later"),
    ] or sorted((ln.stream, ln.text) for ln in lines) == [
        ("stderr", "oops"),
        ("stdout", "hello"),
        ("stdout", "later"),
    ]
    assert all(ln.timestamp and ln.timestamp[:2] == "20" for ln in lines)


async def test_stats_stream_gives_samples(real_engine):
    async with EngineClient(real_engine.host) as c:
        async with container(c, ["sh", "-c", "while :; do :; done"]) as cid:
            samples: list[StatsSample] = []

            async def take():
                async for s in c.containers.stats_samples(cid):
                    samples.append(s)
                    if len(samples) == 3:
                        return

            await asyncio.wait_for(take(), 30)
    assert samples[-1].memory_usage > 0 and samples[-1].pids >= 1
    assert max(s.cpu_percent for s in samples) > 10.0  # a busy loop shows up


async def test_exec_tty_shell_and_run(real_engine):
    async with EngineClient(real_engine.host) as c:
        async with container(c, ["sleep", "300"]) as cid:
            exec_id = await c.exec.create(cid, ["sh"], tty=True, console_size=(24, 80))
            async with await c.exec.start(exec_id, console_size=(24, 80)) as term:
                await c.exec.resize(exec_id, 30, 100)
                await term.write(b"stty size; echo $((6*7))\n")
                out = b""
                loop = asyncio.get_running_loop()
                deadline = loop.time() + 20
                while b"42" not in out or b"30 100" not in out:
                    try:
                        chunk = await asyncio.wait_for(term.read(), deadline - loop.time())
                    except TimeoutError:
                        raise AssertionError(f"no answer from the shell; got {out!r}") from None
                    assert chunk, out
                    out += chunk
                await term.write(b"exit\n")
                while await asyncio.wait_for(term.read(), 20):
                    pass
            code, stdout, stderr = await c.exec.run(
                cid, ["sh", "-c", "echo out; echo err >&2; exit 3"]
            )
            assert (code, stdout, stderr) == (3, b"out\n", b"err\n")


async def test_archive_browse_and_download(real_engine):
    async with EngineClient(real_engine.host) as c:
        async with container(c, ["sleep", "300"]) as cid:
            etc = await list_directory(c.containers.get_archive(cid, "/etc"))
            names = {e.basename: e for e in etc}
            assert "passwd" in names and names["passwd"].kind == "file"
            root = await list_directory(c.containers.get_archive(cid, "/"))
            assert {"bin", "etc"} <= {e.basename for e in root if e.kind == "dir"}
            stat = await c.containers.path_stat(cid, "/etc/passwd")
            assert stat["name"] == "passwd" and stat["size"] == names["passwd"].size
            body = bytearray()

            async def on_data(entry, piece):
                body.extend(piece)

            [entry] = [
                e async for e in iter_tar(c.containers.get_archive(cid, "/etc/passwd"), on_data)
            ]
            assert entry.basename == "passwd" and bytes(body).startswith(b"root:x:0:0:")
            with pytest.raises(NotFound):
                await c.containers.path_stat(cid, "/no/such/file")


async def test_images_list_inspect_history_tag_remove(real_engine):
    async with EngineClient(real_engine.host) as c:
        images = await c.images.list()
        assert any("busybox:latest" in (i.get("RepoTags") or []) for i in images)
        info = await c.images.inspect("busybox:latest")
        assert info["Id"].startswith("sha256:")
        history = await c.images.history("busybox:latest")
        assert history and "Created" in history[0]
        tag = _name("retag")
        await c.images.tag("busybox:latest", tag, "v1")
        removed = await c.images.remove(f"{tag}:v1")
        assert {"Untagged": f"{tag}:v1"} in removed
        with pytest.raises(NotFound):
            await c.images.inspect(f"{tag}:v1")


async def test_volumes_create_list_remove(real_engine):
    async with EngineClient(real_engine.host) as c:
        name = _name("vol")
        created = await c.volumes.create(name, labels={"app": "test"})
        assert created["Name"] == name
        assert name in {v["Name"] for v in await c.volumes.list()}
        assert (await c.volumes.inspect(name))["Labels"] == {"app": "test"}
        async with container(
            c, ["sleep", "300"], HostConfig={"NetworkMode": "none", "Binds": [f"{name}:/data"]}
        ):
            with pytest.raises(Conflict):
                await c.volumes.remove(name)
        await c.volumes.remove(name)
        with pytest.raises(NotFound):
            await c.volumes.inspect(name)


async def test_networks_create_connect_remove(real_engine):
    async with EngineClient(real_engine.host) as c:
        name = _name("net")
        created = await c.networks.create(name, subnet="10.231.7.0/24", internal=True)
        try:
            net = await c.networks.inspect(created["Id"])
            assert net["Internal"] is True
            assert net["IPAM"]["Config"][0]["Subnet"] == "10.231.7.0/24"
            async with container(c, ["sleep", "300"], HostConfig={}) as cid:
                await c.networks.connect(name, cid)
                members = (await c.networks.inspect(name)).get("Containers") or {}
                assert cid in members
                await c.networks.disconnect(name, cid)
                members = (await c.networks.inspect(name)).get("Containers") or {}
                assert cid not in members
        finally:
            await c.networks.remove(created["Id"])
        with pytest.raises(NotFound):
            await c.networks.inspect(name)
