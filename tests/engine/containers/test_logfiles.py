"""Log generations without an engine: conmon's rotation (open ``<log>.tmp`` with
O_TRUNC, rename it over ``<log>``) done by hand, and what the engine keeps of it."""

from __future__ import annotations

import asyncio
import gzip
import os
from pathlib import Path

from portside.engine.containers.stdio.logdrivers import LogPolicy
from portside.engine.containers.stdio.logfiles import (
    files_to_read,
    prepare_start,
    read_log_file,
    rotate_step,
)
from portside.engine.containers.stdio.logs import LogOptions, read_logs


def _conmon_rotates(log: Path) -> None:
    tmp = log.with_name(log.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_TRUNC | os.O_CREAT, 0o600)
    os.close(fd)
    os.rename(tmp, log)


def _write(log: Path, text: str) -> None:
    with open(log, "ab") as f:
        f.write(text.encode())


def _content(log: Path) -> str:
    return "".join(read_log_file(p).decode() for p in files_to_read(log))


def test_each_rotation_becomes_a_generation(tmp_path):
    log = tmp_path / "ctr.log"
    policy = LogPolicy("json-file", max_size=100, max_file=3)
    prepare_start(log, policy)
    for word in ("a", "b", "c", "d"):
        _write(log, word)
        _conmon_rotates(log)
        rotate_step(log, policy)
    _write(log, "e")
    # three files kept: the two newest rotated ones and the current one
    assert [p.name for p in files_to_read(log)] == ["ctr.log.2", "ctr.log.1", "ctr.log"]
    assert _content(log) == "cde"


def test_two_rotations_before_the_engine_looks_lose_nothing(tmp_path):
    log = tmp_path / "ctr.log"
    policy = LogPolicy("json-file", max_size=100, max_file=4)
    prepare_start(log, policy)
    _write(log, "a")
    _conmon_rotates(log)  # into the spare the engine prepared
    _write(log, "b")
    _conmon_rotates(log)  # into a file conmon creates itself
    _write(log, "c")
    assert _content(log) == "abc"  # readable before the engine settles anything
    rotate_step(log, policy)
    assert [p.name for p in files_to_read(log)] == ["ctr.log.2", "ctr.log.1", "ctr.log"]
    assert _content(log) == "abc"
    _write(log, "d")
    _conmon_rotates(log)
    rotate_step(log, policy)
    assert _content(log) == "abcd"


def test_compress_and_restart_of_a_half_full_file(tmp_path):
    log = tmp_path / "ctr.log"
    policy = LogPolicy("json-file", max_size=10, max_file=3, compress=True)
    prepare_start(log, policy)
    _write(log, "first\n")
    _conmon_rotates(log)
    rotate_step(log, policy)
    assert gzip.decompress((tmp_path / "ctr.log.1.gz").read_bytes()) == b"first\n"
    _write(log, "second")  # 6 bytes: more than half of max-size
    prepare_start(log, policy)  # the container starts again
    assert log.stat().st_size == 0
    assert [p.name for p in files_to_read(log)] == ["ctr.log.2.gz", "ctr.log.1.gz", "ctr.log"]
    assert _content(log) == "first\nsecond"


def _line(text: str) -> str:
    return f"2026-01-01T00:00:00.000000000Z stdout F {text}\n"


async def test_follow_reads_a_generation_it_fell_behind_on(tmp_path):
    log = tmp_path / "ctr.log"
    policy = LogPolicy("json-file", max_size=10_000, max_file=4)
    prepare_start(log, policy)
    _write(log, _line("a"))
    entries = read_logs(log, LogOptions(follow=True), lambda: True).__aiter__()
    try:
        assert (await entries.__anext__()).data == b"a\n"
        # two rotations (into the spare, then into a file of conmon's own) before the
        # reader looks again, and the engine has settled none of them
        _conmon_rotates(log)
        _write(log, _line("b"))
        _conmon_rotates(log)
        _write(log, _line("c"))
        got = [(await asyncio.wait_for(entries.__anext__(), 5)).data for _ in range(2)]
        assert got == [b"b\n", b"c\n"]
    finally:
        await entries.aclose()
