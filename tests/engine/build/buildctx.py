"""Helpers for build tests: contexts as directories or tars, and the classic CLI."""

from __future__ import annotations

import io
import json
import subprocess
import tarfile
from pathlib import Path
from typing import Any

from support.engine import PortsideEngine


def write_context(root: Path, files: dict[str, str | bytes]) -> Path:
    """Create ``files`` under ``root``; returns ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        p = root / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def tar_of(files: dict[str, str | bytes]) -> bytes:
    """An uncompressed tar of ``files`` (regular files, mode 0644)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, content in files.items():
            data = content.encode() if isinstance(content, str) else content
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            ti.mode = 0o644
            tar.addfile(ti, io.BytesIO(data))
    return buf.getvalue()


def docker_build(
    engine: PortsideEngine, *args: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """``docker build`` with the classic builder (no check on the exit code)."""
    env = engine.env()
    env["DOCKER_BUILDKIT"] = "0"
    return subprocess.run(
        ["docker", "build", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def build_api(
    engine: PortsideEngine, body: bytes, query: str = "", headers: dict[str, str] | None = None
) -> tuple[int, list[dict[str, Any]]]:
    """``POST /build`` raw: status and the decoded lines (or the error document)."""
    r = engine.api(
        "POST",
        f"/v1.47/build?{query}",
        content=body,
        headers={"Content-Type": "application/x-tar", **(headers or {})},
        timeout=180,
    )
    if r.status_code != 200:
        return r.status_code, [r.json()]
    return 200, [json.loads(line) for line in r.text.splitlines() if line.strip()]


def stream_text(lines: list[dict[str, Any]]) -> str:
    """The ``stream`` messages joined."""
    return "".join(m.get("stream", "") for m in lines)
