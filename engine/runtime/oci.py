"""Direct calls to the OCI runtime CLI (runc/crun): start, kill, pause, state, delete...

``create`` is not here: conmon runs it, so that conmon (not the engine) is the parent
of the container and survives the engine.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

from ..errors import SystemError_


class RuntimeError_(SystemError_):
    """The OCI runtime failed; ``stderr`` holds its message."""

    def __init__(self, message: str, stderr: str = "") -> None:
        super().__init__(message)
        self.stderr = stderr


class OciRuntime:
    """One runtime binary with one ``--root`` state directory."""

    def __init__(self, name: str, path: str, root: Path) -> None:
        self.name = name
        self.path = path
        self.root = root

    async def _run(self, *args: str, stdin: bytes | None = None, limit: float = 60) -> str:
        proc = await asyncio.create_subprocess_exec(
            self.path,
            "--root",
            str(self.root),
            *args,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            out, err = await asyncio.wait_for(proc.communicate(stdin), limit)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise RuntimeError_(f"{self.name} {args[0]} timed out") from None
        if proc.returncode != 0:
            msg = _clean(err.decode(errors="replace")) or f"exit status {proc.returncode}"
            raise RuntimeError_(f"{self.name} {args[0]}: {msg}", msg)
        return out.decode(errors="replace")

    async def start(self, cid: str) -> None:
        """Run the created container's process."""
        await self._run("start", cid)

    async def kill(self, cid: str, signal: int, all_: bool = False) -> None:
        """Send a signal to the container's init (or every process with ``all_``)."""
        args = ["kill"]
        if all_:
            args.append("--all")
        await self._run(*args, cid, str(signal))

    async def pause(self, cid: str) -> None:
        """Freeze every process (cgroup freezer)."""
        await self._run("pause", cid)

    async def resume(self, cid: str) -> None:
        """Thaw a paused container."""
        await self._run("resume", cid)

    async def delete(self, cid: str, force: bool = True) -> None:
        """Forget the container (its cgroup goes too); a missing one is not an error."""
        try:
            await self._run("delete", *(["--force"] if force else []), cid)
        except RuntimeError_ as e:
            if not _missing(e.stderr):
                raise

    async def state(self, cid: str) -> dict[str, Any] | None:
        """The runtime's state JSON, or None when it does not know the container."""
        try:
            out = await self._run("state", cid)
        except RuntimeError_ as e:
            if _missing(e.stderr):
                return None
            raise
        try:
            data: dict[str, Any] = json.loads(out)
        except json.JSONDecodeError:
            return None
        return data

    async def update(self, cid: str, resources: dict[str, Any]) -> None:
        """Apply OCI ``linux.resources`` to a live container."""
        await self._run("update", "--resources", "-", cid, stdin=json.dumps(resources).encode())


def _missing(stderr: str) -> bool:
    low = stderr.lower()
    return "does not exist" in low or "not found" in low or "no such" in low


def _clean(err: str) -> str:
    """The useful part of runc's logrus-style or crun's plain error line."""
    lines = [ln.strip() for ln in err.strip().splitlines() if ln.strip()]
    if not lines:
        return ""
    last = lines[-1]
    if 'msg="' in last:
        last = last.split('msg="', 1)[1].rsplit('"', 1)[0]
    return last


# crun's sentences for a command that is not on $PATH or cannot be executed; runc's (and so
# dockerd's) differ, and the docker CLI picks its exit codes 127 and 126 from runc's words.
_CRUN_NOT_FOUND = re.compile(
    r"executable file `([^`]*)` not found in \$PATH: No such file or directory"
)
_CRUN_NOT_EXECUTABLE = "open executable: Operation not permitted"


def runc_wording(message: str, command: str | None = None) -> str:
    """Say crun's "not found" and "cannot execute" the way runc does (``exec: "x":
    executable file not found in $PATH``, ``exec: "x": permission denied``), leaving
    every other message as it is; ``command`` is the process's argv[0] when known."""
    message = _CRUN_NOT_FOUND.sub(
        lambda m: f'exec: "{m.group(1)}": executable file not found in $PATH', message
    )
    if command is not None:
        message = message.replace(_CRUN_NOT_EXECUTABLE, f'exec: "{command}": permission denied')
    return message
