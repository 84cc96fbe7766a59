"""``ShellLex`` against dockerd's classic builder: ENV and LABEL values it expands (quotes,
escapes, ``$A``, ``${A}``, ``${A:-x}``, ``${A:+x}``) must come out as they do in the image
dockerd builds. (Debian's dockerd predates the other modifiers.)"""

from __future__ import annotations

import json
from pathlib import Path

from portside.engine.build.dockerfile import parse
from portside.engine.build.dockerfile.shell_lex import ShellLex

DOCKERFILE = r"""FROM busybox:latest
ENV A=abc EMPTY= SP="two  spaces"
ENV B=${A:-x} C=${UNSET:-dflt} D=${EMPTY:-e} E=${A:+alt} F=${UNSET:+alt} G=${EMPTY:+alt}
ENV H="q $A" I='s $A' J=a\ b K="a\"b" L=\$A M=$A$A N="${A}x" O=$A-$SP P='it'"'"'s'
ENV Q="tab\there" R=a\\b S="back\\slash" T="$" U=${A}${UNSET}${EMPTY}end V="${SP}"
ENV OLD legacy value $A "quoted"
LABEL l1=$A l2="${C} and ${UNSET:-fallback}" "l 3"='raw $A'
ARG WITH_DEFAULT=from-arg
ENV W=$WITH_DEFAULT
"""


def _expected() -> tuple[dict[str, str], dict[str, str]]:
    """What the image should hold, computed with ShellLex the way a classic builder
    dispatches ENV/LABEL/ARG: every word of an instruction against the environment as it
    was before the instruction."""
    lex = ShellLex()
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
    labels: dict[str, str] = {}
    args: dict[str, str] = {}
    for instr in parse(DOCKERFILE.encode()).stages[0].instructions:
        scope = {**args, **env}
        if instr.keyword == "arg":
            for key, value in instr.key_values:
                args[key] = lex.process_word(value or "", scope)
            continue
        pairs = [
            (lex.process_word(k, scope), lex.process_word(v or "", scope))
            for k, v in instr.key_values
        ]
        (env if instr.keyword == "env" else labels).update(pairs)
    return env, labels


def test_expansion_matches_dockerd(dockerd, tmp_path: Path) -> None:
    (tmp_path / "Dockerfile").write_text(DOCKERFILE)
    dockerd.docker("build", "-q", "-t", "lex-check", str(tmp_path))
    config = json.loads(dockerd.docker("image", "inspect", "lex-check").stdout)[0]["Config"]
    image_env = dict(item.split("=", 1) for item in config["Env"])
    env, labels = _expected()
    assert image_env == env
    assert config["Labels"] == labels
    assert env["P"] == "it's" and env["OLD"] == "legacy value abc quoted"
