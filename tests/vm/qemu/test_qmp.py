"""The QMP client against a real QEMU (``-machine none``: no guest, starts in milliseconds)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from portside.vm.qemu import QmpClient, QmpError


@contextlib.asynccontextmanager
async def bare_qemu(tmp_path: Path) -> AsyncIterator[tuple[asyncio.subprocess.Process, Path]]:
    sock = tmp_path / "qmp.sock"
    proc = await asyncio.create_subprocess_exec(
        "qemu-system-x86_64",
        "-machine",
        "none",
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-chardev",
        f"socket,id=qmp0,path={sock},server=on,wait=off",
        "-mon",
        "chardev=qmp0,mode=control",
        stdin=asyncio.subprocess.DEVNULL,
    )
    try:
        yield proc, sock
    finally:
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


async def test_greeting_capabilities_and_a_command(tmp_path: Path) -> None:
    async with bare_qemu(tmp_path) as (_proc, sock):
        qmp = QmpClient()
        await qmp.connect(sock)
        try:
            assert "version" in qmp.greeting["QMP"]
            status = await qmp.execute("query-status")
            assert status["status"] in ("running", "prelaunch")
            version = await qmp.execute("query-version")
            assert version["qemu"]["major"] >= 7
        finally:
            await qmp.close()


async def test_an_error_answer_raises_with_qemus_message(tmp_path: Path) -> None:
    async with bare_qemu(tmp_path) as (_proc, sock):
        qmp = QmpClient()
        await qmp.connect(sock)
        try:
            with pytest.raises(QmpError, match="CommandNotFound"):
                await qmp.execute("no-such-command")
            # The connection stays usable after an error.
            assert await qmp.execute("query-name") == {}
        finally:
            await qmp.close()


async def test_commands_in_flight_are_matched_to_their_answers(tmp_path: Path) -> None:
    async with bare_qemu(tmp_path) as (_proc, sock):
        qmp = QmpClient()
        await qmp.connect(sock)
        try:
            answers = await asyncio.gather(
                qmp.execute("query-name"),
                qmp.execute("query-status"),
                qmp.execute("query-version"),
            )
            assert answers[0] == {}
            assert "status" in answers[1]
            assert "qemu" in answers[2]
        finally:
            await qmp.close()


async def test_quit_sends_the_shutdown_event_and_qemu_exits(tmp_path: Path) -> None:
    async with bare_qemu(tmp_path) as (proc, sock):
        qmp = QmpClient()
        await qmp.connect(sock)
        try:
            await qmp.execute("quit")
            event = await qmp.wait_event("SHUTDOWN", timeout=10)
            assert event["data"]["guest"] is False
            assert await asyncio.wait_for(proc.wait(), 10) == 0
            with pytest.raises(QmpError):
                await qmp.wait_event("SHUTDOWN", timeout=10)
        finally:
            await qmp.close()


async def test_connect_to_a_missing_socket_fails_clearly(tmp_path: Path) -> None:
    with pytest.raises(QmpError, match="cannot connect to QMP"):
        await QmpClient().connect(tmp_path / "none.sock", timeout=0.3)
