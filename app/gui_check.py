"""Whether the desktop app's libraries load, said in one line when they do not.

``pip install portside`` brings them; an engine-only install (``portside-engine``, or
``--no-deps``) or a system without Qt's shared libraries does not. Either way the user
gets a sentence naming what to install, never a traceback.
"""

from __future__ import annotations

import importlib
import re

GUI_MODULES = ("PySide6.QtWidgets", "qasync")
# Top-level module -> the distribution that provides it.
DISTRIBUTIONS = {"PySide6": "PySide6-Essentials", "shiboken6": "PySide6-Essentials"}


def gui_problem() -> str | None:
    """None when the GUI can start; else the one line to print."""
    missing: list[str] = []
    for module in GUI_MODULES:
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as e:
            top = (e.name or module).split(".")[0]
            dist = DISTRIBUTIONS.get(top, top)
            if dist not in missing:
                missing.append(dist)
        except ImportError as e:
            return _library_problem(e)
    if missing:
        return (
            f"portside: the desktop app needs {' and '.join(missing)}, which this Python "
            f"environment lacks: install them with `pip install {' '.join(missing)}` "
            "(or install the `portside` package, which brings them)"
        )
    return None


def _library_problem(e: ImportError) -> str:
    """A system library Qt links against is missing (e.g. libEGL on a server image)."""
    text = str(e)
    lib = re.search(r"(lib[\w.+-]+\.so[\w.]*)", text)
    what = f"the system library {lib.group(1)}" if lib else text
    return (
        f"portside: Qt could not load {what}: install your desktop's graphics libraries "
        "(Debian/Ubuntu: apt install libegl1 libgl1 libxkbcommon0 libfontconfig1)"
    )
