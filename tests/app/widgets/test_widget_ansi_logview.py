"""ANSI colour parsing and the log view's batching, colours, search and memory bound."""

from __future__ import annotations

from portside.app.client import LogLine
from portside.app.widgets import ansi
from portside.app.widgets.logview import LogView


def test_sgr_colours_and_reset():
    runs, end = ansi.segments("\x1b[1;31mred bold\x1b[0m plain \x1b[38;5;82mgreen\x1b[39m!")
    assert [(t, s.fg, s.bold) for t, s in runs] == [
        ("red bold", ansi.BASIC[1], True),
        (" plain ", None, False),
        ("green", ansi.colour_256(82), False),
        ("!", None, False),
    ]
    assert end == ansi.PLAIN


def test_rgb_background_and_state_carried_across_lines():
    runs, end = ansi.segments("\x1b[48;2;10;20;30mbg")
    assert runs[0][1].bg == "#0a141e" and end.bg == "#0a141e"
    runs, _ = ansi.segments("next", end)
    assert runs[0][1].bg == "#0a141e"


def test_other_escapes_are_dropped():
    text = "\x1b]0;title\x07\x1b[2J\x1b[Hclean\x1b[K"
    assert ansi.strip(text) == "clean"
    assert [t for t, _ in ansi.segments(text)[0]] == ["clean"]


def test_logview_batches_colours_and_searches(qtbot):
    view = LogView(max_lines=100)
    qtbot.addWidget(view)
    view.add(LogLine("stdout", "\x1b[32mready\x1b[0m on port 80", "2024-05-01T10:00:00.123456789Z"))
    view.add(LogLine("stderr", "warning: disk", None))
    assert view.toPlainText() == ""  # painted in a batch, not per line
    qtbot.waitUntil(lambda: view.toPlainText() != "", timeout=2000)
    assert view.text_lines() == ["ready on port 80", "warning: disk"]
    block = view.document().firstBlock()
    colours = {fr.fragment().charFormat().foreground().color().name() for fr in _fragments(block)}
    assert ansi.BASIC[2] in colours
    assert view.find_text("disk") and view.textCursor().selectedText() == "disk"
    assert len(view.extraSelections()) == 1
    view.show_timestamps = True
    view.add(LogLine("stdout", "stamped", "2024-05-01T10:00:01.5Z"))
    assert view.text_lines()[-1] == "2024-05-01 10:00:01.5Z  stamped"


def test_logview_keeps_at_most_max_lines(qtbot):
    view = LogView(max_lines=50)
    qtbot.addWidget(view)
    for i in range(1000):
        view.add(LogLine("stdout", f"line {i}"))
    lines = view.text_lines()
    assert len(lines) == 50 and lines[-1] == "line 999"


def _fragments(block):
    it = block.begin()
    while not it.atEnd():
        yield it
        it += 1
