"""Dockerfile parsing: lines, continuations, directives, JSON/shell forms, stages."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

_DIRECTIVE = re.compile(r"^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$")
_FLAG = re.compile(r"^--([a-zA-Z][a-zA-Z0-9-]*)(?:=(.*))?$")
_SHELL_FORM = {"run", "cmd", "entrypoint", "shell"}
_KV = {"env", "label"}


class DockerfileParseError(ValueError):
    """A Dockerfile the builder cannot use; ``str(e)`` is the client-facing message."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass(frozen=True)
class Heredoc:
    name: str
    content: str
    expand: bool
    chomp: bool


@dataclass(frozen=True)
class Instruction:
    keyword: str
    original: str
    line: int
    args: tuple[str, ...]
    json_form: bool
    flags: Mapping[str, str | tuple[str, ...]] = field(default_factory=dict)
    key_values: tuple[tuple[str, str | None], ...] = ()
    heredocs: tuple[Heredoc, ...] = ()
    onbuild: Instruction | None = None


@dataclass(frozen=True)
class Stage:
    index: int
    name: str | None
    base: str
    platform: str | None
    from_instruction: Instruction
    instructions: tuple[Instruction, ...]


@dataclass(frozen=True)
class Dockerfile:
    escape: str
    directives: Mapping[str, str]
    meta_args: tuple[Instruction, ...]
    stages: tuple[Stage, ...]

    def stage_index(self, name_or_index: str) -> int:
        """The index of the stage named (or numbered) ``name_or_index``."""
        for s in self.stages:
            if s.name is not None and s.name == name_or_index.lower():
                return s.index
        if name_or_index.isdigit() and int(name_or_index) < len(self.stages):
            return int(name_or_index)
        raise DockerfileParseError(f"failed to reach build target {name_or_index} in Dockerfile")


def _split_kv(rest: str, keyword: str, line: int) -> tuple[tuple[str, str | None], ...]:
    words = _words(rest)
    if keyword == "arg":
        if len(words) != 1:
            raise DockerfileParseError("ARG requires exactly one argument", line)
        name, eq, default = words[0].partition("=")
        return ((name, _unquote(default) if eq else None),)
    if words and "=" not in words[0]:
        # legacy ``ENV key value``
        name, _, value = rest.strip().partition(" ")
        if not value.strip() and keyword == "env":
            raise DockerfileParseError("ENV must have two arguments", line)
        return ((name, value.strip()),)
    pairs: list[tuple[str, str | None]] = []
    for w in words:
        if "=" not in w:
            raise DockerfileParseError(
                f"Syntax error - can't find = in {w!r}. Must be of the form: name=value", line
            )
        k, _, v = w.partition("=")
        pairs.append((_unquote(k), v))
    return tuple(pairs)


def _unquote(v: str) -> str:
    return v


def _words(s: str) -> list[str]:
    """Split on blanks outside quotes (quotes kept; expansion removes them later)."""
    out, cur, quote, i = [], "", "", 0
    while i < len(s):
        ch = s[i]
        if ch == "\\" and i + 1 < len(s) and quote != "'":
            cur += s[i : i + 2]
            i += 2
            continue
        if ch in "'\"":
            quote = "" if quote == ch else (quote or ch)
        if ch in " \t" and not quote:
            if cur:
                out.append(cur)
            cur = ""
        else:
            cur += ch
        i += 1
    if cur:
        out.append(cur)
    return out


def _instruction(text: str, line: int) -> Instruction:
    keyword, _, rest = text.strip().partition(" ")
    kw = keyword.lower()
    rest = rest.strip()
    flags: dict[str, str | tuple[str, ...]] = {}
    if kw == "onbuild":
        inner = _instruction(rest, line)
        if inner.keyword in ("onbuild", "from", "maintainer"):
            raise DockerfileParseError(
                f"{inner.keyword.upper()} isn't allowed as an ONBUILD trigger", line
            )
        return Instruction(kw, text.strip(), line, (rest,), False, {}, (), (), inner)
    while rest.startswith("--"):
        word, _, tail = rest.partition(" ")
        m = _FLAG.match(word)
        if not m:
            break
        flags[m[1]] = m[2] if m[2] is not None else "true"
        rest = tail.strip()
    json_form = False
    args: tuple[str, ...]
    kvs: tuple[tuple[str, str | None], ...] = ()
    if kw in _KV or kw == "arg":
        kvs = _split_kv(rest, kw, line)
        args = tuple(_words(rest))
    elif rest.startswith("["):
        try:
            parsed = json.loads(rest)
        except ValueError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(p, str) for p in parsed):
            args, json_form = tuple(parsed), True
        else:
            args = (rest,) if kw in _SHELL_FORM else tuple(_words(rest))
    elif kw in _SHELL_FORM or kw in ("maintainer", "stopsignal", "workdir", "user"):
        args = (rest,) if rest else ()
    else:
        args = tuple(_words(rest))
    return Instruction(kw, text.strip(), line, args, json_form, flags, kvs)


def parse(data: bytes) -> Dockerfile:
    """Parse a Dockerfile."""
    text = data.decode("utf-8", "replace").lstrip("\ufeff")
    lines = text.splitlines()
    directives: dict[str, str] = {}
    n = 0
    for raw in lines:
        m = _DIRECTIVE.match(raw.strip())
        if not m or m[1].lower() in directives:
            break
        directives[m[1].lower()] = m[2]
        n += 1
    escape = directives.get("escape", "\\")
    if escape not in ("\\", "`"):
        raise DockerfileParseError(f"invalid ESCAPE '{escape}'. Must be ` or \\", 1)
    instructions: list[Instruction] = []
    buf, start = "", 0
    for i, raw in enumerate(lines, 1):
        s = raw.strip()
        if not buf and (not s or s.startswith("#")):
            continue
        if buf and (s.startswith("#") or not s):
            continue
        if not buf:
            start = i
        if s.endswith(escape):
            buf += raw.rstrip()[:-1]
            continue
        buf += raw
        instructions.append(_instruction(buf, start))
        buf = ""
    if buf.strip():
        instructions.append(_instruction(buf, start))
    if not instructions:
        raise DockerfileParseError("the Dockerfile (Dockerfile) cannot be empty")
    meta: list[Instruction] = []
    stages: list[tuple[Instruction, list[Instruction]]] = []
    for ins in instructions:
        if ins.keyword == "from":
            stages.append((ins, []))
        elif not stages:
            if ins.keyword != "arg":
                raise DockerfileParseError("no build stage in current context", ins.line)
            meta.append(ins)
        else:
            stages[-1][1].append(ins)
    if not stages:
        raise DockerfileParseError("no build stage in current context")
    out: list[Stage] = []
    for idx, (f, body) in enumerate(stages):
        words = list(f.args)
        name = None
        if len(words) == 3 and words[1].lower() == "as":
            name = words[2].lower()
        elif len(words) != 1:
            raise DockerfileParseError("FROM requires either one or three arguments", f.line)
        platform = f.flags.get("platform")
        out.append(
            Stage(
                idx, name, words[0], platform if isinstance(platform, str) else None, f, tuple(body)
            )
        )
    return Dockerfile(escape, directives, tuple(meta), tuple(out))
