"""Pull progress: fold Docker's per-layer progress messages into a per-layer and total view.

The engine sends messages such as ``{"id": "a3ed95caeb02", "status": "Downloading",
"progressDetail": {"current": 1024, "total": 2048}}``. A layer's download and extraction
each count for half of its share of the total, so the total bar keeps moving while layers
are unpacked.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_DONE = {"pull complete", "already exists", "download complete"}
_FINAL = {"pull complete", "already exists"}


@dataclass
class LayerProgress:
    """What is known about one layer of a pull."""

    id: str
    status: str = ""
    current: int = 0
    total: int = 0
    downloaded: bool = False
    complete: bool = False

    @property
    def fraction(self) -> float:
        """0..1: download then extraction, half each."""
        if self.complete:
            return 1.0
        part = self.current / self.total if self.total else 0.0
        part = min(max(part, 0.0), 1.0)
        if self.status.lower().startswith("extracting"):
            return 0.5 + part / 2
        if self.downloaded:
            return 0.5
        return part / 2


@dataclass
class PullProgress:
    """The state of one pull, fed message by message."""

    layers: dict[str, LayerProgress] = field(default_factory=dict)
    status: str = ""
    digest: str = ""
    finished: bool = False

    def feed(self, msg: dict[str, Any]) -> LayerProgress | None:
        """Apply one message; returns the layer it concerned, if any."""
        status = str(msg.get("status") or "")
        lid = msg.get("id")
        if status.startswith("Digest:"):
            self.digest = status.split(":", 1)[1].strip()
        if not lid or ("progressDetail" not in msg and not _is_layer_status(status)):
            self.status = status or self.status
            if status.startswith("Status:"):
                self.finished = True
            return None
        layer = self.layers.get(lid)
        if layer is None:
            layer = self.layers[lid] = LayerProgress(lid)
        layer.status = status
        detail = msg.get("progressDetail") or {}
        if "current" in detail:
            layer.current = int(detail.get("current") or 0)
        if detail.get("total"):
            layer.total = int(detail["total"])
        low = status.lower()
        if low in _DONE or low.startswith("verifying"):
            layer.downloaded = True
        if low in _FINAL:
            layer.complete = True
        return layer

    @property
    def fraction(self) -> float:
        """Overall progress 0..1 (1 once the engine reported the final status)."""
        if self.finished:
            return 1.0
        if not self.layers:
            return 0.0
        return sum(layer.fraction for layer in self.layers.values()) / len(self.layers)


def _is_layer_status(status: str) -> bool:
    low = status.lower()
    return low in _DONE or low.startswith(
        ("pulling fs layer", "waiting", "downloading", "verifying", "extracting", "retrying")
    )
