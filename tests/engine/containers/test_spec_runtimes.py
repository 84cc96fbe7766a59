"""build_spec → a real ``crun run`` / ``runc run`` on a busybox rootfs (no engine involved).

Runs once per runtime of the matrix. Each container gets a unique id, its own bundle and is
always ``<runtime> delete -f``-ed.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import shutil
import subprocess
import tarfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from portside.engine.containers.oci import spec_resources
from portside.engine.containers.oci.caps import DEFAULT_CAPS, KNOWN_CAPS, available_caps
from portside.engine.containers.oci.spec import SpecInput, build_spec, find_init_binary
from support.images import busybox_rootfs_tar

CGROUP_PARENT = f"portside-spectest-{os.getpid()}"

pytestmark = [
    pytest.mark.skipif(os.geteuid() != 0, reason="the runtimes need root"),
    pytest.mark.runtime_matrix,
]


def cap_mask(names: list[str] | tuple[str, ...]) -> int:
    return sum(1 << KNOWN_CAPS.index(n) for n in names)


class Runner:
    """Runs one container per call with one OCI runtime, in the test's own state root."""

    def __init__(self, binary: str, base: Path, rootfs: Path) -> None:
        self.binary = binary
        self.base = base
        self.rootfs = rootfs
        self.state = base / "state"

    def _rt(self, *args: str, **kw: Any) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [self.binary, "--root", str(self.state), *args],
            capture_output=True,
            text=True,
            timeout=60,
            **kw,
        )

    def spec(self, cid: str, args: list[str], **kw: Any) -> tuple[Path, dict]:
        bundle = self.base / cid
        bundle.mkdir()
        spec = build_spec(
            SpecInput(
                id=cid,
                rootfs=self.rootfs,
                args=args,
                hostname="box",
                cgroups_path=f"/{CGROUP_PARENT}/{cid}",
                **kw,
            )
        )
        (bundle / "config.json").write_text(json.dumps(spec))
        return bundle, spec

    def run(self, args: list[str], **kw: Any) -> subprocess.CompletedProcess[str]:
        cid = "spec-" + uuid.uuid4().hex[:12]
        bundle, _ = self.spec(cid, args, **kw)
        try:
            return self._rt("run", "--bundle", str(bundle), cid)
        finally:
            self._rt("delete", "-f", cid)

    def sh(self, script: str, **kw: Any) -> str:
        r = self.run(["sh", "-c", script], **kw)
        assert r.returncode == 0, (r.returncode, r.stdout, r.stderr)
        return r.stdout

    def detached(self, args: list[str], **kw: Any) -> tuple[str, Any]:
        """Start a container in the background; returns its id and a stopper."""
        cid = "spec-" + uuid.uuid4().hex[:12]
        bundle, _ = self.spec(cid, args, **kw)
        # The container inherits the runtime's stdio: give it files, not pipes we would wait on.
        log = self.base / f"{cid}.log"
        try:
            with open(log, "w") as out:
                rc = subprocess.run(
                    [
                        self.binary,
                        "--root",
                        str(self.state),
                        "run",
                        "-d",
                        "--bundle",
                        str(bundle),
                        cid,
                    ],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=out,
                    timeout=60,
                ).returncode
        except BaseException:
            self._rt("delete", "-f", cid)
            raise
        if rc != 0:
            self._rt("delete", "-f", cid)
        assert rc == 0, log.read_text()

        def stop() -> None:
            self._rt("kill", cid, "KILL")
            self._rt("delete", "-f", cid)

        return cid, stop


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory, runtime: str) -> Iterator[Runner]:
    binary = shutil.which(runtime)
    if binary is None:
        pytest.fail(f"{runtime} is not installed")
    base = tmp_path_factory.mktemp(runtime)
    rootfs = base / "rootfs"
    rootfs.mkdir()
    with tarfile.open(fileobj=io.BytesIO(busybox_rootfs_tar())) as tar:
        tar.extractall(rootfs, filter="tar")
    r = Runner(binary, base, rootfs)
    try:
        yield r
    finally:
        for state in r.state.glob("*") if r.state.exists() else []:
            r._rt("delete", "-f", state.name)
        # The runtime removes each container's cgroup; the shared parent is ours to remove.
        root = Path("/sys/fs/cgroup")
        for d in [root / CGROUP_PARENT, *root.glob(f"*/{CGROUP_PARENT}")]:
            if d.is_dir():
                try:
                    d.rmdir()
                except OSError:
                    pass


def status_field(out: str, name: str) -> str:
    return next(
        line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith(name + ":")
    )


def test_default_user_caps_and_seccomp(runner: Runner) -> None:
    out = runner.sh(
        "id; cat /proc/self/status; cat /proc/sys/kernel/domainname; hostname",
        domainname="example.org",
    )
    assert out.splitlines()[0] == "uid=0(root) gid=0(root) groups=0(root)"
    assert int(status_field(out, "CapEff"), 16) == cap_mask(DEFAULT_CAPS)
    assert int(status_field(out, "CapBnd"), 16) == cap_mask(DEFAULT_CAPS)
    assert status_field(out, "Seccomp") == "2"
    assert status_field(out, "NoNewPrivs") == "0"
    assert out.splitlines()[-2:] == ["example.org", "box"]


def test_user_nobody(runner: Runner) -> None:
    out = runner.sh("id; grep -E '^Cap(Eff|Bnd)' /proc/self/status; echo $HOME", user="nobody")
    # the runtime sets HOME from the passwd entry
    assert out.splitlines()[-1] == "/nonexistent"
    assert out.splitlines()[0] == "uid=65534(nobody) gid=65534(nogroup) groups=65534(nogroup)"
    assert int(status_field(out, "CapEff"), 16) == 0
    assert int(status_field(out, "CapBnd"), 16) == cap_mask(DEFAULT_CAPS)


def test_masked_and_readonly_paths(runner: Runner) -> None:
    # Small text files from moby's masked list that have content on the host.
    files = [p for p in ("/proc/keys", "/proc/timer_list") if os.path.exists(p)]
    files = [p for p in files if Path(p).read_bytes()]
    assert files, "no maskable /proc file has content on this kernel: nothing shows the mask"
    masked = files[0]
    out = runner.sh(
        f"wc -c < {masked}; ls /sys/firmware | wc -l; "
        "echo 1 > /proc/sys/kernel/domainname 2>/dev/null && echo sys-writable || echo sys-ro"
    )
    size, firmware, sysrw = out.split()
    assert size == "0"
    assert firmware == "0"
    assert sysrw == "sys-ro"


def test_readonly_rootfs(runner: Runner) -> None:
    r = runner.run(["touch", "/newfile"], host_config={"ReadonlyRootfs": True})
    assert r.returncode != 0
    assert "Read-only file system" in r.stderr
    ok = runner.run(
        ["sh", "-c", "touch /tmp/x && touch /dev/shm/y"],
        host_config={"ReadonlyRootfs": True, "Tmpfs": {"/tmp": ""}},
    )
    assert ok.returncode == 0, ok.stderr


def _cgroup_file(cid: str, v1: str, v2: str) -> Path:
    root = Path("/sys/fs/cgroup")
    rel = f"{CGROUP_PARENT}/{cid}"
    if spec_resources.cgroup_unified(root):
        return root / rel / v2
    return root / v1.split(".", 1)[0] / rel / v1


def test_memory_cpu_and_pids_limits_land_in_the_cgroup(runner: Runner) -> None:
    hc = {"Memory": 96 << 20, "NanoCpus": 500_000_000, "PidsLimit": 64}
    cid, stop = runner.detached(["sleep", "60"], host_config=hc)
    try:
        mem = _cgroup_file(cid, "memory.limit_in_bytes", "memory.max")
        assert int(mem.read_text()) == 96 << 20
        pids = _cgroup_file(cid, "pids.max", "pids.max")
        assert pids.read_text().strip() == "64"
        if spec_resources.cgroup_unified():
            assert _cgroup_file(cid, "", "cpu.max").read_text().split() == ["50000", "100000"]
        else:
            assert int(_cgroup_file(cid, "cpu.cfs_quota_us", "").read_text()) == 50000
    finally:
        stop()
    # And the container sees the limit too.
    out = runner.sh(
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes /sys/fs/cgroup/memory.max"
        " 2>/dev/null; true",
        host_config={"Memory": 80 << 20},
    )
    assert str(80 << 20) in out.split()


def test_rlimits_are_clamped_so_the_runtime_can_apply_them(runner: Runner) -> None:
    import resource

    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard * 10 if hard != resource.RLIM_INFINITY else 1 << 20
    out = runner.sh(
        "ulimit -n; ulimit -Hn",
        host_config={"Ulimits": [{"Name": "nofile", "Soft": want, "Hard": want}]},
    )
    soft_in, hard_in = out.split()
    assert int(hard_in) == min(want, hard)
    assert int(soft_in) == min(want, hard)


def test_privileged_has_all_engine_caps_and_no_seccomp(runner: Runner) -> None:
    out = runner.sh("cat /proc/self/status; ls /dev | wc -l", host_config={"Privileged": True})
    assert int(status_field(out, "CapEff"), 16) == cap_mask(available_caps())
    assert status_field(out, "Seccomp") == "0"
    assert int(out.splitlines()[-1]) > 10


def test_custom_profile_with_unknown_syscalls_is_accepted(runner: Runner) -> None:
    profile = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "syscalls": [
            {"names": ["not_a_real_syscall_xyz", "mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}
        ],
    }
    r = runner.run(
        ["mkdir", "/tmp/blocked"], host_config={"SecurityOpt": ["seccomp=" + json.dumps(profile)]}
    )
    assert r.returncode != 0
    assert "Operation not permitted" in r.stderr


def test_no_new_privileges_and_cap_drop(runner: Runner) -> None:
    out = runner.sh(
        "grep -E 'NoNewPrivs|CapEff' /proc/self/status",
        host_config={"SecurityOpt": ["no-new-privileges"], "CapDrop": ["ALL"], "CapAdd": ["CHOWN"]},
    )
    assert status_field(out, "NoNewPrivs") == "1"
    assert int(status_field(out, "CapEff"), 16) == cap_mask(["CAP_CHOWN"])


def test_init_runs_as_pid_one(runner: Runner) -> None:
    init = find_init_binary()
    assert init is not None, "no static init (packaging/dev.sh installs tini)"
    out = runner.sh(
        "cat /proc/1/cmdline | tr '\\0' ' '; echo; echo $$",
        host_config={"Init": True},
        init_path=init,
    )
    first, pid = out.splitlines()
    assert first.startswith("/sbin/docker-init -- sh -c")
    assert pid != "1"


def test_tmpfs_and_shm_size(runner: Runner) -> None:
    out = runner.sh(
        "grep -E ' /(run|dev/shm) ' /proc/mounts",
        host_config={"Tmpfs": {"/run": "size=2m"}, "ShmSize": 8 << 20},
    )
    lines = {line.split()[1]: line for line in out.splitlines()}
    assert "size=2048k" in lines["/run"] and "noexec" in lines["/run"]
    assert "size=8192k" in lines["/dev/shm"]


def test_cleanup_leaves_no_state(runner: Runner) -> None:
    runner.sh("true")
    time.sleep(0.1)
    assert not list(runner.state.glob("spec-*"))


async def test_stats_and_top_of_a_running_container(runner: Runner) -> None:
    from portside.engine.containers import stats, top

    cid, stop = runner.detached(
        ["sh", "-c", "x=$(seq 1 50000); while :; do :; done"], host_config={"Memory": 128 << 20}
    )
    try:
        state = json.loads(runner._rt("state", cid).stdout)
        pid = state["pid"]
        await asyncio.sleep(0.5)
        path = f"/{CGROUP_PARENT}/{cid}"
        s = stats.read_stats(path, pid, name="/c", container_id=cid)
        assert s["memory_stats"]["usage"] > 0
        assert s["memory_stats"]["limit"] == 128 << 20
        assert s["cpu_stats"]["cpu_usage"]["total_usage"] > 0
        assert s["pids_stats"]["current"] >= 1
        assert s["networks"] == {}  # a fresh netns: only lo, which Docker leaves out
        got = await top.top([pid], "-o pid,args")
        assert got["Processes"] == [[str(pid), "sh -c x=$(seq 1 50000); while :; do :; done"]]
    finally:
        stop()
