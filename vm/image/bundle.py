"""A built guest bundle on disk and its manifest.

A bundle is one directory: ``kernel``, ``initrd``, ``disk.qcow2`` (the read-only base of
every machine's overlay) and ``manifest.json`` with the sha256 of each file. ``load``
refuses a bundle that is incomplete, altered or made for another bundle format, with a
message that says what to do, because a machine booted from a half-copied disk fails in
ways nobody can diagnose.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

# Bumped when the layout or the guest's contract with the host changes: an older bundle
# then cannot boot a newer host's machines.
BUNDLE_FORMAT = 1
MANIFEST = "manifest.json"
FILES = ("kernel", "initrd", "disk.qcow2")
BUNDLE_ENV = "PORTSIDE_BUNDLE"


class BundleError(Exception):
    """The bundle is missing, corrupt or outdated; the message is for the user."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def default_bundle_dir() -> Path:
    """Where ``machine init`` looks for the bundle: ``$PORTSIDE_BUNDLE``, else the user's
    cache directory (XDG on Linux, Caches on macOS, LOCALAPPDATA on Windows)."""
    override = os.environ.get(BUNDLE_ENV)
    if override:
        return Path(override)
    if sys.platform == "darwin":
        base = Path.home() / "Library" / "Caches" / "Portside"
    elif sys.platform == "win32":
        local = os.environ.get("LOCALAPPDATA") or Path.home() / "AppData" / "Local"
        base = Path(local) / "Portside" / "Cache"
    else:
        base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "portside"
    return base / "vm-bundle"


@dataclass(frozen=True)
class Bundle:
    """A verified bundle: the files QEMU boots."""

    root: Path
    version: str
    kernel: Path
    initrd: Path
    disk: Path

    @classmethod
    def load(cls, root: Path, verify: bool = True) -> Bundle:
        """Read ``root/manifest.json``; with ``verify``, check every file's sha256."""
        root = Path(root)
        manifest_path = root / MANIFEST
        hint = "build it with: python -m portside.vm.image build --out " + str(root)
        if not manifest_path.is_file():
            raise BundleError(f"no VM bundle at {root} (no {MANIFEST}); {hint}")
        try:
            manifest = json.loads(manifest_path.read_text())
            fmt = manifest["format"]
            version = str(manifest["version"])
            hashes = manifest["files"]
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise BundleError(
                f"the VM bundle at {root} has an unreadable manifest ({e}); {hint}"
            ) from e
        if fmt != BUNDLE_FORMAT:
            raise BundleError(
                f"the VM bundle at {root} has format {fmt}, this Portside needs format "
                f"{BUNDLE_FORMAT}; rebuild it: python -m portside.vm.image build --out {root}"
            )
        for name in FILES:
            path = root / name
            if name not in hashes:
                raise BundleError(f"the VM bundle at {root} lists no {name}; {hint}")
            if not path.is_file():
                raise BundleError(f"the VM bundle at {root} is missing {name}; {hint}")
            if verify and sha256_file(path) != hashes[name]:
                raise BundleError(
                    f"the VM bundle at {root} is corrupt: {name} does not match its "
                    f"checksum in {MANIFEST}; {hint}"
                )
        return cls(
            root=root,
            version=version,
            kernel=root / "kernel",
            initrd=root / "initrd",
            disk=root / "disk.qcow2",
        )


def write_manifest(root: Path, *, version: str, created: str, input_hash: str) -> None:
    """Write ``manifest.json`` over the files already in ``root``."""
    manifest = {
        "format": BUNDLE_FORMAT,
        "version": version,
        "created": created,
        "input_hash": input_hash,
        "files": {name: sha256_file(root / name) for name in FILES},
        "sizes": {name: (root / name).stat().st_size for name in FILES},
    }
    (root / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
