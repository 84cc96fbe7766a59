"""Polling for conditions that become true asynchronously (container state, logs)."""

from __future__ import annotations

import time
from typing import Any


def wait_for(pred: Any, timeout: float = 15.0, step: float = 0.05) -> Any:
    """Poll ``pred`` until it returns something truthy, and return that value."""
    deadline = time.monotonic() + timeout
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(step)
