"""Interrupted pulls: a client that goes away, and an engine killed with SIGKILL.

A throttling proxy in front of the registry makes the big layer take seconds, so the
interruption reliably lands mid-download.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from support.images import busybox_rootfs_tar
from support.registry import (
    PushedImage,
    Registry,
    ThrottleProxy,
    file_layer,
    settled_store_state,
)

BIG = 24 << 20  # incompressible, so the wire carries all of it


@pytest.fixture
def slow(registry: Registry) -> Iterator[tuple[ThrottleProxy, PushedImage]]:
    """The registry behind a 4 MB/s proxy, holding a two-layer image with a big layer."""
    p = registry.pusher()
    img = p.push_image(
        "test/big", "1", [busybox_rootfs_tar(), file_layer({"big.bin": os.urandom(BIG)})]
    )
    p.close()
    proxy = ThrottleProxy(registry.port, rate=4 << 20).start()
    try:
        yield proxy, img
    finally:
        proxy.stop()


def _wait_for_partial_blob(data_root: Any, min_bytes: int, timeout: float = 30) -> None:
    tmp = data_root / "blobs" / "tmp"
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if tmp.is_dir():
            for f in tmp.iterdir():
                try:
                    if f.stat().st_size >= min_bytes:
                        return
                except FileNotFoundError:
                    pass
        time.sleep(0.05)
    raise AssertionError("the big layer never started downloading")


def _assert_clean_store(data_root: Any, img: PushedImage | None) -> None:
    st = settled_store_state(data_root)
    assert st.temp_files == []
    if img is None:
        assert st.blobs == set() and st.layers == set()
    else:
        assert st.layers == set(img.diff_ids)
        assert st.blobs == set(img.layer_digests) | {img.config_digest}


def test_engine_killed_mid_pull_then_same_pull_succeeds(engine, slow):
    proxy, img = slow
    ref = f"{proxy.host}/test/big:1"
    cli = subprocess.Popen(
        ["docker", "pull", ref],
        env=engine.env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        _wait_for_partial_blob(engine.data_root, 2 << 20)
        engine.kill9()
    finally:
        cli.kill()
        cli.wait()
    # Leftovers of the killed pull exist now; a restart must clear every one of them.
    engine.start()
    _assert_clean_store(engine.data_root, None)
    proxy.rate = 0
    out = engine.docker("pull", ref, timeout=120).stdout
    assert f"Status: Downloaded newer image for {ref}" in out
    info = json.loads(engine.docker("image", "inspect", ref).stdout)[0]
    assert info["Id"] == img.image_id
    _assert_clean_store(engine.data_root, img)


def test_client_gone_mid_pull_leaves_nothing_half_made(engine, slow):
    proxy, img = slow
    transport = httpx.HTTPTransport(uds=str(engine.socket))
    with httpx.Client(transport=transport, base_url="http://portside", timeout=60) as c:
        with c.stream(
            "POST", "/images/create", params={"fromImage": f"{proxy.host}/test/big", "tag": "1"}
        ) as resp:
            assert resp.status_code == 200
            big = img.layer_digests[1][7:19]
            for line in resp.iter_lines():
                ev = json.loads(line)
                if ev.get("id") == big and ev.get("status") == "Downloading":
                    if ev["progressDetail"]["current"] > (1 << 20):
                        break
    # The connection is closed: the engine notices at its next progress write, cancels
    # the pull and removes what it had stored.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        st = settled_store_state(engine.data_root)
        if not st.temp_files and not st.blobs and not st.layers:
            break
        time.sleep(0.1)
    _assert_clean_store(engine.data_root, None)
    assert engine.docker("images", "-q").stdout.strip() == ""
    proxy.rate = 0
    engine.docker("pull", f"{proxy.host}/test/big:1", timeout=120)
    _assert_clean_store(engine.data_root, img)


def test_start_up_drops_blobs_a_killed_pull_had_journaled(engine):
    import sqlite3

    from support.registry import sha256

    engine.kill9()
    data = b"half of a pull"
    digest = sha256(data)
    orphan = engine.data_root / "blobs" / "sha256" / digest[7:]
    orphan.write_bytes(data)
    db = sqlite3.connect(engine.data_root / "portside.db")
    db.execute("INSERT INTO dist_inflight (digest) VALUES (?)", (digest,))
    db.commit()
    db.close()
    engine.start()
    assert not orphan.exists()
    db = sqlite3.connect(engine.data_root / "portside.db")
    assert db.execute("SELECT COUNT(*) FROM dist_inflight").fetchone()[0] == 0
    db.close()
