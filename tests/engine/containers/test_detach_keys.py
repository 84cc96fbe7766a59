"""Detach keys with the real docker CLI under a pseudo-terminal: the default ctrl-p,ctrl-q,
``--detach-keys`` and the client's configured default (``detachKeys`` in config.json,
which the CLI sends on attach and in the exec config) end the session as with dockerd,
leaving the container or exec process running; bad key specs get dockerd's wording."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pexpect
from iohelp import uniq
from support.docker_inspect import inspect


def _spawn(engine: Any, config_dir: Path | None, *args: str) -> pexpect.spawn:
    env = engine.env()
    if config_dir is not None:
        env["DOCKER_CONFIG"] = str(config_dir)
    return pexpect.spawn(
        "docker", list(args), env=env, timeout=20, dimensions=(24, 80), encoding="utf-8"
    )


def _ended(c: pexpect.spawn) -> int:
    c.expect(pexpect.EOF)
    c.close()
    return c.exitstatus


def test_run_it_detaches_with_ctrl_p_ctrl_q(shared_engine):
    name = uniq("dflt")
    c = _spawn(shared_engine, None, "run", "-it", "--name", name, "busybox", "sh")
    try:
        c.expect(r"[#$] ")
        c.sendline("echo $((4*5))")
        c.expect(r"\r\n20\r\n")
        c.send("\x10\x11")
        assert _ended(c) == 0  # as with dockerd: run ends quietly with 0 on a detach
        st = inspect(shared_engine, name)["State"]
        assert st["Status"] == "running" and st["Running"] is True
    finally:
        shared_engine.docker("rm", "-f", name, check=False)


def test_configured_detach_keys_from_config_json(shared_engine, tmp_path):
    cfg = tmp_path / "docker-config"
    cfg.mkdir()
    (cfg / "config.json").write_text(json.dumps({"detachKeys": "ctrl-e,e"}))
    name = uniq("cfg")
    c = _spawn(shared_engine, cfg, "run", "-it", "--name", name, "busybox", "sh")
    try:
        c.expect(r"[#$] ")
        # the default keys are ordinary input now: the session goes on
        c.send("\x10\x11")
        c.send("\x03")  # clear whatever ctrl-p recalled
        c.expect(r"[#$] ")
        c.sendline("echo still-$((2+3))")
        c.expect(r"still-5\r\n")
        c.send("\x05e")
        assert _ended(c) == 0
        assert inspect(shared_engine, name)["State"]["Running"] is True

        # docker attach uses the configured keys too
        c = _spawn(shared_engine, cfg, "attach", name)
        time.sleep(0.5)
        c.sendline("echo back-$((3+3))")
        c.expect("back-6")
        c.send("\x05e")
        c.expect(pexpect.EOF)
        c.close()
        assert inspect(shared_engine, name)["State"]["Running"] is True

        # docker exec -it sends them in the exec config: the exec session detaches, the
        # exec'd shell lives on
        c = _spawn(shared_engine, cfg, "exec", "-it", name, "sh")
        c.expect(r"[#$] ")
        c.sendline("echo $$ > /tmp/exec-shell")
        c.expect(r"[#$] ")
        c.send("\x05e")
        c.expect("read escape sequence")
        assert _ended(c) == 1  # the CLI's exit for a detached exec, as with dockerd
        pid = shared_engine.docker("exec", name, "cat", "/tmp/exec-shell").stdout.strip()
        assert shared_engine.docker("exec", name, "kill", "-0", pid, check=False).returncode == 0
        assert inspect(shared_engine, name)["State"]["Running"] is True
    finally:
        shared_engine.docker("rm", "-f", name, check=False)


def test_exec_detach_keys_in_the_exec_config(shared_engine):
    name = uniq("ex")
    shared_engine.docker("run", "-d", "--name", name, "busybox", "sleep", "300")
    try:
        client = shared_engine.client()
        try:
            made = client.api.exec_create(name, "sh", tty=True, stdin=True, detach_keys="ctrl-b")
            # docker-py spells it detachKeys; dockerd shows the parsed bytes, base64-encoded
            assert client.api.exec_inspect(made["Id"])["DetachKeys"] == "Ag=="
        finally:
            client.close()
        c = _spawn(shared_engine, None, "exec", "-it", "--detach-keys", "ctrl-b", name, "sh")
        c.expect(r"[#$] ")
        c.send("\x10\x11")  # not this session's keys
        c.send("\x03")
        c.expect(r"[#$] ")
        c.send("\x02")
        c.expect("read escape sequence")
        assert _ended(c) == 1

        res = shared_engine.docker("exec", "--detach-keys", "ctrl-zz", name, "true", check=False)
        assert res.returncode == 1
        assert res.stderr == (
            "Error response from daemon: Invalid escape keys (ctrl-zz) provided\n"
        )
        res = shared_engine.docker("attach", "--detach-keys", "ctrl-zz", name, check=False)
        assert res.returncode == 1
        # the CLI reports a refused attach by status alone, as it does with dockerd
        assert "received 400" in res.stderr, res.stderr
    finally:
        shared_engine.docker("rm", "-f", name, check=False)
