"""Kernel modules: keep an allowlist and its dependencies, drop the rest.

Debian's generic kernel ships ~4000 modules (~350 MB); the guest needs about sixty. The
dependency closure comes from the kernel's own ``modules.dep``; ``depmod`` is run again
afterwards so udev and modprobe see only what is left.
"""

from __future__ import annotations

from pathlib import Path


def module_name(path: str) -> str:
    """``kernel/fs/ext4/ext4.ko`` → ``ext4`` (``-`` and ``_`` are the same to the kernel)."""
    base = path.rsplit("/", 1)[-1]
    for suffix in (".ko.xz", ".ko.zst", ".ko.gz", ".ko"):
        if base.endswith(suffix):
            base = base[: -len(suffix)]
            break
    return base.replace("-", "_")


def read_deps(moddir: Path) -> dict[str, tuple[str, list[str]]]:
    """``{name: (relative path, [relative paths of dependencies])}`` from ``modules.dep``."""
    deps: dict[str, tuple[str, list[str]]] = {}
    for line in (moddir / "modules.dep").read_text().splitlines():
        if ":" not in line:
            continue
        path, _, rest = line.partition(":")
        deps[module_name(path)] = (path, rest.split())
    return deps


def builtin(moddir: Path) -> set[str]:
    f = moddir / "modules.builtin"
    if not f.exists():
        return set()
    return {module_name(ln.strip()) for ln in f.read_text().splitlines() if ln.strip()}


def closure(moddir: Path, wanted: list[str]) -> list[str]:
    """Relative paths of ``wanted`` and everything they depend on, dependencies first.

    A wanted module that is built into the kernel needs nothing; one that exists nowhere
    is an error (a typo in the allowlist must not silently drop a feature).
    """
    deps = read_deps(moddir)
    inside = builtin(moddir)
    order: list[str] = []
    seen: set[str] = set()

    def visit(path: str) -> None:
        if path in seen:
            return
        seen.add(path)
        for dep in deps[module_name(path)][1]:
            visit(dep)
        order.append(path)

    for name in wanted:
        key = name.replace("-", "_")
        if key in deps:
            visit(deps[key][0])
        elif key not in inside:
            raise ValueError(f"kernel module {name!r} is neither a module nor built in")
    return order


def prune(moddir: Path, wanted: list[str]) -> list[str]:
    """Delete every module under ``moddir/kernel`` not in the closure of ``wanted``."""
    keep = set(closure(moddir, wanted))
    for ko in moddir.rglob("*.ko*"):
        rel = str(ko.relative_to(moddir))
        if rel not in keep:
            ko.unlink()
    for d in sorted((p for p in moddir.rglob("*") if p.is_dir()), reverse=True):
        if not any(d.iterdir()):
            d.rmdir()
    return sorted(keep)
