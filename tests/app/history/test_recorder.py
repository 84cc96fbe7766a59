"""The recorder on its own (no Qt): it records a real engine's running containers, and
marks removed only the containers of the engine it is connected to."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from portside.app.client import EngineClient
from portside.app.history import HOST_KEY, HistoryRecorder


async def _until(cond: Callable[[], Awaitable[bool]]) -> None:
    for _ in range(150):  # 30 s
        if await cond():
            return
        await asyncio.sleep(0.2)
    raise AssertionError("timed out")


def test_recorder_records_and_marks_only_its_engines_containers_removed(
    shared_engine, arun, tmp_path
):
    async def go() -> None:
        async with EngineClient(shared_engine.host) as client:
            body = {"Image": "busybox:latest", "Cmd": ["sleep", "300"]}
            body["HostConfig"] = {"NetworkMode": "none"}
            cid = (await client.containers.create(body))["Id"]
            await client.containers.start(cid)
            rec = HistoryRecorder(tmp_path / "history.sqlite")
            batches: list[int] = []
            rec.listeners.append(lambda batch: batches.append(len(batch)))
            try:
                await rec.open()
                elsewhere = "unix:///run/elsewhere.sock"
                await rec.call(
                    lambda st: st.series_id("c-elsewhere", "far", "container", elsewhere)
                )
                rec.set_client(client, "test engine")
                rec.sync({cid: ("sleeper", True)})

                async def recorded() -> bool:
                    now = time.time()
                    rows = await rec.call(lambda st: st.query(cid, now - 60, now))
                    return len(rows) >= 3

                await _until(recorded)
                assert rec.streaming == {cid}
                now = time.time()
                host = await rec.call(lambda st: st.query(HOST_KEY, now - 60, now))
                assert host and all(r.mem > 0 for r in host)
                engine = await rec.call(lambda st: st.query(rec.engine_key, now - 60, now))
                assert engine
                # One batch a second reaches listeners, with every series of that second.
                assert batches and max(batches) >= 3
                # The container disappears from this engine's list.
                rec.sync({})

                async def removed() -> bool:
                    infos = {s.key: s for s in await rec.call(lambda st: st.series())}
                    return infos[cid].removed is not None

                await _until(removed)
                infos = {s.key: s for s in await rec.call(lambda st: st.series())}
                assert infos["c-elsewhere"].removed is None  # another engine's container
                assert infos[cid].engine == client.address.describe()
            finally:
                await rec.close()
                await client.containers.remove(cid, force=True)

    arun(go(), timeout=90)
