"""Bundle.load: the manifest and the files' checksums decide whether a bundle is used."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from portside.vm.image import Bundle, BundleError, default_bundle_dir
from portside.vm.image.bundle import BUNDLE_FORMAT, write_manifest


def fake_bundle(root: Path) -> Path:
    root.mkdir()
    (root / "kernel").write_bytes(b"kernel bytes")
    (root / "initrd").write_bytes(b"initrd bytes")
    (root / "disk.qcow2").write_bytes(b"disk bytes" * 1000)
    write_manifest(root, version="0.1.0-abc", created="2026-01-01T00:00:00Z", input_hash="abc")
    return root


def test_a_complete_bundle_loads(tmp_path: Path) -> None:
    b = Bundle.load(fake_bundle(tmp_path / "b"))
    assert b.version == "0.1.0-abc"
    assert b.kernel.read_bytes() == b"kernel bytes"
    assert b.disk.name == "disk.qcow2" and b.initrd.name == "initrd"
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    assert manifest["format"] == BUNDLE_FORMAT and manifest["input_hash"] == "abc"
    assert set(manifest["files"]) == {"kernel", "initrd", "disk.qcow2"}


def test_a_corrupt_file_is_refused(tmp_path: Path) -> None:
    root = fake_bundle(tmp_path / "b")
    (root / "disk.qcow2").write_bytes(b"disk bytes" * 999 + b"DISK BYTES")
    with pytest.raises(BundleError, match=r"corrupt: disk\.qcow2 does not match"):
        Bundle.load(root)
    # Without verification the same bundle loads (the caller chose speed over checking).
    assert Bundle.load(root, verify=False).version == "0.1.0-abc"


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    root = fake_bundle(tmp_path / "b")
    (root / "initrd").unlink()
    with pytest.raises(BundleError, match="missing initrd"):
        Bundle.load(root, verify=False)


def test_no_bundle_says_how_to_build_one(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match=r"no VM bundle at .*python -m portside\.vm\.image build"):
        Bundle.load(tmp_path / "nothing")


def test_an_outdated_format_is_refused(tmp_path: Path) -> None:
    root = fake_bundle(tmp_path / "b")
    manifest = json.loads((root / "manifest.json").read_text())
    manifest["format"] = BUNDLE_FORMAT - 1
    (root / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(BundleError, match="rebuild it"):
        Bundle.load(root)


def test_a_garbled_manifest_is_refused(tmp_path: Path) -> None:
    root = fake_bundle(tmp_path / "b")
    (root / "manifest.json").write_text("{not json")
    with pytest.raises(BundleError, match="unreadable manifest"):
        Bundle.load(root)


def test_default_bundle_dir_honours_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PORTSIDE_BUNDLE", str(tmp_path / "elsewhere"))
    assert default_bundle_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("PORTSIDE_BUNDLE")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert default_bundle_dir() == tmp_path / "cache" / "portside" / "vm-bundle"
