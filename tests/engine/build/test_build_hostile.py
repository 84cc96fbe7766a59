"""Hostile build contexts: every escape is a 400 and nothing is written outside the
build's private directory (which is gone afterwards)."""

from __future__ import annotations

import io
import tarfile
import uuid
from pathlib import Path

import pytest
from buildctx import build_api
from support.engine import PortsideEngine


def _tar(
    entries: list[tarfile.TarInfo],
    payloads: dict[str, bytes] | None = None,
    df: bytes = b"FROM busybox\nCOPY . /ctx/\n",
) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        ti = tarfile.TarInfo("Dockerfile")
        ti.size = len(df)
        tar.addfile(ti, io.BytesIO(df))
        for e in entries:
            data = (payloads or {}).get(e.name, b"")
            e.size = len(data) if e.isreg() else 0
            tar.addfile(e, io.BytesIO(data) if e.isreg() else None)
    return buf.getvalue()


def _entry(name: str, kind: bytes = tarfile.REGTYPE, link: str = "") -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.linkname = link
    ti.mode = 0o644
    if kind == tarfile.CHRTYPE:
        ti.devmajor, ti.devminor = 1, 3
    return ti


def _cases(outside: Path) -> dict[str, bytes]:
    rel = "../" * 12 + str(outside).lstrip("/")
    return {
        "dotdot": _tar([_entry(rel)], {rel: b"x"}),
        "absolute": _tar([_entry(str(outside))], {str(outside): b"x"}),
        "symlink-escape": _tar(
            [_entry("up", tarfile.SYMTYPE, str(outside.parent)), _entry(f"up/{outside.name}")],
            {f"up/{outside.name}": b"x"},
        ),
        "hardlink-escape": _tar([_entry("hl", tarfile.LNKTYPE, rel)]),
        "device": _tar([_entry("null", tarfile.CHRTYPE)]),
        "truncated": _tar([_entry("big")], {"big": b"y" * 4096})[:1500],
    }


@pytest.mark.parametrize(
    "case", ["dotdot", "absolute", "symlink-escape", "hardlink-escape", "device", "truncated"]
)
def test_hostile_context_is_refused(
    shared_engine: PortsideEngine, tmp_path: Path, case: str
) -> None:
    outside = tmp_path / f"escaped-{uuid.uuid4().hex[:8]}"
    status, doc = build_api(shared_engine, _cases(outside)[case])
    assert status == 400, doc
    assert doc[0]["message"]
    assert not outside.exists()
    leftovers = list((shared_engine.data_root / "build" / "tmp").iterdir())
    assert leftovers == []


def test_symlinks_inside_the_context_stay_inside(shared_engine: PortsideEngine) -> None:
    """A symlink to ``/etc/passwd`` in the context is kept as a symlink and COPY resolves it
    inside the context, as dockerd does: the host's files are never read."""
    body = _tar([_entry("pw", tarfile.SYMTYPE, "/etc/passwd")], df=b"FROM busybox\nCOPY pw /p\n")
    status, lines = build_api(shared_engine, body)
    assert status == 200
    assert "file not found in build context" in lines[-1]["error"]
