"""Docker's default seccomp profile as data and its conversion to OCI form."""

from __future__ import annotations

import json

import pytest
from portside.engine.containers.oci import seccomp
from portside.engine.containers.oci.caps import DEFAULT_CAPS
from portside.engine.errors import InvalidParameter

pytestmark = pytest.mark.runtime_matrix


def allowed(profile: dict) -> set[str]:
    """Syscalls allowed unconditionally (no argument filter)."""
    return {
        n
        for rule in profile["syscalls"]
        if rule["action"] == "SCMP_ACT_ALLOW" and not rule.get("args")
        for n in rule["names"]
    }


def rules_for(profile: dict, name: str) -> list[dict]:
    return [r for r in profile["syscalls"] if name in r["names"]]


def test_default_action_is_eperm_and_arch_map_is_native_plus_compat() -> None:
    p = seccomp.default_profile("amd64", DEFAULT_CAPS)
    assert p["defaultAction"] == "SCMP_ACT_ERRNO"
    assert p["defaultErrnoRet"] == 1
    assert p["architectures"] == ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"]
    arm = seccomp.default_profile("arm64", DEFAULT_CAPS)
    assert arm["architectures"] == ["SCMP_ARCH_AARCH64", "SCMP_ARCH_ARM"]


def test_everyday_syscalls_allowed_dangerous_ones_not() -> None:
    got = allowed(seccomp.default_profile("amd64", DEFAULT_CAPS))
    for name in ("read", "write", "openat", "execve", "futex", "epoll_wait", "chroot"):
        assert name in got, name
    for name in (
        "mount",
        "umount2",
        "unshare",
        "setns",
        "reboot",
        "kexec_load",
        "bpf",
        "init_module",
        "open_by_handle_at",
        "keyctl",
        "add_key",
        "settimeofday",
        "io_uring_setup",
        "io_uring_enter",
        "perf_event_open",
        "syslog",
    ):
        assert name not in got, name


def test_arch_specific_rules_follow_the_architecture() -> None:
    amd = allowed(seccomp.default_profile("amd64", DEFAULT_CAPS))
    arm = allowed(seccomp.default_profile("arm64", DEFAULT_CAPS))
    assert "arch_prctl" in amd and "modify_ldt" in amd
    assert "arch_prctl" not in arm and "set_tls" in arm and "cacheflush" in arm
    assert "set_tls" not in amd


def test_capabilities_unlock_their_syscalls() -> None:
    base = seccomp.default_profile("amd64", DEFAULT_CAPS)
    admin = seccomp.default_profile("amd64", [*DEFAULT_CAPS, "CAP_SYS_ADMIN"])
    assert "mount" not in allowed(base) and "mount" in allowed(admin)
    assert "setns" in allowed(admin) and "clone" in allowed(admin)
    ptrace = seccomp.default_profile("amd64", [*DEFAULT_CAPS, "CAP_SYS_PTRACE"])
    assert "kcmp" in allowed(ptrace) and "kcmp" not in allowed(base)
    nochroot = seccomp.default_profile("amd64", [c for c in DEFAULT_CAPS if c != "CAP_SYS_CHROOT"])
    assert "chroot" not in allowed(nochroot)


def test_clone_without_sys_admin_is_limited_to_no_namespace_flags() -> None:
    base = seccomp.default_profile("amd64", DEFAULT_CAPS)
    clone = rules_for(base, "clone")
    assert len(clone) == 1
    (arg,) = clone[0]["args"]
    assert arg == {"index": 0, "value": 2114060288, "valueTwo": 0, "op": "SCMP_CMP_MASKED_EQ"}
    clone3 = rules_for(base, "clone3")
    assert clone3 == [{"names": ["clone3"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38}]
    admin = seccomp.default_profile("amd64", ["CAP_SYS_ADMIN"])
    assert not any(r["action"] == "SCMP_ACT_ERRNO" for r in rules_for(admin, "clone3"))


def test_socket_and_personality_are_argument_filtered() -> None:
    base = seccomp.default_profile("amd64", DEFAULT_CAPS)
    (sock,) = rules_for(base, "socket")
    assert sock["args"] == [{"index": 0, "value": 40, "op": "SCMP_CMP_NE"}]  # not AF_VSOCK
    values = sorted(r["args"][0]["value"] for r in rules_for(base, "personality"))
    assert values == [0, 8, 0x20000, 0x20008, 0xFFFFFFFF]


def test_min_kernel_rule_applies_on_this_kernel() -> None:
    # Kernels this engine supports are all newer than 4.8.
    assert "ptrace" in allowed(seccomp.default_profile("amd64", DEFAULT_CAPS))


def test_output_uses_only_oci_keys() -> None:
    p = seccomp.default_profile(None, DEFAULT_CAPS)
    assert set(p) <= {"defaultAction", "defaultErrnoRet", "architectures", "syscalls"}
    for rule in p["syscalls"]:
        assert set(rule) <= {"names", "action", "errnoRet", "args"}
    json.dumps(p)


def test_custom_profile_conversion_and_legacy_name() -> None:
    custom = {
        "defaultAction": "SCMP_ACT_ALLOW",
        "architectures": ["SCMP_ARCH_X86_64"],
        "syscalls": [
            {"name": "mkdir", "action": "SCMP_ACT_ERRNO"},
            {"names": ["chmod"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_FOWNER"]}},
        ],
    }
    out = seccomp.to_oci(custom, "amd64", DEFAULT_CAPS)
    assert out["architectures"] == ["SCMP_ARCH_X86_64"]
    assert out["syscalls"] == [{"names": ["mkdir"], "action": "SCMP_ACT_ERRNO"}]


@pytest.mark.parametrize(
    ("profile", "message"),
    [
        (
            {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["x"], "archMap": [{}]},
            "both 'architectures' and 'archMap'",
        ),
        (
            {
                "defaultAction": "SCMP_ACT_ALLOW",
                "syscalls": [{"name": "a", "names": ["b"], "action": "SCMP_ACT_ALLOW"}],
            },
            "use either 'name' or 'names'",
        ),
        ({"syscalls": []}, "defaultAction"),
        (
            {"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["a"], "action": "NOPE"}]},
            "invalid action",
        ),
    ],
)
def test_malformed_profiles_are_invalid_parameter(profile: dict, message: str) -> None:
    with pytest.raises(InvalidParameter, match=message):
        seccomp.to_oci(profile, "amd64", DEFAULT_CAPS)


def test_security_opts_select_the_profile() -> None:
    assert seccomp.from_security_opts(["seccomp=unconfined"], "amd64", DEFAULT_CAPS, False) is None
    assert seccomp.from_security_opts(["seccomp:unconfined"], "amd64", DEFAULT_CAPS, False) is None
    assert seccomp.from_security_opts([], "amd64", DEFAULT_CAPS, True) is None
    default = seccomp.from_security_opts([], "amd64", DEFAULT_CAPS, False)
    assert default == seccomp.default_profile("amd64", DEFAULT_CAPS)
    assert seccomp.from_security_opts(["seccomp=builtin"], "amd64", DEFAULT_CAPS, False) == default
    inline = json.dumps({"defaultAction": "SCMP_ACT_LOG"})
    got = seccomp.from_security_opts([f"seccomp={inline}"], "amd64", DEFAULT_CAPS, False)
    assert got == {"defaultAction": "SCMP_ACT_LOG", "syscalls": []}
    with pytest.raises(InvalidParameter, match="Decoding seccomp profile failed"):
        seccomp.from_security_opts(["seccomp={not json"], "amd64", DEFAULT_CAPS, False)


def test_parse_security_opts_like_docker() -> None:
    assert seccomp.parse_security_opts(["no-new-privileges"])["no_new_privileges"] is True
    assert seccomp.parse_security_opts(["no-new-privileges=false"])["no_new_privileges"] is False
    assert seccomp.parse_security_opts(["no-new-privileges:true"])["no_new_privileges"] is True
    assert seccomp.parse_security_opts(["systempaths=unconfined"])["systempaths"] == "unconfined"
    with pytest.raises(InvalidParameter) as e:
        seccomp.parse_security_opts(["bogus"])
    assert e.value.message == 'invalid --security-opt 1: "bogus"'
    with pytest.raises(InvalidParameter, match="invalid --security-opt 2"):
        seccomp.parse_security_opts(["no-new-privileges=maybe"])
    with pytest.raises(InvalidParameter, match="invalid --security-opt 2"):
        seccomp.parse_security_opts(["what=ever"])
