"""What the guest made of its seed, seen over SSH from the host."""

from __future__ import annotations

from pathlib import Path

import pytest
from portside.vm.seed import GUEST_ENGINE_SOCKET
from support.vm_machine import BootedMachine

pytestmark = pytest.mark.vm

PING = f"""python3 -c '
import socket
s = socket.socket(socket.AF_UNIX)
s.connect("{GUEST_ENGINE_SOCKET}")
s.sendall(b"GET /_ping HTTP/1.0\\r\\nHost: x\\r\\n\\r\\n")
print(s.recv(4096).decode().split("\\r\\n")[0])
'"""


def test_root_logs_in_with_the_seeded_key_and_the_pinned_host_key(
    booted_machine: BootedMachine,
) -> None:
    done = booted_machine.ssh("id -u; hostname")
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["0", booted_machine.config.name]


def test_the_engine_answers_on_its_socket(booted_machine: BootedMachine) -> None:
    done = booted_machine.ssh(PING)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "HTTP/1.1 200 OK"


def test_the_shared_folder_is_mounted_at_the_same_path_both_ways(
    booted_machine: BootedMachine,
) -> None:
    shared = Path(booted_machine.config.shares[0].host_path)
    (shared / "from-host.txt").write_text("hello guest\n")
    done = booted_machine.ssh(
        f"grep ' {shared} 9p ' /proc/mounts; cat {shared}/from-host.txt; "
        f"echo hello host > {shared}/from-guest.txt"
    )
    assert done.returncode == 0, done.stderr
    mount_line, content = done.stdout.splitlines()
    assert "trans=virtio" in mount_line and "msize=512000" in mount_line
    assert content == "hello guest"
    assert (shared / "from-guest.txt").read_text() == "hello host\n"


def test_the_root_filesystem_grew_to_the_machine_disk(booted_machine: BootedMachine) -> None:
    # resize2fs runs beside the engine start; give it time on a slow emulated boot.
    done = booted_machine.ssh(
        "systemctl is-active --wait portside-growfs.service >/dev/null 2>&1 || true; "
        "for i in $(seq 60); do "
        "  [ $(df -B1 --output=size / | tail -1) -gt 3000000000 ] && break; sleep 1; "
        "done; df -B1 --output=size / | tail -1"
    )
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.strip()) > 3_500_000_000  # a 4 GiB disk, minus ext4's metadata


def test_dns_and_the_static_network(booted_machine: BootedMachine) -> None:
    done = booted_machine.ssh("cat /etc/resolv.conf; ip -4 -o addr show eth0; ip route")
    assert done.returncode == 0, done.stderr
    assert "nameserver 10.0.2.3" in done.stdout
    assert "10.0.2.15/24" in done.stdout
    assert "default via 10.0.2.2 dev eth0" in done.stdout


def test_no_unit_failed_and_the_guest_runs_only_the_modules_it_was_given(
    booted_machine: BootedMachine,
) -> None:
    done = booted_machine.ssh(
        "systemctl --failed --plain --no-legend; echo ---; "
        "find /lib/modules/$(uname -r) -name '*.ko*' | wc -l"
    )
    assert done.returncode == 0, done.stderr
    failed, count = done.stdout.split("---\n")
    assert failed.strip() == ""
    assert 40 <= int(count) <= 80
