"""Keeping the app's resident memory small on glibc systems.

Two knobs of glibc's allocator, both no-ops elsewhere:

* one malloc arena per thread (glibc's default for each new thread) keeps freed memory
  of short-lived worker threads mapped; two arenas are plenty for a GUI;
* after start-up, most of what imports and the first layout allocated is garbage:
  ``malloc_trim`` hands those pages back instead of keeping them resident forever.

And PySide6's import hook, which reads the source of every module imported after it to
see whether it mentions PySide6 (modules that do may use ``from __feature__ import``).
It reads through ``inspect.getsource``, which keeps every line of every module in
``linecache``: tens of thousands of small strings made between the modules' own
objects. Dropping them later (:func:`release`) leaves Python's allocator with holes
it never returns — 6 MiB resident for the app's whole life. :func:`read_sources_once`
gives the hook the same answer from one read of the file, kept nowhere.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import linecache
import sys
from types import ModuleType

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


def mentions_pyside(module: ModuleType) -> bool:
    """Whether ``module``'s source file mentions PySide6 (False without a source file)."""
    path = getattr(module, "__file__", None)
    if not isinstance(path, str) or not path.endswith(".py"):
        return False
    try:
        with open(path, "rb") as f:
            return b"PySide6" in f.read()
    except OSError:
        return False


def read_sources_once() -> None:
    """Answer PySide6's import hook without filling ``linecache`` (call after PySide6 is
    imported; a PySide6 without that hook is left alone)."""
    feature = sys.modules.get("shibokensupport.feature")
    if feature is not None and callable(getattr(feature, "_mod_uses_pyside", None)):
        feature._mod_uses_pyside = mentions_pyside  # type: ignore[attr-defined]


def release() -> None:
    """Drop caches of start-up (source lines, garbage) and give the pages back."""
    linecache.clearcache()
    gc.collect()
    trim()
