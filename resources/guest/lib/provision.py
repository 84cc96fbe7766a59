"""Apply the first-boot seed the host hands over with ``-fw_cfg``.

Runs at every boot (the seed may change between boots: new shares, new engine settings),
before sysinit.target: hostname, root's authorized key, the SSH host key, DNS, the 9p
shares and the engine's daemon.json. Any error fails the unit, and the failure reaches the
host on the readiness port.
"""

import json
import os
import socket
import subprocess
import sys
import time

SEED = "/sys/firmware/qemu_fw_cfg/by_name/opt/portside/seed/raw"
SUPPORTED_VERSION = 1
NINEP_OPTIONS = "trans=virtio,version=9p2000.L,msize=512000,cache=mmap,access=client"
DEFAULT_DNS = ("10.0.2.3",)


def write(path, text, mode=0o644):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.replace(tmp, path)


def read_seed():
    if not os.path.exists(SEED):
        subprocess.run(["modprobe", "qemu_fw_cfg"], check=False)
    for _ in range(100):
        if os.path.exists(SEED):
            break
        time.sleep(0.05)
    else:
        sys.exit(f"no seed at {SEED}: was QEMU started with -fw_cfg name=opt/portside/seed?")
    with open(SEED, "rb") as f:
        seed = json.loads(f.read().decode())
    if seed.get("version") != SUPPORTED_VERSION:
        sys.exit(f"seed version {seed.get('version')} is not {SUPPORTED_VERSION}")
    return seed


def apply_hostname(name):
    write("/etc/hostname", name + "\n")
    write("/etc/hosts", f"127.0.0.1\tlocalhost\n127.0.1.1\t{name}\n::1\tlocalhost ip6-localhost\n")
    socket.sethostname(name)


def apply_ssh(authorized_key, host_key):
    os.makedirs("/root/.ssh", mode=0o700, exist_ok=True)
    os.chmod("/root/.ssh", 0o700)
    write("/root/.ssh/authorized_keys", authorized_key.strip() + "\n", 0o600)
    write("/etc/ssh/ssh_host_ed25519_key", host_key.strip() + "\n", 0o600)


def apply_dns(servers):
    lines = "".join(f"nameserver {s}\n" for s in (servers or DEFAULT_DNS))
    if os.path.islink("/etc/resolv.conf"):
        os.unlink("/etc/resolv.conf")
    write("/etc/resolv.conf", lines)


def mounted(point):
    with open("/proc/self/mounts") as f:
        return any(line.split()[1] == point for line in f)


def apply_shares(shares):
    if not shares:
        return
    subprocess.run(["modprobe", "-a", "9p", "9pnet_virtio"], check=False)
    for share in shares:
        point = share["mount_point"]
        if mounted(point):
            continue
        os.makedirs(point, exist_ok=True)
        options = NINEP_OPTIONS + (",ro" if share.get("read_only") else "")
        done = subprocess.run(
            ["mount", "-t", "9p", "-o", options, share["tag"], point],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            sys.exit(f"cannot mount share {share['tag']} at {point}: {done.stderr.strip()}")


def apply_engine_config(config):
    write("/etc/portside/daemon.json", json.dumps(config, indent=2) + "\n")


def main():
    seed = read_seed()
    apply_hostname(seed["hostname"])
    apply_ssh(seed["authorized_key"], seed["host_key"])
    apply_dns(seed.get("dns") or ())
    apply_engine_config(seed.get("engine_config") or {})
    apply_shares(seed.get("shares") or ())


if __name__ == "__main__":
    main()
