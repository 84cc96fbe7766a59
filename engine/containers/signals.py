"""Signal names and numbers as Docker accepts them (``KILL``, ``SIGKILL``, ``9``)."""

from __future__ import annotations

import signal

from ..errors import InvalidParameter


def parse_signal(value: str | int | None, default: int = signal.SIGKILL) -> int:
    """The signal number for a name or number; 400 for an unknown one."""
    if value is None or value == "":
        return int(default)
    if isinstance(value, int):
        sig = value
    else:
        v = value.strip().upper()
        if v.isascii() and v.isdigit():  # "³".isdigit() is true, and int("³") fails
            sig = int(v)
        else:
            name = v if v.startswith("SIG") else "SIG" + v
            if name.startswith("SIGRTMIN") or name.startswith("SIGRTMAX"):
                base = signal.SIGRTMIN if name.startswith("SIGRTMIN") else signal.SIGRTMAX
                rest = name[8:]
                try:
                    off = int(rest) if rest else 0
                except ValueError:
                    raise InvalidParameter(f"Invalid signal: {value}") from None
                sig = int(base) + off
            else:
                try:
                    sig = int(signal.Signals[name])
                except KeyError:
                    raise InvalidParameter(f"Invalid signal: {value}") from None
    if sig <= 0 or sig > int(signal.SIGRTMAX):
        raise InvalidParameter(f"Invalid signal: {value}")
    return sig
