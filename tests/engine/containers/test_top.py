"""top: ps on the host, filtered to a set of pids, in Docker's Titles/Processes shape."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest
from portside.engine.containers.top import parse_ps, top, validate_ps_args
from portside.engine.errors import InvalidParameter, SystemError_

PS_EF = """\
UID          PID    PPID  C STIME TTY          TIME CMD
root           1       0  0 10:00 ?        00:00:01 /sbin/init splash
root         100       1  0 10:01 ?        00:00:00 sleep 1000
nobody       200     100  0 10:02 ?        00:00:00 sh -c echo a   b
"""


def test_parse_keeps_only_wanted_pids_and_joins_the_command() -> None:
    got = parse_ps(PS_EF, [100, 200])
    assert got["Titles"] == ["UID", "PID", "PPID", "C", "STIME", "TTY", "TIME", "CMD"]
    assert got["Processes"] == [
        ["root", "100", "1", "0", "10:01", "?", "00:00:00", "sleep 1000"],
        ["nobody", "200", "100", "0", "10:02", "?", "00:00:00", "sh -c echo a b"],
    ]
    assert parse_ps(PS_EF, [])["Processes"] == []


def test_parse_keeps_thread_lines_of_kept_processes() -> None:
    out = "PID TID CMD\n100 - sleep\n- 100 -\n- 101 -\n300 - other\n- 300 -\n"
    got = parse_ps(out, [100])
    assert got["Processes"] == [["100", "-", "sleep"], ["-", "100", "-"], ["-", "101", "-"]]


def test_parse_errors() -> None:
    with pytest.raises(SystemError_, match="Couldn't find PID field"):
        parse_ps("USER CMD\nroot x\n", [1])
    with pytest.raises(SystemError_, match="Unexpected pid 'abc'"):
        parse_ps("PID CMD\nabc x\n", [1])


def test_renaming_a_column_to_pid_is_refused() -> None:
    validate_ps_args("-o pid=PID,comm")
    with pytest.raises(InvalidParameter, match='specifying "user=PID" is not allowed'):
        validate_ps_args("-o user=PID")


@pytest.fixture
def sleepers() -> Iterator[list[int]]:
    procs = [subprocess.Popen(["sleep", "30"]) for _ in range(2)]
    try:
        yield [p.pid for p in procs]
    finally:
        for p in procs:
            p.kill()
            p.wait()


async def test_top_default_args_lists_exactly_the_pids(sleepers: list[int]) -> None:
    got = await top(sleepers)
    assert got["Titles"][:2] == ["UID", "PID"]
    assert sorted(int(row[1]) for row in got["Processes"]) == sorted(sleepers)
    assert all(row[-1] == "sleep 30" for row in got["Processes"])


async def test_top_custom_args_and_fallback_without_q(sleepers: list[int]) -> None:
    got = await top(sleepers, "-o pid,comm")
    assert got["Titles"] == ["PID", "COMMAND"]
    assert sorted(got["Processes"]) == sorted([[str(p), "sleep"] for p in sleepers])
    # BSD-style "aux" and forest "axf" cannot be combined with -q: ps runs unfiltered.
    aux = await top(sleepers[:1], "aux")
    assert "%CPU" in aux["Titles"] and len(aux["Processes"]) == 1
    forest = await top([os.getpid()], "axf")
    assert [int(r[0]) for r in forest["Processes"]] == [os.getpid()]


async def test_top_bad_args_report_ps_error() -> None:
    with pytest.raises(SystemError_, match=r"^ps: "):
        await top([1], "--no-such-option")
