"""A few containers with huge labels must not pin hundreds of megabytes in the engine:
the event history that ``since`` replays is bounded by bytes, not only by count, the
metadata database keeps no copies of values it wrote, and freed big blocks go back to
the system."""

from __future__ import annotations

from pathlib import Path

from portside.engine.system.events import EventBus
from support.engine import PortsideEngine


def _rss_bytes(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def test_history_drops_the_oldest_events_past_its_byte_budget() -> None:
    bus = EventBus(max_events=1000, max_bytes=100_000)
    for i in range(20):
        bus.publish("container", "create", f"c{i}", {"big": "x" * 30_000})
    assert bus.history_bytes <= 100_000
    kept = [e.actor_id for e in bus.history(None, None)]
    assert kept == ["c17", "c18", "c19"]  # the newest ones, in order


def test_an_event_bigger_than_the_budget_reaches_live_subscribers_only() -> None:
    bus = EventBus(max_events=1000, max_bytes=10_000)
    bus.publish("container", "create", "small")
    bus.publish("container", "create", "huge", {"big": "x" * 50_000})
    assert [e.actor_id for e in bus.history(None, None)] == ["small"]


def test_create_remove_cycles_with_a_30_mb_label_do_not_pile_up_memory(
    engine_with_busybox: PortsideEngine,
) -> None:
    e = engine_with_busybox
    assert e.proc is not None
    label = "x" * (30 << 20)
    for _ in range(4):
        r = e.api(
            "POST",
            "/containers/create",
            json={"Image": "busybox", "Cmd": ["true"], "Labels": {"big": label}},
            timeout=120,
        )
        assert r.status_code == 201, r.text
        cid = r.json()["Id"]
        r = e.api("DELETE", f"/containers/{cid}", timeout=120)
        assert r.status_code == 204, r.text
    rss = _rss_bytes(e.proc.pid)
    # It was 390 MB: the event history, SQLite's cached statements (each keeps the values
    # last bound to it) and glibc's heap (big freed blocks kept) all held the label.
    assert rss < 150 << 20, f"engine RSS {rss >> 20} MB after four 30 MB-label cycles"
