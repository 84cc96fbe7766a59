"""``GET /containers/{id}/changes`` (``docker diff``) from the overlay upper directory.

Kind 0 = modified, 1 = added, 2 = deleted. An upper entry is "added" unless some lower
layer has the same path; overlay whiteouts (0:0 character devices) are deletions and
an opaque directory hides everything below it in the lower layers.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

MODIFIED, ADDED, DELETED = 0, 1, 2


def _in_lower(rel: str, lowers: list[Path]) -> bool:
    return any(os.path.lexists(lower / rel) for lower in lowers)


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def changes(upper: Path, lowers: list[Path]) -> list[dict[str, Any]]:
    """Docker's change list for a container (blocking: call in an executor)."""
    out: list[dict[str, Any]] = []
    for root, dirs, files in os.walk(upper):
        dirs.sort()
        for name in sorted(dirs + files):
            full = os.path.join(root, name)
            rel = os.path.relpath(full, upper)
            try:
                st = os.lstat(full)
            except OSError:
                continue
            if stat.S_ISCHR(st.st_mode) and st.st_rdev == 0:
                out.append({"Path": "/" + rel, "Kind": DELETED})
                continue
            exists_below = _in_lower(rel, lowers)
            if stat.S_ISDIR(st.st_mode) and exists_below and _opaque(full):
                exists_below = False
            out.append({"Path": "/" + rel, "Kind": MODIFIED if exists_below else ADDED})
    return out
