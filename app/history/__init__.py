"""Resource history: CPU, memory, network and disk I/O recorded to SQLite (no Qt here)."""

from .recorder import HOST_KEY, HistoryRecorder, default_path, engine_key
from .store import METRICS, HistoryStore, Row

__all__ = [
    "HOST_KEY",
    "METRICS",
    "HistoryRecorder",
    "HistoryStore",
    "Row",
    "default_path",
    "engine_key",
]
