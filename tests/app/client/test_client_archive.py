"""Listing directories and reading files from archive-API tar streams."""

from __future__ import annotations

import io
import tarfile

import pytest
from portside.app.client.archive import iter_tar, list_directory


def _tar(entries, fmt=tarfile.GNU_FORMAT) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as tf:
        for name, kind, data in entries:
            info = tarfile.TarInfo(name)
            info.mtime = 1_700_000_000
            if kind == "dir":
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tf.addfile(info)
            elif kind == "symlink":
                info.type = tarfile.SYMTYPE
                info.linkname = data
                tf.addfile(info)
            else:
                info.size = len(data)
                info.mode = 0o644
                tf.addfile(info, io.BytesIO(data))
    return buf.getvalue()


async def _chunks(data: bytes, size: int = 100):
    for i in range(0, len(data), size):
        yield data[i : i + size]


LONG = "d" * 150


@pytest.mark.parametrize("fmt", [tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
async def test_list_directory_keeps_direct_children(fmt):
    data = _tar(
        [
            ("etc", "dir", None),
            ("etc/hostname", "file", b"box\n"),
            ("etc/ssl", "dir", None),
            ("etc/ssl/certs.pem", "file", b"x" * 3000),
            (f"etc/{LONG}", "file", b"long name"),
            ("etc/localtime", "symlink", "/usr/share/zoneinfo/UTC"),
        ],
        fmt,
    )
    children = await list_directory(_chunks(data, 77))
    assert [(c.basename, c.kind) for c in children] == [
        ("ssl", "dir"),
        (LONG, "file"),
        ("hostname", "file"),
        ("localtime", "symlink"),
    ]
    by_name = {c.basename: c for c in children}
    assert by_name["hostname"].size == 4 and by_name["hostname"].permissions == "-rw-r--r--"
    assert by_name["ssl"].permissions == "drwxr-xr-x"
    assert by_name["localtime"].linkname == "/usr/share/zoneinfo/UTC"


async def test_list_root_archive_named_dot():
    data = _tar(
        [
            (".", "dir", None),
            ("./bin", "dir", None),
            ("./bin/sh", "file", b"#!"),
            ("./x", "file", b""),
        ]
    )
    children = await list_directory(_chunks(data))
    assert [c.basename for c in children] == ["bin", "x"]


async def test_file_body_is_delivered_in_pieces():
    payload = bytes(range(256)) * 40
    data = _tar([("blob.bin", "file", payload)])
    got = bytearray()

    async def on_data(entry, piece):
        got.extend(piece)

    entries = [e async for e in iter_tar(_chunks(data, 333), on_data)]
    assert [e.name for e in entries] == ["blob.bin"] and bytes(got) == payload


async def test_truncated_archive_is_an_error():
    data = _tar([("big", "file", b"y" * 5000)])[:2000]
    with pytest.raises(ValueError):
        await list_directory(_chunks(data))
