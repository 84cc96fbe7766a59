"""The Run dialog: start a container from an image with ports, env, volumes, network."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QWidget,
)

from .run_spec import RunSpec, SpecError, build_config


class RunDialog(QDialog):
    """Collects a :class:`RunSpec`; ``config()`` validates it into a create body."""

    def __init__(self, image: str, networks: list[str], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(f"Run {image}")
        self.image = QLineEdit(image)
        self.name = QLineEdit()
        self.name.setPlaceholderText("optional")
        self.ports = QLineEdit()
        self.ports.setPlaceholderText("8080:80, 127.0.0.1:5432:5432")
        self.env = QPlainTextEdit()
        self.env.setPlaceholderText("KEY=value, one per line")
        self.env.setMaximumHeight(70)
        self.volumes = QPlainTextEdit()
        self.volumes.setPlaceholderText("data:/var/lib/data  or  /host/path:/path:ro")
        self.volumes.setMaximumHeight(60)
        self.network = QComboBox()
        self.network.addItem("(default)", "")
        for n in networks:
            self.network.addItem(n, n)
        self.command = QLineEdit()
        self.command.setPlaceholderText("the image's default command")
        self.error = QLabel("")
        self.error.setStyleSheet("color: #d63031;")
        self.error.setWordWrap(True)
        form = QFormLayout(self)
        form.addRow("Image", self.image)
        form.addRow("Name", self.name)
        form.addRow("Ports", self.ports)
        form.addRow("Environment", self.env)
        form.addRow("Volumes", self.volumes)
        form.addRow("Network", self.network)
        form.addRow("Command", self.command)
        form.addRow(self.error)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Run")
        buttons.accepted.connect(self._validate)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def spec(self) -> RunSpec:
        """The fields as a spec."""
        return RunSpec(
            image=self.image.text(),
            name=self.name.text().strip(),
            ports=self.ports.text(),
            env=self.env.toPlainText(),
            volumes=self.volumes.toPlainText(),
            network=str(self.network.currentData() or ""),
            command=self.command.text(),
        )

    def config(self) -> dict:
        """The create body (raises :class:`SpecError`)."""
        return build_config(self.spec())

    def _validate(self) -> None:
        try:
            self.config()
        except SpecError as e:
            self.error.setText(str(e))
            return
        self.accept()
