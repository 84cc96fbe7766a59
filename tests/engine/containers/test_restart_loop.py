"""A container in a restart loop counts as running, as with dockerd: ``docker rm`` without
``-f`` is refused with dockerd's 409 and wording, ``rm -f`` removes it, ``docker ps`` lists
it and inspect shows ``Running`` with ``Restarting``."""

from __future__ import annotations

import json

from support.waiting import wait_for


def _state(engine, ref: str) -> dict:  # type: ignore[no-untyped-def]
    return json.loads(engine.docker("inspect", "--format", "{{json .State}}", ref).stdout)


def test_rm_refuses_a_restarting_container(engine_with_busybox):  # type: ignore[no-untyped-def]
    e = engine_with_busybox
    e.docker("run", "-d", "--name", "loop", "--restart", "always", "busybox", "false")

    # The back-off doubles from 0.1 s, so the container soon spends most of its time
    # restarting; catch it there (it may be running again by the time rm arrives).
    refused_while_restarting = None
    for _ in range(40):
        wait_for(lambda: _state(e, "loop")["Restarting"], timeout=20, step=0.02)
        r = e.api("DELETE", "/containers/loop")
        assert r.status_code == 409, r.text
        msg = r.json()["message"]
        if "container is restarting" in msg:
            refused_while_restarting = msg
            break
        assert msg == (
            'cannot remove container "/loop": container is running: stop the container '
            "before removing or force remove"
        )
    assert refused_while_restarting == (
        'cannot remove container "/loop": container is restarting: stop the container '
        "before removing or force remove"
    )

    st = wait_for(lambda: (s := _state(e, "loop"))["Restarting"] and s, timeout=20, step=0.02)
    assert st["Running"] is True and st["Status"] == "restarting"
    assert "loop" in e.docker("ps", "--format", "{{.Names}}").stdout.split()
    assert int(e.docker("inspect", "--format", "{{.RestartCount}}", "loop").stdout) >= 1

    res = e.docker("rm", "loop", check=False)
    assert res.returncode == 1
    assert 'cannot remove container "/loop": container is ' in res.stderr, res.stderr
    assert "stop the container before removing or force remove" in res.stderr

    e.docker("rm", "-f", "loop")
    assert e.docker("ps", "-aq").stdout == ""
    res = e.docker("inspect", "loop", check=False)
    assert res.returncode == 1 and "No such object: loop" in res.stderr


def test_rm_refuses_a_paused_container(engine_with_busybox):  # type: ignore[no-untyped-def]
    e = engine_with_busybox
    e.docker("run", "-d", "--name", "nap", "busybox", "sleep", "300")
    e.docker("pause", "nap")
    r = e.api("DELETE", "/containers/nap")
    assert (r.status_code, r.json()["message"]) == (
        409,
        'cannot remove container "/nap": container is paused and must be unpaused first',
    )
    e.docker("rm", "-f", "nap")
    assert e.docker("ps", "-aq").stdout == ""


def test_rm_force_of_containers_in_a_restart_loop(engine_with_busybox):  # type: ignore[no-untyped-def]
    # rm -f may find the process already gone (it exits at once): nothing left to kill is
    # no failure, as with dockerd, and the loop does not start it again.
    e = engine_with_busybox
    names = [f"spin{i}" for i in range(6)]
    for n in names:
        e.docker("run", "-d", "--name", n, "--restart", "always", "busybox", "false")
    wait_for(
        lambda: all(
            int(e.docker("inspect", "-f", "{{.RestartCount}}", n).stdout) >= 2 for n in names
        ),
        timeout=30,
    )
    for n in names:
        e.docker("rm", "-f", n)
    assert e.docker("ps", "-aq").stdout == ""
