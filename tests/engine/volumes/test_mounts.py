"""Mount resolution: -v strings, --mount specs, --tmpfs, anonymous volumes, precedence."""

from __future__ import annotations

import pytest
from portside.engine.errors import InvalidParameter
from portside.engine.volumes.mounts import (
    PlannedMount,
    parse_bind,
    parse_mount_spec,
    parse_volumes_from,
    plan_mounts,
    read_write,
    tmpfs_options,
    valid_mode,
)
from portside.engine.volumes.spec_mounts import apply_mounts, merge_tmpfs_options, oci_mount

# raw -v string -> (type, source, name, destination, rw, mode, propagation, copy, create)
VALID_BINDS = [
    ("/tmp:/tmp1", ("bind", "/tmp", "", "/tmp1", True, "", "rprivate", False, True)),
    ("/tmp:/tmp2:ro", ("bind", "/tmp", "", "/tmp2", False, "ro", "rprivate", False, True)),
    ("/tmp:/tmp3:rw", ("bind", "/tmp", "", "/tmp3", True, "rw", "rprivate", False, True)),
    ("/tmp:/tmp4:foo", None),
    ("/tmp/:/x/../y/", ("bind", "/tmp", "", "/y", True, "", "rprivate", False, True)),
    ("/tmp:/tmp5:shared", ("bind", "/tmp", "", "/tmp5", True, "shared", "shared", False, True)),
    ("/tmp:/t:ro,rslave", ("bind", "/tmp", "", "/t", False, "ro,rslave", "rslave", False, True)),
    ("/tmp:/t:z", ("bind", "/tmp", "", "/t", True, "z", "rprivate", False, True)),
    ("/tmp:/t:Z,ro", ("bind", "/tmp", "", "/t", False, "Z,ro", "rprivate", False, True)),
    ("/tmp:/t:cached", ("bind", "/tmp", "", "/t", True, "cached", "rprivate", False, True)),
    ("name:/data", ("volume", "", "name", "/data", True, "", "", True, False)),
    ("name:/data:ro", ("volume", "", "name", "/data", False, "ro", "", True, False)),
    ("name:/data:nocopy", ("volume", "", "name", "/data", True, "nocopy", "", False, False)),
    ("name:/data:ro,nocopy", ("volume", "", "name", "/data", False, "ro,nocopy", "", False, False)),
    ("name:/data:z", ("volume", "", "name", "/data", True, "z", "", True, False)),
    ("/anon", ("volume", "", "", "/anon", True, "", "", True, False)),
]

# raw -v string -> exact error message
INVALID_BINDS = [
    ("", "invalid volume specification: ''"),
    (":/x", "invalid volume specification: ':/x'"),
    ("/tmp:rw", "invalid volume specification: '/tmp:rw'"),
    ("/tmp:ro", "invalid volume specification: '/tmp:ro'"),
    ("/tmp:", "invalid volume specification: '/tmp:'"),
    ("/a:/b:ro:x", "invalid volume specification: '/a:/b:ro:x'"),
    ("/tmp:/tmp:foo", "invalid mode: foo"),
    ("/tmp:/tmp:ro,rw", "invalid mode: ro,rw"),
    ("/tmp:/tmp:shared,private", "invalid mode: shared,private"),
    ("/tmp:/tmp:z,Z", "invalid mode: z,Z"),
    ("/tmp:/tmp:nocopy,nocopy", "invalid mode: nocopy,nocopy"),
    (
        "/tmp:relative",
        "invalid volume specification: '/tmp:relative': invalid mount config for type "
        "\"bind\": invalid mount path: 'relative' mount path must be absolute",
    ),
    (
        "/tmp:/",
        "invalid volume specification: '/tmp:/': invalid mount config for type \"bind\": "
        "invalid specification: destination can't be '/'",
    ),
    (
        "/tmp:/x/..",
        "invalid volume specification: '/tmp:/x/..': invalid mount config for type "
        "\"bind\": invalid specification: destination can't be '/'",
    ),
    (
        "name:/x:shared",
        "invalid volume specification: 'name:/x:shared': invalid mount config for type "
        '"volume": field BindOptions must not be specified',
    ),
    (
        "/tmp:/x:nocopy",
        "invalid volume specification: '/tmp:/x:nocopy': invalid mount config for type "
        '"bind": field VolumeOptions must not be specified',
    ),
    (
        "name:rel",
        "invalid volume specification: 'name:rel': invalid mount config for type "
        "\"volume\": invalid mount path: 'rel' mount path must be absolute",
    ),
]


@pytest.mark.parametrize(("raw", "want"), VALID_BINDS)
def test_parse_bind(raw, want):
    if want is None:
        with pytest.raises(InvalidParameter):
            parse_bind(raw)
        return
    mp = parse_bind(raw)
    typ, source, name, dest, rw, mode, prop, copy, create = want
    got = (
        mp.type,
        mp.source,
        mp.name,
        mp.destination,
        mp.rw,
        mp.mode,
        mp.propagation,
        mp.copy_data,
        mp.create_source,
    )
    assert got == (typ, source, name, dest, rw, mode, prop, copy, create)


@pytest.mark.parametrize(("raw", "message"), INVALID_BINDS)
def test_parse_bind_errors(raw, message):
    with pytest.raises(InvalidParameter) as e:
        parse_bind(raw)
    assert e.value.message == message
    assert e.value.status == 400


def test_bind_named_volume_keeps_spec_source_anonymous_does_not():
    assert parse_bind("vol:/a").spec_source == "vol"
    assert parse_bind("/a").spec_source == ""


def test_volume_driver_applies_to_named_volumes_only():
    assert parse_bind("vol:/a", "local").driver == "local"
    assert parse_bind("/h:/a", "local").driver == ""


@pytest.mark.parametrize(
    ("mode", "valid", "rw"),
    [
        ("", True, True),
        ("rw", True, True),
        ("ro", True, False),
        ("rro", True, False),
        ("ro-non-recursive", True, False),
        ("ro,z", True, False),
        ("rw,Z,rshared,nocopy,delegated", True, True),
        ("ro,rw", False, False),
        ("bogus", False, False),
        ("z,z", False, False),
        ("cached,delegated", False, False),
    ],
)
def test_modes(mode, valid, rw):
    assert valid_mode(mode) is valid
    assert read_write(mode) is rw


def _exists(paths):
    return lambda p: p in paths


def test_mount_spec_bind_missing_source_is_docker_error():
    spec = {"Type": "bind", "Source": "/x", "Target": "/y"}
    with pytest.raises(InvalidParameter) as e:
        parse_mount_spec(spec, path_exists=_exists(set()))
    assert e.value.message == (
        'invalid mount config for type "bind": bind source path does not exist: /x'
    )


def test_mount_spec_bind_create_mountpoint_allows_missing_source():
    spec = {
        "Type": "bind",
        "Source": "/x",
        "Target": "/y",
        "BindOptions": {"CreateMountpoint": True},
    }
    mp = parse_mount_spec(spec, path_exists=_exists(set()))
    assert mp.create_source and mp.source == "/x"


MOUNT_SPEC_ERRORS = [
    (
        {"Type": "bind", "Source": "/h"},
        'invalid mount config for type "bind": field Target must not be empty',
    ),
    (
        {"Type": "bind", "Target": "/t"},
        'invalid mount config for type "bind": field Source must not be empty',
    ),
    (
        {"Type": "bind", "Source": "rel", "Target": "/t"},
        "invalid mount config for type \"bind\": invalid mount path: 'rel' mount path must "
        "be absolute",
    ),
    (
        {"Type": "bind", "Source": "/h", "Target": "t"},
        "invalid mount config for type \"bind\": invalid mount path: 't' mount path must "
        "be absolute",
    ),
    (
        {"Type": "bind", "Source": "/h", "Target": "/"},
        "invalid mount config for type \"bind\": invalid specification: destination can't be '/'",
    ),
    (
        {"Type": "bind", "Source": "/h", "Target": "/t", "BindOptions": {"Propagation": "bad"}},
        'invalid mount config for type "bind": invalid propagation mode: bad',
    ),
    (
        {"Type": "bind", "Source": "/h", "Target": "/t", "VolumeOptions": {}},
        'invalid mount config for type "bind": field VolumeOptions must not be specified',
    ),
    (
        {"Type": "volume", "Target": "/t", "BindOptions": {}},
        'invalid mount config for type "volume": field BindOptions must not be specified',
    ),
    (
        {"Type": "volume", "Target": "/t", "ReadOnly": True},
        'invalid mount config for type "volume": must not set ReadOnly mode when using '
        "anonymous volumes",
    ),
    (
        {"Type": "volume", "Target": "/t", "VolumeOptions": {"Subpath": "a"}},
        'invalid mount config for type "volume": must not set Subpath when using anonymous volumes',
    ),
    (
        {"Type": "volume", "Source": "v", "Target": "/t", "VolumeOptions": {"Subpath": "../a"}},
        'invalid mount config for type "volume": subpath must be a relative path within the volume',
    ),
    (
        {"Type": "volume", "Source": "v", "Target": "/t", "VolumeOptions": {"Subpath": "/a"}},
        'invalid mount config for type "volume": subpath must be a relative path within the volume',
    ),
    (
        {"Type": "tmpfs", "Source": "x", "Target": "/t"},
        'invalid mount config for type "tmpfs": field Source must not be specified',
    ),
    (
        {"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"Options": [["nosuid"]]}},
        'invalid mount config for type "tmpfs": invalid option: nosuid',
    ),
    (
        {"Type": "tmpfs", "Target": "/t", "TmpfsOptions": {"SizeBytes": -1}},
        'invalid mount config for type "tmpfs": invalid tmpfs size',
    ),
    (
        {"Type": "npipe", "Source": "x", "Target": "/t"},
        'invalid mount config for type "npipe": mount type unknown',
    ),
    ({"Target": "/t"}, 'invalid mount config for type "": mount type unknown'),
]


@pytest.mark.parametrize(("spec", "message"), MOUNT_SPEC_ERRORS)
def test_mount_spec_errors(spec, message):
    with pytest.raises(InvalidParameter) as e:
        parse_mount_spec(spec, path_exists=_exists({"/h"}))
    assert e.value.message == message


def test_mount_spec_volume_options():
    mp = parse_mount_spec(
        {
            "Type": "volume",
            "Source": "v1",
            "Target": "/data/",
            "ReadOnly": True,
            "VolumeOptions": {
                "NoCopy": True,
                "Labels": {"a": "b"},
                "DriverConfig": {"Name": "local", "Options": {"type": "tmpfs", "device": "tmpfs"}},
                "Subpath": "sub/dir",
            },
        }
    )
    assert (mp.type, mp.name, mp.destination, mp.rw, mp.copy_data) == (
        "volume",
        "v1",
        "/data",
        False,
        False,
    )
    assert mp.labels == {"a": "b"} and mp.driver == "local"
    assert mp.driver_opts == {"type": "tmpfs", "device": "tmpfs"}
    assert mp.subpath == "sub/dir"


def test_mount_spec_bind_options():
    mp = parse_mount_spec(
        {
            "Type": "bind",
            "Source": "/h/",
            "Target": "/t",
            "BindOptions": {"Propagation": "rslave", "NonRecursive": True},
        },
        path_exists=_exists({"/h/"}),
    )
    assert (mp.source, mp.propagation, mp.non_recursive, mp.rw) == ("/h", "rslave", True, True)
    assert oci_mount(mp, mp.source)["options"] == ["bind", "rslave"]


@pytest.mark.parametrize(
    ("opts", "ro", "want"),
    [
        (None, False, ""),
        (None, True, "ro"),
        ({"SizeBytes": 64 << 20}, False, "size=64m"),
        ({"SizeBytes": 3 << 30}, False, "size=3g"),
        ({"SizeBytes": 1536}, False, "size=1536"),
        ({"SizeBytes": 2048}, False, "size=2k"),
        ({"Mode": 0o1777}, False, "mode=1777"),
        (
            {"Mode": 493, "SizeBytes": 1 << 20, "Options": [["exec"]]},
            True,
            "ro,mode=755,size=1m,exec",
        ),
    ],
)
def test_tmpfs_options(opts, ro, want):
    assert tmpfs_options(opts, ro) == want


@pytest.mark.parametrize(
    ("options", "want"),
    [
        (["noexec", "nosuid", "nodev", "rprivate"], ["noexec", "nosuid", "nodev", "rprivate"]),
        (
            ["noexec", "nosuid", "nodev", "rprivate", "exec"],
            ["nosuid", "nodev", "rprivate", "exec"],
        ),
        (["noexec", "size=1m", "size=64m"], ["noexec", "size=64m"]),
        (["rw", "ro", "defaults"], ["ro"]),
        (["noexec", "rprivate", "rshared"], ["noexec", "rshared"]),
    ],
)
def test_merge_tmpfs_options(options, want):
    assert merge_tmpfs_options(options) == want


@pytest.mark.parametrize(
    ("spec", "want"),
    [
        ("c1", ("c1", "rw")),
        ("c1:ro", ("c1", "ro")),
        ("c1:rw,z", ("c1", "rw,z")),
    ],
)
def test_volumes_from(spec, want):
    assert parse_volumes_from(spec) == want


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("", "volumes-from specification cannot be an empty string"),
        ("c1:bogus", "invalid mode: bogus"),
        ("c1:shared", "invalid mode: shared"),
        ("c1:nocopy", "invalid mode: nocopy"),
    ],
)
def test_volumes_from_errors(spec, message):
    with pytest.raises(InvalidParameter) as e:
        parse_volumes_from(spec)
    assert e.value.message == message


# -- the plan -----------------------------------------------------------------------------
def _plan(config=None, host=None, image=(), vfrom=(), exists=frozenset({"/h", "/h2"})):
    return plan_mounts(config or {}, host or {}, image, vfrom, path_exists=lambda p: p in exists)


def _by_dest(plan):
    return {m.destination: m for m in plan}


def test_plan_anonymous_from_config_and_image_volumes():
    plan = _by_dest(_plan({"Volumes": {"/a": {}}}, image=["/b", "/a/"]))
    assert set(plan) == {"/a", "/b"}
    for m in plan.values():
        assert (m.type, m.name, m.spec_source, m.copy_data, m.mode) == ("volume", "", "", True, "")


def test_plan_bind_wins_over_image_volume():
    plan = _by_dest(_plan(host={"Binds": ["/h:/data:ro"]}, image=["/data"]))
    assert plan["/data"].type == "bind" and plan["/data"].rw is False


def test_plan_named_volume_over_image_volume_keeps_copy_and_mode_z():
    plan = _by_dest(_plan(host={"Binds": ["vol:/data"]}, image=["/data"]))
    m = plan["/data"]
    assert (m.type, m.name, m.mode, m.copy_data) == ("volume", "vol", "z", True)


@pytest.mark.parametrize(
    "host",
    [
        {"Binds": ["/h:/x", "/h2:/x"]},
        {"Binds": ["/h:/x", "vol:/x/"]},
        {"Binds": ["/h:/x"], "Mounts": [{"Type": "bind", "Source": "/h2", "Target": "/x"}]},
        {
            "Mounts": [
                {"Type": "volume", "Source": "a", "Target": "/x"},
                {"Type": "tmpfs", "Target": "/x"},
            ]
        },
        {"Binds": ["/h:/x"], "Tmpfs": {"/x": ""}},
        {"Mounts": [{"Type": "volume", "Target": "/x"}], "Tmpfs": {"/x": "size=1m"}},
    ],
)
def test_plan_duplicate_mount_point(host):
    with pytest.raises(InvalidParameter) as e:
        _plan(host=host)
    assert e.value.message == "Duplicate mount point: /x"


def test_plan_tmpfs_entries_are_not_inspect_mounts():
    plan = _by_dest(_plan(host={"Tmpfs": {"/run": "rw,size=64m", "/ro": "ro"}}))
    assert plan["/run"].type == "tmpfs" and not plan["/run"].in_inspect and plan["/run"].rw
    assert plan["/ro"].rw is False
    opts = oci_mount(plan["/run"], "")["options"]
    assert opts == ["noexec", "nosuid", "nodev", "rprivate", "rw", "size=64m"]


def test_plan_tmpfs_covers_image_volume():
    plan = _by_dest(_plan(host={"Tmpfs": {"/data": ""}}, image=["/data"]))
    assert plan["/data"].type == "tmpfs"


@pytest.mark.parametrize(
    ("host", "message"),
    [
        ({"Tmpfs": {"run": ""}}, "invalid mount path: 'run' mount path must be absolute"),
        ({"Tmpfs": {"/": ""}}, "invalid specification: destination can't be '/'"),
    ],
)
def test_plan_tmpfs_destination_errors(host, message):
    with pytest.raises(InvalidParameter) as e:
        _plan(host=host)
    assert e.value.message == message


def test_plan_anonymous_volume_path_must_be_absolute():
    with pytest.raises(InvalidParameter) as e:
        _plan({"Volumes": {"data": {}}})
    assert "mount path must be absolute" in e.value.message


def test_plan_volumes_from_ro_and_override():
    other = [
        PlannedMount(
            type="volume", destination="/a", name="va", driver="local", rw=True, copy_data=True
        ),
        PlannedMount(type="bind", destination="/b", source="/h", rw=True),
        PlannedMount(type="tmpfs", destination="/t", in_inspect=False),
    ]
    plan = _by_dest(_plan(host={"Binds": ["/h2:/b"]}, vfrom=[(other, "ro")]))
    assert set(plan) == {"/a", "/b"}
    assert plan["/a"].name == "va" and plan["/a"].rw is False and plan["/a"].copy_data is False
    assert plan["/b"].source == "/h2" and plan["/b"].rw is True


def test_plan_mount_missing_bind_source_vs_legacy_bind():
    with pytest.raises(InvalidParameter) as e:
        _plan(host={"Mounts": [{"Type": "bind", "Source": "/missing", "Target": "/x"}]})
    assert "bind source path does not exist: /missing" in e.value.message
    plan = _by_dest(_plan(host={"Binds": ["/missing:/x"]}))
    assert plan["/x"].create_source is True


def test_plan_roundtrips_through_json():
    plan = _plan(host={"Binds": ["vol:/a:ro", "/h:/b"], "Tmpfs": {"/t": ""}}, image=["/c"])
    assert [PlannedMount.from_json(m.to_json()) for m in plan] == plan


def test_inspect_shape():
    vol = PlannedMount(
        type="volume", destination="/d", source="/s", name="n", driver="local", mode="z"
    )
    assert vol.inspect() == {
        "Type": "volume",
        "Name": "n",
        "Source": "/s",
        "Destination": "/d",
        "Driver": "local",
        "Mode": "z",
        "RW": True,
        "Propagation": "",
    }
    bind = parse_bind("/h:/d:ro")
    assert bind.inspect() == {
        "Type": "bind",
        "Source": "/h",
        "Destination": "/d",
        "Mode": "ro",
        "RW": False,
        "Propagation": "rprivate",
    }


def test_apply_mounts_replaces_defaults_and_orders_parents_first():
    spec = {
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/dev/shm", "type": "tmpfs", "source": "shm"},
            {"destination": "/etc/hosts", "type": "bind", "source": "/c/hosts"},
        ],
        "linux": {},
    }
    rendered = [
        (parse_bind("/h/sub:/a/b"), "/h/sub"),
        (parse_bind("/h/hosts:/etc/hosts:ro"), "/h/hosts"),
        (parse_bind("/h:/a"), "/h"),
    ]
    apply_mounts(spec, rendered)
    dests = [m["destination"] for m in spec["mounts"]]
    assert dests == ["/proc", "/dev", "/a", "/dev/shm", "/a/b", "/etc/hosts"]
    hosts = next(m for m in spec["mounts"] if m["destination"] == "/etc/hosts")
    assert hosts == {
        "destination": "/etc/hosts",
        "type": "bind",
        "source": "/h/hosts",
        "options": ["rbind", "ro", "rprivate"],
    }
    assert "rootfsPropagation" not in spec["linux"]


def test_apply_mounts_user_dev_replaces_dev_children_and_sets_propagation():
    spec = {
        "mounts": [
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts"},
        ]
    }
    apply_mounts(spec, [(parse_bind("/h:/dev:rslave"), "/h")])
    assert [m["destination"] for m in spec["mounts"]] == ["/dev"]
    assert spec["linux"]["rootfsPropagation"] == "rslave"
    apply_mounts(spec, [(parse_bind("/h:/x:rshared"), "/h")])
    assert spec["linux"]["rootfsPropagation"] == "shared"


def test_apply_mounts_volume_at_etc_keeps_runtime_etc_files_on_top():
    spec = {
        "mounts": [
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/etc/resolv.conf", "type": "bind", "source": "/c/resolv.conf"},
        ]
    }
    apply_mounts(spec, [(parse_bind("etcvol:/etc"), "/v/etcvol/_data")])
    assert [m["destination"] for m in spec["mounts"]] == ["/proc", "/etc", "/etc/resolv.conf"]
