"""The question OpenSSH asks on the terminal, as a dialog: an SSH engine's host offered a
key ``~/.ssh/known_hosts`` does not list; the user compares the fingerprint and decides.

The dialog is window-modal but asynchronous (``open()``, not ``exec()``): the event loop,
and with it every other engine, keeps running while the user reads the fingerprint.
"""

from __future__ import annotations

import asyncio
from typing import Any

from PySide6.QtWidgets import QMessageBox, QWidget

OBJECT_NAME = "hostKeyDialog"


class HostKeyDialog(QMessageBox):
    """ "The authenticity of host … can't be established" with Trust / Cancel."""

    def __init__(self, question: Any, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName(OBJECT_NAME)
        self.setIcon(QMessageBox.Icon.Question)
        self.setWindowTitle("Unknown SSH host key")
        kind = str(question.key_type).removeprefix("ssh-").split("-")[0].upper()
        self.setText(f"The authenticity of host {question.host} can't be established.")
        self.setInformativeText(
            f"{kind} key fingerprint is {question.fingerprint}.\n\n"
            "Trust it only if it is the fingerprint of that host (on the host: "
            "ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub). Trusting adds it to "
            "~/.ssh/known_hosts, as ssh does."
        )
        self.trust_button = self.addButton("Trust and connect", QMessageBox.ButtonRole.AcceptRole)
        self.cancel_button = self.addButton(QMessageBox.StandardButton.Cancel)
        self.setDefaultButton(self.cancel_button)


async def ask_host_key(question: Any, parent: QWidget | None = None) -> bool:
    """Show the dialog and return whether the user trusted the key."""
    dialog = HostKeyDialog(question, parent)
    answered: asyncio.Future[bool] = asyncio.get_running_loop().create_future()

    def finished(_result: int) -> None:
        if not answered.done():
            answered.set_result(dialog.clickedButton() is dialog.trust_button)

    dialog.finished.connect(finished)
    dialog.open()
    try:
        return await answered
    finally:
        dialog.deleteLater()
