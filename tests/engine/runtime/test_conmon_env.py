"""conmon's environment (engine/runtime/conmon.py ``conmon_env``): every conmon, for a
container or an exec session, starts with PATH, LD_BIND_NOW=1 and its pipes, nothing of
the engine's own environment; and none of it reaches the container's processes."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from support.waiting import wait_for

pytestmark = pytest.mark.runtime_matrix

# What conmon may see; anything else came from the engine's environment.
ALLOWED = {"PATH", "LD_BIND_NOW", "_OCI_SYNCPIPE", "_OCI_STARTPIPE", "_OCI_ATTACHPIPE"}


def _uniq(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:6]}"


def _conmons(cid: str, exec_session: bool) -> list[int]:
    """PIDs of the conmon monitoring container ``cid`` (or one of its exec sessions)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            if (d / "comm").read_text().strip() != "conmon":
                continue
            argv = (d / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if cid.encode() in argv and (b"--exec-process-spec" in argv) == exec_session:
            out.append(int(d.name))
    return out


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if item)


def _running(engine, name: str) -> str:
    engine.docker("run", "-d", "--name", name, "busybox", "sleep", "300")
    return json.loads(engine.docker("inspect", name).stdout)[0]["Id"]


def test_container_conmon_gets_the_minimal_environment(shared_engine):
    name = _uniq("cenv")
    try:
        cid = _running(shared_engine, name)
        (pid,) = _conmons(cid, exec_session=False)
        env = _environ(pid)
        assert env["LD_BIND_NOW"] == "1"
        assert env["PATH"]
        assert set(env) <= ALLOWED, set(env) - ALLOWED
    finally:
        shared_engine.docker("rm", "-f", name, check=False)


def test_exec_conmon_gets_the_minimal_environment(shared_engine):
    name = _uniq("xenv")
    try:
        cid = _running(shared_engine, name)
        shared_engine.docker("exec", "-d", name, "sleep", "300")
        pids = wait_for(lambda: _conmons(cid, exec_session=True), timeout=10)
        env = _environ(pids[0])
        assert env["LD_BIND_NOW"] == "1"
        assert set(env) <= ALLOWED, set(env) - ALLOWED
    finally:
        shared_engine.docker("rm", "-f", name, check=False)


def test_container_processes_do_not_inherit_conmons_environment(shared_engine):
    """The runtime gives the process its spec's environment only, in run and in exec."""
    name = _uniq("penv")
    try:
        out = shared_engine.docker("run", "--rm", "-e", "FOO=bar", "busybox", "env").stdout
        assert "FOO=bar" in out.splitlines()
        _running(shared_engine, name)
        out_exec = shared_engine.docker("exec", name, "env").stdout
        for text in (out, out_exec):
            keys = {line.split("=", 1)[0] for line in text.splitlines() if "=" in line}
            assert "PATH" in keys
            assert not keys & {"LD_BIND_NOW", "_OCI_SYNCPIPE", "_OCI_STARTPIPE"}, keys
    finally:
        shared_engine.docker("rm", "-f", name, check=False)
