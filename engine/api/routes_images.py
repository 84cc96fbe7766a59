"""Images routes."""

from __future__ import annotations

from .router import Router


def register(r: Router) -> None:
    """Add the images routes."""
