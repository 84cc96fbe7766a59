"""``/containers/{id}/top``: ``ps`` on the host, filtered to the container's pids."""

from __future__ import annotations

from typing import Any


async def top(pids: list[int], ps_args: str = "-ef") -> dict[str, Any]:
    """Run ``ps <ps_args>`` and keep the rows whose PID is one of ``pids``.

    Returns ``{"Titles": [...], "Processes": [[...], ...]}``. Raises
    ``InvalidParameter`` if ps fails or its output has no PID column (as moby does).
    """
    raise NotImplementedError


def parse_ps(output: str, pids: list[int], ps_args: str = "-ef") -> dict[str, Any]:
    """Parse ``ps`` output into Titles/Processes, keeping only ``pids`` (pure)."""
    raise NotImplementedError
