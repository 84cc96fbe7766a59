"""``portside``: the desktop app's entry point."""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys


def _version() -> str:
    from importlib import metadata

    try:
        return metadata.version("portside")
    except metadata.PackageNotFoundError:
        return "(not installed)"


class _PrintVersion(argparse.Action):
    """``--version``, looked up only when asked: importing importlib.metadata took 26 ms
    of every start-up."""

    def __init__(self, option_strings: list[str], dest: str, help: str | None = None) -> None:
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, help=help)

    def __call__(self, parser: argparse.ArgumentParser, *_args: object) -> None:
        print(f"Portside {_version()}")
        parser.exit()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    """Command-line options (the hidden ones serve tests, screenshots and benchmarks)."""
    p = argparse.ArgumentParser(prog="portside", description="Portside desktop app")
    p.add_argument("--version", action=_PrintVersion, help="show the version and exit")
    p.add_argument(
        "-H",
        "--host",
        help="engine address (unix:///path.sock, tcp://host:port or ssh://user@host)",
    )
    p.add_argument("--settings", help="settings file (default: the user's Portside settings)")
    p.add_argument("--panel", default="Containers", help="panel to open first")
    p.add_argument("--no-tray", action="store_true", help="no tray icon")
    p.add_argument("--quit-after", type=float, help=argparse.SUPPRESS)
    p.add_argument("--first-frame-file", help=argparse.SUPPRESS)
    p.add_argument("--status-file", help=argparse.SUPPRESS)
    p.add_argument("--open-container", help=argparse.SUPPRESS)
    p.add_argument("--tab", default="Stats", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    """Run the app until its window is closed; ``portside machine …`` manages machines,
    ``portside engine …`` the engine's system service, ``portside desktop install`` puts
    the app in the user's menu (for pip/pipx installs)."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["machine"]:
        # Before any Qt import: the machine commands work without PySide6 installed.
        from portside.vm.cli import main as machine_main

        return machine_main(argv[1:])
    if argv[:1] == ["engine"]:
        from .service import main as engine_main

        return engine_main(argv[1:])
    if argv[:1] == ["desktop"]:
        from .desktop_entry import main as desktop_main

        return desktop_main(argv[1:])
    args = parse_args(argv)
    from .gui_check import gui_problem

    problem = gui_problem()
    if problem is not None:
        print(problem, file=sys.stderr)
        return 1
    os.environ.setdefault("QT_API", "pyside6")
    from . import memory

    memory.limit_arenas()
    memory.read_sources_once()  # gui_problem() imported PySide6
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from . import style
    from .aloop import new_loop, remove_asyncgen_hooks
    from .application import PortsideApp
    from .icons import APP_ID, app_icon
    from .settings import SOCKET, TCP, ConnectionChoice, Settings

    existing = QApplication.instance()
    qapp = existing if isinstance(existing, QApplication) else QApplication(sys.argv[:1])
    qapp.setApplicationName("Portside")
    qapp.setOrganizationName("Portside")
    # The window's icon, and on Wayland the link from the window to the desktop entry.
    qapp.setWindowIcon(app_icon())
    qapp.setDesktopFileName(APP_ID)
    qapp.setQuitOnLastWindowClosed(False)
    style.apply(qapp)
    loop = new_loop(qapp)

    settings = Settings(args.settings)
    choice = None
    if args.host:
        if args.host.startswith("unix://"):
            choice = ConnectionChoice(kind=SOCKET, socket_path=args.host[len("unix://") :])
        else:
            choice = ConnectionChoice(kind=TCP, tcp_host=args.host)
    app = PortsideApp(settings, choice, tray=not args.no_tray)
    if args.panel:
        app.window.show_panel(args.panel)
    if args.first_frame_file:
        path = args.first_frame_file

        def write(t: float) -> None:
            with open(path, "w") as f:
                f.write(f"{t:.6f}\n")

        app.window.first_painted.connect(write)
    # Start-up garbage (imports, first layout, first lists) goes back to the system,
    # once the first lists are in and again after a panel is built on first use.
    app.ctx.events.opened.connect(lambda: QTimer.singleShot(2000, memory.release))
    app.window.panel_created.connect(lambda _name: QTimer.singleShot(500, memory.release))
    if args.open_container:
        _open_when_listed(app, args.open_container, args.tab)
    if args.status_file:
        status_path = args.status_file

        def write_status() -> None:
            with open(status_path, "w") as f:
                json.dump(app.status(), f)

        # Written as the window closes, before streams are torn down.
        app.window.close_requested.connect(write_status)
    if args.quit_after is not None:
        QTimer.singleShot(int(args.quit_after * 1000), app.window.close)
    loop.add_signal_handler(signal.SIGINT, app.quit)
    loop.add_signal_handler(signal.SIGTERM, app.quit)
    try:
        loop.run_until_complete(app.run())
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()
        remove_asyncgen_hooks()
    return 0


def _open_when_listed(app, cid: str, tab: str) -> None:
    """Open a container's details (``tab``) as soon as the table lists it (benchmarks)."""
    feed = app.ctx.feeds.containers

    def check() -> None:
        if feed.model.container(cid) is None:
            return
        feed.changed.disconnect(check)
        panel = app.window.show_panel("Containers")
        panel.open_details(cid, tab)

    feed.changed.connect(check)


if __name__ == "__main__":
    sys.exit(main())
