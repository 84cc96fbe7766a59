"""Volume API through the real docker CLI, raw HTTP and docker-py (no containers)."""

from __future__ import annotations

import json
import os
import stat
import time
import uuid
from collections.abc import Iterator

import pytest
from support.docker_inspect import inspect as support_inspect
from support.engine import PortsideEngine

ANON = "com.docker.volume.anonymous"


@pytest.fixture(scope="module")
def eng() -> Iterator[PortsideEngine]:
    """One engine for the tests below that only touch their own, uniquely named volumes."""
    if os.geteuid() != 0:
        pytest.skip("the engine needs root")
    e = PortsideEngine()
    try:
        e.start()
        yield e
    finally:
        e.cleanup()


def uniq(prefix: str = "v") -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def inspect(e: PortsideEngine, name: str) -> dict:
    return support_inspect(e, name, "volume")


def names(e: PortsideEngine, *filters: str) -> set[str]:
    args = ["volume", "ls", "-q"]
    for f in filters:
        args += ["-f", f]
    return set(e.docker(*args).stdout.split())


def test_create_and_inspect_shape(eng):
    name = uniq()
    assert eng.docker("volume", "create", "--label", "team=core", name).stdout.strip() == name
    v = inspect(eng, name)
    assert set(v) == {"CreatedAt", "Driver", "Labels", "Mountpoint", "Name", "Options", "Scope"}
    assert v["Name"] == name and v["Driver"] == "local" and v["Scope"] == "local"
    assert v["Labels"] == {"team": "core"}
    assert v["Mountpoint"] == str(eng.data_root / "volumes" / name / "_data")
    time.strptime(v["CreatedAt"], "%Y-%m-%dT%H:%M:%SZ")
    st = os.stat(v["Mountpoint"])
    assert stat.S_ISDIR(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o755
    assert "UsageData" not in v


def test_create_returns_201_and_existing_volume_unchanged(eng):
    name = uniq()
    r = eng.api("POST", "/volumes/create", json={"Name": name, "Labels": {"a": "1"}})
    assert r.status_code == 201
    first = r.json()
    again = eng.api("POST", "/volumes/create", json={"Name": name, "Labels": {"b": "2"}})
    assert again.status_code == 201
    assert again.json() == first  # Docker hands back the existing volume as it is


def test_create_without_name_is_anonymous(eng):
    r = eng.api("POST", "/v1.41/volumes/create", json={})
    assert r.status_code == 201
    v = r.json()
    assert len(v["Name"]) == 64 and all(c in "0123456789abcdef" for c in v["Name"])
    assert v["Labels"] == {ANON: ""}
    cli = eng.docker("volume", "create").stdout.strip()
    assert len(cli) == 64 and inspect(eng, cli)["Labels"] == {ANON: ""}


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "a$b",
            'create a$b: "a$b" includes invalid characters for a local volume name, only '
            '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, '
            "use absolute path",
        ),
        (
            "x",
            "create x: volume name is too short, names should be at least two alphanumeric "
            "characters",
        ),
        ("-dash", None),
        (".dot", None),
        ("_under", None),
        ("sl/ash", None),
        ("..", None),
        ("a" * 256, None),
    ],
)
def test_invalid_names_are_400(eng, name, message):
    r = eng.api("POST", "/volumes/create", json={"Name": name})
    assert r.status_code == 400, r.text
    if message:
        assert r.json()["message"] == message
    else:
        assert "includes invalid characters for a local volume name" in r.json()["message"]
    assert name not in os.listdir(eng.data_root / "volumes")


def test_invalid_name_via_cli(eng):
    res = eng.docker("volume", "create", "bad:name", check=False)
    assert res.returncode != 0
    assert 'create bad:name: "bad:name" includes invalid characters' in res.stderr


def test_valid_unusual_names(eng):
    for name in ("ab", "A.b_c-d", "9" * 255):
        assert eng.api("POST", "/volumes/create", json={"Name": name}).status_code == 201
        assert eng.api("DELETE", f"/volumes/{name}").status_code == 204


def test_unknown_driver_is_404(eng):
    res = eng.docker("volume", "create", "-d", "nfsplugin", "xx", check=False)
    assert res.returncode != 0
    assert (
        'create xx: error looking up volume plugin nfsplugin: plugin "nfsplugin" not found'
        in res.stderr
    )
    r = eng.api("POST", "/volumes/create", json={"Name": "yy", "Driver": "nope"})
    assert r.status_code == 404
    assert eng.api("GET", "/volumes/yy").status_code == 404


@pytest.mark.parametrize(
    ("opts", "message"),
    [
        ({"foo": "bar"}, 'invalid option: "foo"'),
        ({"type": "tmpfs"}, 'missing required option: "device"'),
        ({"device": "tmpfs"}, 'missing required option: "type"'),
        ({"o": "size=1m", "type": "tmpfs"}, 'missing required option: "device"'),
        ({"size": "10m"}, "quota size requested but no quota support"),
    ],
)
def test_invalid_driver_opts_are_400(eng, opts, message):
    name = uniq()
    r = eng.api("POST", "/volumes/create", json={"Name": name, "DriverOpts": opts})
    assert r.status_code == 400
    assert r.json()["message"] == f"create {name}: {message}"
    assert eng.api("GET", f"/volumes/{name}").status_code == 404
    assert not (eng.data_root / "volumes" / name).exists()


def test_driver_opts_are_kept(eng):
    name = uniq()
    eng.docker(
        "volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "-o", "o=size=8m", name
    )
    v = inspect(eng, name)
    assert v["Options"] == {"type": "tmpfs", "device": "tmpfs", "o": "size=8m"}


def test_list_and_filters(eng):
    p = uniq("flt")
    a, b, c = f"{p}-alpha", f"{p}-beta", f"{p}-gamma"
    eng.docker("volume", "create", "--label", "tier=web", "--label", "x", a)
    eng.docker("volume", "create", "--label", "tier=db", b)
    eng.docker("volume", "create", c)
    assert {a, b, c} <= names(eng)
    assert names(eng, f"name={p}") == {a, b, c}
    assert names(eng, f"name={p}-(alpha|gamma)$") == {a, c}
    assert names(eng, f"name={a}") == {a}
    assert names(eng, f"name={p}", "label=tier") == {a, b}
    assert names(eng, f"name={p}", "label=tier=db") == {b}
    assert names(eng, f"name={p}", "label=tier=web", "label=x") == {a}
    assert names(eng, f"name={p}", "driver=local") == {a, b, c}
    assert names(eng, f"name={p}", "driver=other") == set()
    assert names(eng, f"name={p}", "dangling=true") == {a, b, c}
    assert names(eng, f"name={p}", "dangling=false") == set()
    body = eng.api("GET", "/volumes").json()
    assert body["Warnings"] == [] and isinstance(body["Volumes"], list)
    # the old filter encoding {"key": {"value": true}} works too
    old = json.dumps({"name": {a: True}})
    assert [
        v["Name"] for v in eng.api("GET", "/volumes", params={"filters": old}).json()["Volumes"]
    ] == [a]


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"bogus": ["1"]}, "invalid filter 'bogus'"),
        ({"dangling": ["maybe"]}, "invalid filter 'dangling=maybe'"),
        ({"dangling": ["true", "false"]}, "invalid filter 'dangling=true,false'"),
    ],
)
def test_list_filter_errors(eng, filters, message):
    r = eng.api("GET", "/volumes", params={"filters": json.dumps(filters)})
    assert r.status_code == 400
    assert r.json()["message"] == message


def test_inspect_missing_is_404(eng):
    r = eng.api("GET", "/volumes/nosuchvol")
    assert r.status_code == 404
    assert r.json()["message"] == "get nosuchvol: no such volume"
    res = eng.docker("volume", "inspect", "nosuchvol", check=False)
    assert res.returncode != 0 and "no such volume" in res.stderr


def test_remove(eng):
    name = uniq()
    eng.docker("volume", "create", name)
    data = eng.data_root / "volumes" / name / "_data"
    (data / "file").write_text("x")
    (data / "dir").mkdir()
    os.symlink("/etc/passwd", data / "dir" / "link")
    eng.docker("volume", "rm", name)
    assert not (eng.data_root / "volumes" / name).exists()
    assert os.path.exists("/etc/passwd")
    assert eng.api("GET", f"/volumes/{name}").status_code == 404
    r = eng.api("DELETE", f"/volumes/{name}")
    assert r.status_code == 404 and r.json()["message"] == f"get {name}: no such volume"
    assert eng.api("DELETE", f"/volumes/{name}?force=1").status_code == 204
    res = eng.docker("volume", "rm", "-f", name, check=False)
    assert res.returncode == 0


def test_update_needs_swarm(eng):
    name = uniq()
    eng.docker("volume", "create", name)
    r = eng.api("PUT", f"/volumes/{name}?version=1", json={})
    assert r.status_code == 503 and "swarm" in r.json()["message"]


def test_docker_py(eng):
    client = eng.client()
    try:
        name = uniq()
        v = client.volumes.create(name, labels={"k": "v"}, driver_opts={})
        assert v.name == name and v.attrs["Labels"] == {"k": "v"}
        assert client.volumes.get(name).attrs["Mountpoint"].endswith(f"/{name}/_data")
        assert name in [x.name for x in client.volumes.list(filters={"label": "k=v"})]
        v.remove()
        assert name not in [x.name for x in client.volumes.list()]
    finally:
        client.close()


def test_events(eng):
    since = time.time() - 1
    name = uniq()
    eng.docker("volume", "create", name)
    eng.docker("volume", "rm", name)
    until = time.time() + 1
    out = eng.docker(
        "events",
        "--since",
        str(since),
        "--until",
        str(until),
        "--filter",
        f"volume={name}",
        "--format",
        "{{json .}}",
    ).stdout
    evs = [json.loads(line) for line in out.splitlines()]
    assert [(e["Type"], e["Action"]) for e in evs] == [("volume", "create"), ("volume", "destroy")]
    assert evs[0]["Actor"]["Attributes"] == {"driver": "local"}


# -- tests that need an engine of their own -------------------------------------------------
def test_prune_default_removes_only_anonymous(engine):
    named = "keepme"
    engine.docker("volume", "create", named)
    anon = engine.docker("volume", "create").stdout.strip()
    (engine.data_root / "volumes" / anon / "_data" / "blob").write_bytes(b"x" * 5000)
    out = engine.docker("volume", "prune", "-f").stdout
    assert anon in out
    assert names(engine) == {named}
    r = engine.api("POST", "/volumes/prune")
    assert r.json() == {"VolumesDeleted": [], "SpaceReclaimed": 0}


def test_prune_reports_space_and_all_and_labels(engine):
    for n, label in (("p-one", "keep=no"), ("p-two", "keep=yes"), ("p-three", "other")):
        engine.docker("volume", "create", "--label", label, n)
    engine.docker(
        "volume", "create", "-o", "type=tmpfs", "-o", "device=tmpfs", "p-opts"
    )  # volumes with mount options are never pruned
    (engine.data_root / "volumes" / "p-one" / "_data" / "f").write_bytes(b"y" * 3000)
    r = engine.api(
        "POST",
        "/volumes/prune",
        params={"filters": json.dumps({"all": ["1"], "label": ["keep=no"]})},
    )
    assert r.status_code == 200
    assert r.json() == {"VolumesDeleted": ["p-one"], "SpaceReclaimed": 3000}
    r = engine.api(
        "POST",
        "/volumes/prune",
        params={"filters": json.dumps({"all": ["true"], "label!": ["keep"]})},
    )
    assert r.json()["VolumesDeleted"] == ["p-three"]
    engine.docker("volume", "prune", "-a", "-f")
    assert names(engine) == {"p-opts"}


def test_prune_old_api_prunes_named_volumes(engine):
    engine.docker("volume", "create", "oldapi")
    r = engine.api("POST", "/v1.41/volumes/prune")
    assert r.status_code == 200 and r.json()["VolumesDeleted"] == ["oldapi"]


@pytest.mark.parametrize(
    ("filters", "message"),
    [
        ({"dangling": ["true"]}, "invalid filter 'dangling'"),
        (
            {"all": ["maybe"]},
            "invalid filter 'all': strconv.ParseBool: parsing \"maybe\": invalid syntax",
        ),
        ({"all": ["1", "0"]}, "invalid filter 'all=[1 0]': only one value is expected"),
    ],
)
def test_prune_filter_errors(engine, filters, message):
    r = engine.api("POST", "/volumes/prune", params={"filters": json.dumps(filters)})
    assert r.status_code == 400 and r.json()["message"] == message


def test_system_df_counts_volume_sizes(engine):
    engine.docker("volume", "create", "sized")
    (engine.data_root / "volumes" / "sized" / "_data" / "a").write_bytes(b"z" * 1234)
    (engine.data_root / "volumes" / "sized" / "_data" / "sub").mkdir()
    (engine.data_root / "volumes" / "sized" / "_data" / "sub" / "b").write_bytes(b"z" * 766)
    os.link(
        engine.data_root / "volumes" / "sized" / "_data" / "a",
        engine.data_root / "volumes" / "sized" / "_data" / "hardlink",
    )
    df = engine.api("GET", "/system/df").json()
    vols = {v["Name"]: v for v in df["Volumes"]}
    assert vols["sized"]["UsageData"] == {"Size": 2000, "RefCount": 0}
    out = engine.docker("system", "df", "-v").stdout
    assert "sized" in out


def test_volumes_survive_restart_and_adopt_stray_directories(engine):
    engine.docker("volume", "create", "--label", "l=1", "persist")
    (engine.data_root / "volumes" / "persist" / "_data" / "f").write_text("kept")
    engine.stop()
    stray = engine.data_root / "volumes" / "handmade" / "_data"
    stray.mkdir(parents=True)
    # a half-finished removal from a crash is cleaned up
    trash = engine.data_root / "volumes" / ".trash-deadbeef" / "_data"
    trash.mkdir(parents=True)
    engine.start()
    assert names(engine) == {"persist", "handmade"}
    assert inspect(engine, "persist")["Labels"] == {"l": "1"}
    assert (engine.data_root / "volumes" / "persist" / "_data" / "f").read_text() == "kept"
    assert not trash.parent.exists()


def test_crash_during_create_leaves_a_usable_store(engine):
    engine.docker("volume", "create", "before")
    engine.kill9()
    engine.start()
    assert "before" in names(engine)
    engine.docker("volume", "rm", "before")
    assert names(engine) == set()
