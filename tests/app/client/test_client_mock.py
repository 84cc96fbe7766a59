"""EngineClient over httpx.MockTransport: what goes on the wire and how answers decode."""

from __future__ import annotations

import base64
import json

import httpx
import pytest
from portside.app.client import (
    BadRequest,
    Conflict,
    EngineClient,
    EngineUnreachable,
    NotFound,
    ServerError,
    StreamError,
)
from portside.app.client.streams import frame

VERSION = {"ApiVersion": "1.43", "MinAPIVersion": "1.24", "Platform": {"Name": "Fake Engine"}}


class Fake:
    """A scripted engine: routes (method, path) to handlers and records requests."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], object] = {("GET", "/version"): VERSION}
        self.requests: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        route = self.routes.get((request.method, request.url.path))
        if route is None:
            return httpx.Response(404, json={"message": f"page not found: {request.url.path}"})
        if callable(route):
            return route(request)
        return httpx.Response(200, json=route)

    async def client(self) -> EngineClient:
        c = EngineClient("unix:///fake.sock", transport=httpx.MockTransport(self.handler))
        await c.connect()
        return c


async def test_negotiates_and_prefixes_paths():
    fake = Fake()
    fake.routes[("GET", "/v1.43/containers/json")] = [{"Id": "abc"}]
    c = await fake.client()
    assert c.api_version == "1.43" and c.engine_name == "Fake Engine"
    assert await c.containers.list() == [{"Id": "abc"}]
    req = fake.requests[-1]
    assert req.url.params["all"] == "1" and "filters" not in req.url.params
    await c.aclose()


async def test_filters_are_json_and_booleans_are_digits():
    fake = Fake()
    fake.routes[("DELETE", "/v1.43/containers/abc")] = lambda r: httpx.Response(204)
    fake.routes[("GET", "/v1.43/images/json")] = []
    c = await fake.client()
    await c.containers.remove("abc", force=True)
    assert dict(fake.requests[-1].url.params) == {"force": "1", "v": "0"}
    await c.images.list(filters={"dangling": ["true"]})
    assert json.loads(fake.requests[-1].url.params["filters"]) == {"dangling": ["true"]}
    await c.aclose()


@pytest.mark.parametrize(
    "status,exc", [(400, BadRequest), (404, NotFound), (409, Conflict), (500, ServerError)]
)
async def test_errors_are_typed_and_carry_the_message(status, exc):
    fake = Fake()
    fake.routes[("POST", "/v1.43/containers/x/start")] = lambda r: httpx.Response(
        status, json={"message": "the engine's own words"}
    )
    c = await fake.client()
    with pytest.raises(exc) as info:
        await c.containers.start("x")
    assert str(info.value) == "the engine's own words" and info.value.status == status
    await c.aclose()


async def test_non_json_error_body_is_kept_as_text():
    fake = Fake()
    fake.routes[("GET", "/v1.43/info")] = lambda r: httpx.Response(502, text="Bad Gateway")
    c = await fake.client()
    with pytest.raises(ServerError, match="Bad Gateway"):
        await c.system.info()
    await c.aclose()


async def test_304_is_success():
    fake = Fake()
    fake.routes[("POST", "/v1.43/containers/x/stop")] = lambda r: httpx.Response(304)
    c = await fake.client()
    await c.containers.stop("x", grace=3)
    assert fake.requests[-1].url.params["t"] == "3"
    await c.aclose()


async def test_unreachable_engine():
    def refuse(request):
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    c = EngineClient("unix:///nowhere.sock", transport=httpx.MockTransport(refuse))
    with pytest.raises(EngineUnreachable, match=r"at /nowhere\.sock: nothing answers there"):
        await c.connect()
    await c.aclose()


async def test_too_old_engine_is_refused():
    fake = Fake()
    fake.routes[("GET", "/version")] = {"ApiVersion": "1.12"}
    with pytest.raises(EngineUnreachable, match="too old"):
        await fake.client()


async def test_events_stream_decodes_objects():
    events = [
        {"Type": "container", "Action": "start", "Actor": {"ID": "a"}},
        {"Type": "image", "Action": "pull", "Actor": {"ID": "busybox"}},
    ]
    body = b"".join(json.dumps(e).encode() + b"\n" for e in events)
    fake = Fake()
    fake.routes[("GET", "/v1.43/events")] = lambda r: httpx.Response(200, content=body)
    c = await fake.client()
    got = [e async for e in c.system.events(filters={"type": ["container"]})]
    assert got == events
    assert json.loads(fake.requests[-1].url.params["filters"]) == {"type": ["container"]}
    await c.aclose()


async def test_logs_demultiplexed_by_content_type():
    body = frame(1, b"one\ntw") + frame(2, b"warn\n") + frame(1, b"o\n")
    fake = Fake()
    fake.routes[("GET", "/v1.43/containers/c/logs")] = lambda r: httpx.Response(
        200, content=body, headers={"Content-Type": "application/vnd.docker.multiplexed-stream"}
    )
    c = await fake.client()
    lines = [(ln.stream, ln.text) async for ln in c.containers.logs("c", follow=True)]
    assert lines == [("stdout", "one"), ("stderr", "warn"), ("stdout", "two")]
    assert fake.requests[-1].url.params["follow"] == "1"
    await c.aclose()


async def test_logs_of_tty_container_without_content_type_ask_inspect():
    fake = Fake()
    fake.routes[("GET", "/v1.43/containers/t/logs")] = lambda r: httpx.Response(
        200, content=b"\x1b[32mgreen\x1b[0m\nplain\n"
    )
    fake.routes[("GET", "/v1.43/containers/t/json")] = {"Config": {"Tty": True}}
    c = await fake.client()
    lines = [ln.text async for ln in c.containers.logs("t")]
    assert lines == ["\x1b[32mgreen\x1b[0m", "plain"]
    await c.aclose()


async def test_pull_progress_and_inline_error():
    msgs = [
        {"status": "Pulling from library/busybox", "id": "latest"},
        {"status": "Downloading", "id": "l1", "progressDetail": {"current": 1, "total": 2}},
        {"error": "unauthorized: no way", "errorDetail": {"message": "unauthorized: no way"}},
    ]
    body = b"\r\n".join(json.dumps(m).encode() for m in msgs)
    fake = Fake()
    fake.routes[("POST", "/v1.43/images/create")] = lambda r: httpx.Response(200, content=body)
    c = await fake.client()
    seen = []
    with pytest.raises(StreamError, match="unauthorized: no way"):
        async for m in c.images.pull("127.0.0.1:5000/team/app", auth={"username": "u"}):
            seen.append(m)
    assert len(seen) == 2
    req = fake.requests[-1]
    assert dict(req.url.params) == {"fromImage": "127.0.0.1:5000/team/app", "tag": "latest"}
    assert json.loads(base64.urlsafe_b64decode(req.headers["X-Registry-Auth"])) == {"username": "u"}
    await c.aclose()


async def test_volume_and_network_bodies():
    fake = Fake()
    fake.routes[("GET", "/v1.43/volumes")] = {"Volumes": None, "Warnings": None}
    fake.routes[("POST", "/v1.43/networks/create")] = lambda r: httpx.Response(
        201, json={"Id": "n1", "Warning": ""}
    )
    c = await fake.client()
    assert await c.volumes.list() == []
    await c.networks.create("backend", subnet="10.9.0.0/24", internal=True)
    assert json.loads(fake.requests[-1].content) == {
        "Name": "backend",
        "Driver": "bridge",
        "Internal": True,
        "IPAM": {"Driver": "default", "Config": [{"Subnet": "10.9.0.0/24"}]},
    }
    await c.aclose()


async def test_path_stat_header():
    stat = {"name": "hosts", "size": 12, "mode": 420, "mtime": "x", "linkTarget": ""}
    header = base64.b64encode(json.dumps(stat).encode()).decode()
    fake = Fake()
    fake.routes[("HEAD", "/v1.43/containers/c/archive")] = lambda r: httpx.Response(
        200, headers={"X-Docker-Container-Path-Stat": header}
    )
    c = await fake.client()
    assert await c.containers.path_stat("c", "/etc/hosts") == stat
    await c.aclose()
