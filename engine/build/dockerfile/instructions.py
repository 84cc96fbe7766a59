"""The second pass: nodes → checked instructions grouped into stages.

Mirrors BuildKit's ``instructions.Parse``: each instruction's flags and argument counts
are checked here, and its errors read ``dockerfile parse error line N: ...`` as dockerd's.
"""

from __future__ import annotations

import re
from types import MappingProxyType

from .ast import KNOWN, Ast, Node, parse_heredoc
from .errors import DockerfileParseError
from .gotext import parse_duration_ns, quote, trim_space
from .model import Dockerfile, Instruction, Stage

_BOOL, _STRING, _STRINGS = range(3)

# The flags each instruction accepts (a superset of what the classic builder acts on;
# the executor refuses what it cannot do, with its own message).
FLAGS: dict[str, dict[str, int]] = {
    "from": {"platform": _STRING},
    "copy": {"from": _STRING, "chown": _STRING, "chmod": _STRING, "link": _BOOL},
    "add": {
        "chown": _STRING,
        "chmod": _STRING,
        "link": _BOOL,
        "checksum": _STRING,
        "keep-git-dir": _BOOL,
    },
    "run": {"mount": _STRINGS, "network": _STRING, "security": _STRING},
    "healthcheck": {
        "interval": _STRING,
        "timeout": _STRING,
        "start-period": _STRING,
        "start-interval": _STRING,
        "retries": _STRING,
    },
}

_STAGE_NAME = re.compile(r"[a-z][a-z0-9-_.]*\Z")
_ONBUILD_PREFIX = re.compile(r"(?i)^\s*ONBUILD\s*")
MIN_HEALTH_DURATION_NS = 1_000_000  # container.MinimumDuration


class _Error(Exception):
    """An instruction error before it is given its line."""


def _parse_flags(node: Node, keyword: str) -> dict[str, str | tuple[str, ...]]:
    known = FLAGS.get(keyword, {})
    values: dict[str, str | tuple[str, ...]] = {}
    for arg in node.flags:
        if not arg.startswith("--"):
            raise _Error(f"arg should start with -- : {arg}")
        if arg == "--":
            break
        name, has_value, value = arg[2:].partition("=")
        kind = known.get(name)
        if kind is None:
            raise _Error(f"unknown flag: {name}")
        if name in values and kind != _STRINGS:
            raise _Error(f"duplicate flag specified: {name}")
        if kind == _BOOL:
            if has_value and value == "":
                raise _Error(f"missing a value on flag: {name}")
            if value.lower() in ("true", ""):
                values[name] = "true"
            elif value.lower() == "false":
                values[name] = "false"
            else:
                raise _Error(f"expecting boolean value for flag {name}, not: {value}")
        elif not has_value:
            raise _Error(f"missing a value on flag: {name}")
        elif kind == _STRING:
            values[name] = value
        else:
            previous = values.get(name, ())
            values[name] = (*previous, value) if isinstance(previous, tuple) else (value,)
    return values


def _is_heredoc(word: str) -> bool:
    try:
        return parse_heredoc(word) is not None
    except DockerfileParseError:
        return False  # BuildKit's MustParseHeredoc: a word it cannot lex is no heredoc


def _exactly_one(node: Node, what: str) -> None:
    if len(node.args) != 1:
        raise _Error(f"{what} requires exactly one argument")


def _at_least_one(node: Node, what: str) -> None:
    if not node.args:
        raise _Error(f"{what} requires at least one argument")


def _health_duration(flags: dict[str, str | tuple[str, ...]], name: str) -> None:
    value = flags.get(name, "")
    if not isinstance(value, str) or value == "":
        return
    try:
        ns = parse_duration_ns(value)
    except ValueError as e:
        raise _Error(str(e)) from None
    if ns < MIN_HEALTH_DURATION_NS:
        raise _Error(f'Interval "{name}" cannot be less than 1ms')


def _check(node: Node) -> tuple[dict[str, str | tuple[str, ...]], list[tuple[str, str | None]]]:
    """The instruction's flags and key/values, or _Error as BuildKit words it."""
    keyword = node.keyword
    what = keyword.upper()
    kvs: list[tuple[str, str | None]] = []
    flags: dict[str, str | tuple[str, ...]] = {}
    if keyword not in KNOWN:
        raise _Error(f"unknown instruction: {node.cmd.upper()}")
    if keyword in ("env", "label"):
        flags = _parse_flags(node, keyword)
        if not node.key_values:
            raise _Error(f"{what} requires at least one argument")
        for key, value in node.key_values:
            if key == "":
                raise _Error(f"{what} names can not be blank")
            kvs.append((key, value))
    elif keyword in ("maintainer", "workdir", "user"):
        _exactly_one(node, what)
        flags = _parse_flags(node, keyword)
    elif keyword in ("add", "copy"):
        if len(node.args) < 2:
            raise _Error(
                f"{what} requires at least two arguments, but only one was provided. "
                "Destination could not be determined"
            )
        flags = _parse_flags(node, keyword)
        if _is_heredoc(node.args[-1]):
            raise _Error(f"{what} cannot accept a heredoc as a destination")
    elif keyword == "from":
        args = node.args
        if len(args) == 3 and args[1].lower() == "as":
            if not _STAGE_NAME.match(args[2].lower()):
                raise _Error(
                    f"invalid name for build stage: {quote(args[2])}, "
                    "name can't start with a number or contain symbols"
                )
        elif len(args) != 1:
            raise _Error("FROM requires either one or three arguments")
        flags = _parse_flags(node, keyword)
    elif keyword == "onbuild":
        _at_least_one(node, what)
        flags = _parse_flags(node, keyword)
        trigger = trim_space(node.args[0]).upper()
        if trigger == "ONBUILD":
            raise _Error("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if trigger in ("MAINTAINER", "FROM"):
            raise _Error(f"{trigger} isn't allowed as an ONBUILD trigger")
    elif keyword in ("run", "cmd", "entrypoint"):
        flags = _parse_flags(node, keyword)
    elif keyword == "healthcheck":
        _at_least_one(node, what)
        kind = node.args[0].upper()
        if kind == "NONE":
            if len(node.args) != 1:
                raise _Error("HEALTHCHECK NONE takes no arguments")
        else:
            flags = _parse_flags(node, keyword)
            if kind != "CMD":
                raise _Error(f"Unknown type {quote(kind)} in HEALTHCHECK (try CMD)")
            if len(node.args) < 2:
                raise _Error("Missing command after HEALTHCHECK CMD")
            for name in ("interval", "timeout", "start-period", "start-interval"):
                _health_duration(flags, name)
            retries = flags.get("retries", "")
            if isinstance(retries, str) and retries != "":
                try:
                    count = int(retries, 10) if retries.lstrip("+-").isdigit() else None
                except ValueError:
                    count = None
                if count is None:
                    raise _Error(f"strconv.ParseInt: parsing {quote(retries)}: invalid syntax")
                if count < 1:
                    raise _Error(f"--retries must be at least 1 (not {count})")
    elif keyword == "expose":
        _at_least_one(node, what)
        flags = _parse_flags(node, keyword)
    elif keyword == "volume":
        _at_least_one(node, what)
        flags = _parse_flags(node, keyword)
        if any(trim_space(v) == "" for v in node.args):
            raise _Error("VOLUME specified can not be an empty string")
    elif keyword == "stopsignal":
        _exactly_one(node, what)
    elif keyword == "arg":
        _at_least_one(node, what)
        for word in node.args:
            if "=" in word:
                key, _, value = word.partition("=")
                if key == "":
                    raise _Error("ARG names can not be blank")
                kvs.append((key, value))
            else:
                kvs.append((word, None))
    elif keyword == "shell":
        flags = _parse_flags(node, keyword)
        if not node.args:
            raise _Error("SHELL requires at least one argument")
        if not node.json_form:
            raise _Error("SHELL requires the arguments to be in JSON form")
    return flags, kvs


def to_instruction(node: Node) -> Instruction:
    """A checked instruction; DockerfileParseError with dockerd's wording if it is not valid."""
    try:
        flags, kvs = _check(node)
    except _Error as e:
        raise DockerfileParseError(
            f"dockerfile parse error line {node.start_line}: {e}", node.start_line
        ) from None
    args = tuple(node.args)
    onbuild = None
    if node.keyword == "onbuild":
        expression = _ONBUILD_PREFIX.sub("", node.original, count=1)
        for doc in node.heredocs:
            expression += "\n" + doc.content + doc.name
        args = (expression,)
        if node.child is not None:
            node.child.start_line, node.child.end_line = node.start_line, node.end_line
            node.child.heredocs = node.heredocs
            try:
                onbuild = to_instruction(node.child)
            except DockerfileParseError:
                onbuild = None  # dockerd stores the trigger unchecked; it fails in the child build
    return Instruction(
        keyword=node.keyword,
        original=trim_space(node.original),
        line=node.start_line,
        args=args,
        json_form=node.json_form,
        flags=MappingProxyType(flags),
        key_values=tuple(kvs),
        heredocs=tuple(node.heredocs) if node.keyword != "onbuild" else (),
        onbuild=onbuild,
        end_line=node.end_line,
    )


def build(ast: Ast) -> Dockerfile:
    meta_args: list[Instruction] = []
    stages: list[tuple[Instruction, list[Instruction]]] = []
    for node in ast.nodes:
        instruction = to_instruction(node)
        if instruction.keyword == "from":
            stages.append((instruction, []))
        elif not stages:
            if instruction.keyword != "arg":
                raise DockerfileParseError("no build stage in current context", node.start_line)
            meta_args.append(instruction)
        else:
            stages[-1][1].append(instruction)
    built = []
    for index, (frm, body) in enumerate(stages):
        name = frm.args[2].lower() if len(frm.args) == 3 else None
        platform = frm.flags.get("platform")
        built.append(
            Stage(
                index=index,
                name=name,
                base=frm.args[0],
                platform=platform if isinstance(platform, str) else None,
                from_instruction=frm,
                instructions=tuple(body),
            )
        )
    return Dockerfile(
        escape=ast.escape,
        directives=MappingProxyType(dict(ast.directives)),
        meta_args=tuple(meta_args),
        stages=tuple(built),
    )
