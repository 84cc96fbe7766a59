"""Keeping the app's resident memory small on glibc systems.

Two knobs of glibc's allocator, both no-ops elsewhere:

* one malloc arena per thread (glibc's default for each new thread) keeps freed memory
  of short-lived worker threads mapped; two arenas are plenty for a GUI;
* after start-up, most of what imports and the first layout allocated is garbage:
  ``malloc_trim`` hands those pages back instead of keeping them resident forever.

And one of Python's: PySide6's import hook reads the source of every module imported
after it into ``linecache`` (to look for ``from __feature__ import``), several MiB of
text nobody reads again. :func:`release` drops it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import linecache
import sys

M_ARENA_MAX = -8


def _libc() -> ctypes.CDLL | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        return ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None


def limit_arenas(count: int = 2) -> None:
    """Cap malloc arenas (call before threads start)."""
    libc = _libc()
    if libc is not None and hasattr(libc, "mallopt"):
        libc.mallopt(M_ARENA_MAX, count)


def trim() -> None:
    """Return freed heap pages to the system."""
    libc = _libc()
    if libc is not None and hasattr(libc, "malloc_trim"):
        libc.malloc_trim(0)


def release() -> None:
    """Drop caches of start-up (source lines, garbage) and give the pages back."""
    linecache.clearcache()
    gc.collect()
    trim()
