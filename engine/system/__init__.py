"""Portside engine: system (events, host facts, memory tuning, crash points).

``api/`` may use the names below; the rest is internal.
"""

from . import hostinfo
from .events import Event, EventBus

__all__ = ["Event", "EventBus", "hostinfo"]
