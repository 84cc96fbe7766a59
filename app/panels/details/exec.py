"""Exec tab: an interactive shell inside the running container (exec with a TTY)."""

from __future__ import annotations

import asyncio
import contextlib

from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from ...client import EngineClient, EngineError, HijackedStream
from ...context import AppContext
from ...errors import describe
from ...widgets.terminal import TerminalWidget
from .tab import DetailsTab

SHELLS = ["sh", "bash", "ash", "zsh"]


class ExecTab(DetailsTab):
    """Starts a shell on demand; keys go in, output comes back, resizes follow the widget."""

    title = "Exec"
    stop_when_hidden = False

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(ctx, parent)
        self.terminal = TerminalWidget()
        self.terminal.key_bytes.connect(self._typed)
        self.terminal.resized.connect(self._resized)
        self.shell = QComboBox()
        self.shell.setEditable(True)
        self.shell.addItems(SHELLS)
        self.connect_button = QPushButton("Connect")
        self.connect_button.clicked.connect(self.connect_shell)
        self.disconnect_button = QPushButton("Disconnect")
        self.disconnect_button.clicked.connect(self.stop)
        self.status = QLabel("")
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Command"))
        bar.addWidget(self.shell)
        bar.addWidget(self.connect_button)
        bar.addWidget(self.disconnect_button)
        bar.addWidget(self.status, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(bar)
        layout.addWidget(self.terminal, 1)
        self.session: HijackedStream | None = None
        self.exec_id = ""
        self._input: asyncio.Queue[bytes] | None = None
        self._set_connected(False)

    def _set_connected(self, on: bool) -> None:
        self.connect_button.setEnabled(not on)
        self.disconnect_button.setEnabled(on)
        self.shell.setEnabled(not on)

    def start(self) -> None:
        # A shell is started by the user, not merely by looking at the tab.
        self.status.setText("Press Connect to open a shell in the container.")

    def reset(self) -> None:
        self.terminal.feed(b"\x1bc")  # RIS: clear the screen for the next container

    def connect_shell(self) -> None:
        """Open a shell session."""
        client = self.ctx.client
        if client is None or not self.cid:
            return
        cmd = self.shell.currentText().strip() or "sh"
        self.spawn(self._session(client, self.cid, cmd.split()), "open a shell")

    async def _session(self, client: EngineClient, cid: str, cmd: list[str]) -> None:
        rows, cols = self.terminal.size_chars
        self.terminal.feed(b"\x1bc")
        self.status.setText(f"Connecting to {' '.join(cmd)}…")
        self._set_connected(True)
        writer: asyncio.Task[None] | None = None
        try:
            self.exec_id = await client.exec.create(cid, cmd, tty=True, console_size=(rows, cols))
            self.session = await client.exec.start(self.exec_id, console_size=(rows, cols))
            self._input = asyncio.Queue()
            writer = asyncio.get_running_loop().create_task(self._write(self.session, self._input))
            await client.exec.resize(self.exec_id, rows, cols)
            self.status.setText(f"Connected: {' '.join(cmd)}")
            self.terminal.setFocus()
            async for chunk in self.session.chunks():
                self.terminal.feed(chunk)
            self.status.setText("The shell has exited.")
        except EngineError as e:
            self.status.setText(f"Could not run {' '.join(cmd)}: {describe(e)}")
        finally:
            if writer is not None:
                writer.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await writer
            session, self.session = self.session, None
            self._input = None
            if session is not None:
                await session.aclose()
            self._set_connected(False)

    async def _write(self, session: HijackedStream, queue: asyncio.Queue[bytes]) -> None:
        # One writer keeps keystrokes in order.
        while True:
            data = await queue.get()
            await session.write(data)

    def _typed(self, data: bytes) -> None:
        if self._input is not None:
            self._input.put_nowait(data)

    def send(self, text: str) -> None:
        """Type ``text`` into the shell (as if from the keyboard)."""
        self._typed(text.encode())

    def _resized(self, rows: int, cols: int) -> None:
        client = self.ctx.client
        if client is not None and self.session is not None and self.exec_id:
            self.ctx.runner.spawn(client.exec.resize(self.exec_id, rows, cols), "resize the shell")

    def stop(self) -> None:
        super().stop()
        self._set_connected(False)
