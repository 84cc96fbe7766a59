"""A resize is in effect when the API answers (not whenever conmon gets to its fifo)."""

from __future__ import annotations

import fcntl
import os
import struct
import termios

import pytest

pytestmark = pytest.mark.runtime_matrix


def _winsize(pid: int) -> tuple[int, int]:
    fd = os.open(f"/proc/{pid}/fd/0", os.O_RDONLY | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        rows, cols, _, _ = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
    finally:
        os.close(fd)
    return rows, cols


def test_container_resize_applies_before_the_answer(shared_engine):
    e = shared_engine
    cid = e.docker("run", "-d", "-t", "-i", "busybox", "sh").stdout.strip()
    try:
        for h, w in ((33, 111), (41, 97), (12, 40)):
            r = e.api("POST", f"/containers/{cid}/resize?h={h}&w={w}")
            assert r.status_code == 200, r.text
            out = e.docker("exec", cid, "stty", "-F", "/proc/1/fd/0", "size").stdout.split()
            assert out == [str(h), str(w)]
    finally:
        e.docker("rm", "-f", cid)


def test_exec_resize_applies_before_the_answer(shared_engine):
    e = shared_engine
    cid = e.docker("run", "-d", "busybox", "sleep", "300").stdout.strip()
    try:
        body = {"Cmd": ["sh"], "Tty": True, "AttachStdin": True, "AttachStdout": True}
        exec_id = e.api("POST", f"/containers/{cid}/exec", json=body).json()["Id"]
        r = e.api("POST", f"/exec/{exec_id}/start", json={"Detach": True, "Tty": True})
        assert r.status_code in (200, 204), r.text
        pid = e.api("GET", f"/exec/{exec_id}/json").json()["Pid"]
        assert pid
        r = e.api("POST", f"/exec/{exec_id}/resize?h=29&w=88")
        assert r.status_code in (200, 201), r.text
        # Pid is the host's pid of the exec's shell; its stdin is the exec's terminal.
        assert _winsize(pid) == (29, 88)
    finally:
        e.docker("rm", "-f", cid)
