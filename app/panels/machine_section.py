"""The Engine panel's Portside Machine section: the machine's state and Start/Stop."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from ..context import AppContext
from ..machine import MachineFacts
from ..widgets.keyvalue import KeyValueGrid

ACTIVE = ("starting", "running", "stopping")


def machine_rows(facts: MachineFacts) -> list[tuple[str, str]]:
    """The facts shown about the machine, from its settings and its agent's state."""
    st, cfg = facts.state, facts.config
    if not facts.exists or cfg is None:
        return [("Machine", facts.name), ("State", "not created")]
    state = st.state
    if st.state == "starting" and st.progress:
        state = f"starting — {st.progress}"
    elif st.state == "failed" and st.last_error:
        state = f"failed — {st.last_error}"
    shares = ", ".join(s.host_path + (" (read-only)" if s.read_only else "") for s in cfg.shares)
    ports = ", ".join(
        f"{p.host_address}:{p.host_port}/{p.proto} → {p.container_id[:12]}" for p in st.forwarded
    )
    accel = st.accel if st.state == "running" else ""
    if accel and st.accel_tried:
        accel += " (" + "; ".join(f"{a}: {why}" for a, why in st.accel_tried) + ")"
    return [
        ("Machine", facts.name),
        ("State", state),
        ("Accelerator", accel or "—"),
        ("Engine", st.engine_version if st.state == "running" else "—"),
        ("CPUs", str(cfg.cpus)),
        ("Memory", f"{cfg.memory_mib} MiB"),
        ("Disk", f"{cfg.disk_gib} GiB"),
        ("Shares", shares or "none"),
        ("Forwarded ports", ports or "none"),
        ("Problems", "; ".join(st.problems) or "none"),
    ]


class MachineSection(QWidget):
    """Reads the machine's state file every second while shown (a local file: cheap)."""

    def __init__(self, ctx: AppContext, parent: QWidget | None = None):
        super().__init__(parent)
        self.ctx = ctx
        self.machine = ctx.connection.machine
        self.grid = KeyValueGrid(columns=2)
        self.note = QLabel("")
        self.note.setWordWrap(True)
        self.start_button = QPushButton("Start")
        self.start_button.clicked.connect(self.start)
        self.stop_button = QPushButton("Stop")
        self.stop_button.clicked.connect(self.stop)
        row = QHBoxLayout()
        row.addWidget(self.note, 1)
        row.addWidget(self.start_button)
        row.addWidget(self.stop_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.grid)
        layout.addLayout(row)
        self._stopping = False
        self._timer = QTimer(self)
        self._timer.setInterval(1000)
        self._timer.timeout.connect(self.refresh)
        ctx.connection.state_changed.connect(lambda _s, _d: self.refresh())

    def relevant(self) -> bool:
        """Shown where the machine exists or the engine cannot run here."""
        return self.machine.exists() or not self.ctx.connection.launcher.can_launch()[0]

    def showEvent(self, event) -> None:
        self.refresh()
        self._timer.start()
        super().showEvent(event)

    def hideEvent(self, event) -> None:
        self._timer.stop()
        super().hideEvent(event)

    def refresh(self) -> None:
        facts = self.machine.facts()
        self.grid.set_rows(machine_rows(facts))
        state = facts.state.state
        busy = self._stopping or self.ctx.connection.machine_starting
        self.start_button.setEnabled(not busy and state not in ACTIVE)
        self.stop_button.setEnabled(not busy and state == "running")

    def start(self) -> None:
        self.ctx.connection.start_machine()
        self.refresh()

    def stop(self) -> None:
        self._stopping = True
        self.note.setText("Stopping Portside Machine…")

        def done(_result: object = None) -> None:
            self._stopping = False
            self.note.setText("")
            self.refresh()

        self.ctx.runner.spawn(
            self.machine.stop(), "stop Portside Machine", on_done=done, on_error=done
        )
        self.refresh()
