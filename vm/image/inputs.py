"""What a bundle is made from, and the hash over it.

The input hash covers the guest files (units, scripts, package and module lists), the
builder itself and the engine's source and dependencies: any change there makes a new
bundle, everything else reuses the cached one.
"""

from __future__ import annotations

import hashlib
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

SUITE = "bookworm"
DEFAULT_MIRROR = "http://deb.debian.org/debian"


def guest_files() -> Traversable:
    """The files installed in the guest (``resources/guest``)."""
    return resources.files("portside.resources") / "guest"


def _lines(name: str) -> list[str]:
    text = (guest_files() / name).read_text()
    return [ln.split("#")[0].strip() for ln in text.splitlines() if ln.split("#")[0].strip()]


def packages() -> list[str]:
    """Debian packages installed on top of ``debootstrap --variant=minbase``."""
    return _lines("packages.txt")


def module_allowlist() -> list[str]:
    """Kernel modules kept in the guest (plus their dependencies)."""
    return _lines("modules.txt")


def initramfs_modules() -> list[str]:
    """Kernel modules the initramfs loads to mount the root disk."""
    return _lines("initramfs-modules.txt")


def project_root() -> Path | None:
    """The source checkout this package runs from (holds ``pyproject.toml``), if any."""
    here = Path(__file__).resolve()
    for parent in here.parents:
        if (parent / "pyproject.toml").is_file() and (parent / "engine").is_dir():
            return parent
    return None


def _walk(t: Traversable, prefix: str = "") -> list[tuple[str, Traversable]]:
    out: list[tuple[str, Traversable]] = []
    for child in sorted(t.iterdir(), key=lambda c: c.name):
        if child.name == "__pycache__":
            continue
        name = f"{prefix}{child.name}"
        if child.is_dir():
            out += _walk(child, name + "/")
        else:
            out.append((name, child))
    return out


def guest_file_list() -> list[tuple[str, Traversable]]:
    """Every guest file with its path relative to ``resources/guest``."""
    return _walk(guest_files())


def input_hash(mirror: str = DEFAULT_MIRROR) -> str:
    """sha256 over everything that goes into a bundle (see the module docstring)."""
    h = hashlib.sha256()
    h.update(f"{SUITE}|{mirror}\n".encode())
    for name, f in guest_file_list():
        h.update(f"guest/{name}\n".encode())
        h.update(f.read_bytes())
    builder = Path(__file__).resolve().parent
    for path in sorted(builder.glob("*.py")):
        h.update(f"builder/{path.name}\n".encode())
        h.update(path.read_bytes())
    root = project_root()
    if root is not None:
        h.update((root / "pyproject.toml").read_bytes())
        h.update((root / "packaging" / "build_wheels.py").read_bytes())
        for path in sorted((root / "engine").rglob("*.py")):
            h.update(f"engine/{path.relative_to(root)}\n".encode())
            h.update(path.read_bytes())
    return h.hexdigest()
