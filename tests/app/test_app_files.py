"""Files both ways: upload (button and drop), new folder, delete, the text viewer,
progress and cancel, and a read-only mount's refusal in words; containers and volumes,
against portsided and dockerd."""

from __future__ import annotations

import io
import tarfile
import tempfile
import uuid
from pathlib import Path

from portside.app.panels.details import files as files_module


def _open_files(gui, cid):
    from portside.app.models import container_info

    panel = gui.window.show_panel("Containers")
    gui.wait(lambda: container_info.state(panel.model.container(cid) or {}) == "running")
    details = panel.open_details(cid)
    browser = details.show_tab("Files").browser
    gui.wait(lambda: any(e.basename == "etc" for e in browser.entries) and not browser.busy)
    return browser


def _go(gui, browser, path):
    browser.navigate(path)
    gui.wait(lambda: browser.path == path and not browser.busy, what=lambda: browser.status.text())


def _names(browser) -> set[str]:
    return {e.basename for e in browser.entries}


def _select(browser, name: str) -> None:
    tree = browser.tree
    for i in range(tree.topLevelItemCount()):
        if tree.topLevelItem(i).text(0).rstrip("/") == name:
            tree.setCurrentItem(tree.topLevelItem(i))
            return
    raise AssertionError(f"{name} is not listed")


def _engine_file(gui, cid: str, path: str) -> bytes | None:
    """A file's content read through the raw API, independently of the app."""
    r = gui.engine.api("GET", f"/containers/{cid}/archive", params={"path": path})
    if r.status_code == 404:
        return None
    assert r.status_code == 200, r.text
    with tarfile.open(fileobj=io.BytesIO(r.content)) as tar:
        member = tar.next()
        assert member is not None
        f = tar.extractfile(member)
        return f.read() if f is not None else b""


def _drop(browser, paths: list[Path]) -> bool:
    """A drop of local files from the desktop, as Qt delivers it; returns whether the
    drag was accepted on entering."""
    from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
    from PySide6.QtGui import QDragEnterEvent, QDropEvent
    from PySide6.QtWidgets import QApplication

    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    enter = QDragEnterEvent(
        QPoint(20, 20),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(browser, enter)
    accepted = enter.isAccepted()
    drop = QDropEvent(
        QPointF(20, 20),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(browser, drop)
    return accepted


def test_upload_drop_mkdir_view_and_delete(any_gui, tmp_path, monkeypatch):
    gui = any_gui
    cid = gui.create_container(["sleep", "300"], name=f"files-{uuid.uuid4().hex[:6]}")
    browser = _open_files(gui, cid)
    _go(gui, browser, "/tmp")
    # New folder.
    monkeypatch.setattr(files_module, "ask_folder_name", lambda parent: "inbox")
    browser.mkdir_button.click()
    gui.wait(lambda: "inbox" in _names(browser) and not browser.busy, what=browser.status.text)
    assert next(e for e in browser.entries if e.basename == "inbox").kind == "dir"
    _go(gui, browser, "/tmp/inbox")
    # Upload by the button.
    local = tmp_path / "hello.txt"
    local.write_text("hello from the desktop\nsecond line\n")
    monkeypatch.setattr(files_module, "choose_upload_paths", lambda parent: [str(local)])
    browser.upload_button.click()
    gui.wait(lambda: "hello.txt" in _names(browser) and not browser.busy, what=browser.status.text)
    assert browser.status.text().startswith("Uploaded hello.txt to /tmp/inbox")
    assert _engine_file(gui, cid, "/tmp/inbox/hello.txt") == local.read_bytes()
    # Upload by dropping a folder from the desktop.
    folder = tmp_path / "dropped"
    (folder / "deep").mkdir(parents=True)
    (folder / "deep" / "data.bin").write_bytes(bytes(range(256)) * 40)
    assert _drop(browser, [folder])
    gui.wait(lambda: "dropped" in _names(browser) and not browser.busy, what=browser.status.text)
    assert _engine_file(gui, cid, "/tmp/inbox/dropped/deep/data.bin") == bytes(range(256)) * 40
    # The read-only viewer.
    _select(browser, "hello.txt")
    browser.view_button.click()
    gui.wait(lambda: browser.viewer is not None and browser.viewer.isVisible())
    viewer = browser.viewer
    assert viewer.windowTitle() == "/tmp/inbox/hello.txt"
    assert viewer.text.toPlainText() == "hello from the desktop\nsecond line\n"
    assert viewer.text.isReadOnly()
    viewer.close()
    # Delete a file, then a folder with everything in it.
    monkeypatch.setattr(files_module, "confirm_delete", lambda parent, path: True)
    _select(browser, "hello.txt")
    browser.delete_button.click()
    gui.wait(lambda: "hello.txt" not in _names(browser) and not browser.busy)
    assert browser.status.text() == "Deleted /tmp/inbox/hello.txt"
    assert _engine_file(gui, cid, "/tmp/inbox/hello.txt") is None
    _select(browser, "dropped")
    browser.delete_button.click()
    gui.wait(lambda: "dropped" not in _names(browser) and not browser.busy)
    assert _engine_file(gui, cid, "/tmp/inbox/dropped/deep/data.bin") is None


def test_a_large_upload_shows_progress_and_cancels(any_gui, tmp_path):
    gui = any_gui
    cid = gui.create_container(["sleep", "300"], name=f"big-{uuid.uuid4().hex[:6]}")
    browser = _open_files(gui, cid)
    _go(gui, browser, "/tmp")
    big = tmp_path / "big.img"
    size = 64 * 1024 * 1024
    with big.open("wb") as f:
        f.truncate(size)  # sparse: cheap to make, still 64 MiB to send
    seen: list[tuple[int, int]] = []

    def progress(done: int, total: int) -> None:
        seen.append((done, total))
        if done >= 4 * 1024 * 1024 and browser.busy:
            browser.cancel()

    browser.transfer_progress.connect(progress)
    browser.upload([big])
    gui.wait(lambda: not browser.busy, what=browser.status.text)
    assert browser.status.text() == "Cancelled."
    assert not browser.progress.isVisible()
    totals = {t for _d, t in seen if t}
    assert totals and min(totals) > size  # the tar: the file plus its headers
    assert max(d for d, _t in seen) < size
    # Nothing complete arrived.
    r = gui.engine.api("HEAD", f"/containers/{cid}/archive", params={"path": "/tmp/big.img"})
    if r.status_code == 200:
        import base64
        import json

        stat = json.loads(base64.b64decode(r.headers["X-Docker-Container-Path-Stat"]))
        assert stat["size"] < size
    # The temporary tar goes once the cancelled task has unwound.
    gui.wait(lambda: not list(Path(tempfile.gettempdir()).glob("portside-upload-*.tar")))


def test_a_read_only_mount_refuses_in_a_sentence(any_gui, tmp_path, monkeypatch):
    gui = any_gui
    volume = f"ro-{uuid.uuid4().hex[:6]}"
    gui.call(lambda c: c.volumes.create(volume))
    cid = gui.create_container(
        ["sleep", "300"],
        name=f"ro-{uuid.uuid4().hex[:6]}",
        HostConfig={"NetworkMode": "none", "Binds": [f"{volume}:/data:ro"]},
    )
    browser = _open_files(gui, cid)
    _go(gui, browser, "/data")
    local = tmp_path / "note.txt"
    local.write_text("nope")
    browser.upload([local])
    gui.wait(lambda: not browser.busy and browser.status.text().startswith("Could not"))
    text = browser.status.text()
    assert text.startswith("Could not upload note.txt to /data: "), text
    assert "read-only" in text and text.endswith("."), text
    browser.mkdir("sub")
    gui.wait(lambda: not browser.busy and browser.status.text().startswith("Could not create"))
    assert "read-only" in browser.status.text()
    assert _engine_file(gui, cid, "/data/note.txt") is None
    gui.cleanup()
    gui.created.clear()
    gui.call(lambda c: c.volumes.remove(volume))


def test_a_volume_takes_uploads_folders_and_deletes(any_gui, tmp_path):
    gui = any_gui
    name = f"vol-{uuid.uuid4().hex[:6]}"
    gui.call(lambda c: c.volumes.create(name))
    panel = gui.window.show_panel("Volumes")
    gui.wait(lambda: any(r.get("Name") == name for r in panel.feed.model.records()))
    browser = panel.browse(name)
    files = browser.files
    gui.wait(lambda: files.path == "/volume" and not files.busy and browser.helper)
    local = tmp_path / "report.csv"
    local.write_text("a,b\n1,2\n")
    files.upload([local])
    gui.wait(lambda: "report.csv" in _names(files) and not files.busy, what=files.status.text)
    files.mkdir("archive")
    gui.wait(lambda: "archive" in _names(files) and not files.busy, what=files.status.text)
    files.delete("/volume/report.csv")
    gui.wait(lambda: "report.csv" not in _names(files) and not files.busy, what=files.status.text)
    assert files.status.text() == "Deleted /volume/report.csv"
    assert _names(files) == {"archive"}
    helper = browser.helper
    panel.close_browser()
    gui.wait(lambda: gui.engine.api("GET", f"/containers/{helper}/json").status_code == 404)
    # What the app wrote is in the volume, as any container sees it.
    cid = gui.create_container(
        ["ls", "/v"], start=True, HostConfig={"NetworkMode": "none", "Binds": [f"{name}:/v"]}
    )
    gui.call(lambda c: c.containers.wait(cid))
    out = gui.call(lambda c: _logs(c, cid))
    assert out.split() == ["archive"]
    gui.cleanup()
    gui.created.clear()
    gui.call(lambda c: c.volumes.remove(name))


async def _logs(client, cid: str) -> str:
    return "\n".join([line.text async for line in client.containers.logs(cid)])
