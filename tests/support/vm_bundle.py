"""The guest bundle for tests: built once per input hash, then reused by every run.

``cached_bundle()`` keeps bundles under ``/var/cache/portside-tests/vm-bundle-<inputhash>``
(outside the checkout: a build takes minutes). The input hash covers the guest files, the
package and module lists, the builder and the engine's sources, so a change to any of
them builds a new bundle and nothing stale is ever booted. A file lock serialises
concurrent callers (two pytest sessions, two worktrees); the builder renames the bundle
into place only when complete, and a bundle that fails verification is rebuilt.
"""

from __future__ import annotations

import fcntl
import os
import sys
import time
from pathlib import Path

from portside.vm.image import Bundle, BundleError, build_bundle
from portside.vm.image.inputs import input_hash
from support.debian_image import debian_mirror


def cache_base() -> Path:
    return Path(os.environ.get("PORTSIDE_TEST_CACHE", "/var/cache/portside-tests"))


def cached_bundle() -> Bundle:
    """A verified bundle for the current sources, built on first use."""
    mirror = debian_mirror()
    base = cache_base()
    base.mkdir(parents=True, exist_ok=True)
    root = base / f"vm-bundle-{input_hash(mirror)[:16]}"
    with open(base / "vm-bundle.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            return Bundle.load(root)
        except BundleError:
            pass
        started = time.monotonic()

        def progress(message: str) -> None:
            print(f"[vm bundle {time.monotonic() - started:5.0f}s] {message}", file=sys.stderr)

        return build_bundle(root, progress=progress, mirror=mirror, deb_cache=base / "vm-debs")
