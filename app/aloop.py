"""The qasync event loop, completed with what ``asyncio.run`` would have set up.

qasync runs Qt's event loop instead of ``BaseEventLoop.run_forever``, so it never
installs the async-generator hooks. Without them an async generator abandoned mid-way
(httpx/httpcore leave their inner byte-stream generators suspended whenever a response
is closed before its end) is finalized by the garbage collector outside the loop and
prints "async generator ignored GeneratorExit". The hooks make the loop close them.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any


def new_loop(qapp: Any, already_running: bool = False) -> asyncio.AbstractEventLoop:
    """A qasync loop for ``qapp`` with async-generator finalization installed."""
    os.environ.setdefault("QT_API", "pyside6")
    import PySide6  # noqa: F401  (qasync uses the binding already imported)
    import qasync

    loop = qasync.QEventLoop(qapp, already_running=already_running)
    asyncio.set_event_loop(loop)
    install_asyncgen_hooks(loop)
    return loop


def install_asyncgen_hooks(loop: asyncio.AbstractEventLoop) -> None:
    """Let ``loop`` finalize abandoned async generators (as ``run_forever`` does)."""
    sys.set_asyncgen_hooks(
        firstiter=loop._asyncgen_firstiter_hook,  # type: ignore[attr-defined]
        finalizer=loop._asyncgen_finalizer_hook,  # type: ignore[attr-defined]
    )


def remove_asyncgen_hooks() -> None:
    """Forget the hooks (after the loop is closed)."""
    sys.set_asyncgen_hooks(firstiter=None, finalizer=None)
