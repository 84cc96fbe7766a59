"""Capability resolution: Docker's defaults, --cap-add/--cap-drop, ALL, privileged."""

from __future__ import annotations

import pytest
from portside.engine.containers.oci import caps
from portside.engine.errors import InvalidParameter

pytestmark = pytest.mark.runtime_matrix


def test_default_set_is_dockers_fourteen() -> None:
    assert caps.resolve_caps(None, None) == list(caps.DEFAULT_CAPS)
    assert set(caps.DEFAULT_CAPS) == {
        "CAP_CHOWN",
        "CAP_DAC_OVERRIDE",
        "CAP_FSETID",
        "CAP_FOWNER",
        "CAP_MKNOD",
        "CAP_NET_RAW",
        "CAP_SETGID",
        "CAP_SETUID",
        "CAP_SETFCAP",
        "CAP_SETPCAP",
        "CAP_NET_BIND_SERVICE",
        "CAP_SYS_CHROOT",
        "CAP_KILL",
        "CAP_AUDIT_WRITE",
    }


def test_add_and_drop_accept_any_case_with_or_without_prefix() -> None:
    got = caps.resolve_caps(["net_admin", "CAP_SYS_PTRACE"], ["Cap_Net_Raw", "mknod"])
    assert "CAP_NET_ADMIN" in got and "CAP_SYS_PTRACE" in got
    assert "CAP_NET_RAW" not in got and "CAP_MKNOD" not in got
    # The rest of the defaults stay, in moby's order, then the additions.
    assert got[:3] == ["CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID"]
    assert got[-2:] == ["CAP_NET_ADMIN", "CAP_SYS_PTRACE"]


def test_adding_a_default_does_not_duplicate_it() -> None:
    got = caps.resolve_caps(["chown"], None)
    assert got.count("CAP_CHOWN") == 1


def test_add_all_gives_everything_available_minus_drops() -> None:
    got = caps.resolve_caps(["ALL"], ["sys_admin"])
    assert "CAP_SYS_ADMIN" not in got
    assert set(got) == set(caps.available_caps()) - {"CAP_SYS_ADMIN"}


def test_drop_all_keeps_only_the_additions() -> None:
    assert caps.resolve_caps(["chown", "kill"], ["all"]) == ["CAP_CHOWN", "CAP_KILL"]
    assert caps.resolve_caps(None, ["ALL"]) == []


def test_privileged_gets_every_available_cap_regardless_of_drops() -> None:
    assert caps.resolve_caps(None, ["ALL"], privileged=True) == caps.available_caps()


def test_unknown_capability_is_invalid_parameter_with_dockers_message() -> None:
    with pytest.raises(InvalidParameter) as e:
        caps.resolve_caps(["NOT_A_CAP"], None)
    assert e.value.message == 'unknown capability: "CAP_NOT_A_CAP"'
    assert e.value.status == 400
    with pytest.raises(InvalidParameter):
        caps.resolve_caps(None, ["bogus"])


def test_available_caps_follow_the_engines_own_effective_set() -> None:
    with open("/proc/self/status") as f:
        eff = next(int(line.split()[1], 16) for line in f if line.startswith("CapEff:"))
    assert caps.available_caps() == caps.caps_from_mask(eff)


def test_cap_the_engine_lacks_is_refused_up_front() -> None:
    missing = [c for c in caps.KNOWN_CAPS if c not in caps.available_caps()]
    if not missing:
        pytest.skip("the engine holds every capability on this host")
    with pytest.raises(InvalidParameter, match="not available in the current environment"):
        caps.resolve_caps([missing[0]], None)


def test_caps_from_mask_uses_kernel_bit_numbers() -> None:
    assert caps.caps_from_mask(1 << 21) == ["CAP_SYS_ADMIN"]
    assert caps.caps_from_mask(0b101) == ["CAP_CHOWN", "CAP_DAC_READ_SEARCH"]
    assert len(caps.KNOWN_CAPS) == 41  # up to CAP_CHECKPOINT_RESTORE (40)
