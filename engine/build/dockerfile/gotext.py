"""Go's notions of white space and quoting, which BuildKit's parser relies on.

Python's ``str.isspace``/``str.strip`` also treat U+001C..U+001F as space and
``json.dumps`` is not ``strconv.Quote``; the parser must split and word its errors as Go does.
"""

from __future__ import annotations

# unicode.IsSpace: the Latin-1 spaces plus the White_Space property (Zs, Zl, Zp).
GO_SPACE = (
    "\t\n\v\f\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)
_GO_SPACE_SET = frozenset(GO_SPACE)


def is_space(ch: str) -> bool:
    """``unicode.IsSpace`` for one character."""
    return ch in _GO_SPACE_SET


def trim_space(s: str) -> str:
    """``strings.TrimSpace``."""
    return s.strip(GO_SPACE)


def trim_left_space(s: str) -> str:
    """``strings.TrimLeftFunc(s, unicode.IsSpace)``."""
    return s.lstrip(GO_SPACE)


def quote(s: str) -> str:
    """``strconv.Quote`` (``%q``) for the strings that appear in error messages."""
    out = ['"']
    for ch in s:
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x10000:
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x80 else f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


_UNITS_NS = {
    "ns": 1,
    "us": 1_000,
    "\u00b5s": 1_000,
    "\u03bcs": 1_000,
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
}


def parse_duration_ns(s: str) -> int:
    """``time.ParseDuration`` in nanoseconds; ValueError with Go's wording when invalid."""
    orig = s
    bad = ValueError(f"time: invalid duration {quote(orig)}")
    neg = False
    if s and s[0] in "+-":
        neg = s[0] == "-"
        s = s[1:]
    if s == "0":
        return 0
    if not s:
        raise bad
    total = 0.0
    while s:
        i = 0
        while i < len(s) and (s[i].isascii() and s[i].isdigit()):
            i += 1
        whole = s[:i]
        s = s[i:]
        frac = ""
        if s.startswith("."):
            s = s[1:]
            j = 0
            while j < len(s) and (s[j].isascii() and s[j].isdigit()):
                j += 1
            frac = s[:j]
            s = s[j:]
        if not whole and not frac:
            raise bad
        j = 0
        while j < len(s) and s[j] != "." and not (s[j].isascii() and s[j].isdigit()):
            j += 1
        unit = s[:j]
        s = s[j:]
        if not unit:
            raise ValueError(f"time: missing unit in duration {quote(orig)}")
        if unit not in _UNITS_NS:
            raise ValueError(f"time: unknown unit {quote(unit)} in duration {quote(orig)}")
        total += float(f"{whole or '0'}.{frac or '0'}") * _UNITS_NS[unit]
    if total > 2**63 - 1:
        raise bad
    return -int(total) if neg else int(total)
