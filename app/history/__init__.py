"""Resource history: CPU, memory, network and disk I/O recorded to SQLite (no Qt here)."""

from .recorder import ENGINE_KEY, HOST_KEY, HistoryRecorder, default_path
from .store import METRICS, HistoryStore, Row

__all__ = [
    "ENGINE_KEY",
    "HOST_KEY",
    "METRICS",
    "HistoryRecorder",
    "HistoryStore",
    "Row",
    "default_path",
]
