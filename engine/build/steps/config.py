"""Config-only steps: they change the image config and commit without a container."""

from __future__ import annotations

import json
import posixpath
import re
from typing import Any

from ...errors import InvalidParameter
from ..dockerfile import Instruction
from ..dockerfile.shell_lex import ShellLex
from ..state import StageState, nop

CONFIG_ONLY = {
    "env",
    "label",
    "cmd",
    "entrypoint",
    "expose",
    "volume",
    "user",
    "workdir",
    "stopsignal",
    "healthcheck",
    "shell",
    "arg",
    "maintainer",
    "onbuild",
}

_DURATION = re.compile(r"^(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)$")
_NS = {"ns": 1, "us": 1000, "µs": 1000, "ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9}


def go_quote_list(items: list[str]) -> str:
    """Go's ``%q`` of a string slice: ``["a" "b"]``."""
    return "[" + " ".join(json.dumps(i) for i in items) + "]"


def _duration(flags: Any, name: str) -> int:
    text = flags.get(name)
    if not text or not isinstance(text, str):
        return 0
    total = 0
    rest = text
    for m in re.finditer(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", text):
        total += int(float(m[1]) * _NS[m[2]])
        rest = rest.replace(m[0], "", 1)
    if rest:
        raise InvalidParameter(f'time: invalid duration "{text}"')
    return total


def _command(ins: Instruction, state: StageState) -> list[str]:
    if ins.json_form:
        return list(ins.args)
    return [*state.shell, ins.args[0]] if ins.args else []


def apply(
    ins: Instruction, state: StageState, lex: ShellLex, buildargs: dict[str, str | None]
) -> str:
    """Change ``state`` for a config-only instruction; returns its history text."""
    kw = ins.keyword
    cfg = state.config
    env = state.expansion_env()
    if kw in ("env", "label"):
        parts = []
        for key, value in ins.key_values:
            k = lex.process_word(key, env)
            v = lex.process_word(value or "", env)
            if kw == "env":
                if not k:
                    raise InvalidParameter("ENV names can not be blank")
                state.set_env(k, v)
                env = state.expansion_env()
            else:
                labels = dict(cfg.get("Labels") or {})
                labels[k] = v
                cfg["Labels"] = labels
            parts.append(f"{k}={v}")
        return nop(state, f"{kw.upper()} {' '.join(parts)}")
    if kw == "cmd":
        cfg["Cmd"] = _command(ins, state)
        state.cmd_set = True
        return nop(state, f"CMD {go_quote_list(cfg['Cmd'])}")
    if kw == "entrypoint":
        ep = _command(ins, state)
        cfg["Entrypoint"] = ep or None
        if not state.cmd_set:
            cfg["Cmd"] = None
        return nop(state, f"ENTRYPOINT {go_quote_list(ep)}")
    if kw == "expose":
        ports = dict(cfg.get("ExposedPorts") or {})
        shown = []
        for word in ins.args:
            for p in lex.process_words(word, env):
                port, _, proto = p.partition("/")
                if not port or not re.fullmatch(r"\d+(-\d+)?", port):
                    raise InvalidParameter(f"invalid containerPort: {port}")
                key = f"{port}/{(proto or 'tcp').lower()}"
                ports[key] = {}
                shown.append(key)
        cfg["ExposedPorts"] = ports
        return nop(state, "EXPOSE " + " ".join(shown))
    if kw == "volume":
        vols = dict(cfg.get("Volumes") or {})
        names = list(ins.args) if ins.json_form else lex.process_words(" ".join(ins.args), env)
        for v in names:
            v = lex.process_word(v, env) if ins.json_form else v
            if not v.strip():
                raise InvalidParameter("VOLUME specified can not be an empty string")
            vols[v] = {}
        cfg["Volumes"] = vols
        return nop(state, "VOLUME [" + " ".join(names) + "]")
    if kw == "user":
        cfg["User"] = lex.process_word(ins.args[0] if ins.args else "", env)
        return nop(state, f"USER {cfg['User']}")
    if kw == "workdir":
        path = lex.process_word(ins.args[0] if ins.args else "", env)
        if not path:
            raise InvalidParameter("WORKDIR requires exactly one argument")
        if not path.startswith("/"):
            # dockerd's normalizeWorkdir: a relative path is joined (and so cleaned);
            # an absolute one is kept as written.
            path = posixpath.normpath(posixpath.join("/", cfg.get("WorkingDir") or "/", path))
        cfg["WorkingDir"] = path
        return nop(state, f"WORKDIR {path}", single=True)
    if kw == "stopsignal":
        cfg["StopSignal"] = lex.process_word(ins.args[0] if ins.args else "", env)
        return nop(state, f"STOPSIGNAL {cfg['StopSignal']}")
    if kw == "healthcheck":
        return _healthcheck(ins, state)
    if kw == "shell":
        if not ins.json_form:
            raise InvalidParameter("SHELL requires the arguments to be in JSON form")
        cfg["Shell"] = list(ins.args)
        return nop(state, "SHELL [" + " ".join(ins.args) + "]")
    if kw == "arg":
        name, default = ins.key_values[0]
        if name in buildargs and buildargs[name] is not None:
            state.args[name] = buildargs[name]
        elif default is not None:
            state.args[name] = lex.process_word(default, env)
        else:
            state.args[name] = state.args.get(name)
        text = f"ARG {name}" if default is None else f"ARG {name}={default}"
        return nop(state, text)
    if kw == "maintainer":
        state.image_config["author"] = ins.args[0] if ins.args else ""
        return nop(state, f"MAINTAINER {state.image_config['author']}")
    if kw == "onbuild":
        assert ins.onbuild is not None
        trigger = ins.args[0] if ins.args else ins.onbuild.original
        cfg["OnBuild"] = [*(cfg.get("OnBuild") or []), trigger]
        return nop(state, f"ONBUILD {trigger}")
    raise InvalidParameter(f"unknown instruction: {kw.upper()}")


def _healthcheck(ins: Instruction, state: StageState) -> str:
    cfg = state.config
    if ins.args and ins.args[0].strip().upper() == "NONE" and not ins.json_form:
        cfg["Healthcheck"] = {"Test": ["NONE"]}
        return nop(state, 'HEALTHCHECK &{["NONE"] "0s" "0s" "0s" "0s" \'\\x00\'}')
    if not ins.args:
        raise InvalidParameter("Missing command after HEALTHCHECK CMD")
    # The type word may come as its own argument or at the start of the only one.
    if len(ins.args) == 1 and not ins.json_form:
        first, _, rest = ins.args[0].strip().partition(" ")
        rest_args = [rest.strip()]
    else:
        first, rest_args = ins.args[0], list(ins.args[1:])
    if ins.json_form and first.upper() != "CMD":
        test = ["CMD", *ins.args]
    elif first.upper() == "CMD":
        rest = " ".join(rest_args).strip()
        try:
            parsed = json.loads(rest) if rest.startswith("[") else None
        except ValueError:
            parsed = None
        if isinstance(parsed, list):
            test = ["CMD", *[str(p) for p in parsed]]
        elif ins.json_form:
            test = ["CMD", *rest_args]
        else:
            test = ["CMD-SHELL", rest]
    else:
        raise InvalidParameter(f"Unknown type {first!r} in HEALTHCHECK (try CMD)")
    hc: dict[str, Any] = {"Test": test}
    for flag, key in (
        ("interval", "Interval"),
        ("timeout", "Timeout"),
        ("start-period", "StartPeriod"),
        ("start-interval", "StartInterval"),
    ):
        value = _duration(ins.flags, flag)
        if value:
            hc[key] = value
    retries = ins.flags.get("retries")
    if isinstance(retries, str) and retries:
        if not retries.isdigit():
            raise InvalidParameter(f"invalid retries value {retries!r}")
        hc["Retries"] = int(retries)
    cfg["Healthcheck"] = hc
    return nop(state, f"HEALTHCHECK &{{{go_quote_list(test)}}}")
