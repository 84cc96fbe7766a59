"""Which accelerator boots the guest, checked rather than assumed.

An accelerator that exists is not one that works: a host can expose ``/dev/kvm`` and still
abort the guest on an unhandled MSR, or leave it stalled in emulation (nested setups,
odd hypervisors). So the hardware accelerator of the platform is tried first with a
liveness check — a throw-away QEMU boots the bundle's kernel with ``earlyprintk`` and must
print the kernel banner within a few seconds — and TCG is used when it does not.
"""

# The public signatures take timeouts (VM-CONTRACTS.md); callers need not wrap them.
# ruff: noqa: ASYNC109

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from .spec import accel_args

PROBE_TIMEOUT = 5.0
BANNER = b"Linux version"


@dataclass(frozen=True)
class AccelVerdict:
    """The accelerator in use and what happened to those tried before it."""

    chosen: str  # "kvm" | "hvf" | "whpx" | "tcg"
    # (accel, outcome), e.g. ("kvm", "guest made no progress in 5 s")
    tried: tuple[tuple[str, str], ...]


class AccelUnavailable(Exception):
    """The accelerator the user asked for does not work here."""


def hardware_accel(platform: str = sys.platform) -> str | None:
    """The platform's hardware accelerator: hvf (macOS), whpx (Windows), kvm (Linux)."""
    if platform == "darwin":
        return "hvf"
    if platform == "win32":
        return "whpx"
    if platform.startswith("linux"):
        return "kvm"
    return None


def kvm_usable(path: str = "/dev/kvm") -> str | None:
    """``None`` if ``path`` opens read-write, else why not."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except OSError as e:
        return f"{path}: {e.strerror}"
    os.close(fd)
    return None


def probe_argv(accel: str, kernel: Path, binary: str = "qemu-system-x86_64") -> list[str]:
    """A minimal QEMU that boots ``kernel`` with its early console on stdout."""
    return [
        binary,
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-machine",
        "q35",
        *accel_args(accel),
        "-m",
        "256M",
        "-smp",
        "1",
        "-kernel",
        str(kernel),
        "-append",
        "console=ttyS0 earlyprintk=ttyS0 panic=-1",
        "-serial",
        "stdio",
        "-no-reboot",
    ]


async def probe(
    accel: str, kernel: Path, *, binary: str = "qemu-system-x86_64", timeout: float = PROBE_TIMEOUT
) -> str | None:
    """Boot ``kernel`` under ``accel`` until its banner appears: ``None`` when it does,
    else what went wrong (QEMU exited, or the guest made no progress in ``timeout``)."""
    try:
        proc = await asyncio.create_subprocess_exec(
            *probe_argv(accel, kernel, binary),
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as e:
        return f"cannot run {binary}: {e.strerror}"
    assert proc.stdout is not None and proc.stderr is not None
    seen = b""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    outcome: str | None = f"guest made no progress in {timeout:g} s"
    try:
        while True:
            left = deadline - loop.time()
            if left <= 0:
                break
            try:
                chunk = await asyncio.wait_for(proc.stdout.read(4096), left)
            except TimeoutError:
                break
            if not chunk:
                code = await proc.wait()
                err = (await proc.stderr.read()).decode(errors="replace").strip()
                last = err.splitlines()[-1] if err else "no message"
                outcome = f"QEMU exited with code {code}: {last}"
                break
            seen = (seen + chunk)[-4096:]
            if BANNER in seen:
                outcome = None
                break
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            await proc.wait()
    return outcome


_verdicts: dict[tuple[str, str, str], AccelVerdict] = {}


def host_identity(kernel: Path, binary: str) -> str:
    """What a verdict depends on: this host boot, the QEMU binary and the kernel."""
    parts = [sys.platform]
    with contextlib.suppress(OSError):
        parts.append(Path("/proc/sys/kernel/random/boot_id").read_text().strip())
    qemu = shutil.which(binary) or binary
    for path in (Path(qemu), kernel):
        try:
            st = path.stat()
            parts.append(f"{path}:{st.st_size}:{st.st_mtime_ns}")
        except OSError:
            parts.append(f"{path}:missing")
    return "|".join(parts)


def _load_cached(cache: Path, requested: str, identity: str) -> AccelVerdict | None:
    try:
        raw = json.loads(cache.read_text())
        if raw["requested"] != requested or raw["identity"] != identity:
            return None
        return AccelVerdict(str(raw["chosen"]), tuple((str(a), str(o)) for a, o in raw["tried"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None


def _store(cache: Path, requested: str, identity: str, verdict: AccelVerdict) -> None:
    record = {"requested": requested, "identity": identity, **asdict(verdict)}
    with contextlib.suppress(OSError):
        tmp = cache.with_suffix(".tmp")
        tmp.write_text(json.dumps(record))
        os.replace(tmp, cache)


async def choose_accel(
    requested: str,
    kernel: Path,
    *,
    binary: str = "qemu-system-x86_64",
    cache: Path | None = None,
) -> AccelVerdict:
    """The accelerator to boot with.

    ``auto``: the platform's hardware accelerator if it passes the liveness check, else
    TCG. An explicit hardware accelerator must pass the check (``AccelUnavailable``
    otherwise: the user asked for it, silently emulating would hide the problem). The
    verdict is kept for the process, and in ``cache`` until the host reboots or QEMU or
    the kernel change: a broken accelerator costs its probe once, not at every start.
    """
    key = (requested, str(kernel), binary)
    if key in _verdicts:
        return _verdicts[key]
    if requested == "tcg":
        return AccelVerdict("tcg", ())
    identity = host_identity(kernel, binary)
    if cache is not None and (cached := _load_cached(cache, requested, identity)) is not None:
        _verdicts[key] = cached
        return cached
    tried: list[tuple[str, str]] = []
    hw = requested if requested != "auto" else hardware_accel()
    if hw is not None:
        why = kvm_usable() if hw == "kvm" else None
        if why is None:
            why = await probe(hw, kernel, binary=binary)
        if why is None:
            verdict = AccelVerdict(hw, (*tried, (hw, "ok")))
            _verdicts[key] = verdict
            if cache is not None:
                _store(cache, requested, identity, verdict)
            return verdict
        tried.append((hw, why))
        if requested != "auto":
            raise AccelUnavailable(f"accelerator {hw} does not work here: {why}")
    verdict = AccelVerdict("tcg", tuple(tried))
    _verdicts[key] = verdict
    if cache is not None:
        _store(cache, requested, identity, verdict)
    return verdict
