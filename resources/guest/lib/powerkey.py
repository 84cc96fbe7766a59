"""Power off cleanly when the ACPI power button is pressed (QMP ``system_powerdown``).

systemd-logind normally does this, but it needs D-Bus; a machine with neither starts
faster and this watcher is the one thing of logind the guest needs.
"""

import glob
import os
import select
import struct
import subprocess
import time

EV_KEY = 1
KEY_POWER = 116
EVENT = struct.Struct("llHHi")  # struct input_event on 64-bit


def power_buttons():
    found = []
    for name_file in glob.glob("/sys/class/input/event*/device/name"):
        with open(name_file) as f:
            if "Power Button" in f.read():
                found.append("/dev/input/" + name_file.split("/")[4])
    return found


def main():
    subprocess.run(["modprobe", "-a", "button", "evdev"], check=False)
    devices = []
    for _ in range(100):
        devices = [p for p in power_buttons() if os.path.exists(p)]
        if devices:
            break
        time.sleep(0.1)
    if not devices:
        raise SystemExit("no ACPI power button")
    fds = [os.open(p, os.O_RDONLY) for p in devices]
    while True:
        ready, _, _ = select.select(fds, [], [])
        for fd in ready:
            data = os.read(fd, EVENT.size * 64)
            for off in range(0, len(data) - EVENT.size + 1, EVENT.size):
                _, _, kind, code, value = EVENT.unpack_from(data, off)
                if kind == EV_KEY and code == KEY_POWER and value == 1:
                    os.execv("/bin/systemctl", ["systemctl", "poweroff"])


if __name__ == "__main__":
    main()
