"""Build Portside's wheels from this tree: ``portside`` (the desktop app, with the engine)
or ``portside-engine`` (the engine alone, no Qt), and optionally every dependency.

    python packaging/build_wheels.py portside --out dist/
    python packaging/build_wheels.py portside-engine --out wheels/ --with-deps

``portside-engine`` is described by ``[tool.portside.engine]`` in pyproject.toml: the
packages it holds and their dependencies; name, version, licence and build backend come
from ``[project]``, so the two distributions never disagree. docs/packaging.md says why
there are two. Only the standard library is used: the guest image builder runs this with
whatever Python builds the bundle.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DISTRIBUTIONS = ("portside", "portside-engine")
_PIP = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
_TREES = {"portside.engine": "engine", "portside.app": "app", "portside.vm": "vm"}
_TREES["portside.resources"] = "resources"


def _toml_value(value: object) -> str:
    # JSON's strings, lists and objects are valid TOML for everything written here.
    if isinstance(value, dict):
        return (
            "{ " + ", ".join(f"{json.dumps(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
        )
    return json.dumps(value)


def engine_pyproject(meta: dict) -> str:
    """pyproject.toml of ``portside-engine``, derived from the main one."""
    project, engine = meta["project"], meta["tool"]["portside"]["engine"]
    tops = engine["packages"]
    packages = [
        p
        for p in meta["tool"]["setuptools"]["packages"]
        if any(p == t or p.startswith(t + ".") for t in tops)
    ]
    package_data = {
        k: v for k, v in meta["tool"]["setuptools"].get("package-data", {}).items() if k in packages
    }
    scripts = {k: v for k, v in project["scripts"].items() if k in engine["scripts"]}
    lines = [
        "[build-system]",
        f"requires = {_toml_value(meta['build-system']['requires'])}",
        f"build-backend = {_toml_value(meta['build-system']['build-backend'])}",
        "",
        "[project]",
        f"name = {_toml_value(engine['name'])}",
        f"version = {_toml_value(project['version'])}",
        'description = "Portside\'s container engine (portsided) alone, without the desktop app"',
        'readme = "README.md"',
        f"requires-python = {_toml_value(project['requires-python'])}",
        f"license = {_toml_value(project['license'])}",
        f"dependencies = {_toml_value(engine['dependencies'])}",
        "",
        "[project.scripts]",
        *(f"{k} = {_toml_value(v)}" for k, v in scripts.items()),
        "",
        "[tool.setuptools]",
        f"package-dir = {_toml_value({t: _TREES[t] for t in tops})}",
        f"packages = {_toml_value(packages)}",
        "",
        "[tool.setuptools.package-data]",
        *(f"{_toml_value(k)} = {_toml_value(v)}" for k, v in package_data.items()),
        "",
    ]
    return "\n".join(lines)


def _stage(distribution: str, stage: Path) -> None:
    """A copy of what the distribution is built from (setuptools writes build/ and
    *.egg-info into the tree it builds, and the engine's tree must hold only its part)."""
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for name in ("README.md", "LICENSE"):
        if (ROOT / name).is_file():
            shutil.copy2(ROOT / name, stage / name)
    if distribution == "portside":
        shutil.copy2(ROOT / "pyproject.toml", stage / "pyproject.toml")
        trees = list(_TREES.values())
    else:
        (stage / "pyproject.toml").write_text(engine_pyproject(meta))
        trees = [_TREES[t] for t in meta["tool"]["portside"]["engine"]["packages"]]
    for tree in trees:
        shutil.copytree(ROOT / tree, stage / tree, ignore=ignore)


def build_wheel(distribution: str, out: Path) -> Path:
    """The wheel of ``distribution`` (no dependencies) in ``out``; its path."""
    if distribution not in DISTRIBUTIONS:
        raise ValueError(f"unknown distribution {distribution!r}")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="portside-wheel-") as tmp:
        stage = Path(tmp) / "source"
        stage.mkdir()
        _stage(distribution, stage)
        built = Path(tmp) / "wheel"
        subprocess.run(
            [*_PIP, "wheel", "--no-deps", "--wheel-dir", str(built), str(stage)], check=True
        )
        (wheel,) = built.glob(distribution.replace("-", "_") + "-*.whl")
        target = out / wheel.name
        shutil.move(str(wheel), target)
    return target


def download_dependencies(wheel: Path, out: Path, target: list[str] | None = None) -> None:
    """Binary wheels of every dependency of ``wheel`` into ``out``; ``target`` holds pip's
    ``--python-version``/``--platform`` options when they are for another interpreter."""
    subprocess.run(
        [*_PIP, "download", "--dest", str(out), "--only-binary=:all:", *(target or []), str(wheel)],
        check=True,
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="build_wheels.py", description=__doc__.split("\n")[0])
    p.add_argument("distribution", choices=DISTRIBUTIONS)
    p.add_argument("--out", required=True, type=Path, help="directory for the wheels")
    p.add_argument("--with-deps", action="store_true", help="also download every dependency")
    args = p.parse_args(argv)
    wheel = build_wheel(args.distribution, args.out)
    if args.with_deps:
        download_dependencies(wheel, args.out)
    print(wheel)
    return 0


if __name__ == "__main__":
    sys.exit(main())
