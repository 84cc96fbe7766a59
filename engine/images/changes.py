"""Dockerfile-style ``--change`` instructions for ``import`` (and ``commit``).

Supported as with Docker: CMD, ENTRYPOINT, ENV, EXPOSE, HEALTHCHECK, LABEL, ONBUILD,
STOPSIGNAL, USER, VOLUME, WORKDIR. Each change edits the image's ``config`` object.
"""

from __future__ import annotations

import json
import posixpath
import re
import shlex
from typing import Any

from ..conventions import go_duration
from ..errors import InvalidParameter

ALLOWED = {
    "CMD",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "HEALTHCHECK",
    "LABEL",
    "ONBUILD",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
}
KNOWN = ALLOWED | {"FROM", "RUN", "ADD", "COPY", "ARG", "SHELL", "MAINTAINER"}
_PORT_RE = re.compile(r"^(\d+)(?:-(\d+))?(?:/(tcp|udp|sctp))?$", re.IGNORECASE)


def _exec_or_shell(rest: str) -> list[str]:
    """JSON-array (exec) form, or shell form wrapped in ``/bin/sh -c``."""
    text = rest.strip()
    if text.startswith("["):
        try:
            value = json.loads(text)
        except ValueError:
            value = None
        if isinstance(value, list) and all(isinstance(v, str) for v in value):
            return value
    return ["/bin/sh", "-c", text]


def _pairs(instr: str, rest: str) -> list[tuple[str, str]]:
    """``k=v k2="v 2"`` pairs, or the legacy ``k value with spaces`` form."""
    text = rest.strip()
    if not text:
        raise InvalidParameter(f"{instr} requires at least one argument")
    first = text.split(None, 1)[0]
    if "=" not in first:
        parts = text.split(None, 1)
        if len(parts) < 2:
            raise InvalidParameter(f"{instr} must have two arguments")
        return [(parts[0], parts[1])]
    try:
        words = shlex.split(text, posix=True)
    except ValueError as e:
        raise InvalidParameter(f"{instr}: {e}") from e
    out = []
    for w in words:
        key, eq, value = w.partition("=")
        if not eq or not key:
            raise InvalidParameter(f"{instr} names can not be blank / must be key=value: {w!r}")
        out.append((key, value))
    return out


def _duration_ns(text: str, what: str) -> int:
    try:
        return int(go_duration(text) * 1e9)
    except ValueError:
        raise InvalidParameter(f"invalid duration for {what}: {text!r}") from None


def _healthcheck(rest: str) -> dict[str, Any]:
    words = rest.strip().split(None)
    opts: dict[str, Any] = {}
    while words and words[0].startswith("--"):
        key, _, value = words.pop(0)[2:].partition("=")
        if key in ("interval", "timeout", "start-period", "start-interval"):
            name = "".join(p.capitalize() for p in key.split("-"))
            opts[name] = _duration_ns(value, f"--{key}")
        elif key == "retries":
            try:
                opts["Retries"] = int(value)
            except ValueError:
                raise InvalidParameter(f"invalid --retries value {value!r}") from None
        else:
            raise InvalidParameter(f"unknown HEALTHCHECK flag --{key}")
    if not words:
        raise InvalidParameter("HEALTHCHECK requires NONE or CMD")
    kind = words[0].upper()
    if kind == "NONE":
        return {"Test": ["NONE"]}
    if kind != "CMD":
        raise InvalidParameter(f"unknown type for HEALTHCHECK: {words[0]}")
    cmd_text = rest.strip().split(None, len(opts) + 1)[-1] if len(words) > 1 else ""
    if not cmd_text:
        raise InvalidParameter("HEALTHCHECK CMD requires a command")
    cmd = _exec_or_shell(cmd_text)
    test = ["CMD", *cmd] if cmd_text.lstrip().startswith("[") else ["CMD-SHELL", cmd_text]
    return {"Test": test, **opts}


def apply_changes(config: dict[str, Any], changes: list[str]) -> dict[str, Any]:
    """Apply each change line to ``config`` (the image's ``config`` object)."""
    for line in changes:
        for raw in line.splitlines() or [line]:
            text = raw.strip()
            if not text or text.startswith("#"):
                continue
            instr, _, rest = text.partition(" ")
            instr = instr.upper()
            if instr not in KNOWN:
                raise InvalidParameter(f"dockerfile parse error: unknown instruction: {instr}")
            if instr not in ALLOWED:
                raise InvalidParameter(f"{instr} is not a valid change command")
            _apply_one(config, instr, rest)
    return config


def _apply_one(config: dict[str, Any], instr: str, rest: str) -> None:
    if instr in ("CMD", "ENTRYPOINT"):
        config["Cmd" if instr == "CMD" else "Entrypoint"] = _exec_or_shell(rest)
    elif instr == "ENV":
        env = list(config.get("Env") or [])
        for key, value in _pairs(instr, rest):
            env = [e for e in env if e.split("=", 1)[0] != key] + [f"{key}={value}"]
        config["Env"] = env
    elif instr == "LABEL":
        labels = dict(config.get("Labels") or {})
        labels.update(_pairs(instr, rest))
        config["Labels"] = labels
    elif instr == "EXPOSE":
        ports = dict(config.get("ExposedPorts") or {})
        for word in rest.split():
            m = _PORT_RE.match(word)
            if not m:
                raise InvalidParameter(f"invalid port in EXPOSE: {word!r}")
            lo, hi = int(m[1]), int(m[2] or m[1])
            if not 0 < lo <= hi <= 65535:
                raise InvalidParameter(f"invalid port range in EXPOSE: {word!r}")
            for p in range(lo, hi + 1):
                ports[f"{p}/{(m[3] or 'tcp').lower()}"] = {}
        config["ExposedPorts"] = ports
    elif instr == "VOLUME":
        text = rest.strip()
        paths = json.loads(text) if text.startswith("[") and _is_json_list(text) else text.split()
        if not paths:
            raise InvalidParameter("VOLUME requires at least one argument")
        volumes = dict(config.get("Volumes") or {})
        volumes.update({str(p): {} for p in paths})
        config["Volumes"] = volumes
    elif instr == "WORKDIR":
        path = rest.strip()
        if not path:
            raise InvalidParameter("WORKDIR requires exactly one argument")
        config["WorkingDir"] = posixpath.normpath(
            posixpath.join(config.get("WorkingDir") or "/", path)
        )
    elif instr == "USER":
        if not rest.strip():
            raise InvalidParameter("USER requires exactly one argument")
        config["User"] = rest.strip()
    elif instr == "STOPSIGNAL":
        if not rest.strip():
            raise InvalidParameter("STOPSIGNAL requires exactly one argument")
        config["StopSignal"] = rest.strip()
    elif instr == "ONBUILD":
        config["OnBuild"] = [*(config.get("OnBuild") or []), rest.strip()]
    elif instr == "HEALTHCHECK":
        config["Healthcheck"] = _healthcheck(rest)


def _is_json_list(text: str) -> bool:
    try:
        value = json.loads(text)
    except ValueError:
        return False
    return isinstance(value, list) and all(isinstance(v, str) for v in value)
