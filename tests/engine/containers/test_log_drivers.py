"""Log drivers with the real docker CLI and docker-py: ``none`` keeps nothing and cannot
be read, ``local`` and ``json-file`` keep logs, ``json-file``'s ``max-size``/``max-file``
/``compress`` rotate and bound them while ``docker logs`` reads across the generations,
unknown drivers and options get dockerd's wording, and the daemon's ``log-driver`` /
``log-opts`` are the defaults."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import docker
import pytest
from iohelp import uniq
from support.engine import PortsideEngine


def _log_config(engine, ref: str) -> dict:  # type: ignore[no-untyped-def]
    out = engine.docker("inspect", "--format", "{{json .HostConfig.LogConfig}}", ref).stdout
    return json.loads(out)


def _log_dir(engine, ref: str) -> Path:  # type: ignore[no-untyped-def]
    cid = engine.docker("inspect", "--format", "{{.Id}}", ref).stdout.strip()
    return engine.data_root / "containers" / cid


def test_none_keeps_nothing_and_cannot_be_read(shared_engine):
    e = shared_engine
    name = uniq("nolog")
    res = e.docker("run", "--name", name, "--log-driver", "none", "busybox", "echo", "hi")
    try:
        assert res.stdout == "hi\n"  # attached output does not depend on the driver
        assert _log_config(e, name) == {"Type": "none", "Config": {}}
        assert e.docker("inspect", "--format", "{{.LogPath}}", name).stdout.strip() == ""
        res = e.docker("logs", name, check=False)
        assert res.returncode == 1
        assert res.stderr == (
            "Error response from daemon: configured logging driver does not support reading\n"
        )
        r = e.api("GET", f"/containers/{name}/logs?stdout=1")
        assert (r.status_code, r.json()) == (
            501,
            {"message": "configured logging driver does not support reading"},
        )
        log = _log_dir(e, name) / "ctr.log"
        assert not log.exists() or log.stat().st_size == 0
        client = e.client()
        try:
            with pytest.raises(docker.errors.APIError) as exc:
                client.containers.get(name).logs()
            assert exc.value.status_code == 501
        finally:
            client.close()
    finally:
        e.docker("rm", "-f", name, check=False)


def test_local_driver_keeps_and_reads_logs(shared_engine):
    e = shared_engine
    name = uniq("local")
    e.docker(
        "run", "--name", name, "--log-driver", "local", "busybox", "sh", "-c", "echo a; echo b >&2"
    )
    try:
        assert _log_config(e, name) == {"Type": "local", "Config": {}}
        res = e.docker("logs", name)
        assert (res.stdout, res.stderr) == ("a\n", "b\n")
        assert e.docker("inspect", "--format", "{{.LogPath}}", name).stdout.strip() == ""
    finally:
        e.docker("rm", "-f", name, check=False)


def test_unknown_drivers_and_options_are_refused_at_create(shared_engine):
    e = shared_engine
    res = e.docker("create", "--log-driver", "asdf", "busybox", check=False)
    assert res.returncode == 1
    assert "Error response from daemon: logger: no log driver named 'asdf' is registered" in (
        res.stderr
    )
    r = e.api(
        "POST",
        "/containers/create",
        json={"Image": "busybox", "HostConfig": {"LogConfig": {"Type": "asdf", "Config": {}}}},
    )
    assert (r.status_code, r.json()) == (
        400,
        {"message": "logger: no log driver named 'asdf' is registered"},
    )
    res = e.docker("create", "--log-opt", "foo=bar", "busybox", check=False)
    assert "unknown log opt 'foo' for json-file log driver" in res.stderr, res.stderr
    res = e.docker(
        "create", "--log-driver", "local", "--log-opt", "foo=bar", "busybox", check=False
    )
    assert "unknown log opt 'foo' for log driver local" in res.stderr, res.stderr
    res = e.docker("create", "--log-opt", "mode=sometimes", "busybox", check=False)
    assert "logger: logging mode not supported: sometimes" in res.stderr, res.stderr
    assert e.docker("ps", "-aq", "--filter", "ancestor=busybox").stdout == ""


@pytest.mark.parametrize(
    "opts, message",
    [
        (["max-size=abc"], "invalid size: 'abc'"),
        (["max-size=1k", "max-file=0"], "max-file cannot be less than 1"),
        (["max-file=x"], 'strconv.Atoi: parsing "x": invalid syntax'),
        (
            ["compress=true"],
            "compress cannot be true when max-file is less than 2 or max-size is not set",
        ),
    ],
)
def test_bad_option_values_fail_at_start(shared_engine, opts, message):
    e = shared_engine
    name = uniq("badopt")
    args = [a for o in opts for a in ("--log-opt", o)]
    try:
        res = e.docker("run", "--name", name, *args, "busybox", "true", check=False)
        assert res.returncode == 125
        assert f"failed to initialize logging driver: {message}" in res.stderr, res.stderr
    finally:
        e.docker("rm", "-f", name, check=False)


def _numbered_lines(count: int) -> str:
    # Paced so that a file fills in about 0.1 s: the engine (and a `logs -f` reader) must
    # see each rotation before the next one, which a loaded test machine can delay by
    # tens of milliseconds; real sizes (megabytes) leave far more room.
    return f"i=0; while [ $i -lt {count} ]; do echo line-$i; i=$((i+1)); usleep 5000; done"


def test_json_file_rotation_bounds_the_log_and_reads_across_files(shared_engine):
    e = shared_engine
    name = uniq("rot")
    e.docker(
        "run", "--name", name, "--log-opt", "max-size=2k", "--log-opt", "max-file=3",
        "busybox", "sh", "-c", _numbered_lines(400),
    )  # fmt: skip
    try:
        assert _log_config(e, name) == {
            "Type": "json-file",
            "Config": {"max-file": "3", "max-size": "2k"},
        }
        d = _log_dir(e, name)
        files = sorted(p.name for p in d.iterdir() if p.name.startswith("ctr.log"))
        # the current file, two older generations, and the engine's two held names
        held = ["ctr.log.live", "ctr.log.next", "ctr.log.tmp"]
        assert files == ["ctr.log", "ctr.log.1", "ctr.log.2", *held], files
        assert (d / "ctr.log.live").stat().st_ino == (d / "ctr.log").stat().st_ino
        for f in ("ctr.log", "ctr.log.1", "ctr.log.2"):
            assert (d / f).stat().st_size <= 2000
        lines = e.docker("logs", name).stdout.splitlines()
        # the most recent lines, with no gap, and no more than the three files hold
        numbers = [int(line.split("-")[1]) for line in lines]
        assert numbers[-1] == 399
        assert numbers == list(range(numbers[0], 400))
        assert 2 * 2000 // 60 < len(numbers) < 3 * 2000 // 40
        tail = e.docker("logs", "--tail", "5", name).stdout.split()
        assert tail == [f"line-{i}" for i in range(395, 400)]
    finally:
        e.docker("rm", "-f", name, check=False)


def test_json_file_compress_and_follow_across_rotations(shared_engine):
    e = shared_engine
    name = uniq("gz")
    e.docker(
        "run", "-d", "--name", name, "--log-opt", "max-size=1k", "--log-opt", "max-file=4",
        "--log-opt", "compress=true", "busybox", "sh", "-c",
        "sleep 1; " + _numbered_lines(300),
    )  # fmt: skip
    try:
        # `docker logs -f` started before the rotations sees every line once, in order
        res = e.docker("logs", "-f", name, timeout=60)
        assert res.stdout.split() == [f"line-{i}" for i in range(300)]
        d = _log_dir(e, name)
        names = sorted(p.name for p in d.iterdir() if p.name.startswith("ctr.log"))
        assert names == [
            "ctr.log", "ctr.log.1.gz", "ctr.log.2.gz", "ctr.log.3.gz",
            "ctr.log.live", "ctr.log.next", "ctr.log.tmp",
        ]  # fmt: skip
        assert b"stdout F line-" in gzip.decompress((d / "ctr.log.1.gz").read_bytes())
        lines = e.docker("logs", name).stdout.split()
        assert lines[-1] == "line-299"
        first = int(lines[0].split("-")[1])
        assert lines == [f"line-{i}" for i in range(first, 300)]
    finally:
        e.docker("rm", "-f", name, check=False)


def test_max_size_alone_truncates_in_place(shared_engine):
    e = shared_engine
    name = uniq("trunc")
    e.docker(
        "run", "--name", name, "--log-opt", "max-size=1k", "busybox", "sh", "-c",
        _numbered_lines(100),
    )  # fmt: skip
    try:
        d = _log_dir(e, name)
        assert sorted(p.name for p in d.iterdir() if p.name.startswith("ctr.log")) == ["ctr.log"]
        assert (d / "ctr.log").stat().st_size <= 1000
        lines = e.docker("logs", name).stdout.split()
        assert lines[-1] == "line-99" and 5 < len(lines) < 30
    finally:
        e.docker("rm", "-f", name, check=False)


def test_daemon_log_driver_and_opts_are_the_defaults(busybox_tar):
    e = PortsideEngine(extra_config={"log-driver": "json-file", "log-opts": {"max-size": "5k"}})
    try:
        e.start()
        e.docker("load", "-i", str(busybox_tar))
        assert e.docker("info", "--format", "{{.LoggingDriver}}").stdout.strip() == "json-file"
        e.docker("create", "--name", "dflt", "busybox")
        assert _log_config(e, "dflt") == {"Type": "json-file", "Config": {"max-size": "5k"}}
        e.docker("create", "--name", "own", "--log-opt", "max-size=9k", "busybox")
        assert _log_config(e, "own") == {"Type": "json-file", "Config": {"max-size": "9k"}}
        e.docker("create", "--name", "other", "--log-driver", "local", "busybox")
        assert _log_config(e, "other") == {"Type": "local", "Config": {}}
    finally:
        e.cleanup()
    e = PortsideEngine(extra_config={"log-driver": "none"})
    try:
        e.start()
        e.docker("load", "-i", str(busybox_tar))
        assert e.docker("info", "--format", "{{.LoggingDriver}}").stdout.strip() == "none"
        assert e.docker("run", "--name", "quiet", "busybox", "echo", "x").stdout == "x\n"
        res = e.docker("logs", "quiet", check=False)
        assert "configured logging driver does not support reading" in res.stderr
    finally:
        e.cleanup()
