#!/usr/bin/env python3
"""Screenshots of every panel, taken from the real app against a real test engine.

    .venv/bin/python packaging/screenshots.py [--out docs/screenshots]

Starts a private ``portsided`` (temp dirs, like the test fixtures), loads busybox,
makes a small compose-like project (containers, a published port, a volume, a network),
runs the app under Xvfb (re-executing itself through ``xvfb-run`` when there is no
display) and writes one PNG per panel and details tab. Everything it made is removed.
Needs root (the engine does).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))  # the engine fixture and offline images


def _under_xvfb() -> None:
    if os.environ.get("DISPLAY") or os.environ.get("PORTSIDE_SHOTS_XVFB"):
        return
    xvfb = shutil.which("xvfb-run")
    if not xvfb:
        sys.exit("no DISPLAY and no xvfb-run (apt-get install xvfb)")
    env = dict(os.environ, PORTSIDE_SHOTS_XVFB="1")
    args = [xvfb, "-a", "-s", "-screen 0 1600x1000x24", sys.executable, *sys.argv]
    os.execve(xvfb, args, env)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _setup_engine():  # type: ignore[no-untyped-def]
    from support.engine import PortsideEngine
    from support.images import busybox_archive

    engine = PortsideEngine()
    engine.start()
    d = engine.docker
    d("load", "-i", str(busybox_archive()))
    d("tag", "busybox:latest", "shop/web:1.4")
    d("tag", "busybox:latest", "shop/worker:latest")
    d("volume", "create", "shop-data")
    d("volume", "create", "build-cache")
    d("network", "create", "--subnet", "10.88.0.0/24", "shop-backend")
    label = ["--label", "com.docker.compose.project=shop"]
    web_script = (
        'i=0; while :; do i=$((i+1)); printf "\\033[32m%s\\033[0m GET /api/items/%d 200 %dms\\n" '
        '"$(date +%H:%M:%S)" $i $((i % 17 + 3)); '
        '[ $((i % 7)) -eq 0 ] && echo "warning: slow upstream (attempt $i)" >&2; sleep 0.4; done'
    )
    port = f"{_free_port()}:80"
    d("run", "-d", "--name", "shop-web-1", *label, "-p", port, "--network", "shop-backend",
      "shop/web:1.4", "sh", "-c", web_script)  # fmt: skip
    d("run", "-d", "--name", "shop-db-1", *label, "-v", "shop-data:/var/lib/data",
      "--network", "shop-backend", "busybox", "sh", "-c",
      "head -c 3000000 /dev/urandom > /var/lib/data/table.bin; sleep 86400")  # fmt: skip
    d("run", "-d", "--name", "shop-worker-1", *label, "shop/worker:latest", "sh", "-c",
      "while :; do i=0; while [ $i -lt 40000 ]; do i=$((i+1)); done; sleep 0.3; done")  # fmt: skip
    d("run", "-d", "--name", "metrics", "busybox", "sh", "-c",
      "while :; do :; done")  # fmt: skip
    d("create", "--name", "shop-migrate-1", *label, "busybox", "sh", "-c", "exit 1")
    d("start", "shop-migrate-1")
    d("run", "-d", "--name", "scratchpad", "-v", "build-cache:/cache", "busybox", "sleep", "86400")
    d("pause", "scratchpad")
    return engine


def _wait(qapp, cond, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met in {timeout}s")
        qapp.processEvents()
        time.sleep(0.01)


def _settle(qapp, seconds: float) -> None:  # type: ignore[no-untyped-def]
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        qapp.processEvents()
        time.sleep(0.01)


#: names to write (``--only``); empty: all
ONLY: set[str] = set()


def _shoot(qapp, window, out: Path, name: str, settle: float = 0.6) -> None:  # type: ignore[no-untyped-def]
    if ONLY and name not in ONLY:
        return
    _settle(qapp, settle)
    path = out / f"{name}.png"
    window.grab().save(str(path))
    print(f"wrote {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def take(out: Path, engine) -> None:  # type: ignore[no-untyped-def]
    os.environ.setdefault("QT_API", "pyside6")
    from portside.app import style
    from portside.app.aloop import new_loop, remove_asyncgen_hooks
    from portside.app.application import PortsideApp
    from portside.app.settings import SOCKET, ConnectionChoice, Settings
    from PySide6.QtWidgets import QApplication

    qapp = QApplication.instance() or QApplication(["portside"])
    style.apply(qapp)  # type: ignore[arg-type]
    loop = new_loop(qapp, already_running=True)
    tmp = Path(tempfile.mkdtemp(prefix="portside-shots-"))
    app = PortsideApp(
        Settings(str(tmp / "settings.ini")),
        ConnectionChoice(kind=SOCKET, socket_path=str(engine.socket)),
        tray=False,
        history_path=str(tmp / "history.sqlite"),
    )
    w = app.window
    w.resize(1400, 860)
    app.start()
    feeds = app.ctx.feeds
    _wait(qapp, lambda: app.ctx.events.is_open and feeds.containers.loaded and feeds.volumes.loaded)

    containers = w.show_panel("Containers")
    _wait(qapp, lambda: len(feeds.containers.model.ids()) >= 6)
    _settle(qapp, 4)  # CPU/RAM columns fill from the stats hub
    _shoot(qapp, w, out, "containers")

    web = next(c["Id"] for c in feeds.containers.model.containers() if "/shop-web-1" in c["Names"])
    details = containers.open_details(web)
    details.show_tab("Logs")
    _settle(qapp, 3)
    _shoot(qapp, w, out, "container-logs")
    details.show_tab("Inspect")
    _wait(qapp, lambda: details.inspect.tree.topLevelItemCount() > 0)
    _shoot(qapp, w, out, "container-inspect")
    worker = next(c["Id"] for c in feeds.containers.model.containers() if "/metrics" in c["Names"])
    details.open(worker)
    details.show_tab("Stats")
    _settle(qapp, 12)
    _shoot(qapp, w, out, "container-stats", settle=0.2)
    details.open(web)
    term = details.show_tab("Exec")
    term.connect_shell()
    _wait(qapp, lambda: term.session is not None and "Connected" in term.status.text())
    _settle(qapp, 0.5)
    term.send("cat /etc/os-release 2>/dev/null || uname -a; ls -la /; ps\r")
    _shoot(qapp, w, out, "container-exec", settle=1.5)
    details.show_tab("Files")
    files = details.files.browser
    _wait(qapp, lambda: bool(files.entries))
    files.navigate("/etc")
    _wait(qapp, lambda: files.path == "/etc" and any(e.basename == "passwd" for e in files.entries))
    _shoot(qapp, w, out, "container-files")
    _shoot_upload(qapp, w, out, files, tmp)
    containers.close_details()
    _shoot_history(qapp, loop, app, out, worker)

    images = w.show_panel("Images")
    _wait(qapp, lambda: images.feed.model.rowCount() >= 3)
    _shoot(qapp, w, out, "images")
    w.show_panel("Volumes")
    _wait(qapp, lambda: any(r["_size"] > 0 for r in feeds.volumes.model.records()))
    _shoot(qapp, w, out, "volumes")
    w.show_panel("Networks")
    _wait(qapp, lambda: feeds.networks.model.rowCount() >= 4)
    _shoot(qapp, w, out, "networks")
    engine_panel = w.show_panel("Engine")
    _wait(qapp, lambda: "Images" in engine_panel.disk_grid.values)
    _settle(qapp, 6)  # host graphs
    _shoot(qapp, w, out, "engine", settle=0.2)

    async def close() -> None:
        await app.shutdown()

    task = loop.create_task(close())
    _wait(qapp, task.done, 30)
    loop._QEventLoop__is_running = False  # type: ignore[attr-defined]
    asyncio.events._set_running_loop(None)
    loop.close()
    remove_asyncgen_hooks()
    shutil.rmtree(tmp, ignore_errors=True)


def _shoot_upload(qapp, window, out: Path, files, tmp: Path) -> None:  # type: ignore[no-untyped-def]
    """An upload in progress: the shot is taken from the progress callback, mid-way."""
    if ONLY and "files-upload" not in ONLY:
        return
    files.navigate("/tmp")
    _wait(qapp, lambda: files.path == "/tmp" and not files.busy)
    big = tmp / "dataset-2026-11.tar.gz"
    with big.open("wb") as f:
        f.truncate(200 * 1000 * 1000)
    taken: list[bool] = []

    def progress(done: int, total: int) -> None:
        if not taken and total and done >= total * 0.42:
            taken.append(True)
            path = out / "files-upload.png"
            window.grab().save(str(path))
            print(f"wrote {path}")

    files.transfer_progress.connect(progress)
    files.upload([big])
    _wait(qapp, lambda: not files.busy, 120)
    files.transfer_progress.disconnect(progress)
    big.unlink()


def _shoot_history(qapp, loop, app, out: Path, cid: str) -> None:  # type: ignore[no-untyped-def]
    """A 24 h graph. The script has run for a minute, so the day before is written into
    the history first (a daily CPU rhythm, memory creeping up), as a day of recording
    would have left it; the last minutes are the real recording."""
    import math
    import random

    from portside.app.history import Row

    if ONLY and "history-24h" not in ONLY:
        return
    history = app.ctx.history
    now = time.time()
    rnd = random.Random(7)
    rows = []
    for i in range(24 * 60 - 3):
        t = now - 86400 + i * 60
        hour = (t % 86400) / 3600
        cpu = max(0.0, 35 + 30 * math.sin((hour - 9) / 24 * 2 * math.pi) + rnd.gauss(0, 6))
        mem = 18e6 + i * 9000 + rnd.gauss(0, 4e5)
        net = max(0.0, 40e3 + 30e3 * math.sin(hour / 3) + rnd.gauss(0, 8e3))
        disk = max(0.0, rnd.gauss(12e3, 6e3)) if i % 15 else 900e3
        rows.append((cid, Row(t, cpu, mem, net, net * 0.4, disk * 0.2, disk)))
    task = loop.create_task(history.recorder.call(lambda st: st.add_minutes(rows)))
    _wait(qapp, task.done)
    panel = app.window.show_panel("History")
    _wait(qapp, lambda: any(s.key == cid for s in panel.series))
    panel.select(cid)
    panel.view.set_range("24 h")
    _wait(
        qapp,
        lambda: panel.view.key == cid and panel.view.is_loaded and panel.view.cpu.span == 86400,
    )
    area = panel.view.cpu.plot.area()
    panel.view.cpu.hover_at(area.left() + area.width() * 0.62)
    _shoot(qapp, app.window, out, "history-24h")


def _context(config: Path, name: str, host: str, description: str) -> None:
    """One context in the docker CLI's store, as ``docker context create`` writes it."""
    import hashlib
    import json

    meta = config / "contexts" / "meta" / hashlib.sha256(name.encode()).hexdigest()
    meta.mkdir(parents=True, exist_ok=True)
    endpoint = {"Host": host, "SkipTLSVerify": False}
    (meta / "meta.json").write_text(
        json.dumps(
            {
                "Name": name,
                "Metadata": {"Description": description},
                "Endpoints": {"docker": endpoint},
            }
        )
    )


def take_engines(out: Path, engine) -> None:  # type: ignore[no-untyped-def]
    """The Engines list: Portside's engine, a second engine found as a docker context, a
    remote one over SSH that does not answer (offline, with its error), and the
    Containers panel's "All engines" view."""
    from portside.app import style
    from portside.app.aloop import new_loop, remove_asyncgen_hooks
    from portside.app.application import PortsideApp
    from portside.app.settings import SOCKET, ConnectionChoice, Settings
    from PySide6.QtWidgets import QApplication
    from support.engine import PortsideEngine

    qapp = QApplication.instance() or QApplication(["portside"])
    style.apply(qapp)  # type: ignore[arg-type]
    staging = PortsideEngine()
    tmp = Path(tempfile.mkdtemp(prefix="portside-shots-"))
    try:
        staging.start()
        staging.docker("load", "-i", str(_busybox()))
        for name in ("api-1", "api-2", "cache"):
            staging.docker("run", "-d", "--name", name, "busybox", "sleep", "86400")
        config = tmp / "docker-config"
        _context(config, "staging", staging.host, "staging engine")
        _context(config, "build-box", "ssh://ci@127.0.0.1:1", "CI builder")
        loop = new_loop(qapp, already_running=True)
        app = PortsideApp(
            Settings(str(tmp / "settings.ini")),
            ConnectionChoice(kind=SOCKET, socket_path=str(engine.socket)),
            tray=False,
            docker_config=config,
            engine_sockets=[],
            machines_home=tmp / "machines",
        )
        w = app.window
        w.resize(1400, 860)
        app.start()
        sessions = app.engines.sessions
        _wait(qapp, lambda: len(sessions) == 3)
        _wait(qapp, lambda: sessions["context:staging"].feeds.containers.loaded)
        _wait(qapp, lambda: app.ctx.feeds.containers.loaded)
        _wait(qapp, lambda: sessions["context:build-box"].connection.state == "unavailable")
        containers = w.show_panel("Containers")
        containers.all_engines.setChecked(True)
        _wait(qapp, lambda: containers.all_table is not None
              and containers.all_table.source.rowCount() >= 9)  # fmt: skip
        _shoot(qapp, w, out, "engines", settle=1.0)

        task = loop.create_task(app.shutdown())
        _wait(qapp, task.done, 30)
        loop._QEventLoop__is_running = False  # type: ignore[attr-defined]
        asyncio.events._set_running_loop(None)
        loop.close()
        remove_asyncgen_hooks()
    finally:
        staging.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)


def _busybox() -> Path:
    from support.images import busybox_archive

    return busybox_archive()


def take_offline(out: Path) -> None:
    """The page shown when no engine answers."""
    from portside.app.aloop import new_loop
    from portside.app.application import PortsideApp
    from portside.app.settings import SOCKET, ConnectionChoice, Settings
    from PySide6.QtWidgets import QApplication

    qapp = QApplication.instance()
    loop = new_loop(qapp, already_running=True)
    tmp = Path(tempfile.mkdtemp(prefix="portside-shots-"))
    app = PortsideApp(
        Settings(str(tmp / "s.ini")),
        ConnectionChoice(kind=SOCKET, socket_path="/run/nothing-here/docker.sock"),
        tray=False,
        history_path=str(tmp / "history.sqlite"),
    )
    app.window.resize(1400, 860)
    app.start()
    _wait(qapp, lambda: app.ctx.connection.state == "unavailable")
    _shoot(qapp, app.window, out, "offline")
    task = loop.create_task(app.shutdown())
    _wait(qapp, task.done, 30)
    loop._QEventLoop__is_running = False  # type: ignore[attr-defined]
    asyncio.events._set_running_loop(None)
    loop.close()
    shutil.rmtree(tmp, ignore_errors=True)


def main() -> int:
    """Take every screenshot."""
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", default=str(ROOT / "docs" / "screenshots"))
    p.add_argument("--only", default="", help="comma-separated shot names to write")
    args = p.parse_args()
    ONLY.update(n for n in args.only.split(",") if n)
    if os.geteuid() != 0:
        sys.exit("the test engine needs root")
    _under_xvfb()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    engine = _setup_engine()
    try:
        take(out, engine)
        if not ONLY or "engines" in ONLY:
            take_engines(out, engine)
    finally:
        engine.cleanup()
    if not ONLY or "offline" in ONLY:
        take_offline(out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
