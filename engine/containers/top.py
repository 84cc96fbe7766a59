"""``/containers/{id}/top``: ``ps`` on the host, filtered to the container's pids.

As moby's ContainerTop: ``ps <args> -q <pids>`` first (cheap), and plain
``ps <args>`` when the options cannot be combined with ``-q`` (e.g. ``f``); then only
rows whose PID belongs to the container are kept, plus the thread rows (PID ``-``)
that follow them when ``ps`` shows threads.
"""

from __future__ import annotations

import asyncio
import re
from typing import Any

from ..errors import InvalidParameter, SystemError_

# Only ASCII whitespace separates ps fields; a command may contain other spaces.
_FIELD_SPLIT = re.compile(r"[\t\n\f\r ]+")
# `-o pid=PID` is fine; renaming another column to "PID" would fool the filter.
_RENAMED_PID = re.compile(r"\s+([^\s]*)=\s*(PID[^\s]*)")


def _fields(line: str) -> list[str]:
    return [f for f in _FIELD_SPLIT.split(line) if f]


def validate_ps_args(ps_args: str) -> None:
    """Refuse ``-o xxx=PID`` for a column other than pid (moby's validatePSArgs)."""
    for key, value in _RENAMED_PID.findall(ps_args):
        if key != "pid":
            raise InvalidParameter(f'specifying "{key}={value}" is not allowed')


def parse_ps(output: str, pids: list[int], ps_args: str = "-ef") -> dict[str, Any]:
    """Parse ``ps`` output into Titles/Processes, keeping only ``pids`` (pure).

    Rows are split on ASCII whitespace; fields beyond the number of titles are joined
    back into the last column (the command line).
    """
    lines = output.split("\n")
    titles = _fields(lines[0]) if lines else []
    if "PID" not in titles:
        raise SystemError_("Couldn't find PID field in ps output")
    pid_index = titles.index("PID")
    wanted = set(pids)
    processes: list[list[str]] = []
    previous_kept = False

    def append(fields: list[str]) -> None:
        n = len(titles)
        processes.append([*fields[: n - 1], " ".join(fields[n - 1 :])])

    for line in lines[1:]:
        if not line:
            continue
        fields = _fields(line)
        if len(fields) <= pid_index:
            continue
        if fields[pid_index] == "-":
            # A thread line (ps -m / H): belongs to the process row above it.
            if previous_kept:
                append(fields)
            continue
        try:
            p = int(fields[pid_index])
        except ValueError:
            raise SystemError_(f"Unexpected pid '{fields[pid_index]}'") from None
        previous_kept = p in wanted
        if previous_kept:
            append(fields)
    return {"Titles": titles, "Processes": processes}


async def _run_ps(args: list[str]) -> tuple[int, bytes, bytes]:
    proc = await asyncio.create_subprocess_exec(
        "ps",
        *args,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={"PATH": "/usr/bin:/bin", "LC_ALL": "C"},
    )
    out, err = await proc.communicate()
    return proc.returncode or 0, out, err


async def top(pids: list[int], ps_args: str = "-ef") -> dict[str, Any]:
    """Run ``ps <ps_args>`` and keep the rows whose PID is one of ``pids``.

    Returns ``{"Titles": [...], "Processes": [[...], ...]}``. Raises
    ``InvalidParameter`` for a forbidden ``-o x=PID`` and ``SystemError_`` carrying
    ps's first error line when ps fails (as moby does).
    """
    ps_args = ps_args or "-ef"
    validate_ps_args(ps_args)
    args = ps_args.split()
    rc, out, err = 1, b"", b""
    if pids:
        rc, out, err = await _run_ps([*args, "-q", ",".join(str(p) for p in pids)])
    if rc != 0:
        # Some options (such as f) cannot be combined with -q: filter ourselves.
        rc, out, err = await _run_ps(args)
        if rc != 0:
            first = err.decode(errors="replace").split("\n", 1)[0].strip()
            raise SystemError_(f"ps: {first or f'exit status {rc}'}")
    return parse_ps(out.decode(errors="replace"), pids, ps_args)
