"""build_spec: the OCI config.json as moby would write it (checked as data)."""

from __future__ import annotations

import os
import resource
from pathlib import Path
from typing import Any

import pytest
from portside.engine.containers.oci import spec_resources
from portside.engine.containers.oci.caps import DEFAULT_CAPS, available_caps
from portside.engine.containers.oci.spec import (
    DEFAULT_MASKED_PATHS,
    DEFAULT_READONLY_PATHS,
    INIT_PATH_IN_CONTAINER,
    SpecInput,
    build_exec_process,
    build_spec,
    merge_env,
    merge_tmpfs_options,
)
from portside.engine.errors import InvalidParameter

pytestmark = pytest.mark.runtime_matrix


@pytest.fixture
def rootfs(tmp_path: Path) -> Path:
    r = tmp_path / "rootfs"
    (r / "etc").mkdir(parents=True)
    (r / "etc/passwd").write_text(
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
    )
    (r / "etc/group").write_text("root:x:0:\nnogroup:x:65534:\n")
    return r


def make(rootfs: Path, **kw: Any) -> dict[str, Any]:
    kw.setdefault("args", ["sh"])
    return build_spec(SpecInput(id="c" * 64, rootfs=rootfs, **kw))


def mount_at(spec: dict, dest: str) -> dict | None:
    return next((m for m in spec["mounts"] if m["destination"] == dest), None)


def test_defaults_mirror_moby(rootfs: Path) -> None:
    s = make(rootfs, hostname="box", cgroups_path="/portside/x")
    assert s["ociVersion"] == "1.0.2"
    assert s["root"] == {"path": str(rootfs), "readonly": False}
    assert s["hostname"] == "box"
    p = s["process"]
    assert p["args"] == ["sh"] and p["cwd"] == "/" and p["terminal"] is False
    assert p["user"] == {"uid": 0, "gid": 0, "additionalGids": [0]}
    assert p["env"][:2] == [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "HOSTNAME=box",
    ]
    caps = p["capabilities"]
    assert caps == {k: list(DEFAULT_CAPS) for k in ("bounding", "effective", "permitted")}
    assert p["noNewPrivileges"] is False
    lin = s["linux"]
    types = [n["type"] for n in lin["namespaces"]]
    assert {"mount", "network", "uts", "pid", "ipc"} <= set(types)
    assert all("path" not in n for n in lin["namespaces"])
    assert lin["cgroupsPath"] == "/portside/x"
    assert lin["maskedPaths"][: len(DEFAULT_MASKED_PATHS)] == list(DEFAULT_MASKED_PATHS)
    assert lin["readonlyPaths"] == list(DEFAULT_READONLY_PATHS)
    assert lin["seccomp"]["defaultAction"] == "SCMP_ACT_ERRNO"
    rules = lin["resources"]["devices"]
    assert rules[0] == {"allow": False, "access": "rwm"}
    assert {"allow": True, "type": "c", "major": 1, "minor": 3, "access": "rwm"} in rules
    assert lin["devices"] == []
    dests = [m["destination"] for m in s["mounts"]]
    assert dests == [
        "/proc",
        "/dev",
        "/dev/pts",
        "/sys",
        "/sys/fs/cgroup",
        "/dev/mqueue",
        "/dev/shm",
    ]
    assert mount_at(s, "/dev/pts")["options"] == [
        "nosuid",
        "noexec",
        "newinstance",
        "ptmxmode=0666",
        "mode=0620",
        "gid=5",
    ]
    assert "size=67108864" in mount_at(s, "/dev/shm")["options"]
    assert "ro" in mount_at(s, "/sys")["options"]
    assert lin["sysctl"].get("net.ipv4.ip_unprivileged_port_start") == "0"


def test_cgroup_namespace_only_by_default_on_unified_hosts(rootfs: Path) -> None:
    types = [n["type"] for n in make(rootfs)["linux"]["namespaces"]]
    assert ("cgroup" in types) == spec_resources.cgroup_unified()
    types = [
        n["type"]
        for n in make(rootfs, host_config={"CgroupnsMode": "private"})["linux"]["namespaces"]
    ]
    assert "cgroup" in types


def test_pure_cgroup_v2_choices(
    rootfs: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A fake unified hierarchy: cgroup.controllers at the root, no swap accounting.
    fake = tmp_path / "cg"
    (fake / "init.scope").mkdir(parents=True)
    (fake / "cgroup.controllers").write_text("cpu memory pids\n")
    monkeypatch.setattr(spec_resources, "CGROUP_ROOT", fake)
    spec_resources.swap_limit_supported.cache_clear()
    try:
        hc = {"Memory": 64 << 20, "MemorySwap": 128 << 20, "MemorySwappiness": 10}
        s = make(rootfs, host_config=hc)
        assert "cgroup" in [n["type"] for n in s["linux"]["namespaces"]]
        mem = s["linux"]["resources"]["memory"]
        # runc 1.1 cannot set swappiness on v2, nor a swap limit without accounting.
        assert mem == {"limit": 64 << 20}
        (fake / "init.scope" / "memory.swap.max").write_text("max\n")
        spec_resources.swap_limit_supported.cache_clear()
        mem = make(rootfs, host_config=hc)["linux"]["resources"]["memory"]
        assert mem == {"limit": 64 << 20, "swap": 128 << 20}
        host = make(rootfs, host_config={"CgroupnsMode": "host"})
        assert "cgroup" not in [n["type"] for n in host["linux"]["namespaces"]]
    finally:
        spec_resources.swap_limit_supported.cache_clear()


def test_non_root_user_gets_only_the_bounding_set(rootfs: Path) -> None:
    s = make(rootfs, user="nobody")
    assert s["process"]["user"] == {"uid": 65534, "gid": 65534, "additionalGids": [65534]}
    assert s["process"]["capabilities"] == {"bounding": list(DEFAULT_CAPS)}


def test_unknown_user_is_dockers_error(rootfs: Path) -> None:
    with pytest.raises(InvalidParameter, match="unable to find user xyz: no matching entries"):
        make(rootfs, user="xyz")


def test_env_merges_over_defaults_and_tty_sets_term(rootfs: Path) -> None:
    s = make(rootfs, hostname="h", tty=True, env=["PATH=/bin", "A=1", "HOSTNAME=mine"])
    assert s["process"]["env"] == ["PATH=/bin", "HOSTNAME=mine", "TERM=xterm", "A=1"]
    assert s["process"]["terminal"] is True
    assert merge_env(["A=1", "B=2"], ["B", "C=3"]) == ["A=1", "C=3"]


def test_working_dir_and_args_are_checked(rootfs: Path) -> None:
    assert make(rootfs, working_dir="/srv")["process"]["cwd"] == "/srv"
    with pytest.raises(InvalidParameter, match="needs to be an absolute path"):
        make(rootfs, working_dir="srv")
    with pytest.raises(InvalidParameter, match="No command specified"):
        make(rootfs, args=[])


def test_privileged_drops_confinement(rootfs: Path) -> None:
    s = make(rootfs, host_config={"Privileged": True, "SecurityOpt": ['seccomp={"x":1}']})
    lin = s["linux"]
    assert "seccomp" not in lin and "maskedPaths" not in lin and "readonlyPaths" not in lin
    assert lin["resources"]["devices"] == [{"allow": True, "access": "rwm"}]
    assert any(d["path"] == "/dev/null" for d in lin["devices"])
    assert s["process"]["capabilities"]["bounding"] == available_caps()
    assert "ro" not in mount_at(s, "/sys")["options"]
    assert "ro" not in mount_at(s, "/sys/fs/cgroup")["options"]


def test_readonly_rootfs_and_etc_files(rootfs: Path, tmp_path: Path) -> None:
    hosts = tmp_path / "hosts"
    s = make(
        rootfs,
        host_config={"ReadonlyRootfs": True},
        hosts_file=hosts,
        resolv_file=tmp_path / "resolv.conf",
        hostname_file=tmp_path / "hostname",
    )
    assert s["root"]["readonly"] is True
    m = mount_at(s, "/etc/hosts")
    assert m == {
        "destination": "/etc/hosts",
        "type": "bind",
        "source": str(hosts),
        "options": ["rbind", "rprivate", "ro"],
    }
    assert mount_at(s, "/etc/resolv.conf") and mount_at(s, "/etc/hostname")
    writable = make(rootfs, hosts_file=hosts)
    assert "ro" not in mount_at(writable, "/etc/hosts")["options"]


def test_user_mounts_override_defaults_and_sort_by_depth(rootfs: Path) -> None:
    vol = {"destination": "/data/sub", "type": "bind", "source": "/tmp", "options": ["rbind"]}
    parent = {"destination": "/data", "type": "bind", "source": "/srv", "options": ["rbind"]}
    shm = {"destination": "/dev/shm", "type": "bind", "source": "/x", "options": ["rbind"]}
    s = make(
        rootfs, extra_mounts=[vol, parent, shm], host_config={"Tmpfs": {"/run": "size=1m,exec"}}
    )
    dests = [m["destination"] for m in s["mounts"]]
    assert dests.count("/dev/shm") == 1 and mount_at(s, "/dev/shm")["source"] == "/x"
    assert dests.index("/data") < dests.index("/data/sub")
    run = mount_at(s, "/run")
    assert run["type"] == "tmpfs"
    assert run["options"] == ["nosuid", "nodev", "rprivate", "size=1m", "exec"]
    assert merge_tmpfs_options(["ro", "size=1", "rw", "size=2"]) == ["rw", "size=2"]
    s = make(
        rootfs,
        extra_mounts=[
            {"destination": "/dev", "type": "bind", "source": "/dev", "options": ["rbind"]}
        ],
    )
    assert not [m for m in s["mounts"] if m["destination"].startswith("/dev/")]


def test_shared_volume_sets_rootfs_propagation(rootfs: Path) -> None:
    m = {"destination": "/v", "type": "bind", "source": "/tmp", "options": ["rbind", "rshared"]}
    assert make(rootfs, extra_mounts=[m])["linux"]["rootfsPropagation"] == "shared"
    assert "rootfsPropagation" not in make(rootfs)["linux"]


def test_namespace_modes(rootfs: Path) -> None:
    def types(**hc: Any) -> dict[str, str | None]:
        s = make(
            rootfs,
            host_config=hc,
            netns_path="/run/netns/x",
            ipc_ns_path="/proc/1/ns/ipc",
            pid_ns_path="/proc/1/ns/pid",
            hostname="h",
        )
        return {n["type"]: n.get("path") for n in s["linux"]["namespaces"]}

    assert types()["network"] == "/run/netns/x"
    host = types(NetworkMode="host")
    assert "network" not in host
    assert types(PidMode="host").get("pid", "absent") == "absent"
    assert types(PidMode="container:abc")["pid"] == "/proc/1/ns/pid"
    assert types(IpcMode="container:abc")["ipc"] == "/proc/1/ns/ipc"
    assert "ipc" not in types(IpcMode="host")
    assert "uts" not in types(UTSMode="host")
    s = make(rootfs, hostname="h", host_config={"UTSMode": "host"})
    assert "hostname" not in s
    assert (
        "net.ipv4.ip_unprivileged_port_start"
        not in make(rootfs, host_config={"NetworkMode": "host"})["linux"]["sysctl"]
    )
    for bad in ({"IpcMode": "weird"}, {"PidMode": "x"}, {"UTSMode": "y"}, {"CgroupnsMode": "z"}):
        with pytest.raises(InvalidParameter, match="invalid"):
            make(rootfs, host_config=bad)
    with pytest.raises(InvalidParameter):
        make(rootfs, host_config={"NetworkMode": "container:abc"})


def test_ipc_none_has_no_shm_and_host_binds_hosts_shm(rootfs: Path) -> None:
    assert mount_at(make(rootfs, host_config={"IpcMode": "none"}), "/dev/shm") is None
    shm = mount_at(make(rootfs, host_config={"IpcMode": "host"}), "/dev/shm")
    assert shm["type"] == "bind" and shm["source"] == "/dev/shm"
    assert (
        "size=1048576"
        in mount_at(make(rootfs, host_config={"ShmSize": 1 << 20}), "/dev/shm")["options"]
    )


def test_resources(rootfs: Path) -> None:
    hc = {
        "Memory": 64 << 20,
        "MemoryReservation": 32 << 20,
        "MemorySwap": 128 << 20,
        "NanoCpus": 1_500_000_000,
        "CpuShares": 512,
        "CpusetCpus": "0",
        "PidsLimit": 77,
        "OomKillDisable": True,
        "BlkioWeight": 300,
    }
    r = make(rootfs, host_config=hc)["linux"]["resources"]
    assert r["memory"]["limit"] == 64 << 20
    assert r["memory"]["reservation"] == 32 << 20
    assert r["memory"].get("swap") == (
        (128 << 20) if spec_resources.swap_limit_supported() else None
    )
    assert r["cpu"] == {"shares": 512, "cpus": "0", "period": 100000, "quota": 150000}
    assert r["pids"] == {"limit": 77}
    weighted = spec_resources.blkio_weight_supported()
    assert r.get("blockIO") == ({"weight": 300} if weighted else None)
    quota = make(rootfs, host_config={"CpuPeriod": 50000, "CpuQuota": 25000})["linux"]["resources"]
    assert quota["cpu"] == {"period": 50000, "quota": 25000}
    # The docker CLI always sends PidsLimit 0: no pids limit at all, as dockerd does.
    for unlimited in (0, -1):
        resources = make(rootfs, host_config={"PidsLimit": unlimited})["linux"]["resources"]
        assert "pids" not in resources
    assert "memory" not in make(rootfs)["linux"]["resources"]


def test_blkio_weight_only_where_the_host_has_it(tmp_path: Path) -> None:
    """Without blkio.weight (no CFQ/BFQ) runc skipped the weight and crun failed the
    create; now it is discarded with dockerd's warning, for both runtimes."""
    bare, cfq, bfq, v2 = (tmp_path / n for n in ("bare", "cfq", "bfq", "v2"))
    for root in (bare, cfq, bfq):
        (root / "blkio").mkdir(parents=True)
    (cfq / "blkio" / "blkio.weight").write_text("500\n")
    (bfq / "blkio" / "blkio.bfq.weight").write_text("100\n")
    v2.mkdir()
    (v2 / "cgroup.controllers").write_text("io memory pids\n")
    hc = {"BlkioWeight": 300, "BlkioWeightDevice": [{"Path": "/dev/null", "Weight": 10}]}
    assert spec_resources.blkio_resources(hc, bare) == {}
    assert spec_resources.resource_warnings(hc, bare) == [
        spec_resources.BLKIO_WEIGHT_DISCARDED,
        spec_resources.BLKIO_WEIGHT_DEVICE_DISCARDED,
    ]
    for root in (cfq, bfq, v2):
        assert spec_resources.blkio_resources(hc, root) == {
            "weight": 300,
            "weightDevice": [{"major": 1, "minor": 3, "weight": 10}],
        }
        assert spec_resources.resource_warnings(hc, root) == []
    assert spec_resources.resource_warnings({}, bare) == []


def test_cpusets_are_checked_against_the_host(tmp_path: Path) -> None:
    assert spec_resources.parse_cpuset("0-2,4, 6") == {0, 1, 2, 4, 6}
    for bad in ("", "a", "1-", "3-1", "0,,1"):
        with pytest.raises(ValueError):
            spec_resources.parse_cpuset(bad)
    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    (v1 / "cpuset").mkdir(parents=True)
    (v1 / "cpuset" / "cpuset.cpus").write_text("0-1\n")
    (v1 / "cpuset" / "cpuset.mems").write_text("0\n")
    v2.mkdir()
    (v2 / "cgroup.controllers").write_text("cpuset cpu\n")
    (v2 / "cpuset.cpus.effective").write_text("0-3\n")
    (v2 / "cpuset.mems.effective").write_text("0-1\n")
    check = spec_resources.check_cpusets
    check({"CpusetCpus": "0,1", "CpusetMems": "0"}, v1)
    check({"CpusetCpus": "3", "CpusetMems": "1"}, v2)
    with pytest.raises(InvalidParameter) as ei:
        check({"CpusetCpus": "7"}, v1)
    assert ei.value.message == "Requested CPUs are not available - requested 7, available: 0-1"
    with pytest.raises(InvalidParameter) as ei:
        check({"CpusetMems": "1"}, v1)
    assert ei.value.message == (
        "Requested memory nodes are not available - requested 1, available: 0"
    )
    with pytest.raises(InvalidParameter, match="Invalid value 0-x for cpuset cpus"):
        check({"CpusetCpus": "0-x"}, v2)


def test_validate_resources_uses_dockers_messages() -> None:
    ok = spec_resources.validate_resources
    with pytest.raises(InvalidParameter, match="Minimum memory limit allowed is 6MB"):
        ok({"Memory": 1024})
    with pytest.raises(InvalidParameter, match="always set the Memory limit"):
        ok({"MemorySwap": 1 << 30})
    with pytest.raises(InvalidParameter, match="larger than memory limit"):
        ok({"Memory": 1 << 30, "MemorySwap": 1 << 20})
    with pytest.raises(InvalidParameter, match="Nano CPUs and CPU Period"):
        ok({"NanoCpus": 10**9, "CpuQuota": 5000})
    with pytest.raises(InvalidParameter, match="Range of CPUs"):
        ok({"NanoCpus": 10**12})
    with pytest.raises(InvalidParameter, match="range for oom score adj"):
        ok({"OomScoreAdj": 1001})
    assert ok({"Memory": 64 << 20}) == []
    filled = spec_resources.apply_host_config_defaults({"Memory": 64 << 20})
    assert filled["ShmSize"] == 64 << 20


def test_rlimits_clamped_to_engine_and_nofile_defaults_to_engines() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    (nofile,) = spec_resources.rlimits({})
    assert nofile == {"type": "RLIMIT_NOFILE", "soft": soft, "hard": hard}
    got = spec_resources.rlimits(
        {
            "Ulimits": [
                {"Name": "nofile", "Soft": 10**9, "Hard": 10**9},
                {"Name": "nproc", "Soft": 10, "Hard": 20},
            ]
        }
    )
    by = {r["type"]: r for r in got}
    assert by["RLIMIT_NOFILE"]["hard"] == min(10**9, hard)
    assert by["RLIMIT_NOFILE"]["soft"] <= by["RLIMIT_NOFILE"]["hard"]
    assert by["RLIMIT_NPROC"] == {"type": "RLIMIT_NPROC", "soft": 10, "hard": 20}
    with pytest.raises(InvalidParameter, match="invalid ulimit type: bogus"):
        spec_resources.rlimits({"Ulimits": [{"Name": "bogus", "Soft": 1, "Hard": 1}]})
    with pytest.raises(InvalidParameter, match="soft limit must be less than or equal"):
        spec_resources.rlimits({"Ulimits": [{"Name": "core", "Soft": 5, "Hard": 1}]})


def test_security_opts_and_oom_score(rootfs: Path) -> None:
    s = make(
        rootfs,
        host_config={
            "SecurityOpt": ["no-new-privileges", "seccomp=unconfined"],
            "OomScoreAdj": 500,
        },
    )
    assert s["process"]["noNewPrivileges"] is True
    assert "seccomp" not in s["linux"]
    assert s["process"]["oomScoreAdj"] == 500
    s = make(rootfs, host_config={"SecurityOpt": ["systempaths=unconfined"]})
    assert s["linux"]["maskedPaths"] == [] and s["linux"]["readonlyPaths"] == []
    s = make(rootfs, host_config={"MaskedPaths": ["/proc/x"], "ReadonlyPaths": []})
    assert s["linux"]["maskedPaths"] == ["/proc/x"] and s["linux"]["readonlyPaths"] == []


def test_oom_score_adj_is_not_lowered_below_what_the_engine_may_set(rootfs: Path) -> None:
    from portside.engine.containers.oci.caps import engine_has_cap

    own = int(Path("/proc/self/oom_score_adj").read_text())
    got = make(rootfs, host_config={"OomScoreAdj": -900})["process"]["oomScoreAdj"]
    assert got == (-900 if engine_has_cap("CAP_SYS_RESOURCE") else max(-900, own))
    with pytest.raises(InvalidParameter, match="range for oom score adj"):
        make(rootfs, host_config={"OomScoreAdj": -1001})


def test_cap_add_drop_reach_the_spec(rootfs: Path) -> None:
    s = make(rootfs, host_config={"CapAdd": ["NET_ADMIN"], "CapDrop": ["chown"]})
    bounding = s["process"]["capabilities"]["bounding"]
    assert "CAP_NET_ADMIN" in bounding and "CAP_CHOWN" not in bounding
    with pytest.raises(InvalidParameter, match="unknown capability"):
        make(rootfs, host_config={"CapAdd": ["NOPE"]})


def test_init_wraps_args_and_binds_the_binary(rootfs: Path) -> None:
    s = make(
        rootfs, args=["top", "-b"], init_path="/usr/bin/tini-static", host_config={"Init": True}
    )
    assert s["process"]["args"] == [INIT_PATH_IN_CONTAINER, "--", "top", "-b"]
    m = mount_at(s, INIT_PATH_IN_CONTAINER)
    assert m == {
        "destination": INIT_PATH_IN_CONTAINER,
        "type": "bind",
        "source": "/usr/bin/tini-static",
        "options": ["bind", "ro"],
    }
    # No init in the host's pid namespace: there is already one.
    s = make(rootfs, args=["top"], init_path="/x", host_config={"Init": True, "PidMode": "host"})
    assert s["process"]["args"] == ["top"]


def test_devices_and_cgroup_rules(rootfs: Path) -> None:
    s = make(
        rootfs,
        host_config={
            "Devices": [
                {
                    "PathOnHost": "/dev/null",
                    "PathInContainer": "/dev/mynull",
                    "CgroupPermissions": "rw",
                }
            ],
            "DeviceCgroupRules": ["c 42:* rmw"],
        },
    )
    (dev,) = s["linux"]["devices"]
    st = os.stat("/dev/null")
    assert dev["path"] == "/dev/mynull" and dev["type"] == "c"
    assert (dev["major"], dev["minor"]) == (os.major(st.st_rdev), os.minor(st.st_rdev))
    rules = s["linux"]["resources"]["devices"]
    assert {
        "allow": True,
        "type": "c",
        "major": dev["major"],
        "minor": dev["minor"],
        "access": "rw",
    } in rules
    assert {"allow": True, "type": "c", "major": 42, "access": "rmw"} in rules
    with pytest.raises(InvalidParameter, match='adding custom device "/dev/nonexistent"'):
        make(rootfs, host_config={"Devices": [{"PathOnHost": "/dev/nonexistent"}]})
    with pytest.raises(InvalidParameter, match="invalid device cgroup format"):
        make(rootfs, host_config={"DeviceCgroupRules": ["x 1:2 rwm"]})


def test_annotations_and_domainname(rootfs: Path) -> None:
    s = make(
        rootfs,
        hostname="h",
        domainname="example.org",
        annotations={"a": "1"},
        host_config={"Annotations": {"b": "2"}},
    )
    assert s["annotations"] == {"b": "2", "a": "1"}
    # runc 1.1 ignores the OCI "domainname" field; moby uses the sysctl instead.
    assert s["linux"]["sysctl"]["kernel.domainname"] == "example.org"
    assert "domainname" not in s
    host_uts = make(rootfs, domainname="example.org", host_config={"UTSMode": "host"})
    assert "kernel.domainname" not in host_uts["linux"]["sysctl"]


def test_exec_process(rootfs: Path) -> None:
    s = make(rootfs, env=["A=1"], working_dir="/srv", host_config={"CapAdd": ["NET_ADMIN"]})
    p = build_exec_process(s, rootfs, ["ls"], env=["B=2"], tty=True)
    assert p["args"] == ["ls"] and p["cwd"] == "/srv" and p["terminal"] is True
    assert "A=1" in p["env"] and "B=2" in p["env"] and "TERM=xterm" in p["env"]
    assert "CAP_NET_ADMIN" in p["capabilities"]["effective"]
    assert p["rlimits"] == s["process"]["rlimits"]
    nobody = build_exec_process(s, rootfs, ["id"], user="nobody", working_dir="/tmp")
    assert nobody["user"]["uid"] == 65534 and nobody["cwd"] == "/tmp"
    assert set(nobody["capabilities"]) == {"bounding"}
    priv = build_exec_process(s, rootfs, ["id"], privileged=True)
    assert priv["capabilities"]["effective"] == available_caps()
    with pytest.raises(InvalidParameter, match="unable to find user"):
        build_exec_process(s, rootfs, ["id"], user="ghost")
