"""Fixtures of the app's tests: offscreen Qt, a qasync loop, and strict warnings.

Every test under tests/app fails when it provokes an unexpected warning: a Python
``warnings`` warning, a log record at WARNING or above (asyncio's "Task was destroyed
but it is pending!" and "exception was never retrieved" are such records), or a Qt
message at QtWarningMsg or above. This is qutebrowser's habit: noise that nobody
asserts on is where shutdown bugs and leaked tasks hide. A test that expects a
particular warning declares it with ``strict_warnings.allow(regex)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.dockerd import Dockerd, running_dockerd

os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ.setdefault("QT_API", "pyside6")  # qasync must pick PySide6, whatever else exists

SUPPORT_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "support")

# Offscreen Qt says these about itself, not about us.
QT_NOISE = [
    r"^This plugin does not support propagateSizeHints\(\)",
    r"^This plugin does not support raise\(\)",
    r"^QStandardPaths: XDG_RUNTIME_DIR not set",
    r"^QStandardPaths: runtime directory .* is not owned",
]


class WarningCollector(logging.Handler):
    """Collects warnings of every kind during one test."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.problems: list[str] = []
        self._allowed = [re.compile(p) for p in QT_NOISE]

    def allow(self, pattern: str) -> None:
        """Expect messages matching ``pattern`` (regex, searched) in this test."""
        self._allowed.append(re.compile(pattern))

    def _add(self, kind: str, text: str) -> None:
        if not any(p.search(text) for p in self._allowed):
            self.problems.append(f"{kind}: {text}")

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += f" ({type(record.exc_info[1]).__name__}: {record.exc_info[1]})"
        self._add(f"log {record.name} {record.levelname}", text)

    def qt_message(self, msg_type: object, context: object, message: str) -> None:
        from PySide6.QtCore import QtMsgType

        if msg_type in (QtMsgType.QtWarningMsg, QtMsgType.QtCriticalMsg, QtMsgType.QtFatalMsg):
            self._add(f"Qt {msg_type.name}", message)

    def python_warnings(self, caught: list[warnings.WarningMessage]) -> None:
        for w in caught:
            if os.path.dirname(w.filename) == SUPPORT_DIR:
                # The shared engine fixture's own probing (httpx's sync unix transport
                # leaks a socket per refused connection while the engine boots).
                continue
            self._add(f"warning {w.category.__name__}", f"{w.message} ({w.filename}:{w.lineno})")


@pytest.fixture(autouse=True)
def strict_warnings() -> Iterator[WarningCollector]:
    """Fail the test on any unexpected warning (Python, logging or Qt)."""
    collector = WarningCollector()
    root = logging.getLogger()
    root.addHandler(collector)
    previous = None
    try:
        from PySide6.QtCore import qInstallMessageHandler

        def handler(msg_type, context, message):  # type: ignore[no-untyped-def]
            collector.qt_message(msg_type, context, message)
            if previous is not None:
                previous(msg_type, context, message)

        previous = qInstallMessageHandler(handler)
        installed = True
    except ImportError:
        installed = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=pytest.PytestUnraisableExceptionWarning)
        yield collector
    root.removeHandler(collector)
    if installed:
        from PySide6.QtCore import qInstallMessageHandler

        qInstallMessageHandler(previous)
    collector.python_warnings(caught)
    if collector.problems:
        pytest.fail("unexpected warnings:\n  " + "\n  ".join(collector.problems), pytrace=False)


@pytest.fixture(autouse=True)
def private_state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The app's state directory (resource history) lives in the test's temp dir."""
    state = tmp_path / "state"
    monkeypatch.setenv("XDG_STATE_HOME", str(state))
    return state


@pytest.fixture
def aloop(qapp) -> Iterator[asyncio.AbstractEventLoop]:  # type: ignore[no-untyped-def]
    """A qasync event loop marked running, driven by Qt (``qtbot.waitUntil`` spins it).

    At teardown every task still pending is cancelled and allowed to finish, so a test
    that leaks a task fails through ``strict_warnings`` instead of polluting the next.
    """
    from portside.app.aloop import new_loop, remove_asyncgen_hooks

    loop = new_loop(qapp, already_running=True)
    try:
        yield loop
    finally:
        drain(qapp, loop)
        run(loop, loop.shutdown_asyncgens(), qapp, 10)
        remove_asyncgen_hooks()
        # loop.stop() would call QApplication.exit(), after which Qt delivers no timer
        # events to later tests; mark the loop stopped without it.
        loop._QEventLoop__is_running = False  # type: ignore[attr-defined]
        asyncio.events._set_running_loop(None)
        loop.close()
        asyncio.set_event_loop(None)


def drain(qapp, loop: asyncio.AbstractEventLoop, timeout: float = 10.0) -> None:  # type: ignore[no-untyped-def]
    """Cancel the loop's pending tasks and spin Qt until they are done."""
    tasks = [t for t in asyncio.all_tasks(loop) if not t.done()]
    for t in tasks:
        t.cancel()
    deadline = time.monotonic() + timeout
    while any(not t.done() for t in tasks) and time.monotonic() < deadline:
        qapp.processEvents()
        time.sleep(0.002)
    for _ in range(5):
        qapp.processEvents()
    stuck = [t for t in tasks if not t.done()]
    if stuck:
        raise RuntimeError(f"tasks did not finish after cancel: {stuck}")


def run(loop: asyncio.AbstractEventLoop, coro, qapp=None, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    """Run ``coro`` on the (already running) qasync loop by spinning Qt; return its result."""
    from PySide6.QtWidgets import QApplication

    app = qapp or QApplication.instance()
    task = loop.create_task(coro)
    deadline = time.monotonic() + timeout
    while not task.done():
        if time.monotonic() > deadline:
            task.cancel()
            raise TimeoutError(f"{coro!r} did not finish in {timeout}s")
        app.processEvents()
        time.sleep(0.001)
    return task.result()


@pytest.fixture
def arun(aloop, qapp):  # type: ignore[no-untyped-def]
    """``arun(coro)`` runs a coroutine to completion on the qasync loop."""
    return lambda coro, timeout=60.0: run(aloop, coro, qapp, timeout)


class Gui:
    """The whole app against a real engine, driven from a test."""

    def __init__(self, app, engine, qtbot, loop):  # type: ignore[no-untyped-def]
        self.app = app
        self.engine = engine
        self.qtbot = qtbot
        self.loop = loop
        self.created: list[str] = []

    @property
    def ctx(self):  # type: ignore[no-untyped-def]
        return self.app.ctx

    @property
    def window(self):  # type: ignore[no-untyped-def]
        return self.app.window

    def wait(self, cond, timeout: float = 15.0, what: str = "") -> None:  # type: ignore[no-untyped-def]
        """Spin Qt (and so the asyncio loop) until ``cond()`` is true."""
        try:
            self.qtbot.waitUntil(lambda: bool(cond()), timeout=int(timeout * 1000))
        except Exception:  # pytest-qt's TimeoutError
            feeds = self.ctx.feeds
            raise AssertionError(
                f"timed out waiting for {what() if callable(what) else what or cond}; status: "
                f"{self.window.statusBar().currentMessage()!r}; connection "
                f"{self.ctx.connection.state} {self.ctx.connection.detail!r}; events open "
                f"{self.ctx.events.is_open}; loaded {feeds.containers.loaded} "
                f"{feeds.images.loaded} {feeds.volumes.loaded} {feeds.networks.loaded}\n"
                f"engine log tail:\n{self.engine.log()[-3000:]}"
            ) from None

    def run(self, coro, timeout: float = 60.0):  # type: ignore[no-untyped-def]
        """Run a coroutine on the app's loop (e.g. client calls made 'from outside')."""
        return run(self.loop, coro, None, timeout)

    def api(self):  # type: ignore[no-untyped-def]
        """A separate client, as another program would use the engine."""
        from portside.app.client import EngineClient

        return EngineClient(self.engine.host)

    def call(self, fn):  # type: ignore[no-untyped-def]
        """``fn(client)`` with a separate, negotiated client; returns its result."""

        async def go():  # type: ignore[no-untyped-def]
            async with self.api() as c:
                return await fn(c)

        return self.run(go())

    def create_container(self, cmd, name=None, project=None, start=True, **config):  # type: ignore[no-untyped-def]
        """Create (and start) a busybox container from outside the app; removed at the end."""
        labels = dict(config.pop("Labels", {}))
        if project:
            labels["com.docker.compose.project"] = project
        body = {"Image": "busybox:latest", "Cmd": list(cmd), "Labels": labels, **config}
        body.setdefault("HostConfig", {"NetworkMode": "none"})

        async def go(c):  # type: ignore[no-untyped-def]
            cid = (await c.containers.create(body, name=name))["Id"]
            self.created.append(cid)
            if start:
                await c.containers.start(cid)
            return cid

        return self.call(go)

    def inspect(self, cid: str) -> dict:
        """``docker inspect`` through the raw API (independent of the app)."""
        return self.engine.api("GET", f"/containers/{cid}/json").json()

    def cleanup(self) -> None:
        """Remove what the test created."""
        for cid in self.created:
            self.engine.api("DELETE", f"/containers/{cid}?force=1&v=1")


@pytest.fixture
def gui(aloop, qtbot, qapp, shared_engine, tmp_path):  # type: ignore[no-untyped-def]
    """The app connected to the module's portsided (busybox loaded), every model loaded.

    The engine is shared by a module's tests (each test removes what it made): starting
    one per test would cost its shutdown each time.
    """
    yield from _gui(aloop, qtbot, qapp, shared_engine, tmp_path)


@pytest.fixture
def fresh_gui(aloop, qtbot, qapp, engine_with_busybox, tmp_path):  # type: ignore[no-untyped-def]
    """Like ``gui`` with an engine of its own (for tests that restart or fill it)."""
    yield from _gui(aloop, qtbot, qapp, engine_with_busybox, tmp_path)


def _gui(aloop, qtbot, qapp, engine, tmp_path):  # type: ignore[no-untyped-def]
    from portside.app import style
    from portside.app.application import PortsideApp
    from portside.app.settings import SOCKET, ConnectionChoice, Settings

    style.apply(qapp)
    settings = Settings(str(tmp_path / "settings.ini"))
    choice = ConnectionChoice(kind=SOCKET, socket_path=str(engine.socket))
    # Other engines are discovered from the test's own (empty) places, never the host's.
    app = PortsideApp(
        settings,
        choice,
        docker_config=tmp_path / "docker-config",
        engine_sockets=[],
        machines_home=tmp_path / "machines",
    )
    harness = Gui(app, engine, qtbot, aloop)
    app.start()
    try:
        feeds = app.ctx.feeds
        harness.wait(
            lambda: (
                app.ctx.events.is_open
                and feeds.containers.loaded
                and feeds.images.loaded
                and feeds.volumes.loaded
                and feeds.networks.loaded
            ),
            what="the app to connect and load",
        )
        yield harness
    finally:
        try:
            harness.cleanup()
        finally:
            run(aloop, app.shutdown(), qapp, 30)


# -- a private dockerd ---------------------------------------------------------------
@pytest.fixture(scope="module")
def dockerd(busybox_tar: Path) -> Iterator[Dockerd]:
    """A dockerd with busybox loaded."""
    yield from running_dockerd(busybox_tar)


@pytest.fixture(params=["portsided", "dockerd"])
def any_gui(request, aloop, qtbot, qapp, tmp_path):  # type: ignore[no-untyped-def]
    """The app against portsided, then against dockerd (when installed)."""
    engine = request.getfixturevalue("shared_engine" if request.param == "portsided" else "dockerd")
    yield from _gui(aloop, qtbot, qapp, engine, tmp_path)


@pytest.fixture
def gui_factory(aloop, qtbot, qapp, tmp_path):  # type: ignore[no-untyped-def]
    """``gui_factory(engine)``: the app against any engine the test made itself."""
    made = []

    def make(engine):  # type: ignore[no-untyped-def]
        gen = _gui(aloop, qtbot, qapp, engine, tmp_path)
        made.append(gen)
        return next(gen)

    yield make
    for gen in made:
        with contextlib.suppress(StopIteration):
            next(gen)
