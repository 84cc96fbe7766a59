"""ANSI SGR colour codes in log lines → styled segments (pure; the log view paints them).

Only "select graphic rendition" (``ESC [ ... m``) is interpreted: colours (16, 256 and
RGB), bold, italic, underline and reset. Any other escape sequence (cursor movement,
erase, OSC titles) is dropped, because a log is not a terminal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

_ESCAPES = re.compile(
    r"\x1b\[([0-9;:?]*)([A-Za-z])|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[()][A-Z0-9]|\x1b[=>78]"
)

BASIC = [
    "#000000", "#cd3131", "#0dbc79", "#e5e510", "#2472c8", "#bc3fbc", "#11a8cd", "#e5e5e5",
]  # fmt: skip
BRIGHT = [
    "#666666", "#f14c4c", "#23d18b", "#f5f543", "#3b8eea", "#d670d6", "#29b8db", "#ffffff",
]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Style:
    """The rendition in effect for a run of text (colours as ``#rrggbb``)."""

    fg: str | None = None
    bg: str | None = None
    bold: bool = False
    italic: bool = False
    underline: bool = False


PLAIN = Style()


def colour_256(n: int) -> str:
    """The xterm 256-colour palette."""
    if n < 8:
        return BASIC[n]
    if n < 16:
        return BRIGHT[n - 8]
    if n < 232:
        n -= 16
        levels = [0, 95, 135, 175, 215, 255]
        r, g, b = levels[n // 36], levels[(n // 6) % 6], levels[n % 6]
        return f"#{r:02x}{g:02x}{b:02x}"
    v = 8 + (n - 232) * 10
    return f"#{v:02x}{v:02x}{v:02x}"


def _apply(style: Style, params: str) -> Style:
    codes = [int(p) if p.isdigit() else 0 for p in re.split(r"[;:]", params)] if params else [0]
    i = 0
    while i < len(codes):
        c = codes[i]
        if c == 0:
            style = PLAIN
        elif c == 1:
            style = replace(style, bold=True)
        elif c == 3:
            style = replace(style, italic=True)
        elif c == 4:
            style = replace(style, underline=True)
        elif c == 22:
            style = replace(style, bold=False)
        elif c == 23:
            style = replace(style, italic=False)
        elif c == 24:
            style = replace(style, underline=False)
        elif 30 <= c <= 37:
            style = replace(style, fg=BASIC[c - 30])
        elif 90 <= c <= 97:
            style = replace(style, fg=BRIGHT[c - 90])
        elif 40 <= c <= 47:
            style = replace(style, bg=BASIC[c - 40])
        elif 100 <= c <= 107:
            style = replace(style, bg=BRIGHT[c - 100])
        elif c == 39:
            style = replace(style, fg=None)
        elif c == 49:
            style = replace(style, bg=None)
        elif c in (38, 48) and i + 1 < len(codes):
            colour = None
            if codes[i + 1] == 5 and i + 2 < len(codes):
                colour = colour_256(codes[i + 2] % 256)
                i += 2
            elif codes[i + 1] == 2 and i + 4 < len(codes):
                r, g, b = (min(max(x, 0), 255) for x in codes[i + 2 : i + 5])
                colour = f"#{r:02x}{g:02x}{b:02x}"
                i += 4
            if colour:
                style = replace(style, fg=colour) if c == 38 else replace(style, bg=colour)
        i += 1
    return style


def segments(text: str, style: Style = PLAIN) -> tuple[list[tuple[str, Style]], Style]:
    """Split ``text`` into styled runs; returns them and the style in effect at the end."""
    out: list[tuple[str, Style]] = []
    pos = 0
    for m in _ESCAPES.finditer(text):
        if m.start() > pos:
            out.append((text[pos : m.start()], style))
        if m.group(2) == "m":
            style = _apply(style, m.group(1) or "")
        pos = m.end()
    if pos < len(text):
        out.append((text[pos:], style))
    return out, style


def strip(text: str) -> str:
    """The text without escape sequences."""
    return _ESCAPES.sub("", text)
