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
_SHARED_WITH_CLIENTS = {"portside.engine.dockerignore"}


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


def _from_imports(path: Path) -> list[tuple[str, list[str]]]:
    """``(module, imported names)`` of every ``from … import …`` in ``path``, relative
    imports resolved (``engine.containers`` for ``from ..containers import X``)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    pkg = ".".join(path.relative_to(ROOT).with_suffix("").parts[:-1])
    out: list[tuple[str, list[str]]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = pkg.split(".")
                base = base[: len(base) - node.level + 1]
                module = ".".join([*base, node.module or ""]).strip(".")
            else:
                module = (node.module or "").replace("portside.engine", "engine", 1)
            out.append((module, [a.name for a in node.names]))
        elif isinstance(node, ast.Import):
            for a in node.names:
                out.append((a.name.replace("portside.engine", "engine", 1), []))
    return out


def _public_names(area: Path) -> set[str]:
    """What an area's package ``__init__.py`` lists in ``__all__``."""
    tree = ast.parse((area / "__init__.py").read_text())
    for node in tree.body:
        if (
            isinstance(node, ast.Assign)
            and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
            and isinstance(node.value, ast.List | ast.Tuple)
        ):
            return {e.value for e in node.value.elts if isinstance(e, ast.Constant)}
    return set()


def test_api_uses_only_the_public_names_of_other_areas():
    """Routes call services: ``api/`` may import an area's public names — what the
    area's package ``__init__.py`` lists in ``__all__`` — and top-level modules
    (``errors``, ``conventions``, ``engine``), never another module of an area and
    never ``runtime`` (the OCI runtime and conmon are the container service's)."""
    areas = {p.name: p for p in (ROOT / "engine").iterdir() if (p / "__init__.py").exists()}
    for f in _py_files("engine/api"):
        for module, names in _from_imports(f):
            parts = module.split(".")
            if parts[0] != "engine" or len(parts) < 2 or parts[1] == "api":
                continue
            where = f"{f.relative_to(ROOT)} imports {module}"
            assert parts[1] != "runtime", f"{where}: the runtime is the container service's"
            if parts[1] not in areas:
                continue  # a top-level module: errors, conventions, engine, config
            assert len(parts) == 2, f"{where}, a module internal to {parts[1]}/"
            public = _public_names(areas[parts[1]])
            hidden = set(names) - public
            assert not hidden, f"{where} names {parts[1]}/ does not export: {sorted(hidden)}"


def test_every_module_imports():
    """mypy cannot follow ``portside.*`` imports across the source directories, so a
    stale one would surface only at run time: every module is imported here (in a child,
    so nothing it sets up stays in this process)."""
    import subprocess
    import sys

    script = (
        "import importlib, pkgutil\n"
        "failed = []\n"
        f"for top in {sorted(TOP.values())!r}:\n"
        "    pkg = importlib.import_module(top)\n"
        "    for info in pkgutil.walk_packages(pkg.__path__, top + '.'):\n"
        "        if info.name.rpartition('.')[2] == '__main__':\n"
        "            continue\n"
        "        try:\n"
        "            importlib.import_module(info.name)\n"
        "        except Exception as e:\n"
        "            failed.append(f'{info.name}: {e!r}')\n"
        "print('\\n'.join(failed))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == ""


def test_no_test_module_shadows_the_standard_library():
    """tests/support is on sys.path of helper processes too (the stand-in guest): a
    ``support/inspect.py`` there once hid the stdlib's ``inspect`` from ``dataclasses``."""
    import sys

    for path in (ROOT / "tests").rglob("*.py"):
        assert path.stem not in sys.stdlib_module_names, path
