"""Container details: logs follow output, stats graphs get points, inspect, exec, files."""

from __future__ import annotations

import uuid

from portside.app.panels.details import files as files_module


def _open(gui, cid, state="running"):
    from portside.app.models import container_info

    panel = gui.window.show_panel("Containers")
    gui.wait(
        lambda: container_info.state(panel.model.container(cid) or {}) == state,
        what=f"the container's row, {state}",
    )
    return panel.open_details(cid)


def test_logs_view_follows_output(gui):
    script = (
        'i=0; while :; do i=$((i+1)); printf "\\033[31mline %d\\033[0m\\n" $i; '
        'echo "err $i" >&2; sleep 0.3; done'
    )
    cid = gui.create_container(["sh", "-c", script], name=f"logger-{uuid.uuid4().hex[:6]}")
    details = _open(gui, cid)
    logs = details.show_tab("Logs")
    gui.wait(lambda: "line 2" in logs.view.text_lines(), what="first lines")
    lines = logs.view.text_lines()
    assert "err 1" in lines and "line 1" in lines  # colours are applied, escapes not shown
    seen = len(lines)
    gui.wait(lambda: len(logs.view.text_lines()) >= seen + 4, what="more lines (follow)")
    # Search highlights and moves to a match.
    assert logs.view.find_text("line 3")
    assert logs.view.textCursor().selectedText() == "line 3"
    # Timestamps are shown on demand (the stream is re-read with them).
    logs.timestamps.setChecked(True)
    gui.wait(lambda: any(ln[:2] == "20" and "line 1" in ln for ln in logs.view.text_lines()))
    # Leaving the page closes the stream.
    gui.window.panels["Containers"].close_details()
    gui.wait(lambda: logs._task is None)


def test_logs_memory_is_bounded(gui):
    cid = gui.create_container(
        ["sh", "-c", "seq 1 20000; sleep 300"], name=f"chatty-{uuid.uuid4().hex[:6]}"
    )
    details = _open(gui, cid)
    logs = details.show_tab("Logs")
    logs.view.setMaximumBlockCount(300)
    gui.wait(lambda: logs.view.lines_received >= 1000, what="the tail")
    gui.wait(lambda: logs.view.text_lines()[-1:] == ["20000"])
    assert len(logs.view.text_lines()) <= 300


def test_stats_graph_receives_points(gui):
    cid = gui.create_container(
        ["sh", "-c", "while :; do :; done"], name=f"hot-{uuid.uuid4().hex[:6]}"
    )
    details = _open(gui, cid)
    stats = details.show_tab("Stats")
    gui.wait(lambda: len(stats.cpu.points("cpu")) >= 3, timeout=20, what="CPU points")
    assert max(v for _t, v in stats.cpu.points("cpu")) > 10
    assert stats.memory.points("mem")[-1][1] > 0
    gui.wait(lambda: len(stats.network.points("rx")) >= 1, timeout=10)
    assert cid in gui.ctx.stats.streaming
    details.show_tab("Logs")
    gui.wait(lambda: cid not in gui.ctx.stats.streaming, what="the stream to close")


def test_inspect_tree_and_copy(gui, qapp):
    name = f"insp-{uuid.uuid4().hex[:6]}"
    cid = gui.create_container(["sleep", "300"], name=name)
    details = _open(gui, cid)
    inspect = details.show_tab("Inspect")
    gui.wait(lambda: inspect.tree.find_key("State", "Status") is not None)
    assert inspect.tree.find_key("State", "Status").text(1) == '"running"'
    item = inspect.tree.find_key("Config", "Cmd")
    inspect.tree.setCurrentItem(item)
    inspect._copy()
    assert '"sleep"' in qapp.clipboard().text()
    assert details.name.text() == name and details.state.text() == "Running"


def test_details_header_actions_follow_state(gui, qtbot):
    from PySide6.QtCore import Qt

    cid = gui.create_container(["sleep", "300"], name=f"hdr-{uuid.uuid4().hex[:6]}")
    details = _open(gui, cid)
    assert details.buttons["stop"].isEnabled()
    qtbot.mouseClick(details.buttons["stop"], Qt.MouseButton.LeftButton)
    gui.wait(lambda: details.state.text().startswith("Exited"), timeout=30)
    assert details.buttons["start"].isEnabled() and not details.buttons["stop"].isEnabled()


def test_exec_terminal_runs_a_shell_and_resizes(any_gui):
    gui = any_gui
    cid = gui.create_container(["sleep", "300"], name=f"sh-{uuid.uuid4().hex[:6]}")
    details = _open(gui, cid)
    term = details.show_tab("Exec")
    term.connect_shell()
    gui.wait(lambda: term.session is not None and term.status.text().startswith("Connected"))
    term.send("echo $((6*7))\r")
    gui.wait(lambda: "42" in term.terminal.text(), what="the shell's answer")
    term.terminal.resize(term.terminal.width() + 200, term.terminal.height() + 100)
    rows, cols = term.terminal.size_chars
    gui.wait(lambda: term.terminal.size_chars != (rows, cols), what="the resize")
    rows, cols = term.terminal.size_chars
    term.send("stty size\r")
    gui.wait(lambda: f"{rows} {cols}" in term.terminal.text(), what="stty to see the new size")
    term.send("exit\r")
    gui.wait(lambda: term.session is None and "exited" in term.status.text())


def test_files_browse_and_download(any_gui, tmp_path, monkeypatch):
    gui = any_gui
    cid = gui.create_container(["sleep", "300"], name=f"fs-{uuid.uuid4().hex[:6]}")
    details = _open(gui, cid)
    tab = details.show_tab("Files")
    browser = tab.browser
    names = lambda: {  # noqa: E731
        browser.tree.topLevelItem(i).text(0) for i in range(browser.tree.topLevelItemCount())
    }
    gui.wait(lambda: {"bin/", "etc/"} <= names(), what=lambda: f"{browser.status.text()} {names()}")
    browser.navigate("/etc")
    gui.wait(
        lambda: any(e.basename == "passwd" for e in browser.entries) and browser.path == "/etc",
        what=lambda: f"/etc: {browser.status.text()} {[e.name for e in browser.entries][:5]}",
    )
    dest = tmp_path / "passwd"
    monkeypatch.setattr(files_module, "choose_save_path", lambda parent, name: str(dest))
    item = next(
        browser.tree.topLevelItem(i)
        for i in range(browser.tree.topLevelItemCount())
        if browser.tree.topLevelItem(i).text(0) == "passwd"
    )
    browser.tree.setCurrentItem(item)
    browser.download_selected()
    gui.wait(lambda: dest.exists(), what="the download")
    assert dest.read_bytes().startswith(b"root:x:0:0:")
    assert not (tmp_path / "passwd.part").exists()
