"""Portside engine: images.

``api/`` may use the names below and :mod:`.service`; the rest is internal.
"""

from . import views

__all__ = ["views"]
