"""Every engine the user has, each with a live session, and which one the user works in.

The list is re-read from its sources (a few small files) every ``REDISCOVER_MS``, so a
context made with ``docker context create`` or a new machine shows up without a restart.
Sessions connect on their own and reconnect with backoff; nothing here waits on an engine,
so one that is gone never holds up the others or the window.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from portside.vm.control import list_machines
from portside.vm.paths import machines_home
from PySide6.QtCore import QObject, QTimer, Signal

from . import engine_catalog as catalog
from .client import BadRequest, EngineAddress
from .connection import Connection
from .engine_catalog import ADDED, EngineEntry
from .engine_session import EngineSession
from .settings import Settings
from .tasks import TaskRunner

if TYPE_CHECKING:
    from .models.all_engines import AllEngines

REDISCOVER_MS = 15000


class EngineRegistry(QObject):
    """The engines' sessions in sidebar order; ``current`` is the one being worked in.

    ``primary`` is Portside's own engine, on the app's main connection (which may start
    the bundled engine or Portside Machine); the others connect without starting anything.
    ``ask_host_key`` (the app's dialog) is given to every connection for ``ssh://`` engines.
    The ``config_dir``/``sockets``/``machines`` arguments point discovery elsewhere (tests).
    """

    #: the list of engines changed (added, removed)
    listed = Signal()
    #: an engine's state changed (its key)
    state_changed = Signal(str)
    #: the user switched engines (the new key)
    current_changed = Signal(str)

    def __init__(
        self,
        runner: TaskRunner,
        settings: Settings,
        primary: EngineEntry,
        primary_connection: Connection,
        *,
        config_dir: Path | None = None,
        sockets: list[str] | None = None,
        machines: Path | None = None,
        parent: QObject | None = None,
    ):
        super().__init__(parent)
        self.runner = runner
        self.settings = settings
        self.config_dir = config_dir
        self.sockets = sockets
        self.machines_home = machines
        self.ask_host_key: Callable[..., Any] | None = None
        self.sessions: dict[str, EngineSession] = {}
        self.primary = self._session(primary, primary_connection)
        self.current_key = primary.key
        self._started = False
        self._timer = QTimer(self)
        self._timer.setInterval(REDISCOVER_MS)
        self._timer.timeout.connect(self.rediscover)
        self._closing: list[asyncio.Task[None]] = []
        self._retired: list[EngineSession] = []
        self._overviews: dict[str, AllEngines] = {}

    # -- the list ------------------------------------------------------------------------
    def entries(self) -> list[EngineEntry]:
        """What the sources list now, Portside's engine first."""
        home = self.machines_home or machines_home()
        return catalog.discover(
            self.primary.entry,
            machines=list_machines(home),
            config_dir=self.config_dir,
            sockets=self.sockets,
            added=self.settings.added_engines(),
        )

    def ordered(self) -> list[EngineSession]:
        return list(self.sessions.values())

    @property
    def current(self) -> EngineSession:
        return self.sessions.get(self.current_key, self.primary)

    def session(self, key: str) -> EngineSession | None:
        return self.sessions.get(key)

    def start(self) -> None:
        """Discover, connect every engine, and keep the list fresh."""
        self._started = True
        self.primary.start()
        self.rediscover()
        self._timer.start()

    def rediscover(self) -> None:
        """Bring the sessions in line with the sources (new ones start connecting)."""
        entries = self.entries()
        wanted = {e.key: e for e in entries}
        changed = False
        for key in [k for k in self.sessions if k not in wanted and k != self.primary.key]:
            self._drop(key)
            changed = True
        for entry in entries:
            old = self.sessions.get(entry.key)
            if old is not None and (old.entry.same_engine(entry) or old is self.primary):
                if old.entry != entry and old is not self.primary:
                    old.entry = entry  # renamed or described anew: same engine, same models
                    changed = True
                continue
            if old is not None:  # the same name now points elsewhere
                self._drop(entry.key)
            session = self._session(entry)
            if self._started:
                session.start()
            changed = True
        if changed:
            # keep the sources' order
            self.sessions = {e.key: self.sessions[e.key] for e in entries if e.key in self.sessions}
            self.listed.emit()
        if self.current_key not in self.sessions:
            self.select(self.primary.key)

    def _session(self, entry: EngineEntry, connection: Connection | None = None) -> EngineSession:
        session = EngineSession(entry, self.runner, self.settings, self, connection)
        session.connection.ask_host_key = self._ask
        session.changed.connect(lambda key=entry.key: self.state_changed.emit(key))
        self.sessions[entry.key] = session
        return session

    async def _ask(self, question: Any) -> bool:
        if self.ask_host_key is None:
            return False
        answer = self.ask_host_key(question)
        return bool(await answer) if asyncio.iscoroutine(answer) else bool(answer)

    def _drop(self, key: str) -> None:
        session = self.sessions.pop(key)
        # A removed engine's session is closed and kept, never destroyed while the app
        # runs: its Qt models may still be referenced by views being deleted later, and
        # letting Python's collector free them at an arbitrary moment crashed Qt.
        # Removing an engine is rare; what is kept is emptied.
        self._retired.append(session)
        task = asyncio.get_event_loop().create_task(session.close())
        self._closing.append(task)
        task.add_done_callback(self._closing.remove)

    def select(self, key: str) -> None:
        """Work in engine ``key`` from now on."""
        if key in self.sessions and key != self.current_key:
            self.current_key = key
            self.current_changed.emit(key)

    def overview(self, kind: str) -> AllEngines:
        """The shared "All engines" model of ``containers`` or ``images``."""
        if kind not in self._overviews:
            from .models.all_engines import AllEngines

            self._overviews[kind] = AllEngines(self, kind)
        return self._overviews[kind]

    # -- the user's own engines --------------------------------------------------------
    def add(self, name: str, url: str, ssh_key: str = "", tls_dir: str = "") -> EngineEntry:
        """Remember a new engine (``BadRequest`` for an unusable name or address)."""
        name, url = name.strip(), url.strip()
        if not name:
            raise BadRequest("give the engine a name")
        EngineAddress(url)  # raises BadRequest with the reason
        added = catalog.added_entries(self.settings.added_engines())
        if any(e.name == name for e in added):
            raise BadRequest(f"there is already an engine called {name!r}")
        entry = EngineEntry(
            key=f"added:{name}", name=name, source=ADDED, url=url, ssh_key=ssh_key, tls_dir=tls_dir
        )
        self.settings.set_added_engines(catalog.encode_added([*added, entry]))
        self.rediscover()
        return entry

    def remove(self, key: str) -> None:
        """Forget an engine the user added (others belong to their sources)."""
        added = catalog.added_entries(self.settings.added_engines())
        self.settings.set_added_engines(catalog.encode_added(e for e in added if e.key != key))
        self.rediscover()

    # -- shutdown ------------------------------------------------------------------------
    async def close(self) -> None:
        """Close every session but the primary (the app closes that one last)."""
        self._timer.stop()
        others = [s for s in self.sessions.values() if s is not self.primary]
        await asyncio.gather(*(s.close() for s in others), *self._closing)
