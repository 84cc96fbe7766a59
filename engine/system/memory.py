"""Hand big freed allocations back to the system.

glibc raises its mmap threshold each time a big mmapped block is freed (up to 32 MiB),
after which blocks that size come from the heap and stay in the process when freed
between smaller live ones. A few megabyte-sized request bodies (a 30 MB label) then
kept the engine's RSS hundreds of megabytes up. A fixed threshold stops that: blocks
of 4 MiB and more are always mmapped and unmapped on free; the 1 MiB buffers of layer
streams stay on the heap, where reusing them is cheap.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

_M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 4 << 20


def fix_mmap_threshold() -> None:
    """Set glibc's mmap threshold once, at start (nothing to do on another libc)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    if mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD) != 1:
        log.debug("mallopt(M_MMAP_THRESHOLD) refused")
