"""Portside engine: distribution (registries: pull, push, login, search).

``api/`` may use the names below and :mod:`.service`; the rest is internal.
"""

from . import progress
from .auth import decode_registry_auth

__all__ = ["decode_registry_auth", "progress"]
