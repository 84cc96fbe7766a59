"""Lifecycle actions on a selection of containers (start, stop, ..., delete)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from PySide6.QtWidgets import QWidget

from ..client import EngineClient, EngineError
from ..context import AppContext
from ..widgets import dialogs


@dataclass(frozen=True)
class Action:
    """One button: its label, the words for messages, when it applies, what it calls."""

    key: str
    label: str
    verb: str
    doing: str
    states: frozenset[str]
    call: Callable[[EngineClient, str], Awaitable[None]]


_STOPPED = {"created", "exited", "dead"}
_ALIVE = {"running", "restarting", "paused"}

ACTIONS = [
    Action(
        "start", "Start", "start", "Starting", frozenset(_STOPPED),
        lambda c, i: c.containers.start(i),
    ),
    Action(
        "stop", "Stop", "stop", "Stopping", frozenset(_ALIVE),
        lambda c, i: c.containers.stop(i),
    ),
    Action(
        "restart", "Restart", "restart", "Restarting", frozenset(_ALIVE | _STOPPED),
        lambda c, i: c.containers.restart(i),
    ),
    Action(
        "pause", "Pause", "pause", "Pausing", frozenset({"running"}),
        lambda c, i: c.containers.pause(i),
    ),
    Action(
        "unpause", "Resume", "resume", "Resuming", frozenset({"paused"}),
        lambda c, i: c.containers.unpause(i),
    ),
    Action(
        "delete", "Delete", "delete", "Deleting", frozenset(_ALIVE | _STOPPED),
        lambda c, i: c.containers.remove(i, force=True),
    ),
]  # fmt: skip
BY_KEY = {a.key: a for a in ACTIONS}


def applicable(action: Action, states: list[str]) -> bool:
    """An action is offered when it applies to at least one selected container."""
    return any(s in action.states for s in states)


def describe_targets(names: list[str]) -> str:
    """``web`` / ``web and db`` / ``3 containers``."""
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return f"{names[0]} and {names[1]}"
    return f"{len(names)} containers"


async def _apply(client: EngineClient, action: Action, targets: list[tuple[str, str]]) -> None:
    results = await asyncio.gather(
        *(action.call(client, cid) for cid, _name in targets), return_exceptions=True
    )
    failures = [
        (name, r)
        for (_cid, name), r in zip(targets, results, strict=True)
        if isinstance(r, BaseException)
    ]
    for _name, r in failures:
        if not isinstance(r, EngineError):
            raise r
    if failures:
        name, err = failures[0]
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        raise type(err)(f"{name}: {err}{more}", err.status) if isinstance(err, EngineError) else err


def run(
    ctx: AppContext,
    key: str,
    targets: list[tuple[str, str]],
    parent: QWidget | None = None,
    states: dict[str, str] | None = None,
) -> asyncio.Task[None] | None:
    """Apply action ``key`` to ``targets`` [(id, name)], asking first before deleting.

    Only the containers the action applies to are touched (stopping a selection that
    includes stopped containers stops the running ones).
    """
    client = ctx.client
    action = BY_KEY[key]
    if client is None or not targets:
        return None
    if states is not None:
        targets = [(cid, n) for cid, n in targets if states.get(cid, "") in action.states]
        if not targets:
            return None
    label = describe_targets([n for _cid, n in targets])
    if key == "delete":
        running = [n for cid, n in targets if (states or {}).get(cid) == "running"]
        warn = " Running containers are stopped first." if running else ""
        if not dialogs.confirm(parent, "Delete containers", f"Delete {label}?{warn}"):
            return None
    ctx.runner.message.emit(
        f"{action.label.rstrip('e')}ing {label}…".replace("Stoping", "Stopping")
    )
    return ctx.runner.spawn(_apply(client, action, targets), f"{action.verb} {label}", busy=True)
