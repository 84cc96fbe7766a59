"""Pull progress folding and stats arithmetic (pure functions)."""

from __future__ import annotations

import pytest
from portside.app.client.images import split_reference
from portside.app.client.progress import PullProgress
from portside.app.client.stats import StatsSample


def test_pull_progress_per_layer_and_total():
    p = PullProgress()
    p.feed({"status": "Pulling from library/busybox", "id": "latest"})
    assert p.layers == {}
    p.feed({"status": "Pulling fs layer", "progressDetail": {}, "id": "aaa"})
    p.feed({"status": "Pulling fs layer", "progressDetail": {}, "id": "bbb"})
    layer = p.feed(
        {"status": "Downloading", "progressDetail": {"current": 50, "total": 100}, "id": "aaa"}
    )
    assert layer is not None and layer.fraction == pytest.approx(0.25)
    assert p.fraction == pytest.approx(0.125)
    p.feed({"status": "Download complete", "progressDetail": {}, "id": "aaa"})
    p.feed({"status": "Extracting", "progressDetail": {"current": 100, "total": 100}, "id": "aaa"})
    p.feed({"status": "Pull complete", "progressDetail": {}, "id": "aaa"})
    p.feed({"status": "Already exists", "progressDetail": {}, "id": "bbb"})
    assert p.fraction == 1.0 and not p.finished
    p.feed({"status": "Digest: sha256:abc"})
    p.feed({"status": "Status: Downloaded newer image for busybox:latest"})
    assert p.finished and p.digest == "sha256:abc"


@pytest.mark.parametrize(
    "ref,expected",
    [
        ("busybox", ("busybox", None)),
        ("busybox:1.36", ("busybox", "1.36")),
        ("127.0.0.1:5000/team/app", ("127.0.0.1:5000/team/app", None)),
        ("127.0.0.1:5000/team/app:v2", ("127.0.0.1:5000/team/app", "v2")),
        ("alpine@sha256:00ff", ("alpine", "sha256:00ff")),
    ],
)
def test_split_reference(ref, expected):
    assert split_reference(ref) == expected


def test_stats_sample_like_the_cli():
    doc = {
        "read": "2024-01-01T00:00:01Z",
        "cpu_stats": {
            "cpu_usage": {"total_usage": 3_000_000_000},
            "system_cpu_usage": 20_000_000_000,
            "online_cpus": 2,
        },
        "precpu_stats": {
            "cpu_usage": {"total_usage": 2_000_000_000},
            "system_cpu_usage": 18_000_000_000,
        },
        "memory_stats": {"usage": 10_000, "limit": 40_000, "stats": {"inactive_file": 2_000}},
        "networks": {
            "eth0": {"rx_bytes": 5, "tx_bytes": 7},
            "eth1": {"rx_bytes": 1, "tx_bytes": 1},
        },
        "blkio_stats": {
            "io_service_bytes_recursive": [
                {"major": 8, "minor": 0, "op": "Read", "value": 100},
                {"major": 8, "minor": 0, "op": "Write", "value": 30},
                {"major": 8, "minor": 16, "op": "read", "value": 1},
            ]
        },
        "pids_stats": {"current": 3},
    }
    s = StatsSample.from_docker(doc)
    assert s.cpu_percent == pytest.approx(100.0)  # 1 s of CPU over 2 s of 2-CPU time x 2
    assert s.memory_usage == 8_000 and s.memory_percent == pytest.approx(20.0)
    assert (s.net_rx, s.net_tx, s.block_read, s.block_write, s.pids) == (6, 8, 101, 30, 3)


def test_first_stats_sample_has_no_cpu_figure():
    doc = {"cpu_stats": {"cpu_usage": {"total_usage": 5}, "system_cpu_usage": 9}}
    assert StatsSample.from_docker(doc).cpu_percent == 0.0
