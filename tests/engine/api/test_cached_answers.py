"""Lists and inspections are kept between changes (api/cached.py), and never answer stale:
each test keeps the answers warm with a client polling on one kept-alive connection, as
the benchmark's and the desktop app's do, then changes something and asks at once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from portside.engine.containers.views import human_duration
from portside.engine.conventions import parse_rfc3339
from support.engine import PortsideEngine


def _client(engine: PortsideEngine) -> httpx.Client:
    transport = httpx.HTTPTransport(uds=str(engine.socket))
    return httpx.Client(transport=transport, base_url="http://portside", timeout=30)


def _get(c: httpx.Client, path: str, **params: Any) -> Any:
    r = c.get(path, params=params)
    assert r.status_code == 200, (path, r.status_code, r.text)
    return r.json()


@contextmanager
def _polling(engine: PortsideEngine, paths: list[str]) -> Iterator[None]:
    """Keep asking for ``paths`` in a thread (so their answers are kept) while the body runs."""
    stop = threading.Event()
    errors: list[BaseException] = []

    def poll() -> None:
        try:
            with _client(engine) as c:
                while not stop.is_set():
                    for p in paths:
                        c.get(p)
        except BaseException as e:  # reported by the test, not lost in the thread
            errors.append(e)

    t = threading.Thread(target=poll, daemon=True)
    t.start()
    time.sleep(0.3)
    try:
        yield
    finally:
        stop.set()
        t.join(10)
        assert not errors, errors


def _wait_for_event(engine: PortsideEngine, since: float, **filters: list[str]) -> dict[str, Any]:
    """Block until the first event matching ``filters`` since ``since``."""
    with (
        _client(engine) as c,
        c.stream(
            "GET",
            "/events",
            params={"since": f"{since:.6f}", "filters": json.dumps(filters)},
            timeout=60,
        ) as r,
    ):
        for line in r.iter_lines():
            if line.strip():
                return dict(json.loads(line))
    raise AssertionError("the events stream ended")


def _names(listing: list[dict[str, Any]]) -> set[str]:
    return {n.lstrip("/") for c in listing for n in c["Names"]}


def test_a_container_that_exits_by_itself_is_listed_exited_at_once(
    shared_engine: PortsideEngine,
) -> None:
    e = shared_engine
    since = time.time()
    cid = e.docker("run", "-d", "--name", "quick", "busybox", "sleep", "2").stdout.strip()
    paths = ["/containers/json", "/containers/json?all=1", f"/containers/{cid}/json"]
    with _polling(e, paths):
        # conmon's exit file, not a request, changes the record here; the die event is
        # published once the change is made.
        ev = _wait_for_event(e, since, type=["container"], event=["die"], container=[cid])
        assert ev["id"] == cid
        with _client(e) as c:
            assert "quick" not in _names(_get(c, "/containers/json"))
            (listed,) = [x for x in _get(c, "/containers/json", all="1") if x["Id"] == cid]
            assert listed["State"] == "exited"
            assert listed["Status"].startswith("Exited (0) "), listed["Status"]
            state = _get(c, f"/containers/{cid}/json")["State"]
            assert (state["Status"], state["Running"], state["ExitCode"]) == ("exited", False, 0)
    e.docker("rm", "quick")


def test_up_for_is_counted_when_asked(shared_engine: PortsideEngine) -> None:
    e = shared_engine
    cid = e.docker("run", "-d", "--name", "uptime", "busybox", "sleep", "60").stdout.strip()
    with _client(e) as c:
        started = parse_rfc3339(_get(c, f"/containers/{cid}/json")["State"]["StartedAt"])
        seen = set()
        deadline = time.time() + 3.5
        while time.time() < deadline:
            t0 = time.time()
            (listed,) = _get(c, "/containers/json", filters=json.dumps({"id": [cid]}))
            t1 = time.time()
            # dockerd counts at request time: the answer reads as it would somewhere in
            # between sending the request and reading the answer.
            allowed = {"Up " + human_duration(t - started) for t in (t0, t1)}
            assert listed["Status"] in allowed, (listed["Status"], allowed)
            seen.add(listed["Status"])
        assert len(seen) >= 3, seen  # it did move, second by second
    e.docker("rm", "-f", "uptime")


def test_every_query_has_its_own_answer(shared_engine: PortsideEngine) -> None:
    e = shared_engine
    e.docker("run", "-d", "--name", "q-up", "--label", "tier=web", "busybox", "sleep", "60")
    e.docker("create", "--name", "q-made", "--label", "tier=db", "busybox", "true")
    with _client(e) as c:
        for _ in range(3):  # the second and third answers are the kept ones
            assert "q-made" not in _names(_get(c, "/containers/json"))
            assert {"q-up", "q-made"} <= _names(_get(c, "/containers/json", all="1"))
            assert len(_get(c, "/containers/json", all="1", limit="1")) == 1
            web = _get(c, "/containers/json", all="1", filters=json.dumps({"label": ["tier=web"]}))
            assert _names(web) == {"q-up"}
            made = _get(c, "/containers/json", filters=json.dumps({"status": ["created"]}))
            assert "q-made" in _names(made) and "q-up" not in _names(made)
            sized = _get(c, "/containers/json", all="1", size="1")
            assert all("SizeRw" in x for x in sized)
            assert all("SizeRw" not in x for x in _get(c, "/containers/json", all="1"))
    e.docker("rm", "-f", "q-up", "q-made")


def test_changes_by_requests_show_at_once(shared_engine: PortsideEngine) -> None:
    e = shared_engine
    cid = e.docker("run", "-d", "--name", "before", "busybox", "sleep", "60").stdout.strip()
    paths = [
        "/containers/json",
        f"/containers/{cid}/json",
        "/images/json",
        "/volumes",
        "/networks",
        "/volumes/vol-a",
    ]
    with _polling(e, paths), _client(e) as c:
        e.docker("rename", "before", "after")
        assert "after" in _names(_get(c, "/containers/json"))
        assert _get(c, f"/containers/{cid}/json")["Name"] == "/after"

        e.docker("pause", "after")
        assert _get(c, f"/containers/{cid}/json")["State"]["Status"] == "paused"
        (listed,) = [x for x in _get(c, "/containers/json") if x["Id"] == cid]
        assert listed["Status"].endswith("(Paused)"), listed["Status"]
        e.docker("unpause", "after")
        assert _get(c, f"/containers/{cid}/json")["State"]["Status"] == "running"

        e.docker("tag", "busybox", "kept:new")
        tags = {t for i in _get(c, "/images/json") for t in i["RepoTags"] or []}
        assert "kept:new:latest" in tags or "kept:new" in tags
        e.docker("rmi", "kept:new")
        tags = {t for i in _get(c, "/images/json") for t in i["RepoTags"] or []}
        assert not any(t.startswith("kept:") for t in tags)

        assert c.get("/volumes/vol-a").status_code == 404  # errors are never kept
        e.docker("volume", "create", "vol-a")
        assert "vol-a" in {v["Name"] for v in _get(c, "/volumes")["Volumes"]}
        assert _get(c, "/volumes/vol-a")["Name"] == "vol-a"
        e.docker("volume", "rm", "vol-a")
        assert "vol-a" not in {v["Name"] for v in _get(c, "/volumes")["Volumes"]}
        assert c.get("/volumes/vol-a").status_code == 404

        e.docker("network", "create", "net-a")
        assert "net-a" in {n["Name"] for n in _get(c, "/networks")}
        e.docker("network", "connect", "net-a", "after")
        assert cid in _get(c, "/networks/net-a")["Containers"]
        assert "net-a" in _get(c, f"/containers/{cid}/json")["NetworkSettings"]["Networks"]
        e.docker("network", "disconnect", "net-a", "after")
        assert cid not in _get(c, "/networks/net-a")["Containers"]
        e.docker("network", "rm", "net-a")
        assert "net-a" not in {n["Name"] for n in _get(c, "/networks")}

        e.docker("rm", "-f", "after")
        assert "after" not in _names(_get(c, "/containers/json", all="1"))
        assert c.get(f"/containers/{cid}/json").status_code == 404


def test_exec_ids_follow_execs_that_end_by_themselves(shared_engine: PortsideEngine) -> None:
    e = shared_engine
    cid = e.docker("run", "-d", "--name", "execs", "busybox", "sleep", "60").stdout.strip()
    with _polling(e, [f"/containers/{cid}/json"]), _client(e) as c:
        since = time.time()
        e.docker("exec", "-d", "execs", "sleep", "2")
        ids = _get(c, f"/containers/{cid}/json")["ExecIDs"]
        assert ids and len(ids) == 1, ids
        _wait_for_event(e, since, type=["container"], event=["exec_die"], container=[cid])
        assert _get(c, f"/containers/{cid}/json")["ExecIDs"] is None
    e.docker("rm", "-f", "execs")
