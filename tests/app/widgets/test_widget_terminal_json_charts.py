"""Terminal (pyte) key mapping and screen, JSON tree copy, charts' bounded points."""

from __future__ import annotations

import json

from portside.app.widgets.charts import TimeChart
from portside.app.widgets.jsontree import JsonTree
from portside.app.widgets.terminal import TerminalWidget
from PySide6.QtCore import Qt


def test_terminal_keys_become_bytes(qtbot):
    term = TerminalWidget()
    qtbot.addWidget(term)
    sent = []
    term.key_bytes.connect(sent.append)
    qtbot.keyClicks(term, "ls")
    qtbot.keyClick(term, Qt.Key.Key_Return)
    qtbot.keyClick(term, Qt.Key.Key_Up)
    qtbot.keyClick(term, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    qtbot.keyClick(term, Qt.Key.Key_Tab)
    assert sent == [b"l", b"s", b"\r", b"\x1b[A", b"\x03", b"\t"]


def test_terminal_renders_output_and_resizes(qtbot):
    term = TerminalWidget(rows=24, cols=80)
    qtbot.addWidget(term)
    term.feed(b"hello \x1b[31mred\x1b[0m\r\nsecond line")
    assert term.text().splitlines()[:2] == ["hello red", "second line"]
    assert term.vt.buffer[0][6].fg == "red"
    term.show()
    sizes = []
    term.resized.connect(lambda r, c: sizes.append((r, c)))
    term.resize(400, 200)
    qtbot.waitUntil(lambda: bool(sizes), timeout=2000)
    rows, cols = sizes[-1]
    assert term.size_chars == (rows, cols) and cols < 80
    term.grab()  # paints without error


def test_json_tree_finds_and_copies(qtbot, qapp):
    tree = JsonTree()
    qtbot.addWidget(tree)
    doc = {"State": {"Status": "running", "Pid": 42}, "Args": ["-c", "x"], "Empty": {}}
    tree.set_document(doc)
    item = tree.find_key("State", "Pid")
    assert item.text(1) == "42"
    assert tree.find_key("Args").text(1) == "[2]"
    tree.setCurrentItem(tree.find_key("State"))
    assert tree.copy_selected() == json.dumps(doc["State"], indent=2)  # key order kept
    assert qapp.clipboard().text().startswith("{")


def test_chart_keeps_a_bounded_window(qtbot):
    chart = TimeChart("CPU", max_points=10, window=5.0)
    qtbot.addWidget(chart)
    for i in range(100):
        chart.append("cpu", float(i), t=float(i) * 0.1)
    pts = chart.points("cpu")
    assert len(pts) == 10 and pts[-1] == (9.9, 99.0)
    chart.clear()
    assert chart.points("cpu") == []


def test_chart_draws_a_level_stretch_as_one_segment(qtbot):
    chart = TimeChart("Memory", window=300.0, max_points=4000)
    qtbot.addWidget(chart)
    for i in range(200):
        chart.append_many({"mem": 5.0 if i < 100 else 7.0, "cache": float(i)}, t=1000.0 + i)
    assert len(chart.points("mem")) == len(chart.points("cache")) == 200
    area = chart.plot.area()
    level = chart.plot._line(chart.shown("mem"), area)
    # moveTo, the end of the first level, the step up and the end of the second level
    assert level.elementCount() == 4
    assert chart.plot._line(chart.shown("cache"), area).elementCount() == 200
    chart.resize(500, 250)
    chart.show()
    chart.grab()  # paints without error


def test_chart_shows_only_the_window():
    chart = TimeChart("CPU", window=10.0, max_points=100)
    for i in range(50):
        chart.append("cpu", 1000.0 if i == 0 else float(i), t=float(i))
    assert [t for t, _v in chart.shown("cpu")] == [float(t) for t in range(39, 50)]
    assert 49 <= chart.top < 100  # scaled to what is shown, not to the old peak
