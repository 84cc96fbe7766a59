"""Hostile or broken archives through ``POST /images/load`` and ``docker load``:
a clear 400, nothing written outside the data-root, nothing left in the stores."""

from __future__ import annotations

import json
import os
import subprocess
import time

import pytest
from tarkit import archive, d, digest, f, hard, snapshot, sym, tar


@pytest.fixture
def outside(engine):
    """A directory next to the data-root that no load may touch."""
    p = engine.base / "outside"
    p.mkdir()
    (p / "keep").write_text("keep")
    return p


def load(engine, data: bytes):
    return engine.api(
        "POST", "/images/load?quiet=1", content=data, headers={"Content-Type": "application/x-tar"}
    )


def load_error(r) -> str:
    """The error of a failed load: as dockerd, a 200 whose stream ends in errorDetail."""
    assert r.status_code == 200, r.text
    last = json.loads(r.text.splitlines()[-1])
    assert last["error"] == last["errorDetail"]["message"], last
    return last["error"]


def assert_clean(engine, outside, before):
    assert snapshot(outside) == before
    layers = engine.data_root / "layers"
    assert sorted(p.name for p in layers.iterdir()) == ["tmp"]
    assert list((layers / "tmp").iterdir()) == []
    assert list((engine.data_root / "blobs" / "tmp").iterdir()) == []
    assert engine.api("GET", "/images/json").json() == []


HOSTILE = {
    "dotdot": (lambda out: [tar(f("../../outside/evil", b"!"))], "path escapes the layer"),
    "hardlink-to-host": (lambda out: [tar(hard("pw", "/etc/passwd"))], "is not in the layer"),
    "hardlink-up": (lambda out: [tar(hard("pw", f"../../../..{out}/keep"))], "path escapes"),
    "symlink-dir": (
        lambda out: [tar(sym("link", str(out)), f("link/evil", b"!"))],
        "through symlink",
    ),
    "symlink-chain": (
        lambda out: [tar(d("a"), sym("a/b", "../c"), sym("c", str(out)), f("a/b/evil"))],
        "through symlink",
    ),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_layers_are_refused(engine, outside, case):
    make, words = HOSTILE[case]
    before = snapshot(outside)
    passwd = os.stat("/etc/passwd")
    r = load(engine, archive(make(outside), tags=["evil:1"]))
    assert words in load_error(r)
    assert os.stat("/etc/passwd").st_nlink == passwd.st_nlink
    assert_clean(engine, outside, before)


def test_hostile_layer_through_the_cli(engine, outside, tmp_path):
    before = snapshot(outside)
    bad = tmp_path / "bad.tar"
    bad.write_bytes(archive([tar(sym("x", str(outside)), f("x/pwned", b"!"))], tags=["evil"]))
    r = engine.docker("load", "-i", str(bad), check=False)
    assert r.returncode == 1
    assert "through symlink" in r.stderr
    assert_clean(engine, outside, before)


def test_unreferenced_hostile_member_is_harmless(engine, outside):
    """A stray member nobody references is unpacked safely and then dropped."""
    before = snapshot(outside)
    good = tar(f("ok", b"fine"))
    stray = f("junk/layer.tar", tar(sym("l", str(outside)), f("l/evil")))
    r = load(engine, archive([good], tags=["good:1"], extra=[stray]))
    assert r.status_code == 200, r.text
    assert snapshot(outside) == before
    layers = engine.data_root / "layers"
    assert sorted(p.name for p in layers.iterdir()) == sorted(["tmp", digest(good)[7:]])


BROKEN = {
    "not-a-tar": (b"hello, this is not an archive" * 50, "checksum"),
    "no-manifest": (tar(f("some/file", b"x")), "no manifest.json or index.json"),
    "missing-layer": (
        archive([tar(f("a"))], tags=["x"], omit_layers=True),
        "layer layer0/layer.tar is missing",
    ),
    "diff-id-mismatch": (
        archive([tar(f("a", b"real"))], diff_ids=[digest(b"something else")], tags=["x"]),
        "diff-id",
    ),
    "bad-manifest-json": (tar(f("manifest.json", b"[{not json")), "not valid JSON"),
    "bad-config": (
        tar(
            f("c.json", b'{"rootfs": 5}'),
            f("manifest.json", json.dumps([{"Config": "c.json", "Layers": []}]).encode()),
        ),
        "invalid image config",
    ),
    "truncated": (archive([tar(f("a", b"y" * 4000))], tags=["x"])[:3000], "unexpected end"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_archives_say_what_is_wrong(engine, outside, case):
    data, words = BROKEN[case]
    before = snapshot(outside)
    r = load(engine, data)
    assert words in load_error(r)
    assert_clean(engine, outside, before)


def test_client_disconnect_mid_upload_leaves_nothing(engine, outside, busybox_tar):
    before = snapshot(outside)
    data = busybox_tar.read_bytes()[:1_500_000]
    # curl sends the head of the archive and is killed mid-request.
    proc = subprocess.Popen(
        [
            "curl",
            "-s",
            "--unix-socket",
            str(engine.socket),
            "-X",
            "POST",
            "-H",
            "Content-Type: application/x-tar",
            "-H",
            "Transfer-Encoding: chunked",
            "-T",
            "-",
            "http://x/images/load",
        ],
        stdin=subprocess.PIPE,
    )
    assert proc.stdin is not None
    proc.stdin.write(data)
    proc.stdin.flush()
    tmp = engine.data_root / "layers" / "tmp"
    for _ in range(100):  # the layer is being unpacked when the client vanishes
        if any(tmp.iterdir()):
            break
        time.sleep(0.02)
    assert any(tmp.iterdir()), "the load never started unpacking"
    proc.kill()
    proc.wait()
    for _ in range(100):
        if not any(tmp.iterdir()):
            break
        time.sleep(0.05)
    assert_clean(engine, outside, before)
    assert engine.api("GET", "/_ping").status_code == 200


def test_engine_killed_mid_load_recovers(engine, busybox_tar):
    """SIGKILL while a layer is half unpacked: the restart clears it, the store is sane."""
    data = busybox_tar.read_bytes()
    proc = subprocess.Popen(
        [
            "curl",
            "-s",
            "--unix-socket",
            str(engine.socket),
            "-X",
            "POST",
            "-H",
            "Transfer-Encoding: chunked",
            "-T",
            "-",
            "http://x/images/load",
        ],
        stdin=subprocess.PIPE,
    )
    assert proc.stdin is not None
    proc.stdin.write(data[: len(data) // 2])
    proc.stdin.flush()
    tmp = engine.data_root / "layers" / "tmp"
    for _ in range(100):  # wait until the extraction is under way
        if any(tmp.iterdir()):
            break
        time.sleep(0.02)
    assert any(tmp.iterdir()), "the load never started unpacking"
    engine.kill9()
    proc.kill()
    proc.wait()
    engine.start()
    assert list(tmp.iterdir()) == []
    assert sorted(p.name for p in (engine.data_root / "layers").iterdir()) == ["tmp"]
    assert engine.api("GET", "/images/json").json() == []
    engine.docker("load", "-i", str(busybox_tar))
    assert engine.docker("images", "-q").stdout.strip()
