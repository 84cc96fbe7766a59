"""``POST /containers/create``: validate the request like dockerd and merge the image config.

Pure functions (no I/O) so every validation rule is cheap to test.
"""

from __future__ import annotations

import re
import secrets
from typing import Any

from ..errors import InvalidParameter
from .oci import spec_resources
from .stdio.logdrivers import JSON_FILE, validate_log_config

NAME_RE = re.compile(r"^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$")
RESTART_NAMES = ("", "no", "always", "unless-stopped", "on-failure")
BUILTIN_NETWORKS = ("", "default", "bridge", "none", "host")
# cgroup v1's largest cpu.shares (the kernel's MAX_SHARES).
MAX_CPU_SHARES = 262144

_LEFT = (
    "admiring adoring affectionate amazing awesome blissful bold brave busy charming "
    "clever compassionate competent confident cool dazzling determined eager ecstatic "
    "elastic elated elegant eloquent epic focused friendly frosty funny gallant gifted "
    "goofy gracious happy hopeful hungry jolly jovial keen kind laughing loving lucid "
    "magical modest musing mystifying nice nifty nostalgic optimistic peaceful "
    "practical priceless quirky recursing relaxed reverent romantic serene sharp silly "
    "sleepy stoic strange suspicious sweet tender thirsty trusting upbeat vibrant "
    "vigilant wizardly wonderful xenodochial youthful zealous zen"
).split()
_RIGHT = (
    "agnesi albattani allen archimedes ardinghelli babbage banach bardeen bartik bassi "
    "bell bhabha bose brahmagupta burnell cannon carson cerf chandrasekhar curie "
    "darwin davinci dijkstra einstein elion engelbart euclid euler fermat fermi "
    "feynman franklin galileo gauss goldberg goodall hamilton hawking heisenberg "
    "hopper hypatia jackson jennings johnson kalam keller kepler khorana knuth "
    "lamarr leakey lovelace lumiere mayer mccarthy meitner mendel mirzakhani morse "
    "napier newton nobel noether pascal pasteur payne perlman pike poincare ptolemy "
    "raman ride ritchie rosalind sammet shannon shaw sinoussi snyder swanson tesla "
    "thompson torvalds turing varahamihira villani wescoff wiles williams wozniak yalow"
).split()


def new_id() -> str:
    """A 64-hex id whose 12-char short form is never all digits (it would parse as a
    number in some tools, as Docker also avoids)."""
    while True:
        cid = secrets.token_hex(32)
        if not cid[:12].isdigit():
            return cid


def random_name(taken: set[str]) -> str:
    """Docker-style ``adjective_scientist`` name not in ``taken``."""
    for _ in range(100):
        name = f"{secrets.choice(_LEFT)}_{secrets.choice(_RIGHT)}"
        if name not in taken:
            return name
    return f"{secrets.choice(_LEFT)}_{secrets.choice(_RIGHT)}{secrets.randbelow(1000)}"


def validate_name(name: str) -> str:
    """The name without its leading slash; 400 on characters Docker refuses."""
    if not NAME_RE.match(name):
        raise InvalidParameter(
            f"Invalid container name ({name}), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed"
        )
    return name.lstrip("/")


def validate_restart_policy(policy: dict[str, Any] | None) -> dict[str, Any]:
    """Normalised RestartPolicy; Docker's messages for bad ones."""
    policy = dict(policy or {})
    name = policy.get("Name") or ""
    count = policy.get("MaximumRetryCount") or 0
    if not isinstance(name, str) or name not in RESTART_NAMES:
        raise InvalidParameter(
            f"invalid restart policy: unknown policy '{name}'; use one of 'no', 'always', "
            "'on-failure', or 'unless-stopped'"
        )
    if not isinstance(count, int):
        raise InvalidParameter("invalid restart policy: MaximumRetryCount must be a number")
    if count < 0:
        raise InvalidParameter("invalid restart policy: maximum retry count cannot be negative")
    if count and name != "on-failure":
        raise InvalidParameter(
            "invalid restart policy: maximum retry count can only be used with 'on-failure'"
        )
    return {"Name": name or "no", "MaximumRetryCount": count}


def validate_resources(hc: dict[str, Any]) -> list[str]:
    """Resource fields Docker checks at create and update time; their warnings.

    Value types were checked against Go's when the body was decoded (``api/gotypes``).
    """
    if (hc.get("Memory") or 0) < 0:
        raise InvalidParameter("invalid memory limit: cannot be negative")
    shares = hc.get("CpuShares") or 0
    if shares < 0:
        raise InvalidParameter("invalid CPU shares: cannot be negative")
    if shares > MAX_CPU_SHARES:
        # The kernel's ceiling (cgroup v1 cpu.shares; v2's weight maps from it): the
        # runtime would fail at every start.
        raise InvalidParameter(
            f"invalid CPU shares {shares}: the maximum allowed is {MAX_CPU_SHARES}"
        )
    spec_resources.check_cpusets(hc)
    return spec_resources.validate_resources(hc)


def validate_host_config(
    hc: dict[str, Any], log_driver: str = JSON_FILE, log_opts: dict[str, str] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The HostConfig of a create request, normalised and checked, and its warnings
    (``log_driver`` and ``log_opts``: the daemon's defaults for a container that names no
    log driver)."""
    hc = dict(hc or {})
    hc["RestartPolicy"] = validate_restart_policy(hc.get("RestartPolicy"))
    if hc.get("AutoRemove") and hc["RestartPolicy"]["Name"] not in ("", "no"):
        raise InvalidParameter("can't create 'AutoRemove' container with restart policy")
    warnings = validate_resources(hc)
    mode = hc.get("NetworkMode") or "default"
    if not isinstance(mode, str):
        raise InvalidParameter("invalid NetworkMode")
    hc["NetworkMode"] = mode
    for key in ("CapAdd", "CapDrop", "Dns", "DnsSearch", "DnsOptions", "ExtraHosts", "Binds"):
        v = hc.get(key)
        if v is not None and not (isinstance(v, list) and all(isinstance(x, str) for x in v)):
            raise InvalidParameter(f"invalid {key}: expected a list of strings")
    hc["LogConfig"] = validate_log_config(hc.get("LogConfig"), log_driver, log_opts)
    return hc, warnings


def _strs(v: Any, what: str) -> list[str] | None:
    if v is None:
        return None
    if isinstance(v, str):
        return [v]
    if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
        raise InvalidParameter(f"invalid {what}: expected a list of strings")
    return list(v)


def merge_config(body: dict[str, Any], image_config: dict[str, Any]) -> dict[str, Any]:
    """Docker's Config after merging the image's defaults (moby's ``merge``)."""
    img = dict(image_config.get("config") or {})
    cfg = {k: v for k, v in body.items() if k not in ("HostConfig", "NetworkingConfig")}
    cmd = _strs(cfg.get("Cmd"), "Cmd")
    entrypoint = _strs(cfg.get("Entrypoint"), "Entrypoint")
    if not entrypoint:
        if not cmd:
            cmd = img.get("Cmd")
        if entrypoint is None:
            entrypoint = img.get("Entrypoint")
    env = _strs(cfg.get("Env"), "Env") or []
    user_keys = {e.split("=", 1)[0] for e in env}
    merged_env = [e for e in (img.get("Env") or []) if e.split("=", 1)[0] not in user_keys]
    merged_env += env
    labels = dict(img.get("Labels") or {})
    user_labels = cfg.get("Labels") or {}
    if not isinstance(user_labels, dict):
        raise InvalidParameter("invalid Labels: expected an object")
    labels.update(user_labels)
    exposed = dict(img.get("ExposedPorts") or {})
    exposed.update(cfg.get("ExposedPorts") or {})
    volumes = dict(img.get("Volumes") or {})
    volumes.update(cfg.get("Volumes") or {})
    stop_timeout = cfg.get("StopTimeout")
    if stop_timeout is not None and not isinstance(stop_timeout, int):
        raise InvalidParameter("invalid StopTimeout: must be an integer")
    out = {
        "Hostname": cfg.get("Hostname") or "",
        "Domainname": cfg.get("Domainname") or "",
        "User": cfg.get("User") or img.get("User") or "",
        "AttachStdin": bool(cfg.get("AttachStdin")),
        "AttachStdout": bool(cfg.get("AttachStdout")),
        "AttachStderr": bool(cfg.get("AttachStderr")),
        "ExposedPorts": exposed or None,
        "Tty": bool(cfg.get("Tty")),
        "OpenStdin": bool(cfg.get("OpenStdin")),
        "StdinOnce": bool(cfg.get("StdinOnce")),
        "Env": merged_env,
        "Cmd": cmd or None,
        "Image": cfg.get("Image") or "",
        "Volumes": volumes or None,
        "WorkingDir": cfg.get("WorkingDir") or img.get("WorkingDir") or "",
        "Entrypoint": entrypoint or None,
        "OnBuild": img.get("OnBuild"),
        "Labels": labels,
    }
    signal = cfg.get("StopSignal") or img.get("StopSignal")
    if signal:
        out["StopSignal"] = signal
    if stop_timeout is not None:
        out["StopTimeout"] = stop_timeout
    if cfg.get("Healthcheck") or img.get("Healthcheck"):
        out["Healthcheck"] = cfg.get("Healthcheck") or img.get("Healthcheck")
    if not (out["Entrypoint"] or out["Cmd"]):
        raise InvalidParameter("No command specified")
    return out


def command_of(config: dict[str, Any]) -> tuple[str, list[str]]:
    """Path and Args as inspect shows them (entrypoint + cmd)."""
    argv = list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])
    return argv[0], argv[1:]
