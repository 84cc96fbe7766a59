"""dockerd's build progress messages (one JSON object per line)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

Sink = Callable[[dict[str, Any]], Awaitable[None]]

STDERR_START = "\x1b[91m"
STDERR_END = "\x1b[0m"


class Progress:
    """Writes the build's stream; quiet builds send only the final id."""

    def __init__(self, sink: Sink, quiet: bool = False) -> None:
        self.sink = sink
        self.quiet = quiet

    async def line(self, text: str) -> None:
        """A ``{"stream": …}`` message (a newline is added when missing)."""
        if not self.quiet:
            await self.sink({"stream": text if text.endswith("\n") else text + "\n"})

    async def raw(self, text: str, stderr: bool = False) -> None:
        """Output of a RUN step as it comes."""
        if self.quiet or not text:
            return
        if stderr:
            text = STDERR_START + text + STDERR_END
        await self.sink({"stream": text})

    async def message(self, obj: dict[str, Any]) -> None:
        """A pull-progress message passed through."""
        if not self.quiet:
            await self.sink(obj)

    async def aux_id(self, image_id: str) -> None:
        """``{"aux":{"ID":…}}``: the CLI's ``--iidfile`` reads it."""
        if not self.quiet:
            await self.sink({"aux": {"ID": image_id}})

    async def quiet_result(self, image_id: str) -> None:
        """``-q``: the id alone."""
        if self.quiet:
            await self.sink({"stream": image_id + "\n"})


def error_message(message: str, code: int | None = None) -> dict[str, Any]:
    """An error after the stream started (the CLI exits with ``code`` when set)."""
    detail: dict[str, Any] = {"message": message}
    if code:
        detail["code"] = code
    return {"errorDetail": detail, "error": message}
