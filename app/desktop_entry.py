"""``portside desktop install|uninstall``: the menu entry and icons for one user.

The Debian package puts them under ``/usr/share``; ``pip``/``pipx`` cannot install files
outside the environment, so this copies the packaged ones (``portside.resources``) into
``$XDG_DATA_HOME`` (``~/.local/share``), with ``Exec`` pointing at this installation's
``portside`` by absolute path: a desktop's launcher often lacks ``~/.local/bin`` on PATH.
Qt-free.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

APP_ID = "dev.portside.Portside"


def data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def _command() -> str:
    """This installation's ``portside``, quoted as the Desktop Entry spec wants."""
    found = shutil.which("portside", path=os.path.dirname(sys.executable))
    if found is None:
        found = shutil.which("portside")
    if found is None:
        return f'"{sys.executable}" -m portside.app'
    return f'"{found}"' if " " in found else found


def _entry_text() -> str:
    text = (resources.files("portside.resources") / "desktop" / f"{APP_ID}.desktop").read_text()
    lines = [f"Exec={_command()}" if ln.startswith("Exec=") else ln for ln in text.splitlines()]
    return "\n".join(lines) + "\n"


def _targets(base: Path) -> list[tuple[Path, Traversable | str]]:
    icons = resources.files("portside.resources") / "icons" / "hicolor"
    out: list[tuple[Path, Traversable | str]] = [
        (base / "applications" / f"{APP_ID}.desktop", _entry_text())
    ]
    for size in icons.iterdir():
        for f in (size / "apps").iterdir():
            if f.name.startswith(APP_ID):
                out.append((base / "icons" / "hicolor" / size.name / "apps" / f.name, f))
    return out


def _refresh(base: Path) -> None:
    """Tell the desktop's caches; optional tools, silent when absent."""
    for argv in (
        ["update-desktop-database", "-q", str(base / "applications")],
        ["gtk-update-icon-cache", "-q", "-t", "-f", str(base / "icons" / "hicolor")],
    ):
        if shutil.which(argv[0]):
            subprocess.run(argv, capture_output=True)


def install(base: Path) -> list[Path]:
    written = []
    for dest, source in _targets(base):
        dest.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(source, str):
            dest.write_text(source)
        else:
            dest.write_bytes(source.read_bytes())
        written.append(dest)
    _refresh(base)
    return written


def uninstall(base: Path) -> list[Path]:
    removed = []
    for dest, _ in _targets(base):
        if dest.exists():
            dest.unlink()
            removed.append(dest)
    _refresh(base)
    return removed


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="portside desktop", description=__doc__.split("\n")[0])
    p.add_argument("action", choices=("install", "uninstall"))
    args = p.parse_args(argv)
    base = data_home()
    if args.action == "install":
        written = install(base)
        print(f"Portside is in the applications menu ({written[0]}).")
    else:
        removed = uninstall(base)
        print(f"Removed {len(removed)} files from {base}.")
    return 0
