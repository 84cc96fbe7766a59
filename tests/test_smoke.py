"""The daemon starts, answers the CLI's first calls and refuses bad versions."""

from __future__ import annotations


def test_ping_and_version(engine):
    r = engine.api("GET", "/_ping")
    assert r.status_code == 200 and r.text == "OK"
    assert r.headers["Api-Version"] == "1.47"
    out = engine.docker("version", "--format", "{{.Server.APIVersion}}").stdout.strip()
    assert out == "1.47"


def test_versioned_paths_and_limits(engine):
    assert engine.api("GET", "/v1.24/version").status_code == 200
    r = engine.api("GET", "/v1.99/version")
    assert r.status_code == 400
    assert "too new" in r.json()["message"]
    r = engine.api("GET", "/v1.12/version")
    assert r.status_code == 400 and "too old" in r.json()["message"]


def test_unknown_path_is_json_404(engine):
    r = engine.api("GET", "/nope")
    assert r.status_code == 404 and r.json() == {"message": "page not found"}


def test_second_engine_on_same_data_root_is_refused(engine):
    import subprocess
    import sys

    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "portside.engine",
            "-H",
            f"unix://{engine.base}/other.sock",
            "--data-root",
            str(engine.data_root),
            "--exec-root",
            str(engine.base / "exec2"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert res.returncode != 0
    assert "in use by another engine" in res.stderr
