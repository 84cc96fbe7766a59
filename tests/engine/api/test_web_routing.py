"""The route table and request parsing of the engine's HTTP layer (no sockets)."""

from __future__ import annotations

import pytest
from portside.engine.api.router import split_version
from portside.engine.api.web import Headers, MethodNotAllowed, NotFound, Query, RouteTable
from portside.engine.api.web.routing import compile_template


async def h_json() -> None: ...
async def h_delete() -> None: ...
async def h_get() -> None: ...
async def h_head() -> None: ...


@pytest.fixture
def table() -> RouteTable:
    t = RouteTable()
    t.add("GET", "/images/{name:.+}/json", h_json)
    t.add("DELETE", "/images/{name:.+}", h_delete)
    t.add("GET", "/containers/{id}/archive", h_get)
    t.add("HEAD", "/containers/{id}/archive", h_head)
    return t


def test_slashes_in_a_greedy_parameter(table: RouteTable) -> None:
    handler, params = table.resolve("GET", "/images/127.0.0.1:5000/a/b:1/json")
    assert handler is h_json
    assert params == {"name": "127.0.0.1:5000/a/b:1"}


def test_a_later_route_is_reached_when_the_method_differs(table: RouteTable) -> None:
    handler, params = table.resolve("DELETE", "/images/a/b/json")
    assert handler is h_delete and params == {"name": "a/b/json"}


def test_plain_parameters_stop_at_a_slash(table: RouteTable) -> None:
    with pytest.raises(NotFound):
        table.resolve("GET", "/containers/a/b/archive")


def test_unknown_path_is_404_and_wrong_method_405(table: RouteTable) -> None:
    with pytest.raises(NotFound, match="page not found"):
        table.resolve("GET", "/nope")
    with pytest.raises(MethodNotAllowed, match="POST not allowed"):
        table.resolve("POST", "/containers/x/archive")


def test_head_prefers_its_own_route_and_falls_back_to_get(table: RouteTable) -> None:
    assert table.resolve("HEAD", "/containers/x/archive")[0] is h_head
    assert table.resolve("HEAD", "/images/busybox/json")[0] is h_json


def test_template_literals_are_escaped() -> None:
    pattern = compile_template("/a.b/{x}")
    assert pattern.match("/a.b/1")
    assert not pattern.match("/aXb/1")
    assert not pattern.match("/a.b/1/extra")


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/v1.47/containers/json", ("1.47", "/containers/json")),
        ("/containers/json", (None, "/containers/json")),
        ("/v1/containers/json", (None, "/v1/containers/json")),
        ("/v1.24/_ping", ("1.24", "/_ping")),
    ],
)
def test_version_prefix(path: str, expected: tuple[str | None, str]) -> None:
    assert split_version(path) == expected


def test_query_keeps_repeats_and_blanks() -> None:
    q = Query("changes=ENV%20A%3D1&changes=CMD+x&all=&names=a")
    assert q["changes"] == "ENV A=1"
    assert q.getall("changes") == ["ENV A=1", "CMD x"]
    assert q.get("all") == ""
    assert q.getall("missing") == []
    assert "names" in q and "nope" not in q


def test_headers_are_case_insensitive_and_repeats_join() -> None:
    h = Headers([("X-Registry-Auth", "abc"), ("Accept", "a"), ("accept", "b")])
    assert h.get("x-registry-auth") == "abc"
    assert h["ACCEPT"] == "a, b"
    assert "Upgrade" not in h
