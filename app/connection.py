"""Getting and keeping a connection to an engine, starting Portside's own when needed."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

from .client import EngineClient, EngineError, EngineRefused, EngineUnreachable
from .errors import describe
from .launcher import EngineLauncher
from .machine import MachineManager, MachineStartError
from .settings import PORTSIDE, ConnectionChoice

log = logging.getLogger(__name__)

CONNECTING, STARTING, CONNECTED, UNAVAILABLE = "connecting", "starting", "connected", "unavailable"
# Retries back off from FIRST_RETRY doubling up to RETRY_SECONDS: an engine restarting is
# back within a second, one that is gone for long costs one attempt every few seconds.
FIRST_RETRY = 0.5
RETRY_SECONDS = 5.0


class Connection(QObject):
    """Owns the current :class:`EngineClient` and the state shown in the status bar.

    States: ``connecting`` → ``connected``; or ``starting`` (our engine is booting)
    → ``connected``; or ``unavailable`` (with a sentence saying why and what to do),
    from which it retries with backoff — except when the engine's host refused us
    (``EngineRefused``: a host key or login only the user can settle), which waits for
    ``retry_now``. ``ask_host_key`` is handed to the client for ``ssh://`` engines.
    """

    state_changed = Signal(str, str)
    connected = Signal(object)
    disconnected = Signal()

    def __init__(
        self,
        choice: ConnectionChoice,
        launcher: EngineLauncher | None = None,
        parent: QObject | None = None,
        machine: MachineManager | None = None,
    ):
        super().__init__(parent)
        self.choice = choice
        self.launcher = launcher or EngineLauncher()
        self.machine = machine or MachineManager()
        # "create"/"start" while the app offers to run the engine in Portside Machine.
        self.machine_offer = ""
        self.machine_starting = False
        self.client: EngineClient | None = None
        self.state = CONNECTING
        self.detail = ""
        self.started_engine = False
        self._task: asyncio.Task[None] | None = None
        self._closing = False
        self.ask_host_key: Callable[..., Any] | None = None
        self.last_error = ""  # the last failure's sentence, kept after a reconnect
        self.refused = False  # the last failure needs the user (no automatic retry)

    # -- public ------------------------------------------------------------------------
    def start(self, choice: ConnectionChoice | None = None) -> None:
        """(Re)connect, optionally with a new choice; any previous client is dropped."""
        if choice is not None:
            self.choice = choice
        self._cancel()
        self._task = asyncio.get_event_loop().create_task(self._run())

    def start_machine(self) -> None:
        """Create (if needed) and start Portside Machine, then connect through it."""
        self._cancel()
        self._task = asyncio.get_event_loop().create_task(self._run_machine())

    def retry_now(self) -> None:
        """Try again at once (the "Retry" button)."""
        self.start()

    def lost(self, reason: str) -> None:
        """The event stream broke: the engine went away (or restarted)."""
        if self._closing or self.state != CONNECTED:
            return
        log.info("connection lost: %s", reason)
        self.start()

    @property
    def engine_label(self) -> str:
        """``Portside Engine 0.1.0`` style label."""
        if self.client is None or not self.client.server_version:
            return ""
        return f"{self.client.engine_name} {self.client.server_version.get('Version', '')}".strip()

    async def close(self) -> None:
        """Drop the client and stop the engine we started (its containers keep running)."""
        self._closing = True
        task = self._task
        self._cancel()
        if task is not None:
            await asyncio.gather(task, return_exceptions=True)
        await self._drop_client()
        if self.started_engine:
            await self.launcher.stop()

    # -- internals ---------------------------------------------------------------------
    def _cancel(self) -> None:
        if self._task is not None and not self._task.done():
            self._task.cancel()
        self._task = None

    def _set(self, state: str, detail: str = "") -> None:
        self.state, self.detail = state, detail
        self.state_changed.emit(state, detail)

    async def _drop_client(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            self.disconnected.emit()
            await client.aclose()

    async def _run_machine(self) -> None:
        self.machine_offer = ""
        await self._drop_client()
        self.machine_starting = True
        self._set(STARTING, "Starting Portside Machine…")
        try:
            await self.machine.start(lambda text: self._set(STARTING, text))
        except MachineStartError as e:
            self.machine_offer = self.machine.offer()
            self._set(UNAVAILABLE, f"Portside Machine did not start: {e}")
            return
        finally:
            self.machine_starting = False
        self._task = asyncio.get_event_loop().create_task(self._run())

    async def _run(self) -> None:
        try:
            await self._drop_client()
            delay = FIRST_RETRY
            while True:
                self.refused = False
                error = await self._attempt()
                if error is None:
                    return
                self.last_error = error
                self._set(UNAVAILABLE, error)
                if self.refused:
                    return
                await asyncio.sleep(delay)
                delay = min(delay * 2, RETRY_SECONDS)
        except asyncio.CancelledError:
            await self._drop_client()
            raise

    async def _attempt(self) -> str | None:
        """One connection attempt; the sentence of the failure, or None when connected."""
        try:
            # "Portside's engine" is wherever our launcher puts it (tests move it).
            address = (
                self.launcher.address if self.choice.kind == PORTSIDE else self.choice.address()
            )
        except EngineError as e:
            return str(e)
        self._set(CONNECTING, f"Connecting to {address.describe()}…")
        client = EngineClient(address, ask_host_key=self.ask_host_key)
        try:
            await client.connect()
        except EngineRefused as e:
            await client.aclose()
            self.refused = True
            return describe(e)
        except EngineUnreachable as e:
            await client.aclose()
            if not self.choice.may_start_bundled_engine():
                return describe(e)
            return await self._start_bundled(e)
        except BaseException:
            await client.aclose()
            raise
        self._connected(client)
        return None

    async def _start_bundled(self, why: EngineUnreachable) -> str | None:
        ok, advice = self.launcher.can_launch()
        if not ok:
            return await self._through_machine(why, advice)
        if not self.launcher.running:
            self._set(STARTING, "Starting Portside's engine…")
            try:
                await self.launcher.start()
            except OSError as e:
                return f"Could not start Portside's engine: {describe(e)}"
            self.started_engine = True
        self._set(STARTING, "Waiting for Portside's engine to answer…")
        try:
            await self.launcher.wait_ready()
        except EngineUnreachable as e:
            return str(e)
        client = EngineClient(self.launcher.address)
        try:
            await client.connect()
        except EngineError as e:
            await client.aclose()
            return describe(e)
        self._connected(client)
        return None

    async def _through_machine(self, why: EngineUnreachable, advice: str) -> str | None:
        """Where the engine cannot run here: connect through Portside Machine if it runs,
        else offer to start it."""
        self.machine_offer = ""
        if self.machine.running():
            client = EngineClient(self.machine.address)
            try:
                await client.connect()
            except EngineError as e:
                await client.aclose()
                return f"Portside Machine runs but its engine did not answer: {describe(e)}"
            self._connected(client)
            return None
        self.machine_offer = self.machine.offer()
        return (
            f"No engine answered ({describe(why)}).\n\n{advice}\n\n"
            "Or run Portside's engine in a Linux virtual machine: "
            "press “Start Portside Machine”."
        )

    def _connected(self, client: EngineClient) -> None:
        self.machine_offer = ""
        self.client = client
        self._set(CONNECTED, f"{self.engine_label} · API {client.api_version}")
        self.connected.emit(client)
