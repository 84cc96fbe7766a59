"""The containers tree model on its own: grouping, in-place updates, Qt's model checks."""

from __future__ import annotations

from portside.app.models import containers as cols
from portside.app.models import roles
from portside.app.models.container_filter import ContainersProxy
from portside.app.models.containers import ContainersModel
from PySide6.QtCore import Qt


def c(cid, name, state="running", project=None, status=None, **extra):
    labels = {"com.docker.compose.project": project} if project else {}
    return {
        "Id": cid,
        "Names": [f"/{name}"],
        "Image": "nginx:1.27",
        "State": state,
        "Status": status or ("Up 3 minutes" if state == "running" else "Exited (0) 1 minute ago"),
        "Labels": labels,
        "Created": 1_700_000_000,
        "Ports": [],
        **extra,
    }


def _text(model, cid, col):
    return model.data(model.index_of(cid, col), Qt.ItemDataRole.DisplayRole)


def test_grouping_and_updates_pass_qt_model_checks(qtmodeltester):
    model = ContainersModel()
    qtmodeltester.check(model, force_py=True)
    model.sync([c("a", "web", project="shop"), c("b", "db", project="shop"), c("x", "solo")])
    assert model.rowCount() == 2  # the "shop" group and "solo"
    group = model.index_of("a").parent()
    assert model.data(group, roles.KIND) == "group" and model.rowCount(group) == 2
    assert (
        model.data(group.siblingAtColumn(cols.STATE), Qt.ItemDataRole.DisplayRole) == "2/2 running"
    )

    model.upsert(c("b", "db", state="exited", project="shop", status="Exited (1) now"))
    assert _text(model, "b", cols.STATE) == "Exited (1)"
    assert (
        model.data(group.siblingAtColumn(cols.STATE), Qt.ItemDataRole.DisplayRole) == "1/2 running"
    )
    model.set_stats("a", 12.5, 50 * 1024 * 1024)
    assert _text(model, "a", cols.CPU) == "12.5 %" and _text(model, "a", cols.MEMORY) == "50.0 MiB"
    assert model.data(group.siblingAtColumn(cols.CPU), Qt.ItemDataRole.DisplayRole) == "12.5 %"
    # Moving to another project moves the row; the empty group disappears.
    model.upsert(c("a", "web", project="other"))
    model.upsert(c("b", "db", project="other"))
    assert {
        model.data(model.index(r, 0), Qt.ItemDataRole.DisplayRole) for r in range(model.rowCount())
    } == {"other", "solo"}
    model.sync([])
    assert model.rowCount() == 0


def test_health_ports_and_colours():
    model = ContainersModel()
    ports = [
        {"IP": "0.0.0.0", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"IP": "::", "PrivatePort": 80, "PublicPort": 8080, "Type": "tcp"},
        {"PrivatePort": 9000, "Type": "tcp"},
        {"IP": "127.0.0.1", "PrivatePort": 53, "PublicPort": 5353, "Type": "udp"},
    ]
    model.sync([c("h", "api", status="Up 1 minute (unhealthy)", Ports=ports)])
    assert _text(model, "h", cols.STATE) == "Running (unhealthy)"
    assert (
        model.data(model.index_of("h", cols.STATE), Qt.ItemDataRole.ForegroundRole).name()
        == "#d63031"
    )
    links = model.data(model.index_of("h", cols.PORTS), roles.LINKS)
    assert links == [
        ("5353:53/udp", None),
        ("8080:80", "http://localhost:8080"),
        ("9000/tcp", None),
    ]


def test_proxy_search_keeps_groups_of_matching_children(qtmodeltester):
    model = ContainersModel()
    model.sync([c("a", "web", project="shop"), c("b", "db", project="shop"), c("x", "cache")])
    proxy = ContainersProxy()
    proxy.setSourceModel(model)
    qtmodeltester.check(proxy, force_py=True)
    proxy.set_text("db")
    assert proxy.rowCount() == 1
    group = proxy.index(0, 0)
    assert proxy.rowCount(group) == 1
    proxy.set_text("shop")  # a project name shows the project's containers
    assert proxy.rowCount(proxy.index(0, 0)) == 2
    proxy.set_text("")
    model.upsert(c("x", "cache", state="exited"))
    proxy.set_only_running(True)
    assert proxy.rowCount() == 1  # only the group with running containers
