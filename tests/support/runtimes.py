"""Which OCI runtimes the runtime-sensitive tests run under.

The engine picks crun where it works, else runc (``portside.engine.runtime.detect``).
Container tests run once per runtime this host can serve, so that whichever runtime the
engine chooses by default is a tested one. ``PORTSIDE_TEST_RUNTIMES=crun,runc`` names the
runtimes explicitly: a named runtime the host cannot serve then fails its tests with the
reason instead of being left out.
"""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field

from portside.engine.runtime.detect import crun_hybrid_problem

KNOWN = ("crun", "runc")


@dataclass(frozen=True)
class RuntimeMatrix:
    """The runtimes to test and, for each known one left out or unusable, why."""

    runtimes: tuple[str, ...]
    problems: dict[str, str] = field(default_factory=dict)

    def header(self) -> str:
        """One line for pytest's report header."""
        line = f"runtime matrix: {', '.join(self.runtimes) or 'none'}"
        for name, why in sorted(self.problems.items()):
            state = "FAILS" if name in self.runtimes else "left out"
            line += f"; {name} {state}: {why}"
        return line


def runtime_problem(name: str) -> str | None:
    """Why the engine could not run containers with ``name`` here, or None."""
    if shutil.which(name) is None:
        return f"{name} is not installed"
    if name == "crun":
        return crun_hybrid_problem()
    return None


def runtime_matrix() -> RuntimeMatrix:
    """The runtimes from ``PORTSIDE_TEST_RUNTIMES``, else every usable known one."""
    wanted = os.environ.get("PORTSIDE_TEST_RUNTIMES", "")
    names = tuple(n.strip() for n in wanted.split(",") if n.strip())
    problems = {n: p for n in (names or KNOWN) if (p := runtime_problem(n))}
    for n in names:
        if n not in KNOWN:
            problems[n] = f"unknown runtime (known: {', '.join(KNOWN)})"
    if names:
        return RuntimeMatrix(names, problems)
    usable = tuple(n for n in KNOWN if n not in problems)
    # With no usable runtime at all, every container test must fail (with the reasons),
    # not vanish as an empty parametrization would make it.
    return RuntimeMatrix(usable or KNOWN, problems)
