"""Derived columns of the images, volumes and networks tables."""

from __future__ import annotations

from portside.app.models import resources
from portside.app.models.table import RecordTableModel


def test_image_rows_one_per_tag_with_usage():
    images = [
        {"Id": "sha256:aa", "RepoTags": ["busybox:latest", "127.0.0.1:5000/box:v1"], "Size": 10},
        {"Id": "sha256:bb", "RepoTags": ["<none>:<none>"], "Size": 5},
    ]
    containers = [{"ImageID": "sha256:aa"}, {"ImageID": "sha256:aa"}]
    rows = resources.image_rows(images, containers)
    assert [(r["_repo"], r["_tag"], r["_in_use"]) for r in rows] == [
        ("busybox", "latest", 2),
        ("127.0.0.1:5000/box", "v1", 2),
        ("<none>", "<none>", 0),
    ]
    assert rows[2]["_ref"] == "sha256:bb"  # an untagged image is deleted by id


def test_volume_users_and_network_members():
    containers = [
        {
            "Names": ["/web"],
            "Mounts": [{"Type": "volume", "Name": "data"}, {"Type": "bind", "Source": "/x"}],
            "NetworkSettings": {"Networks": {"front": {}, "back": {}}},
        },
        {
            "Names": ["/db"],
            "Mounts": [{"Type": "volume", "Name": "data"}],
            "NetworkSettings": {"Networks": {"back": {}}},
        },
    ]
    vols = resources.volume_rows([{"Name": "data"}, {"Name": "idle"}], {"data": 1234}, containers)
    assert [(v["Name"], v["_size"], v["_users"]) for v in vols] == [
        ("data", 1234, ["db", "web"]),
        ("idle", -1, []),
    ]
    nets = resources.network_rows(
        [
            {
                "Name": "back",
                "Id": "n1",
                "IPAM": {"Config": [{"Subnet": "10.1.0.0/24", "Gateway": "10.1.0.1"}]},
            }
        ],
        containers,
    )
    assert nets[0]["_subnet"] == "10.1.0.0/24" and nets[0]["_gateway"] == "10.1.0.1"
    assert nets[0]["_members"] == ["db", "web"]


def test_record_table_updates_in_place(qtmodeltester):
    model = RecordTableModel(resources.VOLUME_COLUMNS, key=lambda r: r["Name"])
    rows = resources.volume_rows([{"Name": "a"}, {"Name": "b"}], {}, [])
    model.set_records(rows)
    qtmodeltester.check(model, force_py=True)
    inserted, removed, changed = [], [], []
    model.rowsInserted.connect(lambda *a: inserted.append(a[1:]))
    model.rowsRemoved.connect(lambda *a: removed.append(a[1:]))
    model.dataChanged.connect(lambda tl, br, *_: changed.append(tl.row()))
    model.set_records(resources.volume_rows([{"Name": "b"}, {"Name": "c"}], {"b": 7}, []))
    assert removed == [(0, 0)] and inserted == [(1, 1)] and changed == [0]
    assert [r["Name"] for r in model.records()] == ["b", "c"] and model.record("b")["_size"] == 7
