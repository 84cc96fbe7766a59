"""Logs: conmon's k8s-file parsed back (partial lines joined, exact timestamps) and
served like Docker (tail, since/until, timestamps, stream selection, follow, TTY)."""

from __future__ import annotations

import asyncio
import json
import subprocess
import time
from pathlib import Path

from portside.engine.containers.stdio.logs import LogOptions, Parser, read_logs
from portside.engine.conventions import parse_rfc3339


def test_parser_joins_partials_per_stream_and_across_chunks():
    p = Parser()
    data = (
        b"2024-01-02T03:04:05.000000001+00:00 stdout P hel\n"
        b"2024-01-02T03:04:05.000000002+00:00 stderr F oops\n"
        b"2024-01-02T03:04:05.000000003+00:00 stdout F lo\n"
        b"2024-01-02T03:04:05.000000004+00:00 stdout F \n"
        b"2024-01-02T03:04:05.000000005+00:00 stdout P tail-no-newline\n"
    )
    out = p.feed(data[:30]) + p.feed(data[30:])
    assert [(e.stream, e.data) for e in out] == [(2, b"oops\n"), (1, b"hello\n"), (1, b"\n")]
    assert out[1].nanos == 1  # a joined line keeps its first chunk's time
    assert [(e.stream, e.data) for e in p.flush()] == [(1, b"tail-no-newline")]


def test_parser_skips_garbage():
    p = Parser()
    out = p.feed(b"garbage line\nnot-a-time stdout F x\n2024-01-02T03:04:05Z stdout F ok\n")
    assert [e.data for e in out] == [b"ok\n"]


def test_read_logs_tail_since_until(tmp_path: Path):
    log = tmp_path / "ctr.log"
    log.write_bytes(
        b"".join(
            f"2024-01-02T03:04:{i:02d}.000000000+00:00 {'stdout' if i % 2 else 'stderr'} F "
            f"l{i}\n".encode()
            for i in range(10)
        )
    )

    async def collect(**kw):  # type: ignore[no-untyped-def]
        return [e.data async for e in read_logs(log, LogOptions(**kw), lambda: False)]

    assert asyncio.run(collect(tail=2)) == [b"l8\n", b"l9\n"]
    assert asyncio.run(collect(tail=0)) == []
    assert asyncio.run(collect(stderr=False)) == [f"l{i}\n".encode() for i in range(1, 10, 2)]
    since = 1704164640 + 7
    assert asyncio.run(collect(since=since)) == [b"l7\n", b"l8\n", b"l9\n"]
    assert asyncio.run(collect(until=1704164640 + 1)) == [b"l0\n", b"l1\n"]


def test_cli_logs_options(shared_engine):
    e = shared_engine
    e.docker(
        "run",
        "--name",
        "talker",
        "busybox",
        "sh",
        "-c",
        "echo one; echo two >&2; sleep 1.2; echo three; printf partial",
    )
    try:
        res = e.docker("logs", "talker")
        assert res.stdout == "one\nthree\npartial" and res.stderr == "two\n"
        assert e.docker("logs", "--tail", "1", "talker").stdout == "partial"
        ts = e.docker("logs", "-t", "talker").stdout.splitlines()
        assert ts[0].endswith("Z one") and ts[0][:4].isdigit()
        first = ts[0].split(" ")[0]
        since = f"{parse_rfc3339(first) + 0.5:.9f}"  # the CLI sends seconds.nanos too
        later = e.docker("logs", "--since", since, "talker").stdout
        assert "three" in later and "one" not in later
        r = e.api("GET", "/containers/talker/logs")
        assert r.status_code == 400 and "choose at least one stream" in r.json()["message"]
        r = e.api("GET", "/containers/talker/logs?stdout=1&stderr=1")
        assert r.headers["Content-Type"] == "application/vnd.docker.multiplexed-stream"
        assert r.content.startswith(b"\x01\x00\x00\x00\x00\x00\x00\x04one\n")
    finally:
        e.docker("rm", "-f", "talker", check=False)


def test_tty_logs_are_raw(shared_engine):
    e = shared_engine
    e.docker("run", "-t", "--name", "ttyc", "busybox", "echo", "tty-out")
    try:
        r = e.api("GET", "/containers/ttyc/logs?stdout=1&stderr=1")
        assert r.headers["Content-Type"] == "application/vnd.docker.raw-stream"
        assert r.content == b"tty-out\r\n"
        cfg = json.loads(e.docker("inspect", "ttyc").stdout)[0]["Config"]
        assert cfg["Tty"] is True
    finally:
        e.docker("rm", "-f", "ttyc", check=False)


def test_follow_ends_when_container_stops(shared_engine):
    e = shared_engine
    e.docker("run", "-d", "--name", "fol", "busybox", "sh", "-c", "echo start; sleep 1; echo end")
    try:
        t0 = time.monotonic()
        res = subprocess.run(
            ["docker", "logs", "-f", "fol"],
            env=e.env(),
            capture_output=True,
            text=True,
            timeout=20,
        )
        assert res.stdout == "start\nend\n"
        assert time.monotonic() - t0 < 10
    finally:
        e.docker("rm", "-f", "fol", check=False)


def test_follow_and_wait_clients_gone_do_not_hold_the_engine(engine_with_busybox):
    e = engine_with_busybox
    e.docker("run", "-d", "--name", "quiet", "busybox", "sleep", "1000")
    procs = [
        subprocess.Popen(["docker", "logs", "-f", "quiet"], env=e.env()),
        subprocess.Popen(["docker", "wait", "quiet"], env=e.env()),
    ]
    time.sleep(0.5)
    for p in procs:
        p.kill()
        p.wait()
    # A handler still waiting for its gone client would hold the graceful shutdown
    # past the fixture's grace period and get the daemon SIGKILLed instead.
    proc = e.proc
    e.stop()
    assert proc is not None and proc.returncode == 0
