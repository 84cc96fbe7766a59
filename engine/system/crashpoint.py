"""Test seam: make the engine kill itself with SIGKILL at a named point of an operation.

The fault suite (``tests/faults``) starts an engine with ``PORTSIDE_TEST_CRASH_AT=<point>``
to crash it deterministically between two steps of a pull, rmi, commit, load or volume
seeding, then restarts it and checks the store. Timing a kill from outside cannot hit
the window between two writes reliably; this can. Unset (always, outside tests), a
point costs one string comparison.
"""

from __future__ import annotations

import logging
import os
import signal

log = logging.getLogger(__name__)

ENV = "PORTSIDE_TEST_CRASH_AT"
_armed = os.environ.get(ENV) or None


def crash_point(name: str) -> None:
    """SIGKILL this process when ``name`` is the point the environment names."""
    if _armed != name:
        return
    log.warning("%s=%s: killing the engine here", ENV, name)
    for h in logging.getLogger().handlers:
        h.flush()
    os.kill(os.getpid(), signal.SIGKILL)
