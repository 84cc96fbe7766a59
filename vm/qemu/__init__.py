"""QEMU: the command line, QMP, the accelerator choice and the process of one machine."""

from .accel import AccelVerdict, choose_accel
from .machine import Machine, MachineError, ReadyInfo
from .qmp import QmpClient, QmpError
from .spec import QemuSpec, ShareSpec, argv

__all__ = [
    "AccelVerdict",
    "Machine",
    "MachineError",
    "QemuSpec",
    "QmpClient",
    "QmpError",
    "ReadyInfo",
    "ShareSpec",
    "argv",
    "choose_accel",
]
