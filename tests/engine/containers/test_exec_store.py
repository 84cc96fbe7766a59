"""The in-memory exec session registry: lookups, ExecIDs and garbage collection."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from portside.engine.containers import exec_store
from portside.engine.containers.exec_store import ExecSession, ExecStore, new_exec_id
from portside.engine.errors import NotFound


def _session(cid: str, **kw) -> ExecSession:  # type: ignore[no-untyped-def]
    eid = new_exec_id()
    return ExecSession(
        id=eid,
        container_id=cid,
        entrypoint="ls",
        args=["-l"],
        env=[],
        user="",
        working_dir="",
        privileged=False,
        tty=False,
        open_stdin=False,
        open_stdout=True,
        open_stderr=True,
        detach_keys="",
        console_size=None,
        session_dir=Path("/nonexistent") / eid,
        **kw,
    )


def test_lookup_and_exec_ids():
    store = ExecStore()
    a, b = _session("c1"), _session("c1", internal=True)
    done = _session("c1", exit_code=0, finished_at=1.0)
    for s in (a, b, done):
        store.add(s)
    assert store.get(a.id) is a
    assert store.get(a.id[:20]) is a
    with pytest.raises(NotFound, match="No such exec instance: nope"):
        store.get("nope")
    # health probes and finished sessions are not the container's ExecIDs
    assert store.ids_of("c1") == [a.id]
    info = a.to_docker()
    assert info["ProcessConfig"]["arguments"] == ["-l"] and info["ExitCode"] is None


def test_gc_drops_old_finished_sessions(monkeypatch):
    store = ExecStore()
    now = time.monotonic()
    old = _session("c1", exit_code=1, finished_at=now - exec_store.KEEP_FINISHED - 1)
    fresh = _session("c1", exit_code=0, finished_at=now)
    running = _session("c1", running=True)
    for s in (old, fresh, running):
        store.add(s)
    store.gc(now=now + 1)
    assert [s.id for s in store.of_container("c1")] == [fresh.id, running.id]
    monkeypatch.setattr(exec_store, "MAX_FINISHED_PER_CONTAINER", 2)
    many = [_session("c2", exit_code=0, finished_at=now + i) for i in range(4)]
    for s in many:
        store.add(s)
    store.gc(now=now + 10)
    assert [s.id for s in store.of_container("c2")] == [many[2].id, many[3].id]
