"""Attach and TTYs with the real docker CLI under a pseudo-terminal (pexpect), docker-py
and raw sockets: the hijacked stream, stdin with half-close, resizes, detach keys."""

from __future__ import annotations

import subprocess
import time

import pexpect
import pytest
from iohelp import demux, events, raw_request, read_all, spawn, uniq, wait_for
from support.docker_inspect import inspect

pytestmark = pytest.mark.runtime_matrix


def test_run_it_shell_arithmetic_resize_and_exit_code(shared_engine):
    c = spawn(shared_engine, "run", "-it", "--rm", "busybox", "sh", rows=30, cols=100)
    c.expect(r"[#$] ")
    c.sendline("echo $((6*7))")
    c.expect(r"\r\n42\r\n")
    c.sendline("stty size")
    c.expect(r"\r\n30 100\r\n")
    # The terminal changes size: the CLI sends a resize and the shell sees it.
    c.setwinsize(41, 123)
    wait_for(lambda: _stty(c) == "41 123", timeout=10, step=0.3)
    c.sendline("exit 5")
    c.expect(pexpect.EOF)
    c.close()
    assert c.exitstatus == 5
    # --rm removed it once it exited
    wait_for(lambda: shared_engine.docker("ps", "-aq", "-f", "ancestor=busybox").stdout == "")


def _stty(c: pexpect.spawn) -> str:
    c.sendline("stty size")
    c.expect(r"\r\n(\d+ \d+)\r\n")
    return c.match.group(1)


def test_piped_stdin_half_close_ends_the_container(shared_engine):
    # The CLI half-closes when its stdin ends: the container's stdin closes, cat exits.
    res = shared_engine.docker("run", "-i", "--rm", "busybox", "cat", input=b"hi\n", timeout=20)
    assert res.stdout == "hi\n"
    res = shared_engine.docker(
        "run", "-i", "--rm", "busybox", "sh", "-c", "wc -c; echo done >&2", input=b"x" * 100000
    )
    assert res.stdout.strip() == "100000" and res.stderr == "done\n"


def test_attach_to_running_tty_container_and_detach(shared_engine):
    name = uniq("tty")
    shared_engine.docker("run", "-dit", "--name", name, "busybox", "sh")
    try:
        c = spawn(shared_engine, "attach", name, rows=20, cols=70)
        time.sleep(0.5)
        c.sendline("echo $((7*6))")
        c.expect(r"\r\n42\r\n")
        assert _stty(c) == "20 70"
        c.send("\x10\x11")  # ctrl-p ctrl-q
        c.expect(pexpect.EOF)
        c.close()
        # detached, not stopped: the shell is still there and still has its terminal
        assert inspect(shared_engine, name)["State"]["Running"] is True
        c = spawn(shared_engine, "attach", "--detach-keys", "ctrl-x", name)
        time.sleep(0.5)
        c.sendline("echo again-$((1+1))")
        c.expect("again-2")
        c.send("\x18")
        c.expect(pexpect.EOF)
        c.close()
        assert inspect(shared_engine, name)["State"]["Running"] is True
    finally:
        shared_engine.docker("rm", "-f", name, check=False)


def test_resize_api(shared_engine):
    name = uniq("rsz")
    shared_engine.docker("run", "-dt", "--name", name, "busybox", "sh", "-c", "sleep 300")
    try:
        r = shared_engine.api("POST", f"/containers/{name}/resize?h=33&w=77")
        assert r.status_code == 200
        res = shared_engine.docker("exec", "-t", name, "sh", "-c", "stty size </dev/pts/0")
        assert res.stdout.strip() == "33 77"
        shared_engine.docker("rm", "-f", name)
        r = shared_engine.api("POST", f"/containers/{name}/resize?h=10&w=10")
        assert r.status_code == 404
    finally:
        shared_engine.docker("rm", "-f", name, check=False)


def test_raw_upgrade_multiplexed_stdin_and_logs_replay(shared_engine):
    name = uniq("raw")
    cid = shared_engine.api(
        "POST",
        f"/containers/create?name={name}",
        json={
            "Image": "busybox",
            "Cmd": ["sh", "-c", "echo before; echo err >&2; read line; echo got:$line"],
            "OpenStdin": True,
            "StdinOnce": True,
            "AttachStdin": True,
        },
    ).json()["Id"]
    try:
        s, head, rest = raw_request(
            shared_engine,
            "POST",
            f"/v1.47/containers/{cid}/attach?stream=1&stdin=1&stdout=1&stderr=1",
            headers={"Connection": "Upgrade", "Upgrade": "tcp"},
        )
        assert head.startswith(b"HTTP/1.1 101 UPGRADED")
        assert b"Content-Type: application/vnd.docker.multiplexed-stream" in head
        assert b"Upgrade: tcp" in head
        assert shared_engine.api("POST", f"/containers/{cid}/start").status_code == 204
        s.sendall(b"hello\n")
        s.shutdown(1)  # half-close: the container keeps writing to us
        out = demux(read_all(s, rest))
        s.close()
        assert out[1] == b"before\ngot:hello\n"
        assert out[2] == b"err\n"
        # logs=1 replays the history; an exited container ends the stream at once.
        s, head, rest = raw_request(
            shared_engine,
            "POST",
            f"/containers/{cid}/attach?logs=1&stream=0&stdout=1&stderr=1",
            headers={"Connection": "Upgrade", "Upgrade": "tcp"},
        )
        out = demux(read_all(s, rest))
        s.close()
        assert out[1] == b"before\ngot:hello\n" and out[2] == b"err\n"
    finally:
        shared_engine.api("DELETE", f"/containers/{cid}?force=1")


def test_old_client_without_upgrade_gets_a_raw_200(shared_engine):
    cid = shared_engine.api(
        "POST", "/containers/create", json={"Image": "busybox", "Cmd": ["echo", "plain"]}
    ).json()["Id"]
    try:
        s, head, rest = raw_request(
            shared_engine, "POST", f"/v1.24/containers/{cid}/attach?stream=1&stdout=1"
        )
        assert head.startswith(b"HTTP/1.1 200")
        assert b"application/vnd.docker.raw-stream" in head
        assert b"chunked" not in head.lower()
        shared_engine.api("POST", f"/containers/{cid}/start")
        assert demux(read_all(s, rest))[1] == b"plain\n"
        s.close()
    finally:
        shared_engine.api("DELETE", f"/containers/{cid}?force=1")


def test_detach_keys_over_the_api_and_bad_keys(shared_engine):
    name = uniq("dk")
    shared_engine.docker("run", "-dit", "--name", name, "busybox", "cat")
    try:
        r = shared_engine.api("POST", f"/containers/{name}/attach?stream=1&detachKeys=ctrl-zz")
        assert (r.status_code, r.json()) == (
            400,
            {"message": "Invalid detach keys (ctrl-zz) provided"},
        )
        s, head, rest = raw_request(
            shared_engine,
            "POST",
            f"/containers/{name}/attach?stream=1&stdin=1&stdout=1&detachKeys=ctrl-a,x",
            headers={"Connection": "Upgrade", "Upgrade": "tcp"},
        )
        assert b"101" in head
        # ctrl-a alone is ordinary input once the next byte is not "x"
        s.sendall(b"one\x01y\n")
        got = rest
        while b"y" not in got:
            got += s.recv(4096)
        assert b"one\x01y" in got.replace(b"^A", b"\x01")
        s.sendall(b"\x01x")
        read_all(s)  # the server ends the session (after the pty's echo, if any)
        s.close()
        assert inspect(shared_engine, name)["State"]["Running"] is True
        actions = events(shared_engine, name)
        assert "attach" in actions and "detach" in actions
    finally:
        shared_engine.docker("rm", "-f", name, check=False)


def test_detach_keys_are_input_without_a_tty(shared_engine):
    # dockerd watches for detach keys on a TTY only: without one they reach the process.
    name = uniq("nt")
    shared_engine.docker("run", "-di", "--name", name, "busybox", "cat")
    try:
        s, head, rest = raw_request(
            shared_engine,
            "POST",
            f"/containers/{name}/attach?stream=1&stdin=1&stdout=1&detachKeys=ctrl-a,x",
            headers={"Connection": "Upgrade", "Upgrade": "tcp"},
        )
        assert b"101" in head
        s.sendall(b"a\x01x\x10\x11b\n")
        got = rest
        while b"b\n" not in demux(got)[1]:
            got += s.recv(4096)
        assert demux(got)[1] == b"a\x01x\x10\x11b\n"
        s.close()
        assert inspect(shared_engine, name)["State"]["Running"] is True
    finally:
        shared_engine.docker("rm", "-f", name, check=False)
    res = shared_engine.docker(
        "run", "-i", "--rm", "busybox", "od", "-An", "-tx1", input=b"a\x10\x11b"
    )
    assert res.stdout.split() == ["61", "10", "11", "62"]


def test_docker_py_attach_socket(shared_engine):
    client = shared_engine.client()
    ctr = client.containers.run("busybox", "cat", detach=True, stdin_open=True)
    try:
        sock = client.api.attach_socket(
            ctr.id, params={"stdin": 1, "stdout": 1, "stderr": 1, "stream": 1}
        )
        raw = sock._sock
        raw.sendall(b"ping\n")
        got = b""
        deadline = time.monotonic() + 10
        while b"ping" not in got and time.monotonic() < deadline:
            got += raw.recv(4096)
        assert demux(got)[1] == b"ping\n"
        sock.close()
    finally:
        ctr.remove(force=True)
        client.close()


def test_docker_start_attach(shared_engine):
    cid = shared_engine.docker("create", "-i", "busybox", "sh", "-c", "read x; echo [$x]").stdout
    cid = cid.strip()
    try:
        proc = subprocess.run(
            ["docker", "start", "-ai", cid],
            env=shared_engine.env(),
            input=b"abc\n",
            capture_output=True,
            timeout=20,
        )
        assert proc.stdout == b"[abc]\n" and proc.returncode == 0
    finally:
        shared_engine.docker("rm", "-f", cid, check=False)


def test_docker_start_attach_tty(shared_engine):
    cid = shared_engine.docker("create", "-it", "busybox", "sh").stdout.strip()
    try:
        c = spawn(shared_engine, "start", "-ai", cid, rows=22, cols=66)
        c.expect(r"[#$] ")
        assert _stty(c) == "22 66"
        c.sendline("exit 3")
        c.expect(pexpect.EOF)
        c.close()
        assert c.exitstatus == 3
    finally:
        shared_engine.docker("rm", "-f", cid, check=False)


def test_console_size_is_set_before_the_process_runs(shared_engine):
    # HostConfig.ConsoleSize: the very first ioctl already sees the terminal's size.
    c = spawn(shared_engine, "run", "-it", "--rm", "busybox", "stty", "size", rows=31, cols=101)
    c.expect(pexpect.EOF)
    c.close()
    assert c.before.strip() == "31 101"
