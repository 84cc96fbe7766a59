"""The files desktops and systemd read, checked by their own validators, and the two
distributions built from this tree."""

from __future__ import annotations

import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
RES = REPO / "resources"
APP_ID = "dev.portside.Portside"


def _run(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=300)


def test_desktop_entry_is_valid() -> None:
    done = _run("desktop-file-validate", str(RES / "desktop" / f"{APP_ID}.desktop"))
    assert done.returncode == 0 and "error" not in done.stdout, done.stdout + done.stderr


def test_metainfo_is_valid() -> None:
    done = _run(
        "appstreamcli", "validate", "--no-net", str(RES / "desktop" / f"{APP_ID}.metainfo.xml")
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_icon_sizes_are_rendered_from_the_svg() -> None:
    hicolor = RES / "icons" / "hicolor"
    assert (hicolor / "scalable" / "apps" / f"{APP_ID}.svg").is_file()
    for size in (16, 22, 24, 32, 48, 64, 128, 256, 512):
        png = hicolor / f"{size}x{size}" / "apps" / f"{APP_ID}.png"
        head = png.read_bytes()[:24]
        assert head[:8] == b"\x89PNG\r\n\x1a\n"
        assert int.from_bytes(head[16:20], "big") == size, png


def test_units_verify() -> None:
    # The host's systemd-analyze (the installed units are verified again in test_deb),
    # where /usr/bin/portsided is not installed: that one complaint is expected.
    done = _run("systemd-analyze", "verify", *(str(p) for p in (RES / "service").glob("*.s*")))
    lines = (done.stdout + done.stderr).splitlines()
    complaints = [
        ln for ln in lines if "portside" in ln and "/usr/bin/portsided is not executable" not in ln
    ]
    assert not complaints, "\n".join(lines)


def test_engine_distribution_has_no_qt(tmp_path: Path) -> None:
    done = _run(
        sys.executable,
        str(REPO / "packaging" / "build_wheels.py"),
        "portside-engine",
        "--out",
        str(tmp_path),
    )
    assert done.returncode == 0, done.stderr
    (wheel,) = tmp_path.glob("portside_engine-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        meta = next(z.read(n).decode() for n in names if n.endswith(".dist-info/METADATA"))
    requires = [
        ln.split(":", 1)[1].strip() for ln in meta.splitlines() if ln.startswith("Requires-Dist:")
    ]
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert requires == pyproject["tool"]["portside"]["engine"]["dependencies"]
    # Every engine dependency is one of the full distribution's too: they never disagree.
    assert set(requires) <= set(pyproject["project"]["dependencies"])
    assert not [r for r in requires if "PySide" in r or "qasync" in r]
    assert not [n for n in names if n.startswith(("portside/app/", "portside/vm/"))]
    assert "portside/engine/daemon.py" in names
    assert "portside/resources/service/portside.socket" in names
