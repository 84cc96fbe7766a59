"""Exec area: run a command in a running container, with a TTY for terminals."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .hijack import HijackedStream, hijack
from .http import Http


class ExecApi:
    """``/containers/{id}/exec`` and ``/exec/{id}/...``."""

    def __init__(self, http: Http):
        self._http = http

    async def create(
        self,
        cid: str,
        cmd: Sequence[str],
        *,
        tty: bool = True,
        stdin: bool = True,
        env: Sequence[str] | None = None,
        workdir: str | None = None,
        user: str | None = None,
        console_size: tuple[int, int] | None = None,
    ) -> str:
        """Create an exec instance; returns its id."""
        body: dict[str, Any] = {
            "Cmd": list(cmd),
            "Tty": tty,
            "AttachStdin": stdin,
            "AttachStdout": True,
            "AttachStderr": True,
        }
        if env:
            body["Env"] = list(env)
        if workdir:
            body["WorkingDir"] = workdir
        if user:
            body["User"] = user
        if console_size:
            body["ConsoleSize"] = list(console_size)
        result = await self._http.json("POST", f"/containers/{cid}/exec", json_body=body)
        return str(result["Id"])

    async def start(
        self, exec_id: str, *, tty: bool = True, console_size: tuple[int, int] | None = None
    ) -> HijackedStream:
        """Start the exec and hijack its connection into a raw two-way stream."""
        body: dict[str, Any] = {"Detach": False, "Tty": tty}
        if console_size:
            body["ConsoleSize"] = list(console_size)
        return await hijack(self._http, "POST", f"/exec/{exec_id}/start", json_body=body)

    async def resize(self, exec_id: str, rows: int, cols: int) -> None:
        """Resize the exec's TTY."""
        await self._http.request("POST", f"/exec/{exec_id}/resize", params={"h": rows, "w": cols})

    async def inspect(self, exec_id: str) -> dict[str, Any]:
        """``GET /exec/{id}/json`` (Running, ExitCode, Pid, ...)."""
        return await self._http.json("GET", f"/exec/{exec_id}/json")

    async def run(
        self, cid: str, cmd: Sequence[str], env: Mapping[str, str] | None = None
    ) -> tuple[int, bytes, bytes]:
        """Run a command to completion without a TTY; ``(exit code, stdout, stderr)``."""
        envs = [f"{k}={v}" for k, v in (env or {}).items()]
        exec_id = await self.create(cid, cmd, tty=False, stdin=False, env=envs)
        out, err = bytearray(), bytearray()
        async with await self.start(exec_id, tty=False) as stream:
            async for num, data in stream.frames():
                (err if num == 2 else out).extend(data)
        info = await self.inspect(exec_id)
        return int(info.get("ExitCode") or 0), bytes(out), bytes(err)
