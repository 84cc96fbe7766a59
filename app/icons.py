"""Icons: the application's and the engine-state badges come from ``portside.resources``
(package data, the same files the desktop's icon theme gets); the per-row state dots of
tables are drawn, because their colour is data (one per container state)."""

from __future__ import annotations

from functools import cache
from importlib import resources
from importlib.resources.abc import Traversable

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QIcon, QPainter, QPixmap

from .connection import CONNECTED, CONNECTING, STARTING

# The desktop entry's name, the icon theme name and the AppStream id.
APP_ID = "dev.portside.Portside"
ENGINE_STATES = ("running", "starting", "stopped", "error")


def _icons() -> Traversable:
    return resources.files("portside.resources") / "icons"


@cache
def app_icon() -> QIcon:
    """Portside's icon: the SVG plus every rendered size, so each is drawn crisp."""
    icon = QIcon()
    hicolor = _icons() / "hicolor"
    for size_dir in sorted(hicolor.iterdir(), key=lambda d: d.name):
        for f in (size_dir / "apps").iterdir():
            if f.name.startswith(APP_ID):
                icon.addFile(str(f))
    return icon


def engine_state(state: str, detail: str) -> str:
    """Which badge (one of :data:`ENGINE_STATES`) a connection state shows: "stopped"
    when no engine is there to answer, "error" when one is there but cannot be used."""
    if state == CONNECTED:
        return "running"
    if state in (CONNECTING, STARTING):
        return "starting"
    lowered = detail.lower()
    if "permission denied" in lowered:
        return "error"
    if "no engine answered" in lowered or "no such file" in lowered or "refused" in lowered:
        return "stopped"
    return "error"


@cache
def engine_icon(badge: str) -> QIcon:
    """The tray/status icon for an engine state (``running``, ``starting``, …)."""
    if badge not in ENGINE_STATES:
        raise ValueError(f"unknown engine state {badge!r}")
    return QIcon(str(_icons() / "tray" / f"portside-{badge}.svg"))


@cache
def dot_icon(colour: str, size: int = 10) -> QIcon:
    """A filled circle in ``colour``."""
    pix = QPixmap(size, size)
    pix.fill(Qt.GlobalColor.transparent)
    p = QPainter(pix)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    p.setBrush(QColor(colour))
    p.setPen(Qt.PenStyle.NoPen)
    p.drawEllipse(1, 1, size - 2, size - 2)
    p.end()
    return QIcon(pix)
