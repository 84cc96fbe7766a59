"""Report to the host on the virtio-serial port ``org.portside.ready``.

``ready``: wait until the engine answers ``/_ping`` on its socket, then write
``READY <engine version>``. ``failed <unit>``: write ``FAILED <unit>: <why>`` (started by
systemd through ``OnFailure=``). One line each; the host reads lines.
"""

import glob
import json
import os
import socket
import subprocess
import sys
import time

PORT_NAME = "org.portside.ready"
ENGINE_SOCKET = "/run/portside/portside.sock"
READY_TIMEOUT = 600.0


def port_device():
    for _ in range(400):
        for name_file in glob.glob("/sys/class/virtio-ports/*/name"):
            with open(name_file) as f:
                if f.read().strip() == PORT_NAME:
                    return "/dev/" + os.path.basename(os.path.dirname(name_file))
        if _ == 0:
            subprocess.run(["modprobe", "virtio_console"], check=False)
        time.sleep(0.05)
    sys.exit(f"no virtio-serial port named {PORT_NAME}")


def say(line):
    device = port_device()
    data = (line.replace("\n", " ") + "\n").encode()
    # The host end may not be connected yet; the kernel then refuses the write.
    deadline = time.monotonic() + 60
    while True:
        try:
            fd = os.open(device, os.O_WRONLY)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def engine_get(path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(ENGINE_SOCKET)
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: portside\r\n\r\n".encode())
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
    status = head.split(b"\r\n", 1)[0].split()
    if len(status) < 2 or status[1] != b"200":
        raise OSError(f"{path}: {head[:80]!r}")
    return body


def ready():
    deadline = time.monotonic() + READY_TIMEOUT
    while True:
        try:
            engine_get("/_ping")
            break
        except OSError:
            if time.monotonic() > deadline:
                why = f"no answer on {ENGINE_SOCKET} in {READY_TIMEOUT:.0f} s"
                say(f"FAILED portsided.service: {why}")
                return 1
            time.sleep(0.2)
    version = json.loads(engine_get("/version")).get("Version", "unknown")
    say(f"READY {version}")
    return 0


def journal_tail(*match):
    done = subprocess.run(
        ["journalctl", *match, "-n", "3", "-o", "cat", "--no-pager"],
        capture_output=True,
        text=True,
    )
    return done.stdout.strip().replace("\n", " | ")


def failed(unit):
    # The unit's own output first (why it failed), systemd's messages about it otherwise.
    why = journal_tail(f"_SYSTEMD_UNIT={unit}") or journal_tail("-u", unit)
    say(f"FAILED {unit}: {why or 'failed'}")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["ready"]:
        sys.exit(ready())
    if sys.argv[1:2] == ["failed"] and len(sys.argv) == 3:
        sys.exit(failed(sys.argv[2]))
    sys.exit("usage: ready.py ready | failed <unit>")
