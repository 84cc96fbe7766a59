"""The content store: atomic, verified, and clean after failures, crashes and full disks."""

from __future__ import annotations

import hashlib
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from portside.engine.errors import InvalidParameter, NotFound, SystemError_
from portside.engine.store.blobs import ContentStore, DigestMismatch


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


async def chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for p in parts:
        yield p


@pytest.fixture
def store(tmp_path: Path) -> ContentStore:
    s = ContentStore(tmp_path / "blobs")
    s.start()
    return s


def temp_files(store: ContentStore) -> list[Path]:
    return list(store.tmp.iterdir())


async def test_write_read_has_delete(store):
    digest = await store.write(b"hello")
    assert digest == sha(b"hello")
    assert store.has(digest) and store.size(digest) == 5
    assert await store.read(digest) == b"hello"
    assert await store.write(b"hello", expected_digest=digest) == digest  # idempotent
    await store.delete(digest)
    assert not store.has(digest)
    with pytest.raises(NotFound):
        await store.read(digest)
    assert temp_files(store) == []


async def test_write_with_wrong_digest_leaves_nothing(store):
    with pytest.raises(DigestMismatch):
        await store.write(b"hello", expected_digest=sha(b"other"))
    assert not store.has(sha(b"hello")) and not store.has(sha(b"other"))
    assert temp_files(store) == []


async def test_bad_digest_strings_are_refused(store):
    for bad in ("md5:abc", "sha256:XYZ", "sha256:" + "a" * 63, "../../etc/passwd"):
        with pytest.raises(InvalidParameter):
            store.path(bad)


async def test_ingest_streams_and_verifies(store):
    data = [b"a" * 700_000, b"b" * 700_000, b"c"]
    whole = b"".join(data)
    digest = await store.ingest(chunks(*data), sha(whole), len(whole))
    assert digest == sha(whole) and store.path(digest).read_bytes() == whole
    assert temp_files(store) == []


async def test_ingest_mismatch_leaves_nothing(store):
    with pytest.raises(DigestMismatch):
        await store.ingest(chunks(b"evil"), sha(b"good"))
    assert not store.has(sha(b"good")) and not store.has(sha(b"evil"))
    assert temp_files(store) == []


async def test_ingest_size_checks(store):
    with pytest.raises(DigestMismatch, match="larger than"):
        await store.ingest(chunks(b"12345", b"6789"), sha(b"123456789"), 5)
    with pytest.raises(DigestMismatch, match="has 3 bytes"):
        await store.ingest(chunks(b"123"), sha(b"123"), 4)
    assert temp_files(store) == []


async def test_failing_source_keeps_its_error_and_leaves_nothing(store):
    async def broken() -> AsyncIterator[bytes]:
        yield b"part"
        raise ConnectionResetError("peer went away")

    with pytest.raises(ConnectionResetError):
        await store.ingest(broken(), sha(b"partial"))
    assert temp_files(store) == []


def test_orphan_temp_files_are_removed_at_start(tmp_path: Path):
    s = ContentStore(tmp_path / "blobs")
    s.start()
    (s.tmp / "crashed-write").write_bytes(b"half")
    (s.tmp / "crashed-dir").mkdir()
    ContentStore(tmp_path / "blobs").start()
    assert temp_files(s) == []


@pytest.fixture
def tiny_fs(tmp_path: Path):
    """A 1 MiB tmpfs: a real ENOSPC."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mnt)], check=True)
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


async def test_disk_full_is_a_clear_error_and_nothing_is_half_written(tiny_fs: Path):
    s = ContentStore(tiny_fs / "blobs")
    s.start()
    big = b"z" * (3 << 20)
    with pytest.raises(SystemError_, match="no space left on device"):
        await s.write(big)
    with pytest.raises(SystemError_, match="no space left on device"):
        await s.ingest(chunks(big[: 1 << 20], big[1 << 20 :]), sha(big), len(big))
    assert not s.has(sha(big)) and temp_files(s) == []
    assert await s.write(b"small") == sha(b"small")  # still usable afterwards


async def test_cancelled_ingest_is_clean_when_the_cancellation_arrives(store):
    import asyncio

    started = asyncio.Event()

    async def slow() -> AsyncIterator[bytes]:
        yield b"x" * (2 << 20)  # big enough to reach the executor
        started.set()
        await asyncio.Event().wait()
        yield b"never"

    task = asyncio.create_task(store.ingest(slow(), sha(b"whatever")))
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert temp_files(store) == []  # at once, not eventually


async def test_cancelled_at_the_commit_point_leaves_no_new_blob(store, monkeypatch):
    """A cancellation that lands while the verified blob is being renamed into place:
    the rename completes, then is undone — the caller sees a cancelled, empty store."""
    import asyncio
    import threading

    renaming = threading.Event()
    release = threading.Event()
    real = store._publish

    def slow_publish(tmp, digest):
        renaming.set()
        release.wait(5)
        real(tmp, digest)

    monkeypatch.setattr(store, "_publish", slow_publish)
    task = asyncio.create_task(store.ingest(chunks(b"payload"), sha(b"payload")))
    await asyncio.get_running_loop().run_in_executor(None, renaming.wait, 5)
    task.cancel()
    await asyncio.sleep(0.01)
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert not store.has(sha(b"payload")) and temp_files(store) == []
    monkeypatch.setattr(store, "_publish", real)
    assert await store.write(b"payload") == sha(b"payload")  # and the store still works
