"""Repository rules that code review would otherwise have to remember."""

from __future__ import annotations

import ast
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOP = {
    "engine": "portside.engine",
    "app": "portside.app",
    "vm": "portside.vm",
    "resources": "portside.resources",
}


def _package_dirs() -> set[str]:
    found = set()
    for top, dotted in TOP.items():
        for init in (ROOT / top).rglob("__init__.py"):
            rel = init.parent.relative_to(ROOT / top)
            found.add(".".join([dotted, *rel.parts]) if rel.parts else dotted)
    return found


def test_every_package_is_listed_in_pyproject():
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    listed = set(meta["tool"]["setuptools"]["packages"])
    assert _package_dirs() - listed == set(), "add these to [tool.setuptools] packages"


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    pkg = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - node.level + 1]
                names.add(".".join([*base, node.module or ""]).strip("."))
            elif node.module:
                names.add(node.module)
    return names


def _py_files(top: str) -> list[Path]:
    return sorted((ROOT / top).rglob("*.py"))


# The .dockerignore matcher is pure (no I/O, no engine state): the app's build client
# applies the same rules as the engine's builder, from one implementation.
_SHARED_WITH_CLIENTS = {"portside.engine.build.dockerignore"}


def test_gui_never_imports_the_engine():
    for f in _py_files("app") + _py_files("vm"):
        names = _imports(f) - _SHARED_WITH_CLIENTS
        bad = {n for n in names if n.startswith(("portside.engine", "engine"))}
        assert not bad, f"{f.relative_to(ROOT)} imports the engine: {bad}"


def test_client_imports_no_qt():
    for f in (ROOT / "app" / "client").rglob("*.py"):
        bad = {n for n in _imports(f) if n.split(".")[0] in {"PySide6", "qasync", "shiboken6"}}
        assert not bad, f"{f.relative_to(ROOT)} imports Qt: {bad}"


def test_engine_imports_no_gui():
    for f in _py_files("engine"):
        bad = {n for n in _imports(f) if n.startswith(("portside.app", "PySide6", "app."))}
        assert not bad, f"{f.relative_to(ROOT)} imports the GUI: {bad}"


def test_services_never_import_the_api_layer():
    for f in _py_files("engine"):
        rel = f.relative_to(ROOT / "engine").parts
        if rel[0] == "api" or rel[0] in ("daemon.py", "__main__.py"):
            continue
        bad = {n for n in _imports(f) if n.startswith(("engine.api", "portside.engine.api"))}
        assert not bad, f"{f.relative_to(ROOT)} imports the API layer: {bad}"
