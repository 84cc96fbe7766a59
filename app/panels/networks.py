"""Networks panel: list, create (subnet, internal), delete, connect/disconnect containers."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLineEdit,
    QVBoxLayout,
    QWidget,
)

from ..context import AppContext
from ..models import container_info as info
from ..widgets import dialogs
from .base import Panel, heading, table_section

PREDEFINED = {"bridge", "host", "none"}


class CreateNetworkDialog(QDialog):
    """Name, subnet, gateway, internal."""

    def __init__(self, parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle("Create network")
        self.name = QLineEdit()
        self.subnet = QLineEdit()
        self.subnet.setPlaceholderText("automatic, or e.g. 10.20.0.0/24")
        self.gateway = QLineEdit()
        self.gateway.setPlaceholderText("automatic")
        self.internal = QCheckBox("Internal (no access to the outside)")
        form = QFormLayout(self)
        form.addRow("Name", self.name)
        form.addRow("Subnet", self.subnet)
        form.addRow("Gateway", self.gateway)
        form.addRow("", self.internal)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def values(self) -> dict:
        """The fields as ``create`` keyword arguments."""
        return {
            "name": self.name.text().strip(),
            "subnet": self.subnet.text().strip() or None,
            "gateway": self.gateway.text().strip() or None,
            "internal": self.internal.isChecked(),
        }


class ChooseContainerDialog(QDialog):
    """Pick one container from a list."""

    def __init__(self, title: str, choices: list[tuple[str, str]], parent: QWidget | None = None):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.combo = QComboBox()
        for cid, name in choices:
            self.combo.addItem(name, cid)
        form = QFormLayout(self)
        form.addRow("Container", self.combo)
        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)

    def container_id(self) -> str:
        """The chosen container."""
        return str(self.combo.currentData() or "")


class NetworksPanel(Panel):
    """The networks table and its actions."""

    title = "Networks"

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(ctx, parent)
        self.feed = ctx.feeds.networks
        section = table_section(
            self.feed.model,
            prefix="network",
            actions=[
                ("create", "Create…", self.ask_create),
                ("delete", "Delete", self.delete_selected),
                ("connect", "Connect container…", self.ask_connect),
                ("disconnect", "Disconnect container…", self.ask_disconnect),
            ],
            search="Search networks",
            widths=(240, 80, 150, 120, 70),
            on_selection=self._update_buttons,
        )
        self.table, self.search, self.buttons = section.table, section.search, section.buttons
        layout = QVBoxLayout(self)
        layout.addWidget(heading("Networks"))
        layout.addLayout(section.bar)
        layout.addWidget(self.table, 1)
        self.dialog: QDialog | None = None
        self._update_buttons()

    def _selected(self) -> list[dict]:
        return self.table.selected_records()

    def _update_buttons(self) -> None:
        recs = self._selected()
        user = [r for r in recs if r.get("Name") not in PREDEFINED]
        self.buttons["delete"].setEnabled(bool(user) and len(user) == len(recs))
        one = len(recs) == 1 and recs[0].get("Name") not in ("host", "none")
        self.buttons["connect"].setEnabled(one)
        self.buttons["disconnect"].setEnabled(one and bool(recs[0].get("_members")))

    # -- create / delete ---------------------------------------------------------------
    def ask_create(self) -> CreateNetworkDialog:
        """Open the create dialog (non-blocking)."""
        dialog = CreateNetworkDialog(self)
        dialog.accepted.connect(lambda: self.create_network(**dialog.values()))
        self.dialog = dialog
        dialog.open()
        return dialog

    def create_network(self, name: str, subnet: str | None = None, gateway: str | None = None,
               internal: bool = False):  # fmt: skip
        """Create a bridge network."""
        client = self.ctx.client
        if client is None or not name:
            return None
        return self.ctx.runner.spawn(
            client.networks.create(name, subnet=subnet, gateway=gateway, internal=internal),
            f"create network {name}",
            busy=True,
        )

    def delete_selected(self):
        """Delete the selected networks (after confirmation)."""
        client = self.ctx.client
        recs = self._selected()
        if client is None or not recs:
            return None
        label = recs[0]["Name"] if len(recs) == 1 else f"{len(recs)} networks"
        if not dialogs.confirm(self, "Delete networks", f"Delete {label}?"):
            return None

        async def delete() -> None:
            for r in recs:
                await client.networks.remove(r["Id"])

        return self.ctx.runner.spawn(delete(), f"delete {label}", busy=True)

    # -- connect / disconnect ----------------------------------------------------------
    def _containers(self) -> list[dict]:
        return self.ctx.feeds.containers.model.containers()

    def ask_connect(self) -> ChooseContainerDialog | None:
        """Choose a container to attach to the selected network."""
        recs = self._selected()
        if len(recs) != 1:
            return None
        net = recs[0]
        choices = [
            (c["Id"], info.name(c))
            for c in self._containers()
            if info.name(c) not in net["_members"]
        ]
        dialog = ChooseContainerDialog(
            f"Connect to {net['Name']}", sorted(choices, key=lambda x: x[1]), self
        )
        dialog.accepted.connect(lambda: self.connect_container(net["Name"], dialog.container_id()))
        self.dialog = dialog
        dialog.open()
        return dialog

    def ask_disconnect(self) -> ChooseContainerDialog | None:
        """Choose a container to detach from the selected network."""
        recs = self._selected()
        if len(recs) != 1:
            return None
        net = recs[0]
        choices = [
            (c["Id"], info.name(c)) for c in self._containers() if info.name(c) in net["_members"]
        ]
        dialog = ChooseContainerDialog(f"Disconnect from {net['Name']}", choices, self)
        dialog.accepted.connect(
            lambda: self.disconnect_container(net["Name"], dialog.container_id())
        )
        self.dialog = dialog
        dialog.open()
        return dialog

    def connect_container(self, network: str, cid: str):
        """Attach ``cid`` to ``network``."""
        client = self.ctx.client
        if client is None or not cid:
            return None
        return self.ctx.runner.spawn(
            client.networks.connect(network, cid), f"connect to {network}", busy=True
        )

    def disconnect_container(self, network: str, cid: str):
        """Detach ``cid`` from ``network``."""
        client = self.ctx.client
        if client is None or not cid:
            return None
        return self.ctx.runner.spawn(
            client.networks.disconnect(network, cid), f"disconnect from {network}", busy=True
        )
