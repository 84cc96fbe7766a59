"""A stage's state while it is built: the image so far and what the next step sees."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from typing import Any

from .. import __version__
from ..conventions import format_rfc3339
from ..system import hostinfo

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
DEFAULT_SHELL = ["/bin/sh", "-c"]


@dataclass
class StageState:
    """The current image of a stage (``image_id`` empty for ``FROM scratch`` until the
    first commit) and the build-time variables."""

    image_id: str
    image_config: dict[str, Any]
    args: dict[str, str | None] = field(default_factory=dict)
    busted: bool = False
    name: str | None = None
    cmd_set: bool = False

    @property
    def config(self) -> dict[str, Any]:
        """The image's ``config`` section (what containers start with)."""
        cfg: dict[str, Any] = self.image_config.setdefault("config", {})
        return cfg

    @property
    def diff_ids(self) -> list[str]:
        """The layers so far."""
        return list((self.image_config.get("rootfs") or {}).get("diff_ids") or [])

    @property
    def shell(self) -> list[str]:
        """SHELL, or ``/bin/sh -c``."""
        return list(self.config.get("Shell") or DEFAULT_SHELL)

    def env(self) -> dict[str, str]:
        """ENV as a mapping (later entries win)."""
        out: dict[str, str] = {}
        for e in self.config.get("Env") or []:
            k, _, v = e.partition("=")
            out[k] = v
        return out

    def set_env(self, key: str, value: str) -> None:
        """Set one ENV entry, keeping the order of the others."""
        env = [e for e in self.config.get("Env") or [] if e.partition("=")[0] != key]
        env.append(f"{key}={value}")
        self.config["Env"] = env

    def expansion_env(self) -> dict[str, str]:
        """What ``$VAR`` sees: the build args in effect, then ENV over them."""
        out = {k: v for k, v in self.args.items() if v is not None}
        out.update(self.env())
        return out

    def used_args(self) -> list[str]:
        """``NAME=value`` of declared args with a value that ENV does not shadow (sorted,
        as dockerd lists them in front of a RUN's history entry)."""
        env = self.env()
        return sorted(f"{k}={v}" for k, v in self.args.items() if v is not None and k not in env)


def base_config(image_config: dict[str, Any] | None) -> dict[str, Any]:
    """A stage's starting image config (a copy; ``scratch`` when None)."""
    if image_config is None:
        cfg: dict[str, Any] = {
            "architecture": hostinfo.go_arch(),
            "os": "linux",
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": []},
            "history": [],
        }
    else:
        cfg = copy.deepcopy(image_config)
    inner = cfg.setdefault("config", {}) or {}
    cfg["config"] = inner
    env = list(inner.get("Env") or [])
    if not any(e.startswith("PATH=") for e in env):
        inner["Env"] = [f"PATH={DEFAULT_PATH}", *env]
    return cfg


def child_config(
    state: StageState, created_by: str, diff_id: str | None, comment: str = ""
) -> bytes:
    """The next image's config: the state's config, one more history entry, maybe a layer."""
    cfg = copy.deepcopy(state.image_config)
    for legacy in ("container", "container_config", "id", "parent"):
        cfg.pop(legacy, None)
    created = format_rfc3339()
    cfg["created"] = created
    cfg["docker_version"] = __version__
    entry: dict[str, Any] = {"created": created, "created_by": created_by}
    if comment:
        entry["comment"] = comment
    if diff_id is None:
        entry["empty_layer"] = True
    cfg["history"] = [*(cfg.get("history") or []), entry]
    rootfs = dict(cfg.get("rootfs") or {"type": "layers"})
    diff_ids = list(rootfs.get("diff_ids") or [])
    if diff_id is not None:
        diff_ids.append(diff_id)
    rootfs["diff_ids"] = diff_ids
    rootfs.setdefault("type", "layers")
    cfg["rootfs"] = rootfs
    return json.dumps(cfg, separators=(",", ":")).encode()


def nop(state: StageState, text: str, single: bool = False) -> str:
    """History's ``created_by`` of a config-only step, spelled as dockerd spells it."""
    shell = " ".join(state.shell)
    return f"{shell} #(nop) {text}" if single else f"{shell} #(nop)  {text}"
