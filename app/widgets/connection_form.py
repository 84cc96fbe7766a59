"""The connection settings form: Portside's engine, a socket path, or TCP with TLS."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QFormLayout,
    QHBoxLayout,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
    QWidget,
)

from ..client import DOCKER_SOCKET, PORTSIDE_SOCKET
from ..settings import AUTO, PORTSIDE, SOCKET, TCP, ConnectionChoice


class ConnectionForm(QWidget):
    """Edits a :class:`ConnectionChoice`; ``apply_requested`` carries the new choice."""

    apply_requested = Signal(object)

    def __init__(self, choice: ConnectionChoice, parent: QWidget | None = None):
        super().__init__(parent)
        self._group = QButtonGroup(self)
        self.radios: dict[str, QRadioButton] = {}
        labels = {
            AUTO: "Automatic (DOCKER_HOST, then Portside's engine, then Docker's socket)",
            PORTSIDE: f"Portside's engine ({PORTSIDE_SOCKET}, started when needed)",
            SOCKET: "A Docker-compatible socket",
            TCP: "A remote engine over TCP (TLS)",
        }
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for kind, text in labels.items():
            radio = QRadioButton(text)
            radio.setObjectName(f"conn_{kind}")
            self._group.addButton(radio)
            self.radios[kind] = radio
            layout.addWidget(radio)
            if kind == SOCKET:
                self.socket_path = QLineEdit(choice.socket_path)
                self.socket_path.setPlaceholderText(DOCKER_SOCKET)
                layout.addWidget(_indent(self.socket_path))
            if kind == TCP:
                box = QWidget()
                form = QFormLayout(box)
                form.setContentsMargins(24, 0, 0, 0)
                self.tcp_host = QLineEdit(choice.tcp_host)
                self.tcp_host.setPlaceholderText("tcp://engine.example.org:2376")
                self.cert_dir = QLineEdit(choice.cert_dir)
                self.cert_dir.setPlaceholderText("~/.docker (ca.pem, cert.pem, key.pem)")
                self.tls_verify = QCheckBox("Verify the engine's certificate")
                self.tls_verify.setChecked(choice.tls_verify)
                form.addRow("Host", self.tcp_host)
                form.addRow("Certificates", self.cert_dir)
                form.addRow("", self.tls_verify)
                layout.addWidget(box)
        self.radios.get(choice.kind, self.radios[AUTO]).setChecked(True)
        self.apply_button = QPushButton("Connect")
        self.apply_button.setObjectName("connect")
        self.apply_button.clicked.connect(lambda: self.apply_requested.emit(self.choice()))
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.apply_button)
        layout.addLayout(row)

    def choice(self) -> ConnectionChoice:
        """The choice as currently filled in."""
        kind = next((k for k, r in self.radios.items() if r.isChecked()), AUTO)
        return ConnectionChoice(
            kind=kind,
            socket_path=self.socket_path.text().strip(),
            tcp_host=self.tcp_host.text().strip(),
            cert_dir=self.cert_dir.text().strip(),
            tls_verify=self.tls_verify.isChecked(),
        )


def _indent(widget: QWidget) -> QWidget:
    box = QWidget()
    layout = QHBoxLayout(box)
    layout.setContentsMargins(24, 0, 0, 0)
    layout.addWidget(widget)
    return box
