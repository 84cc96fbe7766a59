"""Healthcheck configuration: merging with the image's, validation, probe commands and
the ``docker ps`` texts (pure functions; the schedule is tested in test_health.py)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from portside.engine.containers.health import (
    merge_healthcheck,
    probe_argv,
    validate_healthcheck,
)
from portside.engine.containers.health_state import (
    health_json,
    healthcheck_of,
    status_of,
    status_suffix,
)
from portside.engine.errors import InvalidParameter

S = 1_000_000_000


def test_merge_with_the_image():
    image = {"Test": ["CMD", "true"], "Interval": 5 * S, "Retries": 2}
    assert merge_healthcheck(None, image) == image
    assert merge_healthcheck({"Interval": S}, image) == {
        "Test": ["CMD", "true"],
        "Interval": S,
        "Timeout": None,
        "StartPeriod": None,
        "StartInterval": None,
        "Retries": 2,
    }
    assert merge_healthcheck({"Test": ["NONE"]}, image)["Test"] == ["NONE"]
    assert merge_healthcheck(None, None) is None


def test_validation():
    validate_healthcheck(None)
    validate_healthcheck({"Test": ["CMD", "true"], "Interval": 1_000_000, "Retries": 0})
    for hc, msg in [
        ({"Interval": 999_999}, "Interval in Healthcheck cannot be less than 1ms"),
        ({"Timeout": 1}, "Timeout in Healthcheck cannot be less than 1ms"),
        ({"StartPeriod": 5}, "StartPeriod in Healthcheck cannot be less than 1ms"),
        ({"StartInterval": 5}, "StartInterval in Healthcheck cannot be less than 1ms"),
        ({"Retries": -1}, "Retries in Healthcheck cannot be negative"),
        ({"Interval": "1s"}, "must be an integer"),
        ({"Test": "true"}, "Test in Healthcheck must be a list"),
    ]:
        with pytest.raises(InvalidParameter, match=msg):
            validate_healthcheck(hc)


def test_probe_commands_and_none():
    c = SimpleNamespace(config={})
    assert probe_argv(c, {"Test": ["CMD", "ls", "-l"]}) == ["ls", "-l"]  # type: ignore[arg-type]
    assert probe_argv(c, {"Test": ["CMD-SHELL", "a && b"]}) == ["/bin/sh", "-c", "a && b"]  # type: ignore[arg-type]
    c = SimpleNamespace(config={"Shell": ["/bin/ash", "-ec"]})
    assert probe_argv(c, {"Test": ["CMD-SHELL", "x"]}) == ["/bin/ash", "-ec", "x"]  # type: ignore[arg-type]
    assert healthcheck_of({"Healthcheck": {"Test": ["NONE"]}}) is None
    assert healthcheck_of({"Healthcheck": {"Test": ["CMD"]}}) is None
    assert healthcheck_of({}) is None
    assert healthcheck_of({"Healthcheck": {"Test": ["CMD-SHELL", "x"]}}) is not None


def test_status_texts():
    none = SimpleNamespace(extra={})
    assert health_json(none) is None and status_of(none) == "none" and status_suffix(none) == ""
    starting = SimpleNamespace(extra={"health": {"Status": "starting", "FailingStreak": 0}})
    assert status_suffix(starting) == " (health: starting)"
    assert health_json(starting) == {"Status": "starting", "FailingStreak": 0, "Log": []}
    sick = SimpleNamespace(extra={"health": {"Status": "unhealthy", "FailingStreak": 3}})
    assert status_suffix(sick) == " (unhealthy)" and status_of(sick) == "unhealthy"
