"""Build ``portside_<version>_amd64.deb`` with dpkg-deb (no debhelper, no network but PyPI).

    python3 packaging/build_deb.py --out dist/ [--compression gzip|xz|zstd]

What the package holds:

- ``/opt/portside``: the application in its own virtual environment, built from wheels
  (this tree's ``portside`` wheel and the binary wheels of its dependencies), bound to the
  system's ``/usr/bin/python3``; no pip in it (dpkg owns every file);
- ``/usr/bin/portside``, ``/usr/bin/portsided``: links into it;
- the desktop entry, the hicolor icons, the AppStream metainfo (``/usr/share``);
- ``portside.service`` + ``portside.socket`` and the ``portside`` group (sysusers.d,
  created by postinst); the socket is enabled and, where systemd runs, started.

The environment is built at a staging path and moved into the package tree, so the
scripts' ``#!`` lines and the activation scripts are rewritten to ``/opt/portside``; the
interpreter link (``bin/python`` → ``/usr/bin/python3``) is the same on the target. Python
byte code is compiled by postinst (the files are then the target's own, and the package
stays smaller), and removed by prerm.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from build_wheels import ROOT, build_wheel, download_dependencies

PREFIX = "/opt/portside"
PYTHON = "/usr/bin/python3"
APP_ID = "dev.portside.Portside"
RESOURCES = ROOT / "resources"

# What the engine drives and what Qt's wheels link against (their libraries are not in
# the wheels); the GUI list is packaging/dev.sh's.
ENGINE_DEPENDS = ["crun | runc", "conmon", "nftables", "iproute2"]
GUI_DEPENDS = [
    "libegl1",
    "libgl1",
    "libfontconfig1",
    "libxkbcommon0",
    "libxkbcommon-x11-0",
    "libxcb-cursor0",
    "libdbus-1-3",
    "libxcb-icccm4",
    "libxcb-keysyms1",
    "libxcb-shape0",
    "libxcb-xinerama0",
    "libxcb-randr0",
    "libxcb-image0",
    "libxcb-render-util0",
    "libglib2.0-0",
]
RECOMMENDS = ["qemu-system-x86", "qemu-utils", "tini"]
# Never needed at run time; a third of PySide6's size.
PRUNE = [
    "PySide6/include",
    "PySide6/typesystems",
    "PySide6/glue",
    "PySide6/scripts",
    "PySide6/Qt/translations",
    "PySide6/Qt/qml",
    "PySide6/Qt/metatypes",
]
PRUNE_BINARIES = ("designer", "assistant", "linguist", "lrelease", "lupdate", "qmllint")


def _python_minor() -> tuple[int, int]:
    out = subprocess.run(
        [PYTHON, "-c", "import sys; print(*sys.version_info[:2])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    return int(out[0]), int(out[1])


def wheelhouse(dest: Path) -> None:
    """This tree's ``portside`` wheel and every dependency's, for the system Python."""
    major, minor = _python_minor()
    wheel = build_wheel("portside", dest)
    target = ["--python-version", f"{major}.{minor}", "--implementation", "cp"]
    for platform in ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64"):
        target += ["--platform", platform]
    target += ["--platform", "linux_x86_64"]
    download_dependencies(wheel, dest, target)


def build_venv(staged: Path, wheels: Path) -> None:
    """A venv at ``staged`` made by the system Python, filled from ``wheels`` only."""
    subprocess.run([PYTHON, "-m", "venv", "--without-pip", str(staged)], check=True)
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--disable-pip-version-check",
            "-q",
            "--python",
            str(staged / "bin" / "python"),
            "install",
            "--no-index",
            "--no-compile",
            "--find-links",
            str(wheels),
            "portside",
        ],
        check=True,
    )
    site = next((staged / "lib").glob("python3*/site-packages"))
    for rel in PRUNE:
        shutil.rmtree(site / rel, ignore_errors=True)
    for pattern in ("*.pyi", "__pycache__"):
        for p in list(site.rglob(pattern)):
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    for name in PRUNE_BINARIES:
        for p in list((site / "PySide6").glob(f"{name}*")):
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    for p in list((staged / "bin").glob("pyside6-*")):
        p.unlink()


def relocate(venv: Path, staged_path: str) -> None:
    """Rewrite the staging path to PREFIX in the venv's scripts and pyvenv.cfg."""
    old, new = staged_path.encode(), PREFIX.encode()
    for f in [*venv.joinpath("bin").iterdir(), venv / "pyvenv.cfg"]:
        if f.is_symlink() or not f.is_file():
            continue
        data = f.read_bytes()
        if old in data:
            f.write_bytes(data.replace(old, new))


def _install(src: Path, dest: Path, mode: int = 0o644) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    os.chmod(dest, mode)


def desktop_files(tree: Path) -> None:
    share = tree / "usr" / "share"
    _install(
        RESOURCES / "desktop" / f"{APP_ID}.desktop",
        share / "applications" / f"{APP_ID}.desktop",
    )
    _install(
        RESOURCES / "desktop" / f"{APP_ID}.metainfo.xml",
        share / "metainfo" / f"{APP_ID}.metainfo.xml",
    )
    hicolor = RESOURCES / "icons" / "hicolor"
    for f in hicolor.rglob(f"{APP_ID}.*"):
        _install(f, share / "icons" / "hicolor" / f.relative_to(hicolor))


def service_files(tree: Path) -> None:
    service = RESOURCES / "service"
    for unit in ("portside.service", "portside.socket"):
        _install(service / unit, tree / "lib" / "systemd" / "system" / unit)
    _install(service / "sysusers-portside.conf", tree / "usr/lib/sysusers.d/portside.conf")


POSTINST = """#!/bin/sh
set -e
if [ "$1" = configure ]; then
    # The group whose members use the engine without root (its socket is 0660 root:portside).
    if ! getent group portside >/dev/null; then
        if command -v systemd-sysusers >/dev/null 2>&1; then
            systemd-sysusers portside.conf
        else
            groupadd --system portside
        fi
    fi
    # Byte code for the system's Python, written once as root (users cannot write here).
    /opt/portside/bin/python -m compileall -q -j0 /opt/portside/lib >/dev/null 2>&1 || true
    if command -v deb-systemd-helper >/dev/null 2>&1; then
        deb-systemd-helper unmask portside.socket >/dev/null || true
        deb-systemd-helper enable portside.socket >/dev/null || true
    fi
    if [ -d /run/systemd/system ]; then
        systemctl --system daemon-reload >/dev/null || true
        systemctl start portside.socket || true
    fi
    if command -v gtk-update-icon-cache >/dev/null 2>&1; then
        gtk-update-icon-cache -q -t -f /usr/share/icons/hicolor || true
    fi
fi
exit 0
"""

PRERM = """#!/bin/sh
set -e
if [ -d /run/systemd/system ] && [ "$1" = remove ]; then
    # The engine stops; its containers keep running (KillMode=process), as with docker.
    systemctl stop portside.service portside.socket >/dev/null 2>&1 || true
fi
# Byte code postinst wrote is not dpkg's: remove it so the directories can go.
find /opt/portside -name __pycache__ -type d -prune -exec rm -rf {} + 2>/dev/null || true
exit 0
"""

POSTRM = """#!/bin/sh
set -e
if [ -d /run/systemd/system ]; then
    systemctl --system daemon-reload >/dev/null || true
fi
if [ "$1" = purge ] && command -v deb-systemd-helper >/dev/null 2>&1; then
    deb-systemd-helper purge portside.socket portside.service >/dev/null || true
fi
exit 0
"""


def _installed_size_kib(tree: Path) -> int:
    total = 0
    for dirpath, dirnames, filenames in os.walk(tree):
        for name in filenames + dirnames:
            p = Path(dirpath) / name
            if p.is_symlink() or not p.is_file():
                total += 1024
            else:
                total += p.stat().st_size
    return total // 1024 + 1


def control(tree: Path) -> str:
    meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
    major, minor = _python_minor()
    # The venv's lib/python3.N holds binary modules for that minor version only.
    depends = [f"python3 (>= {major}.{minor})", f"python3 (<< {major}.{minor + 1})"]
    depends += ENGINE_DEPENDS + GUI_DEPENDS
    return (
        "Package: portside\n"
        f"Version: {meta['project']['version']}-1\n"
        "Architecture: amd64\n"
        "Maintainer: Portside developers <maintainers@portside.dev>\n"
        f"Installed-Size: {_installed_size_kib(tree)}\n"
        f"Depends: {', '.join(depends)}\n"
        f"Recommends: {', '.join(RECOMMENDS)}\n"
        "Section: admin\n"
        "Priority: optional\n"
        "Homepage: https://portside.dev\n"
        f"Description: {meta['project']['description']}\n"
        " Portside's engine (portsided) serves the Docker Engine API on\n"
        " /run/portside/portside.sock as a systemd service, started on first use;\n"
        " members of the portside group use it without root. The desktop app\n"
        " (portside) shows containers, images, volumes and networks.\n"
    )


def build(out: Path, compression: str = "xz", wheels: Path | None = None) -> Path:
    """Build the package into ``out``; its path. ``wheels``: reuse a wheelhouse."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="portside-deb-") as tmp:
        work = Path(tmp)
        if wheels is None:
            wheels = work / "wheels"
            wheelhouse(wheels)
        tree = work / "tree"
        venv = tree / PREFIX.lstrip("/")
        build_venv(venv, wheels)
        relocate(venv, str(venv))
        (tree / "usr" / "bin").mkdir(parents=True)
        for name in ("portside", "portsided"):
            os.symlink(f"{PREFIX}/bin/{name}", tree / "usr" / "bin" / name)
        desktop_files(tree)
        service_files(tree)
        debian = tree / "DEBIAN"
        debian.mkdir()
        for name, text in (("postinst", POSTINST), ("prerm", PRERM), ("postrm", POSTRM)):
            (debian / name).write_text(text)
            os.chmod(debian / name, 0o755)
        (debian / "control").write_text(control(tree))
        meta = tomllib.loads((ROOT / "pyproject.toml").read_text())
        deb = out / f"portside_{meta['project']['version']}-1_amd64.deb"
        level = ["-z1"] if compression == "gzip" else []
        subprocess.run(
            [
                "dpkg-deb",
                "--root-owner-group",
                f"-Z{compression}",
                *level,
                "--build",
                str(tree),
                str(deb),
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return deb


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="build_deb.py", description="Build Portside's .deb")
    p.add_argument("--out", type=Path, default=ROOT / "dist")
    p.add_argument("--compression", choices=("xz", "gzip", "zstd"), default="xz")
    p.add_argument("--wheels", type=Path, help="a wheelhouse to use instead of building one")
    args = p.parse_args(argv)
    print(build(args.out, args.compression, args.wheels))
    return 0


if __name__ == "__main__":
    sys.exit(main())
