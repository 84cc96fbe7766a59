"""The Build dialog and the client's build call: pure parts, then the whole app building
from a context folder against dockerd's classic builder and against portsided."""

from __future__ import annotations

import asyncio
import io
import tarfile
import uuid
from pathlib import Path

from portside.app.client.build import BuildProgress, pack_context, packed_context
from portside.app.panels.build_dialog import BuildDialog
from PySide6.QtCore import Qt

DOCKERFILE = """\
FROM busybox:latest AS first
ARG GREETING=hello
COPY . /ctx
RUN echo "$GREETING" > /greeting
LABEL built.by=portside-app

FROM first AS second
RUN false
"""


def _members(data: bytes) -> dict[str, tarfile.TarInfo]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return {m.name: m for m in tar.getmembers()}


def test_pack_context_sends_the_folder_as_root_less_what_dockerignore_lists(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "a.txt").write_text("a")
    (tmp_path / ".dockerignore").write_text("sub\n")
    (tmp_path / "link").symlink_to("sub/a.txt")
    out = io.BytesIO()
    assert pack_context(tmp_path, None, out) == "Dockerfile"
    members = _members(out.getvalue())
    # .dockerignore is applied by the client, as the docker CLI does
    assert set(members) == {"Dockerfile", ".dockerignore", "link"}
    assert members["link"].issym() and members["link"].linkname == "sub/a.txt"
    assert {(m.uid, m.gid, m.uname) for m in members.values()} == {(0, 0, "")}


def test_pack_context_dockerfile_inside_or_outside(tmp_path: Path) -> None:
    ctx = tmp_path / "ctx"
    (ctx / "docker").mkdir(parents=True)
    (ctx / "docker" / "app.Dockerfile").write_text("FROM busybox\n")
    outside = tmp_path / "elsewhere.Dockerfile"
    outside.write_text("FROM busybox\nRUN true\n")
    out = io.BytesIO()
    assert pack_context(ctx, "docker/app.Dockerfile", out) == "docker/app.Dockerfile"
    assert pack_context(ctx, str(ctx / "docker" / "app.Dockerfile"), io.BytesIO()) == (
        "docker/app.Dockerfile"
    )
    out = io.BytesIO()
    name = pack_context(ctx, str(outside), out)
    assert name.startswith(".dockerfile.")
    with tarfile.open(fileobj=io.BytesIO(out.getvalue())) as tar:
        extracted = tar.extractfile(name)
        assert extracted is not None
        assert extracted.read() == b"FROM busybox\nRUN true\n"


def test_packed_context_streams_in_chunks(tmp_path: Path) -> None:
    (tmp_path / "big").write_bytes(b"x" * (3 << 20))

    async def go() -> tuple[int, int]:
        packed = await packed_context(tmp_path)
        try:
            chunks = [c async for c in packed.chunks()]
            return len(chunks), sum(map(len, chunks))
        finally:
            packed.close()

    count, total = asyncio.run(go())
    assert count >= 3 and total > 3 << 20


def test_build_progress_reads_steps_and_result() -> None:
    state = BuildProgress()
    for msg in [
        {"stream": "Step 1/3 : FROM busybox"},
        {"stream": "\n"},
        {"stream": " ---> 5f6e\n"},
        {"stream": "Step 2/3 : RUN echo a"},
        {"stream": "\n ---> Running in 1234\na\n"},
        {"aux": {"ID": "sha256:abcd"}},
        {"stream": "Successfully built abcd\n"},
        {"stream": "Successfully tagged x:y\n"},
    ]:
        state.feed(msg)
    assert (state.step, state.steps, state.instruction) == (2, 3, "RUN echo a")
    assert state.image_id == "sha256:abcd"
    assert state.tags == ["x:y"]
    assert "a" in state.lines
    failed = BuildProgress()
    failed.feed({"errorDetail": {"message": "boom"}, "error": "boom"})
    assert failed.error == "boom"


# -- the app against an engine -----------------------------------------------------------


def _context(tmp_path: Path, dockerfile: str) -> Path:
    ctx = tmp_path / f"ctx-{uuid.uuid4().hex[:6]}"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    (ctx / "hello.txt").write_text("hello from the context\n")
    (ctx / "secret.txt").write_text("must not reach the image\n")
    (ctx / ".dockerignore").write_text("# left out\nsecret.txt\n")
    return ctx


def _wait_for_outcome(gui, dialog, timeout: float) -> None:  # type: ignore[no-untyped-def]
    """Until the build task has ended and the dialog shows how."""
    gui.wait(
        lambda: dialog.task is not None and dialog.task.done() and dialog.outcome.text(),
        timeout=timeout,
        what=lambda: f"the build to end; output so far:\n{dialog.output.toPlainText()}",
    )


def test_build_dialog_builds_tags_and_reports(any_gui, tmp_path):  # type: ignore[no-untyped-def]
    gui = any_gui
    tag = f"portside-built-{uuid.uuid4().hex[:8]}:dev"
    ctx = _context(tmp_path, DOCKERFILE)
    panel = gui.window.show_panel("Images")
    dialog = panel.build_image()
    dialog.context_dir.setText(str(ctx))
    dialog.tag.setText(tag)
    dialog.target.setText("first")
    dialog.add_arg("GREETING", "built by the app")
    task = dialog.start()
    assert task is not None
    try:
        _wait_for_outcome(gui, dialog, 180)
        output = dialog.output.toPlainText()
        assert "Build failed" not in dialog.outcome.text(), output
        assert dialog.outcome.text().startswith("Built "), output
        assert dialog.state.steps == 5, output  # the stage "second" is not built
        assert dialog.state.step == dialog.state.steps
        assert dialog.step.text().startswith("Done: 5 steps")
        assert 'Step 4/5 : RUN echo "$GREETING" > /greeting' in output
        image = gui.engine.api("GET", f"/images/{tag}/json").json()
        assert dialog.state.image_id is not None
        assert image["Id"].endswith(dialog.state.image_id.removeprefix("sha256:"))
        assert image["Config"]["Labels"]["built.by"] == "portside-app"
        gui.wait(
            lambda: any(r.get("_ref") == tag for r in panel.feed.model.records()),
            what="the built image in the table",
        )

        async def read(client):  # type: ignore[no-untyped-def]
            body = {
                "Image": tag,
                "Cmd": ["cat", "/greeting", "/ctx/hello.txt"],
                "HostConfig": {"NetworkMode": "none"},
            }
            cid = (await client.containers.create(body))["Id"]
            gui.created.append(cid)
            await client.containers.start(cid)
            await client.containers.wait(cid)
            return [line.text async for line in client.containers.logs(cid)]

        assert gui.call(read) == ["built by the app", "hello from the context"]
    finally:
        dialog.reject()
        gui.engine.api("DELETE", f"/images/{tag}?force=1")


def test_build_dialog_shows_the_engines_error(any_gui, tmp_path, qtbot):  # type: ignore[no-untyped-def]
    gui = any_gui
    ctx = _context(tmp_path, "FROM busybox:latest\nBOGUS instruction\n")
    panel = gui.window.show_panel("Images")
    qtbot.mouseClick(panel.buttons["build"], Qt.MouseButton.LeftButton)
    dialog = panel.dialog
    assert isinstance(dialog, BuildDialog) and dialog.isVisible()
    dialog.context_dir.setText(str(ctx))
    task = dialog.start()
    assert task is not None
    try:
        _wait_for_outcome(gui, dialog, 60)
        assert dialog.outcome.text() == (
            "Build failed: dockerfile parse error line 2: unknown instruction: BOGUS"
        )
        assert dialog.build_button.isEnabled()
    finally:
        dialog.reject()


def test_build_dialog_refuses_a_missing_folder(any_gui, tmp_path):  # type: ignore[no-untyped-def]
    dialog = any_gui.window.show_panel("Images").build_image()
    dialog.context_dir.setText(str(tmp_path / "nope"))
    assert dialog.start() is None
    assert dialog.outcome.text().startswith("Build failed: choose a context folder")
    dialog.reject()


def test_build_leaves_out_what_dockerignore_lists(any_gui, tmp_path):  # type: ignore[no-untyped-def]
    """``docker build`` never puts files ``.dockerignore`` lists into the image."""
    gui = any_gui
    ctx = _context(tmp_path, "FROM busybox:latest\nCOPY . /ctx\nRUN test ! -e /ctx/secret.txt\n")
    dialog = gui.window.show_panel("Images").build_image()
    dialog.context_dir.setText(str(ctx))
    task = dialog.start()
    assert task is not None
    try:
        _wait_for_outcome(gui, dialog, 120)
        assert dialog.outcome.text().startswith("Built "), dialog.output.toPlainText()
    finally:
        dialog.reject()
        if dialog.state.image_id:
            gui.engine.api("DELETE", f"/images/{dialog.state.image_id}?force=1")


def test_pack_context_follows_dockerignore_exceptions(tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text("FROM busybox\n")
    (tmp_path / "logs" / "deep").mkdir(parents=True)
    (tmp_path / "logs" / "deep" / "keep.log").write_text("k")
    (tmp_path / "logs" / "drop.log").write_text("d")
    (tmp_path / "app.py").write_text("")
    (tmp_path / ".dockerignore").write_text("logs\n!logs/deep/keep.log\nDockerfile\n")
    out = io.BytesIO()
    pack_context(tmp_path, None, out)
    members = _members(out.getvalue())
    # the Dockerfile always goes (the engine drops it from the image when listed)
    assert list(members) == [
        ".dockerignore",
        "Dockerfile",
        "app.py",
        "logs",
        "logs/deep",
        "logs/deep/keep.log",
    ]
