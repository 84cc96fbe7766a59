"""A load of something that is not an image archive fails as with dockerd: a 200 whose
stream ends in ``errorDetail``, so docker-py raises ImageLoadError and the CLI prints the
error and exits 1; nothing is left behind."""

from __future__ import annotations

import json

import docker
import pytest
from tarkit import f, tar

NOT_AN_ARCHIVE = b"hello, this is not an archive\n" * 40


def test_load_of_a_non_archive_reports_in_the_stream(engine):
    r = engine.api(
        "POST",
        "/images/load",
        content=NOT_AN_ARCHIVE,
        headers={"Content-Type": "application/x-tar"},
    )
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/json"
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert len(lines) == 1 and set(lines[0]) == {"errorDetail", "error"}
    assert lines[0]["errorDetail"] == {"message": lines[0]["error"]}
    assert "checksum" in lines[0]["error"]
    assert engine.api("GET", "/images/json").json() == []


def test_docker_py_raises_image_load_error(engine):
    client = engine.client()
    try:
        with pytest.raises(docker.errors.ImageLoadError) as exc:
            client.images.load(NOT_AN_ARCHIVE)
        assert "checksum" in str(exc.value)
        with pytest.raises(docker.errors.ImageLoadError) as exc:
            client.images.load(tar(f("some/file", b"x")))
        assert "no manifest.json or index.json" in str(exc.value)
        assert client.images.list() == []
    finally:
        client.close()


def test_cli_load_prints_the_error_and_exits_1(engine, tmp_path):
    bad = tmp_path / "bad.tar"
    bad.write_bytes(NOT_AN_ARCHIVE)
    res = engine.docker("load", "-i", str(bad), check=False)
    assert res.returncode == 1
    assert "checksum" in res.stderr and "Error response from daemon" not in res.stderr
    assert res.stdout == ""
    res = engine.docker("load", check=False, input=tar(f("etc/hosts", b"x")))
    assert res.returncode == 1
    assert "no manifest.json or index.json" in res.stderr, res.stderr
    assert engine.docker("images", "-q").stdout == ""
