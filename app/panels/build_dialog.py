"""The Build dialog: a context folder, a Dockerfile, a tag, build args and a target;
the engine's output streams in with the step being run, then the image ID or the error."""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..client import EngineClient
from ..client.build import BuildProgress, packed_context
from ..context import AppContext
from ..errors import describe


class BuildDialog(QDialog):
    """Collects what to build, runs the build and shows its output.

    ``built(image_id)`` is emitted when the engine reports the image.
    """

    built = Signal(str)

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.setWindowTitle("Build an image")
        self.resize(760, 600)
        self.context_dir = QLineEdit()
        self.context_dir.setObjectName("build_context")
        self.context_dir.setPlaceholderText("the folder sent to the engine as the build context")
        browse_context = QPushButton("Browse…")
        browse_context.clicked.connect(self._pick_context)
        self.dockerfile = QLineEdit("Dockerfile")
        self.dockerfile.setObjectName("build_dockerfile")
        self.dockerfile.setToolTip("relative to the context folder, or any file")
        browse_file = QPushButton("Browse…")
        browse_file.clicked.connect(self._pick_dockerfile)
        self.tag = QLineEdit()
        self.tag.setObjectName("build_tag")
        self.tag.setPlaceholderText("optional, e.g. myapp:dev")
        self.target = QLineEdit()
        self.target.setObjectName("build_target")
        self.target.setPlaceholderText("optional: the stage to stop at")
        self.args = QTableWidget(0, 2)
        self.args.setObjectName("build_args")
        self.args.setHorizontalHeaderLabels(["Build argument", "Value"])
        self.args.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.args.verticalHeader().setVisible(False)
        self.args.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.args.setMaximumHeight(120)
        add_arg = QPushButton("Add")
        add_arg.clicked.connect(lambda: self.add_arg("", ""))
        remove_arg = QPushButton("Remove")
        remove_arg.clicked.connect(self._remove_arg)
        self.nocache = QCheckBox("Do not use the cache")
        self.pull = QCheckBox("Always pull the base image")

        self.step = QLabel("")
        self.step.setObjectName("build_step")
        self.progress = QProgressBar()
        self.progress.setTextVisible(False)
        self.progress.setMaximumHeight(8)
        self.progress.hide()
        self.output = QPlainTextEdit()
        self.output.setObjectName("build_output")
        self.output.setReadOnly(True)
        self.output.setFont(QFont("monospace"))
        self.output.setMaximumBlockCount(20000)
        self.outcome = QLabel("")
        self.outcome.setObjectName("build_result")
        self.outcome.setWordWrap(True)
        self.outcome.setTextInteractionFlags(self.outcome.textInteractionFlags())

        self.build_button = QPushButton("Build")
        self.build_button.setObjectName("primary")
        self.build_button.clicked.connect(self.start)
        self.cancel_button = QPushButton("Cancel build")
        self.cancel_button.setEnabled(False)
        self.cancel_button.clicked.connect(self.cancel)
        close = QPushButton("Close")
        close.clicked.connect(self.reject)

        form = QFormLayout()
        form.addRow("Context folder", _row(self.context_dir, browse_context))
        form.addRow("Dockerfile", _row(self.dockerfile, browse_file))
        form.addRow("Tag", self.tag)
        form.addRow("Target stage", self.target)
        args_box = QVBoxLayout()
        args_box.addWidget(self.args)
        args_box.addLayout(_buttons(add_arg, remove_arg))
        form.addRow("Build args", args_box)
        form.addRow("", _row(self.nocache, self.pull))
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.step)
        layout.addWidget(self.progress)
        layout.addWidget(self.output, 1)
        layout.addWidget(self.outcome)
        layout.addLayout(_buttons(self.build_button, self.cancel_button, close))
        self.task: asyncio.Task[None] | None = None
        self.state = BuildProgress()
        self._shown = 0

    # -- the form ----------------------------------------------------------------------
    def _pick_context(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Build context", self.context_dir.text())
        if folder:
            self.context_dir.setText(folder)

    def _pick_dockerfile(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Dockerfile", self.context_dir.text())
        if not path:
            return
        context = self.context_dir.text().strip()
        if context and Path(path).resolve().is_relative_to(Path(context).resolve()):
            path = Path(path).resolve().relative_to(Path(context).resolve()).as_posix()
        self.dockerfile.setText(path)

    def add_arg(self, name: str, value: str) -> None:
        """Append a build-argument row."""
        row = self.args.rowCount()
        self.args.insertRow(row)
        self.args.setItem(row, 0, QTableWidgetItem(name))
        self.args.setItem(row, 1, QTableWidgetItem(value))

    def _remove_arg(self) -> None:
        rows = sorted({i.row() for i in self.args.selectedIndexes()}, reverse=True)
        for row in rows or [self.args.rowCount() - 1]:
            if row >= 0:
                self.args.removeRow(row)

    def build_args(self) -> dict[str, str]:
        """The table's rows with a name."""
        out: dict[str, str] = {}
        for row in range(self.args.rowCount()):
            name, value = self.args.item(row, 0), self.args.item(row, 1)
            key = name.text().strip() if name is not None else ""
            if key:
                out[key] = value.text() if value is not None else ""
        return out

    # -- the build ---------------------------------------------------------------------
    def start(self) -> asyncio.Task[None] | None:
        """Start the build (one at a time)."""
        client = self.ctx.client
        if self.task is not None and not self.task.done():
            return self.task
        folder = self.context_dir.text().strip()
        if client is None:
            self._finish_error("not connected to an engine")
            return None
        if not folder or not Path(folder).is_dir():
            self._finish_error(f"choose a context folder ({folder or 'none chosen'} is not one)")
            return None
        self.state = BuildProgress()
        self._shown = 0
        self.output.clear()
        self.outcome.setText("")
        self.outcome.setStyleSheet("")
        self.step.setText("Sending the build context…")
        self.progress.setRange(0, 0)
        self.progress.show()
        self.build_button.setEnabled(False)
        self.cancel_button.setEnabled(True)
        tag = self.tag.text().strip()
        task = self.ctx.runner.spawn(
            self._build(client, folder), f"build {tag or 'the image'}", busy=True
        )
        task.add_done_callback(self._done)
        self.task = task
        return task

    async def _build(self, client: EngineClient, folder: str) -> None:
        packed = await packed_context(folder, self.dockerfile.text().strip() or None)
        body = packed.chunks()
        try:
            self._append(f"Sending build context to the engine  {packed.size / 1e6:.2f}MB\n")
            messages = client.images.build(
                body,
                tag=self.tag.text().strip() or None,
                dockerfile=packed.dockerfile,
                buildargs=self.build_args(),
                target=self.target.text().strip() or None,
                nocache=self.nocache.isChecked(),
                pull=self.pull.isChecked(),
            )
            async with contextlib.aclosing(messages) as stream:
                async for msg in stream:
                    self.state.feed(msg)
                    self._show()
        finally:
            await body.aclose()  # an engine that answered early may leave it unread
            packed.close()

    def _append(self, text: str) -> None:
        self.output.moveCursor(self.output.textCursor().MoveOperation.End)
        self.output.insertPlainText(text)
        self.output.ensureCursorVisible()

    def _show(self) -> None:
        for line in self.state.lines[self._shown :]:
            self._append(line + "\n")
        self._shown = len(self.state.lines)
        if self.state.steps:
            self.progress.setRange(0, self.state.steps)
            self.progress.setValue(self.state.step)
            self.step.setText(
                f"Step {self.state.step}/{self.state.steps}: {self.state.instruction}"
            )

    def _done(self, task: asyncio.Task[None]) -> None:
        self.build_button.setEnabled(True)
        self.cancel_button.setEnabled(False)
        self.progress.hide()
        self.state.finish()
        self._show()
        if task.cancelled():
            self._finish_error("cancelled")
            return
        exc = task.exception()
        if exc is not None:
            self._finish_error(self.state.error or describe(exc))
            return
        if self.state.image_id is None:
            self._finish_error("the engine did not report an image")
            return
        tags = f" and tagged {', '.join(self.state.tags)}" if self.state.tags else ""
        self.outcome.setStyleSheet("color: #27ae60;")
        self.outcome.setText(f"Built {self.state.image_id}{tags}")
        self.step.setText(f"Done: {self.state.steps} steps" if self.state.steps else "Done")
        self.built.emit(self.state.image_id)

    def _finish_error(self, text: str) -> None:
        self.outcome.setStyleSheet("color: #d63031;")
        self.outcome.setText(f"Build failed: {text}")

    def cancel(self) -> None:
        """Stop the build in flight (the engine stops when the connection closes)."""
        if self.task is not None and not self.task.done():
            self.task.cancel()

    def reject(self) -> None:
        self.cancel()
        super().reject()


def _row(*widgets: QWidget) -> QWidget:
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    for i, w in enumerate(widgets):
        layout.addWidget(w, 1 if i == 0 else 0)
    return box


def _buttons(*buttons: QPushButton) -> QHBoxLayout:
    row = QHBoxLayout()
    row.addStretch(1)
    for b in buttons:
        row.addWidget(b)
    return row
