"""Turning exceptions into sentences for people (never tracebacks)."""

from __future__ import annotations

import asyncio

from .client import EngineError, EngineUnreachable


def describe(exc: BaseException) -> str:
    """A short sentence for a failure, suitable for a status bar or a message box."""
    if isinstance(exc, EngineUnreachable):
        return str(exc) or "the engine is not reachable"
    if isinstance(exc, EngineError):
        return str(exc) or f"the engine answered with an error ({exc.status})"
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return "the operation took too long and was given up"
    if isinstance(exc, PermissionError):
        return f"permission denied: {exc.filename or exc}"
    if isinstance(exc, OSError):
        return exc.strerror or str(exc)
    text = str(exc)
    return f"unexpected error ({type(exc).__name__}){': ' + text if text else ''}"


def sentence(what: str, exc: BaseException) -> str:
    """``Could not stop web: the container is not running``."""
    return f"Could not {what}: {describe(exc)}"
