"""The committed image's config: moby's merge of the new config with the container's."""

from __future__ import annotations

from portside.engine.containers.files.commit import merge_config
from portside.engine.images.changes import apply_changes

BASE = {
    "User": "app",
    "Env": ["PATH=/bin", "A=1"],
    "Cmd": ["sh"],
    "Entrypoint": None,
    "Labels": {"from": "container", "shared": "c"},
    "ExposedPorts": {"80/tcp": {}},
    "Volumes": {"/data": {}},
    "WorkingDir": "/srv",
    "StopSignal": "SIGQUIT",
    "Healthcheck": {"Test": ["CMD", "true"], "Interval": 5},
}


def test_changes_on_top_of_the_container_config():
    cfg = merge_config(apply_changes(dict(BASE), ["ENV A=2", "CMD echo hi", "EXPOSE 443"]), BASE)
    assert cfg["Env"] == ["PATH=/bin", "A=2"]
    assert cfg["Cmd"] == ["/bin/sh", "-c", "echo hi"]
    assert cfg["ExposedPorts"] == {"80/tcp": {}, "443/tcp": {}}
    assert cfg["User"] == "app" and cfg["WorkingDir"] == "/srv"


def test_override_body_fills_from_the_container():
    cfg = merge_config({"Cmd": ["cat"], "Env": ["B=1"], "Labels": {"shared": "new"}}, BASE)
    assert cfg["Cmd"] == ["cat"]
    assert cfg["Env"] == ["B=1", "PATH=/bin", "A=1"]
    assert cfg["Labels"] == {"shared": "new", "from": "container"}
    assert cfg["User"] == "app" and cfg["StopSignal"] == "SIGQUIT"
    assert cfg["Volumes"] == {"/data": {}} and cfg["ExposedPorts"] == {"80/tcp": {}}
    assert cfg["Healthcheck"] == BASE["Healthcheck"]


def test_entrypoint_keeps_its_own_cmd():
    cfg = merge_config({"Entrypoint": ["/run"]}, BASE)
    assert cfg["Entrypoint"] == ["/run"] and cfg.get("Cmd") is None
    cfg = merge_config({"Healthcheck": {"Test": ["CMD", "x"]}}, BASE)
    assert cfg["Healthcheck"]["Test"] == ["CMD", "x"] and cfg["Healthcheck"]["Interval"] == 5
