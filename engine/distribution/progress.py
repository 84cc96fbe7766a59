"""Progress messages in the exact JSON shape of dockerd's pull/push streams.

The docker CLI draws one line per ``id`` and a bar from ``progressDetail``; the
``progress`` string is the pre-rendered bar that older clients print verbatim, built
the way moby's ``jsonmessage.JSONProgress.String`` builds it (a 200-column width,
decimal units with four significant digits).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

Sink = Callable[[dict[str, Any]], Awaitable[None]]

_UNITS = ("B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB")


def human_size(size: float) -> str:
    """go-units' ``HumanSize``: ``527B``, ``1.234MB``, ``32.51MB``."""
    i = 0
    while size >= 1000 and i < len(_UNITS) - 1:
        size /= 1000
        i += 1
    return f"{size:.4g}{_UNITS[i]}"


def progress_bar(current: int, total: int) -> str:
    """The ``progress`` string: ``[==>   ]  1.2MB/3.4MB``."""
    if current <= 0 and total <= 0:
        return ""
    if total <= 0:
        return f"{human_size(current):>8}"
    pct = min(int(current / total * 100) // 2, 50)
    bar = "[" + "=" * pct + ">" + " " * max(50 - pct, 0) + "] "
    if current > total:
        return bar + f"{human_size(current):>8}"
    return bar + f"{human_size(current):>8}/{human_size(total)}"


def status(text: str, id_: str = "") -> dict[str, Any]:
    """A plain status line (``progress.Message``): no ``progressDetail``."""
    msg: dict[str, Any] = {"status": text}
    if id_:
        msg["id"] = id_
    return msg


def update(id_: str, action: str, current: int = 0, total: int = 0) -> dict[str, Any]:
    """A per-id progress line (``progress.Update`` / the progress reader)."""
    detail: dict[str, int] = {}
    if current:
        detail["current"] = current
    if total:
        detail["total"] = total
    msg: dict[str, Any] = {"status": action, "progressDetail": detail}
    bar = progress_bar(current, total)
    if bar:
        msg["progress"] = bar
    if id_:
        msg["id"] = id_
    return msg


def error(message: str) -> dict[str, Any]:
    """The in-stream error the CLI prints and exits 1 on."""
    return {"errorDetail": {"message": message}, "error": message}


def aux(data: dict[str, Any]) -> dict[str, Any]:
    """An ``aux`` message (push result: Tag, Digest, Size)."""
    return {"progressDetail": {}, "aux": data}


def short_id(digest: str) -> str:
    """The 12-hex id the CLI shows per layer."""
    return digest.split(":", 1)[-1][:12]


class Meter:
    """Rate-limits byte-progress updates for one layer (every 100 ms and at the end).

    The CLI redraws on every line; tens of thousands of lines for a big layer would
    cost more than the download itself.
    """

    def __init__(self, sink: Sink, id_: str, action: str, total: int, interval: float = 0.1):
        self.sink = sink
        self.id = id_
        self.action = action
        self.total = total
        self.current = 0
        self.interval = interval
        self._last = 0.0

    async def add(self, n: int) -> None:
        """Count ``n`` more bytes; emit when the interval has passed."""
        self.current += n
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            await self.sink(update(self.id, self.action, self.current, self.total))

    async def flush(self) -> None:
        """Emit the final count."""
        await self.sink(update(self.id, self.action, self.current, self.total))
